"""Differences of neighbours along a dimension: ``diff``, the inverse of a running sum.

Composed of slices (narrow) and subtraction, so the gradient of each difference
outₖ = xₖ₊₁ − xₖ is +∂C/∂outₖ for xₖ₊₁ and −∂C/∂outₖ for xₖ, by the rules of those operations.
"""

from __future__ import annotations

from chainrule.autograd.function import OpError, as_index, not_a_tensor
from chainrule.ops.compare import ne
from chainrule.ops.conversion import clone
from chainrule.ops.elementwise import sub
from chainrule.ops.movement import cat, normalise_axis
from chainrule.ops.selection import narrow
from chainrule.tensor import Tensor


def diff(
    input: Tensor,  # noqa: A002
    n: int = 1,
    dim: int = -1,
    prepend: Tensor | None = None,
    append: Tensor | None = None,
) -> Tensor:
    """The ``n``-th forward difference along ``dim``: ``out[k] = x[k + 1] - x[k]``, applied
    ``n`` times, each time one element shorter. ``prepend`` and ``append`` (tensors of the
    input's shape but along ``dim``) are joined on first. Bools give ``x[k + 1] != x[k]``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.diff(cr.tensor([1, 4, 9, 16])).tolist()
    [3, 5, 7]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("diff", "input", input)
    if input.ndim == 0:
        raise OpError("diff: expects input to be at least one-dimensional, got a 0-d tensor")
    n = as_index(n, "diff", "n")
    if n < 0:
        raise OpError(f"diff: order n must be non-negative, got {n}")
    axis = normalise_axis(dim, input.ndim, "diff")
    parts = []
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        if not isinstance(extra, Tensor):
            raise not_a_tensor("diff", name, extra)
        if extra.ndim != input.ndim:
            raise OpError(
                f"diff: expects {name} to have as many dimensions as input, got shapes "
                f"{extra.shape} and {input.shape}"
            )
    if prepend is not None:
        parts.append(prepend)
    parts.append(input)
    if append is not None:
        parts.append(append)
    x = cat(parts, axis) if len(parts) > 1 else input
    if n == 0:
        return clone(x)
    if x.shape[axis] == 0:
        return x  # PyTorch hands back the empty input itself, the same tensor
    for _ in range(n):
        length = x.shape[axis]
        if length <= 1:
            return narrow(x, axis, 0, 0).clone()
        later, earlier = narrow(x, axis, 1, length - 1), narrow(x, axis, 0, length - 1)
        x = ne(later, earlier) if x.dtype.kind == "b" else sub(later, earlier)
    return x
