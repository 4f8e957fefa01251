"""Products composed of differentiable ones: ``linalg.multi_dot`` (a chain of matrix products
in the cheapest order) and ``linalg.vecdot`` (the dot product along one dimension)."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops import reduce
from chainrule.ops.linalg import matmul
from chainrule.ops.movement import squeeze, unsqueeze
from chainrule.tensor import Tensor


def _cheapest_order(sizes: list[int]) -> list[list[int]]:
    """split[i][j]: where the product of matrices i..j is best split, for matrices of shapes
    sizes[k] × sizes[k + 1] (the textbook dynamic programme over chain lengths)."""
    count = len(sizes) - 1
    cost = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            best = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return split


def _multiply(matrices: list[Tensor], split: list[list[int]], i: int, j: int) -> Tensor:
    if i == j:
        return matrices[i]
    k = split[i][j]
    return matmul(_multiply(matrices, split, i, k), _multiply(matrices, split, k + 1, j))


def multi_dot(tensors: Any) -> Tensor:
    """The product of a chain of matrices, multiplied in the order that needs the fewest
    multiplications (the result is the same up to rounding): ``torch.linalg.multi_dot``. The
    first tensor may be a vector (taken as a row) and the last one too (a column); the others
    are matrices. ∂C/∂ each factor follows from the products.

    ```pycon
    >>> import chainrule as cr
    >>> a, b, c = cr.ones(2), cr.ones(2, 3), cr.tensor([1.0, 2.0, 3.0])
    >>> cr.linalg.multi_dot([a, b, c]).item()
    12.0

    ```
    """
    op = "multi_dot()"
    tensors = list(tensors)
    if len(tensors) < 2:
        raise OpError(f"{op}: expected at least 2 tensors but got {len(tensors)}")
    for i, value in enumerate(tensors):
        if not isinstance(value, Tensor):
            raise not_a_tensor("linalg.multi_dot", "tensors", value, element=i)
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2) or last.ndim not in (1, 2):
        raise OpError(
            f"{op}: the first and last tensors must be 1D or 2D but got {first.ndim}D and "
            f"{last.ndim}D"
        )
    for i, middle in enumerate(tensors[1:-1], 1):
        if middle.ndim != 2:
            raise OpError(f"{op}: tensor {i} must be 2D but got {middle.ndim}D")
    if len({value.dtype for value in tensors}) > 1:
        raise TypeError(f"{op}: all tensors must have the same dtype")
    matrices = [unsqueeze(first, 0) if first.ndim == 1 else first, *tensors[1:-1]]
    matrices.append(unsqueeze(last, 1) if last.ndim == 1 else last)
    for i in range(len(matrices) - 1):
        if matrices[i].shape[1] != matrices[i + 1].shape[0]:
            raise OpError(
                f"{op}: tensors {i} and {i + 1} with shapes {list(tensors[i].shape)} and "
                f"{list(tensors[i + 1].shape)} cannot be multiplied"
            )
    sizes = [m.shape[0] for m in matrices] + [matrices[-1].shape[1]]
    out = _multiply(matrices, _cheapest_order(sizes), 0, len(matrices) - 1)
    if last.ndim == 1:
        out = squeeze(out, 1)
    if first.ndim == 1:
        out = squeeze(out, 0)
    return out


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """Σ x·y along ``dim``, the other dimensions broadcast: ``torch.linalg.vecdot`` (real
    tensors: no conjugate). ∂C/∂x = ∂C/∂out · y, ∂C/∂y = ∂C/∂out · x.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.vecdot(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]

    ```
    """
    op = "linalg.vecdot"
    for name, value in (("x", x), ("y", y)):
        if not isinstance(value, Tensor):
            raise not_a_tensor(op, name, value)
    if x.dtype != y.dtype:
        raise TypeError(
            f"{op}: Expected x and y to have the same dtype, but found x of type {x.dtype} "
            f"and y of type {y.dtype} instead"
        )
    return reduce.sum(x * y, dim)
