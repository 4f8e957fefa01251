"""Numerical integration by the trapezoidal rule along one dimension: ``trapezoid`` (the
integral) and ``cumulative_trapezoid`` (its running value), with sample points ``x`` or a
constant spacing ``dx``. Both are sums of differentiable products, so the gradient with
respect to the samples (and to x) is theirs.
"""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops.cumulative import cumsum
from chainrule.ops.movement import normalise_axis
from chainrule.ops.selection import narrow
from chainrule.tensor import Tensor


def _pieces(y: Tensor, x: Any, dx: Any, dim: int, where: str) -> tuple[Tensor, int]:
    """The trapezoids' areas ((y_{k+1} + y_k)·Δx_k/2 ...) along the axis, and that axis."""
    if not isinstance(y, Tensor):
        raise not_a_tensor(where, "y", y)
    if x is not None and dx is not None:
        raise OpError(f"{where}: cannot pass both x and dx")
    axis = normalise_axis(dim, y.ndim, where)
    n = y.shape[axis]
    if not y.is_floating_point():
        y = y.to(dtypes.get_default_dtype())
    right, left = narrow(y, axis, 1, max(n - 1, 0)), narrow(y, axis, 0, max(n - 1, 0))
    if isinstance(x, Tensor):
        if x.ndim == 1:
            if x.shape[0] != n:
                raise OpError(
                    f"{where}: there must be one `x` value for each sample point, got "
                    f"{x.shape[0]} and {n}"
                )
            x = x.reshape(*([1] * axis), n, *([1] * (y.ndim - axis - 1)))
            step_axis = axis
        else:
            step_axis = normalise_axis(dim, x.ndim, where)
        steps = x.diff(dim=step_axis)
        return steps * (right + left) / 2, axis
    if x is not None:
        raise not_a_tensor(where, "x", x)
    spacing = 1 if dx is None else dx
    return (right + left) * spacing / 2, axis


def trapezoid(
    y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1
) -> Tensor:
    """∫ y along ``dim`` by the trapezoidal rule: Σ (y_{k+1} + y_k)·(x_{k+1} − x_k)/2, with
    sample points x (a vector along dim, or y's shape) or a constant spacing dx (1 by
    default); 0 for fewer than two samples.

    ```pycon
    >>> import chainrule as cr
    >>> cr.trapezoid(cr.tensor([1.0, 2.0, 4.0])).item()
    4.5
    >>> cr.trapezoid(cr.tensor([1.0, 2.0, 4.0]), cr.tensor([0.0, 1.0, 3.0])).item()
    7.5

    ```
    """
    areas, axis = _pieces(y, x, dx, dim, "trapezoid")
    return areas.sum(axis)


def cumulative_trapezoid(
    y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1
) -> Tensor:
    """The running trapezoidal integral along ``dim``: one value per sample after the first
    (its length is one less than y's along dim).

    ```pycon
    >>> import chainrule as cr
    >>> cr.cumulative_trapezoid(cr.tensor([1.0, 2.0, 4.0])).tolist()
    [1.5, 4.5]

    ```
    """
    areas, axis = _pieces(y, x, dx, dim, "cumulative_trapezoid")
    return cumsum(areas, axis)
