"""Views that move, split or add axes: movedim and swapaxes, unflatten, broadcast_to and
broadcast_tensors, meshgrid, and atleast_1d/2d/3d.

Each is composed of the views of :mod:`chainrule.ops.movement` (permute, reshape, expand), so
the gradient rules are theirs, and each result shares its input's memory, as in PyTorch.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError, as_index, not_a_tensor
from chainrule.ops.movement import (
    Permute,
    _shape_args,
    _tensor_list,
    expand,
    normalise_axis,
    reshape,
    transpose,
)
from chainrule.size import Size
from chainrule.tensor import Tensor

# ---- moving axes -------------------------------------------------------------------------------


def _axes(dims: Any, ndim: int, op: str, argument: str) -> list[int]:
    """``dims`` (an int or a sequence of ints) as non-negative axes, refusing repeats."""
    listed = list(dims) if isinstance(dims, (tuple, list)) else [dims]
    axes = [normalise_axis(d, ndim, op, argument) for d in listed]
    if len(set(axes)) != len(axes):
        raise OpError(f"{op}: repeated dim in `{argument}` ({listed})")
    return axes


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:  # noqa: A002
    """The dimensions ``source`` moved to the positions ``destination`` (ints or sequences of
    the same length); the other dimensions keep their order. A view.

    ```pycon
    >>> import chainrule as cr
    >>> cr.zeros(2, 3, 4).movedim(0, -1).shape
    chainrule.Size([3, 4, 2])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("movedim", "input", input)
    ndim = input.ndim
    rank = max(ndim, 1)  # a 0-d tensor takes dim 0 and -1, as elsewhere
    sources = _axes(source, rank, "movedim", "source")
    destinations = _axes(destination, rank, "movedim", "destination")
    if len(sources) != len(destinations):
        raise OpError(
            f"movedim: source ({len(sources)} dims) and destination ({len(destinations)} dims) "
            "must name the same number of dimensions"
        )
    if ndim == 0:
        return reshape(input, ())
    order = [axis for axis in range(ndim) if axis not in sources]
    for place, axis in sorted(zip(destinations, sources)):
        order.insert(place, axis)
    return Permute.apply(input, dims=tuple(order))


moveaxis = movedim


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:  # noqa: A002
    """Dimensions ``axis0`` and ``axis1`` exchanged (NumPy's name for :func:`transpose`).

    ```pycon
    >>> import chainrule as cr
    >>> cr.swapaxes(cr.zeros(2, 3, 4), 0, 2).shape
    chainrule.Size([4, 3, 2])

    ```
    """
    return transpose(input, axis0, axis1)


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """Dimensions ``dim0`` and ``dim1`` exchanged (another name for :func:`transpose`).

    ```pycon
    >>> import chainrule as cr
    >>> cr.swapdims(cr.zeros(2, 3), 0, 1).shape
    chainrule.Size([3, 2])

    ```
    """
    return transpose(input, dim0, dim1)


# ---- splitting and adding axes -----------------------------------------------------------------


def unflatten(input: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:  # noqa: A002
    """Dimension ``dim`` split into dimensions of ``sizes``, whose product must be its length
    (one size may be -1, inferred). The inverse of :func:`~chainrule.flatten`; a view.

    ```pycon
    >>> import chainrule as cr
    >>> cr.zeros(2, 6).unflatten(1, (3, -1)).shape
    chainrule.Size([2, 3, 2])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("unflatten", "input", input)
    axis = normalise_axis(dim, max(input.ndim, 1), "unflatten")
    if input.ndim == 0:
        raise IndexError("unflatten: dimension specified as 0 but the tensor has no dimensions")
    sizes = _shape_args((sizes,), "unflatten", "sizes")
    if not sizes:
        raise OpError("unflatten: sizes must be non-empty")
    length = input.shape[axis]
    known = 1
    for n in sizes:
        known *= n if n != -1 else 1
    inferred = sizes.count(-1)
    if inferred > 1:
        raise OpError(f"unflatten: only one of the sizes {list(sizes)} can be inferred (-1)")
    if inferred and known == 0:
        raise OpError(
            f"unflatten: the -1 in sizes {list(sizes)} is ambiguous for a dimension of length 0"
        )
    if (inferred and length % known) or (not inferred and known != length):
        raise OpError(
            f"unflatten: sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({length}) of a tensor of shape {input.shape}"
        )
    sizes = tuple(length // known if n == -1 else n for n in sizes)
    return reshape(input, input.shape[:axis] + sizes + input.shape[axis + 1 :])


def _at_least(rank: int, input: Tensor) -> Tensor:  # noqa: A002
    """``input`` with size-1 axes added up to ``rank`` dimensions, where NumPy and PyTorch put
    them: a vector becomes a row (1, n), then (1, n, 1); a matrix becomes (m, n, 1)."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(f"atleast_{rank}d", "input", input)
    shape = input.shape
    if len(shape) >= rank:
        return input  # as PyTorch: the tensor itself, not a view of it
    if len(shape) == 0:
        shape = (1,)
    if rank >= 2 and len(shape) == 1:
        shape = (1, *shape)
    if rank == 3 and len(shape) == 2:
        shape = (*shape, 1)
    return reshape(input, shape)


def _each(rank: int, tensors: tuple) -> Any:
    """One tensor gives one tensor; several (or one sequence of them) give a tuple."""
    if len(tensors) == 1 and not isinstance(tensors[0], (tuple, list)):
        return _at_least(rank, tensors[0])
    if len(tensors) == 1:
        tensors = tuple(tensors[0])
    return tuple(_at_least(rank, t) for t in tensors)


def atleast_1d(*tensors: Any) -> Any:
    """Each tensor with at least 1 dimension: a 0-d tensor becomes shape (1,).

    ```pycon
    >>> import chainrule as cr
    >>> cr.atleast_1d(cr.tensor(5.0)).shape
    chainrule.Size([1])

    ```
    """
    return _each(1, tensors)


def atleast_2d(*tensors: Any) -> Any:
    """Each tensor with at least 2 dimensions: a vector of n becomes a row (1, n).

    ```pycon
    >>> import chainrule as cr
    >>> cr.atleast_2d(cr.tensor([1.0, 2.0])).shape
    chainrule.Size([1, 2])

    ```
    """
    return _each(2, tensors)


def atleast_3d(*tensors: Any) -> Any:
    """Each tensor with at least 3 dimensions: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1).

    ```pycon
    >>> import chainrule as cr
    >>> cr.atleast_3d(cr.zeros(2, 3)).shape
    chainrule.Size([2, 3, 1])

    ```
    """
    return _each(3, tensors)


# ---- broadcasting ------------------------------------------------------------------------------


def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` (each a sequence of ints, or an int) broadcast to.

    ```pycon
    >>> import chainrule as cr
    >>> cr.broadcast_shapes((3, 1), (4,))
    chainrule.Size([3, 4])

    ```
    """
    listed = [
        (as_index(s, "broadcast_shapes", "shapes"),) if not isinstance(s, (tuple, list)) else s
        for s in shapes
    ]
    try:
        return Size(backend.xp.broadcast_shapes(*[tuple(s) for s in listed]))
    except ValueError:
        raise OpError(f"broadcast_shapes: shapes {listed} cannot be broadcast together") from None


def broadcast_to(input: Tensor, size: Sequence[int]) -> Tensor:  # noqa: A002
    """``input`` broadcast to ``size`` (a -1 keeps a dimension): :meth:`Tensor.expand`, a view.

    ```pycon
    >>> import chainrule as cr
    >>> cr.broadcast_to(cr.tensor([1.0, 2.0]), (2, 2)).tolist()
    [[1.0, 2.0], [1.0, 2.0]]

    ```
    """
    return expand(input, _shape_args((size,), "broadcast_to", "size"))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors expanded to their common broadcast shape, as views.

    ```pycon
    >>> import chainrule as cr
    >>> [t.shape for t in cr.broadcast_tensors(cr.zeros(3, 1), cr.zeros(4))]
    [chainrule.Size([3, 4]), chainrule.Size([3, 4])]

    ```
    """
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    tensors = tuple(_tensor_list(tensors, "broadcast_tensors"))
    if len(tensors) == 1:
        return tensors  # as PyTorch: the tensor itself
    try:
        shape = backend.xp.broadcast_shapes(*[t.shape for t in tensors])
    except ValueError:
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
        raise OpError(f"broadcast_tensors: shapes {shapes} cannot be broadcast together") from None
    # As PyTorch: a tensor that has the shape already is returned itself, not a view of it.
    return tuple(t if t.shape == shape else expand(t, shape) for t in tensors)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids from k vectors of lengths n₁ … n_k: output i holds ``tensors[i]``
    along dimension i of a grid of shape (n₁, …, n_k) with ``indexing='ij'``; with ``'xy'``
    the first two dimensions are exchanged (NumPy's default: x runs along the columns). Each
    output is an expanded view of its vector (0-d tensors count as length 1).

    Without ``indexing``, 'ij' is used, with a warning, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> rows, cols = cr.meshgrid(cr.tensor([1, 2]), cr.tensor([3, 4, 5]), indexing="ij")
    >>> rows.tolist()
    [[1, 1, 1], [2, 2, 2]]

    ```
    """
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    tensors = tuple(_tensor_list(tensors, "meshgrid"))
    if not tensors:
        raise OpError("meshgrid: expects a non-empty list of tensors")
    if indexing is None:
        warnings.warn(
            "meshgrid: no indexing given, so 'ij' is used; pass indexing='ij' (or 'xy') "
            "explicitly, as PyTorch will require it",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise OpError(f"meshgrid: indexing must be one of 'xy' or 'ij', got {indexing!r}")
    for i, t in enumerate(tensors):
        if t.ndim > 1:
            raise OpError(f"meshgrid: expected 0-d or 1-d tensors, got shape {t.shape} at {i}")
        if t.dtype != tensors[0].dtype:
            raise TypeError(
                f"meshgrid: expects all tensors to have the same dtype, got {tensors[0].dtype} "
                f"and {t.dtype}"
            )
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:  # 'xy' is 'ij' with the first two inputs exchanged, and so their outputs
        tensors = (tensors[1], tensors[0], *tensors[2:])
    shape = tuple(t.numel() for t in tensors)
    rank = len(tensors)
    grids = [
        expand(reshape(t, tuple(-1 if a == i else 1 for a in range(rank))), shape)
        for i, t in enumerate(tensors)
    ]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)
