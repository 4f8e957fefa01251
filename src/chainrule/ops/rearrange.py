"""Operations that copy elements into a new arrangement: repeat and tile, repeat_interleave,
roll and flip. Every output element is a copy of one input element, so every gradient sends
∂C/∂out back to where the element came from: summed over the copies of a repeat, moved back by
the inverse permutation of a roll or a flip.

Unlike the views of :mod:`chainrule.ops.movement`, each result is a new array, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.index_updates import index_add
from chainrule.ops.movement import normalise_axis, reshape
from chainrule.ops.reduce import normalise_dims
from chainrule.tensor import Tensor


class Repeat(Function):
    """∂C/∂x = ∂C/∂out summed over the copies: out viewed as (r₀, n₀, r₁, n₁, ...) and summed
    over every rᵢ axis (x padded with leading size-1 axes to len(sizes) dimensions)"""

    def forward(self, x: Any, sizes: tuple[int, ...]) -> Any:
        self.shape = x.shape
        self.padded = (1,) * (len(sizes) - x.ndim) + x.shape
        self.sizes = sizes
        return backend.xp.tile(x.reshape(self.padded), sizes)

    def backward(self, grad: Any) -> tuple:
        # Copy r of axis i lies at r·nᵢ + j: splitting each axis into (rᵢ, nᵢ) lines the copies up.
        split = tuple(n for pair in zip(self.sizes, self.padded) for n in pair)
        copies = tuple(range(0, len(split), 2))
        if not copies:  # a 0-d input repeated by no counts: the identity
            return (grad,)
        # add.reduce rather than the sum method: the same on arrays, and on tensors it is
        # the differentiable sum (graph_numpy).
        return (backend.xp.add.reduce(grad.reshape(split), axis=copies).reshape(self.shape),)


class RepeatInterleave(Function):
    """∂C/∂xᵢ = Σ ∂C/∂out over the copies of xᵢ along the axis (none for a count of 0)"""

    def forward(self, x: Any, counts: Any, axis: int) -> Any:
        xp = backend.xp
        self.shape, self.axis = x.shape, axis
        # out's k-th slice along the axis is x's source[k]-th: [0, 0, 1, 2, 2, 2] for (2, 1, 3)
        self.source = xp.repeat(xp.arange(x.shape[axis]), _repeats_argument(counts))
        return xp.take(x, self.source, axis=axis)

    def backward(self, grad: Any) -> tuple:
        if not isinstance(grad, backend.ndarray):  # recording a graph: the same sum, by index_add
            zeros = Tensor._make(backend.xp.zeros(self.shape, dtype=grad.dtype), False, None)
            return (index_add(zeros, self.axis, Tensor._make(self.source, False, None), grad), None)
        full = backend.xp.zeros(self.shape, dtype=grad.dtype)
        place = (slice(None),) * self.axis + (self.source,)
        backend.scatter_add(full, place, grad)
        return (full, None)


class Roll(Function):
    """∂C/∂x = ∂C/∂out rolled back by the opposite shifts"""

    def forward(self, x: Any, shifts: Any, axes: Any) -> Any:
        self.shifts, self.axes = shifts, axes
        return backend.xp.roll(x, shifts, axis=axes)

    def backward(self, grad: Any) -> tuple:
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) else -self.shifts
        return (backend.xp.roll(grad, back, axis=self.axes),)


class Flip(Function):
    """∂C/∂x = ∂C/∂out flipped along the same axes (a flip is its own inverse)"""

    def forward(self, x: Any, axes: tuple[int, ...]) -> Any:
        self.axes = axes
        return backend.xp.flip(x, axes).copy()  # a new tensor, as PyTorch's: never a view

    def backward(self, grad: Any) -> tuple:
        return (backend.xp.flip(grad, self.axes),)


# ---- the public functions ----------------------------------------------------------------------


def _sizes(op: str, sizes: Sequence[Any]) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)); every size a non-negative int."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    sizes = tuple(int(n) for n in sizes)
    if any(n < 0 for n in sizes):
        raise OpError(f"{op}: repeat counts must be non-negative, got {sizes}")
    return sizes


def repeat(input: Tensor, *sizes: Any) -> Tensor:  # noqa: A002
    """``input`` tiled ``sizes[i]`` times along dimension i; ``sizes`` may have more entries
    than ``input`` has dimensions (new leading dimensions), never fewer.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).repeat(2, 2).tolist()
    [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]

    ```
    """
    sizes = _sizes("repeat", sizes)
    if len(sizes) < input.ndim:
        raise OpError(
            f"repeat: got {len(sizes)} repeat counts {sizes} for a tensor of shape "
            f"{input.shape}; give at least one per dimension ({input.ndim})"
        )
    return Repeat.apply(input, sizes=sizes)


def tile(input: Tensor, *dims: Any) -> Tensor:  # noqa: A002
    """:func:`repeat`, where fewer counts than dimensions repeat the last dimensions (the
    missing leading counts are 1).

    ```pycon
    >>> import chainrule as cr
    >>> cr.tile(cr.tensor([1, 2]), (2, 2)).tolist()
    [[1, 2, 1, 2], [1, 2, 1, 2]]

    ```
    """
    dims = _sizes("tile", dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


def repeat_interleave(
    input: Tensor,  # noqa: A002
    repeats: Any = None,
    dim: int | None = None,
    *,
    output_size: int | None = None,
) -> Tensor:
    """Each element (each slice along ``dim``) repeated ``repeats`` times in place:
    [a, b] with repeats 2 gives [a, a, b, b]. ``repeats`` is an int, or an integer tensor of
    one count per slice (or a single count). Without ``dim`` the input is flattened first.

    ``repeat_interleave(counts)`` alone gives the indices 0, 1, ... repeated by ``counts``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.repeat_interleave(cr.tensor([1.0, 2.0]), cr.tensor([2, 1])).tolist()
    [1.0, 1.0, 2.0]
    >>> cr.repeat_interleave(cr.tensor([1, 2])).tolist()
    [0, 1, 1]

    ```
    """
    if repeats is None:  # the one-argument form: input holds the counts
        counts = _counts(input, None).reshape(-1)
        xp = backend.module_of(counts)  # outside an operation: the module of the data
        places = xp.repeat(xp.arange(len(counts)), _repeats_argument(counts))
        return Tensor._make(places, False, None)
    source = reshape(input, -1) if dim is None else input
    axis = 0 if dim is None else normalise_axis(dim, input.ndim, "repeat_interleave")
    counts = _counts(repeats, source.shape[axis])
    total = int(counts.sum()) if counts.ndim else int(counts) * source.shape[axis]
    if output_size is not None and output_size != total:
        raise OpError(
            f"repeat_interleave: output_size={output_size}, but the repeats give {total} slices"
        )
    return RepeatInterleave.apply(source, counts, axis=axis)


def _counts(repeats: Any, length: int | None) -> Any:
    """The repeat counts as an int64 array: one count (0-d), or one per slice."""
    if isinstance(repeats, Tensor):
        counts = repeats.array
        if counts.dtype.kind not in "iu":
            raise TypeError(f"repeat_interleave: repeats must be integers, got {counts.dtype}")
        if counts.ndim > 1:
            raise OpError(f"repeat_interleave: repeats must be 0-d or 1-d, got {counts.shape}")
        if counts.ndim == 1 and counts.shape[0] == 1 and length is not None:
            counts = counts.reshape(())  # one count for every slice
        elif counts.ndim == 1 and length is not None and counts.shape[0] != length:
            raise OpError(
                f"repeat_interleave: repeats has {counts.shape[0]} counts, but the input has "
                f"{length} slices along dim"
            )
    elif isinstance(repeats, int):
        counts = backend.as_array(repeats)
    else:
        raise TypeError(f"repeat_interleave: repeats must be an int or a tensor, got {repeats!r}")
    if (counts < 0).any():
        raise OpError("repeat_interleave: repeats must be non-negative")
    return counts.astype("int64")


def _repeats_argument(counts: Any) -> Any:
    """``counts`` as ``xp.repeat`` takes it: CuPy refuses an array of counts (it needs them on
    the host to size its result), so a device array goes as a list of ints."""
    return counts if type(counts) is numpy.ndarray else counts.tolist()


def _ints(value: Any) -> tuple[int, ...]:
    return (int(value),) if isinstance(value, int) else tuple(int(v) for v in value)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:  # noqa: A002
    """Elements shifted cyclically by ``shifts[i]`` along ``dims[i]``: what falls off one end
    comes back at the other. Without ``dims`` the tensor is rolled as if flattened.

    ```pycon
    >>> import chainrule as cr
    >>> cr.roll(cr.tensor([1, 2, 3, 4]), 1).tolist()
    [4, 1, 2, 3]

    ```
    """
    shifts = _ints(shifts)
    dims = () if dims is None else _ints(dims)
    if not dims:
        if len(shifts) != 1:
            raise OpError(f"roll: without dims, shifts must be one number, got {shifts}")
        return Roll.apply(input, shifts=shifts[0], axes=None)
    if len(shifts) != len(dims):
        raise OpError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalise_axis(d, input.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts=shifts, axes=axes)


def flip(input: Tensor, *dims: Any) -> Tensor:  # noqa: A002
    """The order of the elements reversed along each of ``dims``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.flip(cr.tensor([[1, 2], [3, 4]]), [0]).tolist()
    [[3, 4], [1, 2]]

    ```
    """
    dims = _ints(dims[0] if len(dims) == 1 else dims)
    if not dims:  # reduce's convention reads () as every dimension; a flip of none is a copy
        return Flip.apply(input, axes=())
    return Flip.apply(input, axes=normalise_dims(dims, input.ndim, "flip"))


def fliplr(input: Tensor) -> Tensor:  # noqa: A002
    """Columns in reverse order: flip along dimension 1 (at least 2 dimensions).

    ```pycon
    >>> import chainrule as cr
    >>> cr.fliplr(cr.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 1], [4, 3]]

    ```
    """
    if input.ndim < 2:
        raise OpError(f"fliplr: input must have at least 2 dimensions, got shape {input.shape}")
    return Flip.apply(input, axes=(1,))


def flipud(input: Tensor) -> Tensor:  # noqa: A002
    """Rows in reverse order: flip along dimension 0 (at least 1 dimension).

    ```pycon
    >>> import chainrule as cr
    >>> cr.flipud(cr.tensor([[1, 2], [3, 4]])).tolist()
    [[3, 4], [1, 2]]

    ```
    """
    if input.ndim < 1:
        raise OpError(f"flipud: input must have at least 1 dimension, got shape {input.shape}")
    return Flip.apply(input, axes=(0,))


def ravel(input: Tensor) -> Tensor:  # noqa: A002
    """The elements as one axis in row-major order (a view where the layout allows).

    ```pycon
    >>> import chainrule as cr
    >>> cr.ravel(cr.tensor([[1, 2], [3, 4]])).tolist()
    [1, 2, 3, 4]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("ravel", "input", input)
    return reshape(input, -1)


def rot90(input: Tensor, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:  # noqa: A002
    """The tensor turned by k quarter turns in the plane of ``dims``, from the first axis
    towards the second (k < 0 the other way): a flip and a transpose, so a view's gradient.

    ```pycon
    >>> import chainrule as cr
    >>> cr.rot90(cr.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("rot90", "input", input)
    if len(dims) != 2:
        raise OpError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise OpError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    first = normalise_axis(dims[0], input.ndim, "rot90", "dims")
    second = normalise_axis(dims[1], input.ndim, "rot90", "dims")
    if first == second:
        raise OpError(
            f"rot90: expected rotation dims to be different, but got dim0 = {first} and "
            f"dim1 = {second}"
        )
    turns = k % 4
    if turns == 0:
        return input.clone()  # PyTorch returns a copy, not the input
    if turns == 2:
        return flip(input, first, second)
    flipped = flip(input, second if turns == 1 else first)
    return flipped.transpose(first, second)
