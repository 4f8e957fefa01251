"""Parts of a tensor: a run of slices along a dimension (narrow), one slice (select), every
slice (unbind), a diagonal, and elements at flat positions (take).

All but ``take`` are views, as in PyTorch: they share the input's memory, and an in-place change
through one reaches the input (and its history) through :mod:`chainrule.autograd.views`. Each
gradient puts ∂C/∂out back where the part came from, zeros elsewhere.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd import views
from chainrule.autograd.function import OpError, as_index, not_a_tensor
from chainrule.ops.movement import GetItem, Placed, ViewFunction, normalise_axis, reshape
from chainrule.tensor import Tensor


def diagonal_view(array: Any, offset: int, axis1: int, axis2: int) -> Any:
    """The diagonal ``offset`` of the matrices in axes ``axis1`` and ``axis2`` of ``array``, as a
    view that may be written (NumPy's own ``diagonal`` is read-only): the two axes are removed
    and the diagonal becomes the last axis, whose stride is the sum of theirs."""
    corner = [slice(None)] * array.ndim
    corner[axis1] = slice(max(-offset, 0), None)  # below the main diagonal: start lower down
    corner[axis2] = slice(max(offset, 0), None)  # above it: start further right
    start = array[tuple(corner)]
    length = min(start.shape[axis1], start.shape[axis2])
    kept = [axis for axis in range(array.ndim) if axis not in (axis1, axis2)]
    return backend.as_strided(
        start,
        [start.shape[axis] for axis in kept] + [length],
        [start.strides[axis] for axis in kept] + [start.strides[axis1] + start.strides[axis2]],
    )


class Diagonal(ViewFunction):
    """out = diagonal ``offset`` of x in (dim1, dim2): ∂C/∂x = zeros with ∂C/∂out on that
    diagonal"""

    def forward(self, x: Any, offset: int, dim1: int, dim2: int) -> Any:
        self.shape, self.where = x.shape, (offset, dim1, dim2)
        return diagonal_view(x, offset, dim1, dim2)

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):  # recording a graph: the same placement as an operation
            index = diagonal_index(self.shape, *self.where)
            return (Placed.apply(grad, shape=self.shape, index=index),)
        full = backend.xp.zeros(self.shape, dtype=grad.dtype)
        diagonal_view(full, *self.where)[...] = grad
        return (full,)


def diagonal_index(shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> tuple:
    """The integer-array index that picks :func:`diagonal_view`'s elements from an array of
    ``shape``, in the view's shape: one broadcast coordinate array per axis, the kept axes
    leading and the position along the diagonal last."""
    xp = backend.xp
    kept = [axis for axis in range(len(shape)) if axis not in (axis1, axis2)]
    rows, cols = shape[axis1] - max(-offset, 0), shape[axis2] - max(offset, 0)
    steps = xp.arange(max(min(rows, cols), 0))
    rank = len(kept) + 1
    index: list = [None] * len(shape)
    for place, axis in enumerate(kept):
        index[axis] = xp.arange(shape[axis]).reshape([-1 if a == place else 1 for a in range(rank)])
    index[axis1] = steps + max(-offset, 0)
    index[axis2] = steps + max(offset, 0)
    return tuple(index)


# ---- the public functions ----------------------------------------------------------------------


def _checked_input(input: Any, op: str) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(op, "input", input)
    return input


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:  # noqa: A002
    """The ``length`` slices ``start, start + 1, ...`` of ``input`` along ``dim``, as a view.
    ``start`` may be negative (counted from the end) or a 0-d integer tensor.

    ```pycon
    >>> import chainrule as cr
    >>> cr.arange(6).reshape(2, 3).narrow(1, 1, 2).tolist()
    [[1, 2], [4, 5]]

    ```
    """
    _checked_input(input, "narrow")
    if input.ndim == 0:
        raise OpError("narrow: cannot be applied to a 0-dim tensor")
    axis = normalise_axis(dim, input.ndim, "narrow")
    size = input.shape[axis]
    start = as_index(start, "narrow", "start")
    length = as_index(length, "narrow", "length")
    if not -size <= start <= size:
        raise IndexError(
            f"narrow: start out of range (expected to be in range of [{-size}, {size}], but got "
            f"{start})"
        )
    start = start + size if start < 0 else start
    if length < 0:
        raise OpError(f"narrow: length must be non-negative, got {length}")
    if start + length > size:
        raise OpError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({size}) of "
            f"dimension {dim} of a tensor of shape {input.shape}"
        )
    index = (slice(None),) * axis + (slice(start, start + length),)
    return GetItem.apply(input, index)


def select(input: Tensor, dim: int, index: Any) -> Tensor:  # noqa: A002
    """The slice of ``input`` at ``index`` along ``dim``, which is removed: ``x.select(0, i)``
    is ``x[i]``, a view.

    ```pycon
    >>> import chainrule as cr
    >>> cr.arange(6).reshape(2, 3).select(1, -1).tolist()
    [2, 5]

    ```
    """
    _checked_input(input, "select")
    if input.ndim == 0:
        raise IndexError("select: cannot be applied to a 0-dim tensor")
    axis = normalise_axis(dim, input.ndim, "select")
    index = as_index(index, "select", "index")
    size = input.shape[axis]
    if not -size <= index < size:
        raise IndexError(
            f"select: index {index} out of range for tensor of size {list(input.shape)} at "
            f"dimension {axis}"
        )
    return GetItem.apply(input, (slice(None),) * axis + (index,))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """Every slice of ``input`` along ``dim``, which is removed: a tuple of views. As in PyTorch,
    none of them may be changed in place while it is part of a graph.

    ```pycon
    >>> import chainrule as cr
    >>> [t.tolist() for t in cr.tensor([[1, 2], [3, 4]]).unbind(1)]
    [[1, 3], [2, 4]]

    ```
    """
    _checked_input(input, "unbind")
    if input.ndim == 0:
        raise IndexError("unbind: dimension specified as 0 but the tensor has no dimensions")
    axis = normalise_axis(dim, input.ndim, "unbind")
    lead = (slice(None),) * axis
    pieces = [GetItem.apply(input, (*lead, i)) for i in range(input.shape[axis])]
    views.mark_pieces(pieces, "unbind")
    return tuple(pieces)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:  # noqa: A002
    """The elements ``input[..., i, ..., i + offset, ...]`` of the matrices spanned by ``dim1``
    and ``dim2``, as a view: those two dimensions are removed and the diagonal is appended as the
    last one. ``offset`` > 0 is above the main diagonal, < 0 below.

    ```pycon
    >>> import chainrule as cr
    >>> cr.arange(9).reshape(3, 3).diagonal(1).tolist()
    [1, 5]

    ```
    """
    _checked_input(input, "diagonal")
    axis1 = normalise_axis(dim1, input.ndim, "diagonal", "dim1")
    axis2 = normalise_axis(dim2, input.ndim, "diagonal", "dim2")
    if axis1 == axis2:
        raise OpError(f"diagonal: dimensions dim1 and dim2 cannot be identical, got {dim1}, {dim2}")
    offset = as_index(offset, "diagonal", "offset")
    return Diagonal.apply(input, offset=offset, dim1=axis1, dim2=axis2)


def take(input: Tensor, index: Tensor) -> Tensor:  # noqa: A002
    """The elements of ``input``, read as if flattened, at the positions in ``index``
    (negative ones count from the end); the result has ``index``'s shape and is a copy.
    ∂C/∂input: ∂C/∂out added back at those positions (repeats sum).

    ```pycon
    >>> import chainrule as cr
    >>> cr.take(cr.tensor([[1, 2], [3, 4]]), cr.tensor([0, -1])).tolist()
    [1, 4]

    ```
    """
    _checked_input(input, "take")
    if not isinstance(index, Tensor):
        raise not_a_tensor("take", "index", index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"take: expected an integer (int64) tensor for index, got {index.dtype}")
    positions = index.array
    count = input.numel()
    if positions.size and (positions.min() < -count or positions.max() >= count):
        bad = positions.min() if positions.min() < -count else positions.max()
        raise IndexError(
            f"take: index {bad} is out of range for a tensor of {count} elements (shape "
            f"{input.shape})"
        )
    # An integer array as the index: a gather by position, whose gradient scatter-adds.
    return GetItem.apply(reshape(input, -1), positions.astype("int64"))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """input's values at ``indices`` along ``dim`` (a gather, with input and indices broadcast
    against each other in the other axes); without ``dim``, input read flat. ∂/∂input gathers
    back: each picked element gets the gradient of every place that picked it.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
    >>> cr.take_along_dim(x, x.argsort(dim=1), dim=1).tolist()
    [[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]]

    ```
    """
    from chainrule.ops.axes import broadcast_shapes
    from chainrule.ops.indexing import gather

    if not isinstance(input, Tensor):
        raise not_a_tensor("take_along_dim", "input", input)
    if not isinstance(indices, Tensor):
        raise not_a_tensor("take_along_dim", "indices", indices)
    if indices.array.dtype.kind not in "iu":
        raise OpError(
            f"take_along_dim: dtype of indices should be an integer type, got {indices.dtype}"
        )
    if dim is None:
        return gather(reshape(input, -1), 0, reshape(indices, -1))
    if input.ndim != indices.ndim:
        raise OpError(
            "take_along_dim: input and indices should have the same number of dimensions, but "
            f"got {input.ndim} dimensions for input, and {indices.ndim} dimensions for indices"
        )
    axis = normalise_axis(dim, input.ndim, "take_along_dim")
    outer_input = [1 if i == axis else n for i, n in enumerate(input.shape)]
    outer_indices = [1 if i == axis else n for i, n in enumerate(indices.shape)]
    shape = list(broadcast_shapes(outer_input, outer_indices))
    source = input.expand(*shape[:axis], input.shape[axis], *shape[axis + 1 :])
    picks = indices.expand(*shape[:axis], indices.shape[axis], *shape[axis + 1 :])
    return gather(source, axis, picks)
