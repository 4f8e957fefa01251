"""Tensors assembled from others: ``block_diag`` (matrices along a diagonal), ``diag_embed``
(vectors as the diagonals of matrices), ``cartesian_prod`` (every combination of the elements
of vectors) and ``vander`` (the powers of a vector).

Each is built from differentiable placements (a zero-padding, a selection by a constant mask,
a grid, a running product), so each gradient reads back the entries that were placed.
"""

from __future__ import annotations

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops.axes import meshgrid, movedim
from chainrule.ops.cumulative import cumprod
from chainrule.ops.elementwise import Where
from chainrule.ops.movement import cat, normalise_axis, stack, unsqueeze
from chainrule.ops.padding import ConstantPad
from chainrule.tensor import Tensor


def _padded(x: Tensor, widths: list[tuple[int, int]]) -> Tensor:
    """x with zeros added before and after along each axis (one pair per axis)."""
    if not any(before or after for before, after in widths):
        return x
    return ConstantPad.apply(x, widths=tuple(widths), value=0)


def block_diag(*tensors: Tensor) -> Tensor:
    """The matrices (0-d: 1×1, 1-d: one row) on the diagonal of one matrix, zeros elsewhere:
    shape (Σ rows, Σ columns), in the inputs' promoted dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.block_diag(cr.tensor([[1.0, 2.0]]), cr.tensor(3.0)).tolist()
    [[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]]

    ```
    """
    for value in tensors:
        if not isinstance(value, Tensor):
            raise not_a_tensor("block_diag", "tensors", value)
        if value.ndim > 2:
            raise OpError(
                f"block_diag: input tensors must have 2 or fewer dimensions, got {value.ndim}"
            )
    if not tensors:
        return Tensor._make(backend.xp.zeros((1, 0), dtype=dtypes.get_default_dtype()), False, None)
    dtype = dtypes.result_type(*(t.array for t in tensors))
    blocks = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    blocks = [b if b.array.dtype == dtype else b.to(dtype) for b in blocks]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(_padded(b, [(0, 0), (left, right)]))
        left += b.shape[1]
    return cat(rows, 0)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """The last axis of input (…, n) as the ``offset`` diagonal of (n + |offset|)-square
    matrices in the output's axes ``dim1`` and ``dim2`` (positions in the output, which has one
    more axis than the input); zeros elsewhere.

    ```pycon
    >>> import chainrule as cr
    >>> cr.diag_embed(cr.tensor([1.0, 2.0])).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    >>> cr.diag_embed(cr.tensor([1.0, 2.0]), offset=1).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 0.0]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("diag_embed", "input", input)
    ndim = input.ndim + 1
    first = normalise_axis(dim1, ndim, "diag_embed", "dim1")
    second = normalise_axis(dim2, ndim, "diag_embed", "dim2")
    if first == second:
        raise OpError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    if input.ndim == 0:
        input = input.reshape(1)  # noqa: A001
    size = input.shape[-1] + abs(offset)
    # The k-th diagonal: entry (i, i + k) holds x[i] for k ≥ 0, entry (j − k, j) x[j] for k < 0;
    # the vector, padded to the matrices' size, is spread along the other axis.
    widths = [(0, 0)] * (input.ndim - 1) + [(0, abs(offset))]
    spread = unsqueeze(_padded(input, widths), -1 if offset >= 0 else -2)
    mask = backend.module_of(input.array).eye(size, k=offset, dtype=bool)  # on input's device
    square = Where.apply(Tensor._make(mask, False, None), spread, 0)
    return movedim(square, (-2, -1), (first, second))


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-d input, in row-major order: (Π nᵢ, k) for
    k inputs (one input: that input itself).

    ```pycon
    >>> import chainrule as cr
    >>> cr.cartesian_prod(cr.tensor([1, 2]), cr.tensor([3, 4])).tolist()
    [[1, 3], [1, 4], [2, 3], [2, 4]]

    ```
    """
    for value in tensors:
        if not isinstance(value, Tensor):
            raise not_a_tensor("cartesian_prod", "tensors", value)
        if value.ndim != 1:
            raise OpError(f"cartesian_prod: expect a 1D vector, but got shape {value.shape}")
    if not tensors:
        raise OpError("cartesian_prod: expected one or more tensors, got none")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([grid.reshape(-1) for grid in grids], 1)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803
    """The Vandermonde matrix (n, N) of a vector x: columns x⁰ … x^{N−1}, highest power first
    unless ``increasing``; N defaults to n. The powers are a running product, so the gradient
    is exact at x = 0 too.

    ```pycon
    >>> import chainrule as cr
    >>> cr.vander(cr.tensor([2.0, 3.0]), N=3).tolist()
    [[4.0, 2.0, 1.0], [9.0, 3.0, 1.0]]

    ```
    """
    if not isinstance(x, Tensor):
        raise not_a_tensor("vander", "x", x)
    if x.ndim != 1:
        raise OpError(f"vander: x must be a one-dimensional tensor, got shape {x.shape}")
    columns = x.shape[0] if N is None else N
    if columns < 0:
        raise OpError(f"vander: N must be non-negative, got {columns}")
    if x.array.dtype == bool or x.array.dtype.kind in "iu":
        x = x.to(dtypes.int64)
    xp = backend.module_of(x.array)  # the column of ones on x's device
    ones = Tensor._make(xp.ones((x.shape[0], min(columns, 1)), dtype=x.array.dtype), False, None)
    if columns <= 1:
        out = ones
    else:
        repeated = unsqueeze(x, 1).expand(x.shape[0], columns - 1)
        out = cat([ones, cumprod(repeated, 1)], 1)
    return out if increasing else out.flip(1)
