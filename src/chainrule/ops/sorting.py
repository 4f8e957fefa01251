"""Ordering along a dimension: sort, argsort, topk and kthvalue.

Each finds the order of the elements with the array library (no gradient flows through an
ordering) and then takes the values at those positions with a gather, whose gradient puts
∂C/∂values back where each value came from. NaN counts as larger than every number, as in
PyTorch.

Every sort here is stable: equal elements keep their order (the lower index first, in either
direction), which is what PyTorch's ``stable=True`` promises. Where PyTorch leaves the order
of ties unspecified (``topk``, ``kthvalue``), the lowest index wins here, and so indices of
tied elements (and the element that receives their gradient) may differ from PyTorch's.
"""

from __future__ import annotations

import operator
from collections import namedtuple
from typing import Any

from chainrule import backend, dtypes
from chainrule.ops.indexing import Gather
from chainrule.ops.movement import normalise_axis, squeeze
from chainrule.tensor import Tensor

# PyTorch's results of the same names: tuples whose fields can be read by name.
sort_result = namedtuple("sort_result", ["values", "indices"])
topk_result = namedtuple("topk_result", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue_result", ["values", "indices"])


def order(array: Any, axis: int, descending: bool) -> Any:
    """The stable sorting permutation of ``array`` along ``axis`` (int64 positions).

    Descending order without negating (which bools and the smallest integer do not allow):
    sort the reversed array, reverse the result, and map each position back. Ties then come
    out lowest index first, and NaN, last when ascending, first when descending.
    """
    xp = backend.xp
    if not descending:
        return xp.argsort(array, axis=axis, kind="stable").astype(dtypes.int64, copy=False)
    flipped = xp.argsort(xp.flip(array, axis=axis), axis=axis, kind="stable")
    return (array.shape[axis] - 1 - xp.flip(flipped, axis=axis)).astype(dtypes.int64, copy=False)


def _axis_and_length(input: Tensor, dim: int, op: str) -> tuple[int, int]:  # noqa: A002
    """The axis ``dim`` names (a 0-d tensor has one, of length 1) and its length."""
    axis = normalise_axis(dim, max(input.ndim, 1), op)
    return axis, (input.shape or (1,))[axis]


def _ordered(input: Tensor, axis: int, descending: bool) -> Any:  # noqa: A002
    array = input.array
    return order(array.reshape(1) if array.ndim == 0 else array, axis, descending)


def _indices(array: Any) -> Tensor:
    """Positions as an int64 tensor, outside the graph."""
    return Tensor._make(array, False, None)


def _count(k: Any, op: str) -> int:
    if isinstance(k, bool):  # an int subclass, refused by PyTorch all the same
        raise TypeError(f"{op}: k must be an int, not bool")
    try:
        return operator.index(k)
    except TypeError:
        raise TypeError(f"{op}: k must be an int, got {type(k).__name__}") from None


# ---- the public functions ----------------------------------------------------------------------


def sort(
    input: Tensor,  # noqa: A002
    dim: int = -1,
    descending: bool = False,
    *,
    stable: bool = False,
) -> sort_result:
    """``(values, indices)``: ``input`` sorted along ``dim`` (ascending unless ``descending``),
    and where along ``dim`` each value was (int64). The sort is always stable, so ``stable``
    changes nothing. ∂C/∂input = ∂C/∂values put back at ``indices``.

    ```pycon
    >>> from chainrule import tensor
    >>> sort(tensor([3.0, 1.0, 2.0])).indices.tolist()
    [1, 2, 0]

    ```
    """
    axis, _ = _axis_and_length(input, dim, "sort")
    positions = _ordered(input, axis, descending).reshape(input.shape)
    values = Gather.apply(input, positions, dim=axis)
    return sort_result(values, _indices(positions))


def argsort(
    input: Tensor,  # noqa: A002
    dim: int = -1,
    descending: bool = False,
    *,
    stable: bool = False,
) -> Tensor:
    """The ``indices`` of :func:`sort`: the positions that would sort ``input`` along ``dim``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.argsort(cr.tensor([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    >>> cr.argsort(cr.tensor([3.0, 1.0, 2.0]), descending=True).tolist()
    [0, 2, 1]

    ```
    """
    axis, _ = _axis_and_length(input, dim, "argsort")
    return _indices(_ordered(input, axis, descending).reshape(input.shape))


def topk(
    input: Tensor,  # noqa: A002
    k: int,
    dim: int = -1,
    largest: bool = True,
    sorted: bool = True,  # noqa: A002
) -> topk_result:
    """``(values, indices)`` of the ``k`` largest elements along ``dim`` (smallest if not
    ``largest``), largest first. They always come sorted: with ``sorted=False`` PyTorch
    leaves the order unspecified, and sorted is one such order.

    ```pycon
    >>> import chainrule as cr
    >>> values, indices = cr.topk(cr.tensor([1.0, 5.0, 3.0, 4.0]), 2)
    >>> values.tolist(), indices.tolist()
    ([5.0, 4.0], [1, 3])

    ```
    """
    axis, length = _axis_and_length(input, dim, "topk")
    k = _count(k, "topk")
    if not 0 <= k <= length:
        raise IndexError(
            f"topk: k={k} is out of range for dimension {dim} of size {length} "
            f"(input of shape {input.shape}); k must be in [0, {length}]"
        )
    positions = _ordered(input, axis, descending=largest)
    positions = positions[(slice(None),) * axis + (slice(0, k),)]
    if input.ndim == 0 and k == 1:  # a 0-d input gives 0-d results, as in PyTorch
        positions = positions.reshape(())
    values = Gather.apply(input, positions, dim=axis)
    return topk_result(values, _indices(positions))


def kthvalue(
    input: Tensor,  # noqa: A002
    k: int,
    dim: int = -1,
    keepdim: bool = False,
) -> kthvalue_result:
    """``(values, indices)`` of the ``k``-th smallest element along ``dim`` (k counts from 1).
    ``dim`` is removed from both unless ``keepdim``.

    ```pycon
    >>> import chainrule as cr
    >>> values, indices = cr.kthvalue(cr.tensor([[4.0, 1.0, 3.0], [2.0, 6.0, 5.0]]), 2)
    >>> values.tolist(), indices.tolist()
    ([3.0, 5.0], [2, 2])

    ```
    """
    axis, length = _axis_and_length(input, dim, "kthvalue")
    k = _count(k, "kthvalue")
    if length == 0:
        raise IndexError(
            f"kthvalue: dimension {dim} of the input of shape {input.shape} is empty; it has no "
            "k-th value"
        )
    if not 1 <= k <= length:
        raise IndexError(
            f"kthvalue: k={k} is out of range for dimension {dim} of size {length} "
            f"(input of shape {input.shape}); k must be in [1, {length}]"
        )
    positions = _ordered(input, axis, descending=False)
    positions = positions[(slice(None),) * axis + (slice(k - 1, k),)]
    if input.ndim == 0:
        positions = positions.reshape(())
    values = Gather.apply(input, positions, dim=axis)
    if keepdim or input.ndim == 0:
        return kthvalue_result(values, _indices(positions))
    return kthvalue_result(squeeze(values, axis), _indices(backend.xp.squeeze(positions, axis)))


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """The values sorted along dimension 0, ascending: ``sort(input, dim=0).values``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.msort(cr.tensor([[3.0, 1.0], [1.0, 2.0]])).tolist()
    [[1.0, 1.0], [3.0, 2.0]]

    ```
    """
    return sort(input, 0).values
