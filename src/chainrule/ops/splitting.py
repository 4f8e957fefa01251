"""Splitting a tensor into views along one dimension at given places: ``tensor_split`` (into n
nearly equal parts, or at indices) and its fixed-dimension forms ``hsplit``, ``vsplit`` and
``dsplit``. Each part is a slice of the input, so the gradient of each goes back to its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops.movement import normalise_axis, split
from chainrule.ops.selection import narrow
from chainrule.tensor import Tensor


def _as_points(indices_or_sections: Any) -> int | list[int]:
    """An int (a number of sections) or a list of split points, from ints, sequences or an
    integer tensor (0-d: sections; 1-d: points)."""
    value = indices_or_sections
    if isinstance(value, Tensor):
        if value.array.dtype.kind not in "iu" or value.ndim > 1:
            raise OpError(
                "tensor_split: expected indices_or_sections to be a 0-d or 1-d integer tensor, "
                f"got {value.ndim}-d {value.dtype}"
            )
        value = value.tolist()
    if isinstance(value, Sequence):
        return [int(point) for point in value]
    return int(value)


def tensor_split(
    input: Tensor,  # noqa: A002
    indices_or_sections: Any,
    dim: int = 0,
) -> tuple[Tensor, ...]:
    """Views of ``input`` along ``dim``: n sections (the first L mod n one longer than the rest)
    for an int n, or the pieces input[a:b] between consecutive given indices (with Python's
    slicing rules: negative indices count from the end, and pieces may be empty).

    ```pycon
    >>> import chainrule as cr
    >>> [p.tolist() for p in cr.tensor_split(cr.arange(7), 3)]
    [[0, 1, 2], [3, 4], [5, 6]]
    >>> [p.tolist() for p in cr.tensor_split(cr.arange(5), [1, 4])]
    [[0], [1, 2, 3], [4]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("tensor_split", "input", input)
    axis = normalise_axis(dim, input.ndim, "tensor_split")
    length = input.shape[axis]
    points = _as_points(indices_or_sections)
    if isinstance(points, int):
        if points <= 0:
            raise OpError(f"tensor_split: number of sections must be larger than 0, got {points}")
        size, extra = divmod(length, points)
        return split(input, [size + 1] * extra + [size] * (points - extra), axis)
    pieces = []
    for start, stop in zip([0, *points], [*points, None]):
        # Python's slice input[start:stop] along the axis: negative points count from the
        # end, and a point before the previous one gives an empty piece.
        first, last, _ = slice(start, stop).indices(length)
        pieces.append(narrow(input, axis, first, max(last - first, 0)))
    return tuple(pieces)


def _fixed_split(input: Any, sections: Any, dim: int, where: str, rank: int) -> tuple:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(where, "input", input)
    if input.ndim < rank:
        raise OpError(
            f"{where} requires a tensor with at least {rank} dimension, but got a tensor with "
            f"{input.ndim} dimensions"
        )
    points = _as_points(sections)
    if isinstance(points, int) and (points == 0 or input.shape[dim] % points):
        raise OpError(
            f"{where} attempted to split along dimension {dim}, but the size of the dimension "
            f"{input.shape[dim]} is not divisible by the split_size {points}"
        )
    return tensor_split(input, points, dim)


def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """:func:`tensor_split` along the columns (dimension 1; 0 for a 1-d tensor); an int must
    divide that length.

    ```pycon
    >>> import chainrule as cr
    >>> [tuple(p.shape) for p in cr.hsplit(cr.zeros(2, 6), 3)]
    [(2, 2), (2, 2), (2, 2)]

    ```
    """
    dim = 0 if isinstance(input, Tensor) and input.ndim == 1 else 1
    return _fixed_split(input, indices_or_sections, dim, "hsplit", 1)


def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """:func:`tensor_split` along the rows (dimension 0) of a tensor of 2 or more dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> [tuple(p.shape) for p in cr.vsplit(cr.zeros(4, 3), [1])]
    [(1, 3), (3, 3)]

    ```
    """
    return _fixed_split(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:  # noqa: A002
    """:func:`tensor_split` along the depth (dimension 2) of a tensor of 3 or more dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> [tuple(p.shape) for p in cr.dsplit(cr.zeros(1, 2, 4), 2)]
    [(1, 2, 2), (1, 2, 2)]

    ```
    """
    return _fixed_split(input, indices_or_sections, 2, "dsplit", 3)
