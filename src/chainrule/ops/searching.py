"""Finding elements: where they are nonzero (nonzero, argwhere, count_nonzero), which values
occur (unique), and where values would go in a sorted sequence (searchsorted, bucketize).

The answers are positions and counts: integer tensors outside the graph, as in PyTorch, where
none of these has a gradient. (``unique`` of a tensor that requires grad records no graph
here; PyTorch records one whose backward raises.)
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops.movement import normalise_axis
from chainrule.ops.reduce import normalise_dims
from chainrule.tensor import Tensor


def _positions(array: Any) -> Tensor:
    return Tensor._make(backend.as_array(array).astype("int64", copy=False), False, None)


def _checked(input: Any, op: str) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(op, "input", input)
    return input


# ---- nonzero elements --------------------------------------------------------------------------


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:  # noqa: A002
    """The positions of the nonzero elements, in row-major order: an (n, ndim) int64 tensor,
    or with ``as_tuple`` one 1-d tensor of n positions per dimension (a 0-d input counts as a
    vector of one element there).

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensor([[0, 1], [2, 0]]).nonzero().tolist()
    [[0, 1], [1, 0]]

    ```
    """
    array = _checked(input, "nonzero").array
    xp = backend.module_of(array)  # outside an operation: the module of the data
    if as_tuple:
        return tuple(
            _positions(p) for p in xp.nonzero(array.reshape(-1) if array.ndim == 0 else array)
        )
    if array.ndim == 0:
        return _positions(xp.zeros((int(array != 0), 0)))
    return _positions(xp.argwhere(array))


def argwhere(input: Tensor) -> Tensor:  # noqa: A002
    """The positions of the nonzero elements as an (n, ndim) int64 tensor: ``nonzero``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.argwhere(cr.tensor([[0, 1], [2, 0]])).tolist()
    [[0, 1], [1, 0]]

    ```
    """
    return nonzero(_checked(input, "argwhere"))


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """How many elements are nonzero, over ``dim`` (an int or a tuple; all by default), as
    int64.

    ```pycon
    >>> import chainrule as cr
    >>> cr.count_nonzero(cr.tensor([[0.0, 1.0], [2.0, 3.0]]), dim=1).tolist()
    [1, 2]

    ```
    """
    array = _checked(input, "count_nonzero").array
    axes = normalise_dims(dim, array.ndim, "count_nonzero")
    return _positions((array != 0).sum(axis=axes))


# ---- unique ------------------------------------------------------------------------------------


def _unique_rows(rows: Any) -> tuple[Any, Any, Any]:
    """The distinct rows of a 2-d array in lexicographic order, where each row went (inverse)
    and how often each occurs. Rows holding NaN never equal another, as in PyTorch."""
    xp = backend.module_of(rows)
    order = xp.lexsort(rows.T[::-1]) if rows.shape[1] else xp.arange(rows.shape[0])
    ordered = rows[order]
    new = xp.ones(len(ordered), dtype=bool)
    if len(ordered) > 1:
        new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    group = xp.cumsum(new) - 1
    inverse = xp.empty(len(rows), dtype="int64")
    inverse[order] = group
    counts = xp.bincount(group, minlength=int(new.sum())) if len(group) else xp.zeros(0)
    return ordered[new], inverse, counts


def unique(
    input: Tensor,  # noqa: A002
    sorted: bool = True,  # noqa: A002
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct elements of ``input``, in ascending order, as a 1-d tensor; with ``dim``,
    the distinct slices along ``dim``. ``return_inverse`` adds where each element (slice) of
    the input went in the result, ``return_counts`` how often each distinct one occurs. NaNs
    are each distinct. ``sorted=False`` is accepted and sorts as well (as PyTorch on the CPU).

    ```pycon
    >>> import chainrule as cr
    >>> values, counts = cr.unique(cr.tensor([3, 1, 3]), return_counts=True)
    >>> values.tolist(), counts.tolist()
    ([1, 3], [1, 2])

    ```
    """
    array = _checked(input, "unique").array
    xp = backend.module_of(array)  # outside an operation: the module of the data
    if dim is None:
        flat = array.reshape(-1)
        values, inverse, counts = _unique_rows(flat[:, None])
        values, inverse = values.reshape(-1), inverse.reshape(array.shape)
    else:
        axis = normalise_axis(dim, max(array.ndim, 1), "unique")
        moved = xp.moveaxis(array.reshape(1) if array.ndim == 0 else array, axis, 0)
        values, inverse, counts = _unique_rows(moved.reshape(moved.shape[0], -1))
        values = xp.moveaxis(values.reshape((len(values), *moved.shape[1:])), 0, axis)
    result = Tensor._make(xp.ascontiguousarray(values), False, None)
    extras = []
    if return_inverse:
        extras.append(_positions(inverse))
    if return_counts:
        extras.append(_positions(counts))
    return (result, *extras) if extras else result


# ---- positions in a sorted sequence ------------------------------------------------------------


def _side(right: bool, side: str | None) -> str:
    if side is None:
        return "right" if right else "left"
    if side not in ("left", "right"):
        raise OpError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if right and side == "left":
        raise OpError(
            "searchsorted: side and right can't be set to opposites (side='left', right=True)"
        )
    return side


def searchsorted(
    sorted_sequence: Tensor,
    input: Any,  # noqa: A002
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """For each value of ``input``, the position in ``sorted_sequence`` (sorted along its last
    dimension) where it would be inserted to keep the order: before equal elements by default,
    after them with ``right=True`` or ``side='right'``. A 1-d sequence serves every value; an
    n-d one must match ``input`` in its first n - 1 dimensions (one row per row of values).
    ``sorter`` gives the order of an unsorted sequence. int64 (int32 with ``out_int32``).

    ```pycon
    >>> import chainrule as cr
    >>> cr.searchsorted(cr.tensor([1, 3, 5, 7]), cr.tensor([3, 6, 9])).tolist()
    [1, 3, 4]

    ```
    """
    if not isinstance(sorted_sequence, Tensor):
        raise not_a_tensor("searchsorted", "sorted_sequence", sorted_sequence)
    side = _side(right, side)
    boundaries = sorted_sequence.array
    xp = backend.module_of(boundaries)  # outside an operation: the module of the data
    if sorter is not None:
        boundaries = xp.take_along_axis(boundaries, sorter.array.astype("int64"), axis=-1)
    values = input.array if isinstance(input, Tensor) else xp.asarray(input)
    if boundaries.ndim == 0:
        raise OpError(
            "searchsorted: the boundaries must have at least 1 dimension, got a 0-d tensor"
        )
    if boundaries.ndim > 1 and boundaries.shape[:-1] != values.shape[:-1]:
        raise OpError(
            f"searchsorted: boundaries should be 1-d, or match the values in their first n - 1 "
            f"dimensions, got shapes {tuple(boundaries.shape)} and {tuple(values.shape)}"
        )
    common = dtypes.result_type(boundaries, values)
    boundaries, values = boundaries.astype(common), values.astype(common)
    if boundaries.ndim == 1:
        found = xp.searchsorted(boundaries, values, side=side)
    else:
        rows = boundaries.reshape(-1, boundaries.shape[-1])
        wanted = values.reshape(rows.shape[0], -1)
        found = xp.stack([xp.searchsorted(r, w, side=side) for r, w in zip(rows, wanted)])
        found = found.reshape(values.shape)
    return Tensor._make(xp.asarray(found).astype("int32" if out_int32 else "int64"), False, None)


def bucketize(
    input: Any,  # noqa: A002
    boundaries: Tensor,
    *,
    out_int32: bool = False,
    right: bool = False,
) -> Tensor:
    """The bucket of each value among the 1-d, ascending ``boundaries``: i such that
    boundaries[i - 1] < x ≤ boundaries[i] (with ``right=True``: boundaries[i - 1] ≤ x <
    boundaries[i]). :func:`searchsorted` with its arguments the other way round.

    ```pycon
    >>> import chainrule as cr
    >>> cr.bucketize(cr.tensor([1, 6, 3, 9]), cr.tensor([1, 3, 5, 7])).tolist()
    [0, 3, 1, 4]

    ```
    """
    if not isinstance(boundaries, Tensor):
        raise not_a_tensor("bucketize", "boundaries", boundaries)
    if boundaries.ndim != 1:
        raise OpError(f"bucketize: boundaries must be 1-d, got shape {boundaries.shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(
    elements: Any,
    test_elements: Any,
    *,
    assume_unique: bool = False,
    invert: bool = False,
) -> Tensor:
    """True where an element of ``elements`` is among ``test_elements`` (either may be a
    number), of elements' shape; False there instead with ``invert``. A bool tensor without a
    gradient.

    ```pycon
    >>> import chainrule as cr
    >>> cr.isin(cr.tensor([1, 2, 3]), cr.tensor([2, 5])).tolist()
    [False, True, False]

    ```
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise not_a_tensor("isin", "elements", elements)
    for name, value in (("elements", elements), ("test_elements", test_elements)):
        if not isinstance(value, (Tensor, int, float, bool)):
            raise not_a_tensor("isin", name, value)
    xp = backend.xp
    values = elements.array if isinstance(elements, Tensor) else xp.asarray(elements)
    tests = test_elements.array if isinstance(test_elements, Tensor) else xp.asarray(test_elements)
    found = xp.isin(values, tests, assume_unique=assume_unique, invert=invert)
    return Tensor._make(xp.asarray(found), False, None)
