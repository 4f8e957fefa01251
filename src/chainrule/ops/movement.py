"""Operations that move elements without computing on them: reshape, permute, expand,
concatenate, stack and indexing. Their gradients move the incoming gradient back."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd import views
from chainrule.autograd.function import (
    ArgumentTypeError,
    Function,
    OpError,
    as_index,
    not_a_tensor,
    type_name,
)
from chainrule.autograd.versions import memory_root
from chainrule.ops.broadcast import unbroadcast
from chainrule.tensor import Tensor


class ViewFunction(Function):
    """An operation whose output may share its input's memory (a NumPy view). Such outputs are
    registered as views of their base, so that an in-place change of either updates the other's
    history (:mod:`chainrule.autograd.views`)."""

    @classmethod
    def apply(cls, input: Any, *args: Any, **options: Any) -> Tensor:  # noqa: A002
        out = Function.apply.__func__(cls, input, *args, **options)
        if out.array.base is not None and isinstance(input, Tensor):
            views.register(input, out, (cls, args, options))
        return out

    @classmethod
    def untracked_apply(cls, input: Any, *args: Any, **options: Any) -> Tensor:  # noqa: A002
        """``apply`` without registering the output as a view (to replay a view's history)."""
        return Function.apply.__func__(cls, input, *args, **options)


class Reshape(ViewFunction):
    """∂C/∂x = reshape(∂C/∂out, shape of x)"""

    def forward(self, x: Any, shape: tuple[int, ...]) -> Any:
        self.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise OpError(
                f"reshape: cannot view a tensor of shape {x.shape} ({x.size} elements) as "
                f"shape {tuple(shape)}"
            ) from None

    def backward(self, grad: Any) -> tuple:
        return (grad.reshape(self.shape),)


class Permute(ViewFunction):
    """∂C/∂x = ∂C/∂out with its axes put back by the inverse permutation"""

    def forward(self, x: Any, dims: tuple[int, ...]) -> Any:
        self.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.transpose(dims)

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):  # a backward recording a graph (create_graph)
            return (grad.permute(*self.inverse),)
        return (grad.transpose(self.inverse),)


class Expand(ViewFunction):
    """∂C/∂x = ∂C/∂out summed over the expanded axes"""

    def forward(self, x: Any, shape: tuple[int, ...]) -> Any:
        self.shape = x.shape
        return backend.expand_view(x, shape)

    def backward(self, grad: Any) -> tuple:
        return (unbroadcast(grad, self.shape),)


class Cat(Function):
    """∂C/∂xᵢ = the slice of ∂C/∂out that xᵢ occupies along dim"""

    def forward(self, *xs: Any, dim: int) -> Any:
        self.dim = dim
        self.bounds = []
        end = 0
        for x in xs[:-1]:
            end += x.shape[dim]
            self.bounds.append(end)
        return backend.xp.concatenate(xs, axis=dim, dtype=_common_dtype(xs))

    def backward(self, grad: Any) -> tuple:
        return tuple(backend.xp.split(grad, self.bounds, axis=self.dim))


class Stack(Function):
    """∂C/∂xᵢ = ∂C/∂out[..., i, ...], the i-th slice along the new dim"""

    def forward(self, *xs: Any, dim: int) -> Any:
        self.dim = dim
        return backend.xp.stack(xs, axis=dim, dtype=_common_dtype(xs))

    def backward(self, grad: Any) -> tuple:
        return tuple(backend.xp.moveaxis(grad, self.dim, 0))


def _common_dtype(xs: Sequence[Any]) -> Any:
    """PyTorch's promotion for cat and stack (int64 with float32 is float32, not float64)."""
    first = xs[0].dtype
    if all(x.dtype == first for x in xs):
        return first
    return dtypes.result_type(*xs)


class GetItem(ViewFunction):
    """∂C/∂x = zeros with ∂C/∂out added at the indexed positions (repeats accumulate)"""

    def forward(self, x: Any, index: Any) -> Any:
        self.shape, self.dtype, self.index = x.shape, x.dtype, index
        out = x[index]
        if type(out) is not backend.ndarray and not isinstance(index, backend.ndarray):
            # Every axis taken by an integer: NumPy gives a scalar (a copy); PyTorch's x[0] is
            # a 0-d view of x, which an Ellipsis also gives here.
            out = x[(*index, Ellipsis) if isinstance(index, tuple) else (index, Ellipsis)]
        elif not out.flags.c_contiguous and memory_root(out) is not memory_root(x):
            # A copy (integer arrays or a mask in the index) that NumPy laid out in another
            # order: PyTorch's is row-major, and whether a later reshape is a view (which an
            # in-place change through it must reach) depends on that.
            out = backend.xp.ascontiguousarray(out)
        return out

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):  # a backward recording a graph (create_graph)
            return (Placed.apply(grad, shape=self.shape, index=self.index), None)
        # _place written out: indexing is common, and its backward small
        full = backend.xp.zeros(self.shape, dtype=grad.dtype)
        if _has_integer_arrays(self.index):
            backend.scatter_add(full, self.index, grad)
        else:  # slices, ints and masks never hit an element twice: plain assignment is exact
            full[self.index] = grad
        return (full, None)


class Placed(Function):
    """out = zeros of ``shape`` with x added at ``index`` (repeats accumulate): the adjoint of
    ``x[index]``, and so the backward of indexing. ∂C/∂x = (∂C/∂out)[index]

    As an operation of its own it makes that backward differentiable: its derivative is
    indexing again, whose derivative is this, to any order."""

    def forward(self, x: Any, shape: tuple[int, ...], index: Any) -> Any:
        self.index = index
        return _place(x, shape, index)

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):  # recording a graph: indexing as an operation
            return (GetItem.untracked_apply(grad, self.index),)
        return (grad[self.index],)


def placed(values: Any, shape: tuple[int, ...], index: Any) -> Any:
    """Zeros of ``shape`` with ``values`` added at ``index`` (repeated positions accumulate):
    an array for an array, a tensor in the graph for a tensor (a backward recording one)."""
    if isinstance(values, Tensor):
        return Placed.apply(values, shape=shape, index=index)
    return _place(values, shape, index)


def _place(values: Any, shape: tuple[int, ...], index: Any) -> Any:
    full = backend.xp.zeros(shape, dtype=values.dtype)
    if _has_integer_arrays(index):
        backend.scatter_add(full, index, values)
    else:  # slices, ints and masks never hit an element twice: plain assignment is exact
        full[index] = values
    return full


def zeroed(grad: Any, index: Any) -> Any:
    """A copy of ``grad`` with the elements at ``index`` set to 0 (the gradient of an input
    whose elements there were overwritten); a tensor in the graph for a tensor."""
    if isinstance(grad, Tensor):
        keep = backend.xp.ones(grad.shape, dtype=bool)
        keep[index] = False
        return backend.xp.where(keep, grad, backend.xp.zeros((), dtype=grad.dtype))
    out = grad.copy()
    out[index] = 0
    return out


def _has_integer_arrays(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(getattr(p, "dtype", None) is not None and p.dtype.kind in "iu" for p in parts)


def normalise_index(index: Any) -> Any:
    """Replace tensors (and lists) inside an index by arrays, as NumPy indexing expects."""
    if isinstance(index, tuple):
        return tuple(_index_part(p) for p in index)
    return _index_part(index)


def _index_part(part: Any) -> Any:
    if isinstance(part, Tensor):
        if part.array.ndim == 0 and part.array.dtype.kind in "iu":
            return int(part.array)  # as PyTorch: a 0-d integer tensor indexes as an int (a view)
        return part.array
    if isinstance(part, list):
        return backend.as_array(part)
    return part


# ---- the public functions ----------------------------------------------------------------------


def _shape_args(shape: Sequence[Any], op: str, argument: str) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)), as PyTorch does; each size an int (or a NumPy int, or a
    0-d integer tensor), as PyTorch takes them."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(map(operator.index, shape))
    except TypeError:
        raise _not_sizes(shape, op, argument) from None


def _not_sizes(shape: Sequence[Any], op: str, argument: str) -> ArgumentTypeError:
    """The error for sizes that are not all ints: ``reshape: argument 'shape' must be tuple of
    ints, but found element of type float at pos 0``."""
    if len(shape) == 1:
        return not_a_tensor(op, argument, shape[0], "tuple of ints")
    position = next(i for i, size in enumerate(shape) if not _is_index(size))
    return ArgumentTypeError(
        f"{op}: argument '{argument}' must be tuple of ints, but found element of type "
        f"{type_name(shape[position])} at pos {position}"
    )


def _is_index(value: Any) -> bool:
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def reshape(input: Tensor, *shape: Any) -> Tensor:  # noqa: A002
    """The same elements in a new shape (one entry may be -1, inferred).

    ```pycon
    >>> import chainrule as cr
    >>> cr.reshape(cr.arange(6), (2, -1)).tolist()
    [[0, 1, 2], [3, 4, 5]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("reshape", "input", input)
    return Reshape.apply(input, shape=_shape_args(shape, "reshape", "shape"))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Merge dimensions start_dim..end_dim into one.

    ```pycon
    >>> import chainrule as cr
    >>> cr.flatten(cr.zeros(2, 3, 4), start_dim=1).shape
    chainrule.Size([2, 12])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("flatten", "input", input)
    shape = input.shape
    if not shape:
        return reshape(input, 1)
    start = normalise_axis(start_dim, len(shape), "flatten", "start_dim")
    end = normalise_axis(end_dim, len(shape), "flatten", "end_dim")
    if start > end:
        raise OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    if start == end:
        return input  # nothing to merge: PyTorch returns the input itself, not a view
    merged = 1
    for n in shape[start : end + 1]:
        merged *= n
    return reshape(input, shape[:start] + (merged,) + shape[end + 1 :])


def squeeze(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """Drop dimensions of size 1 (only those in ``dim`` when given; others are kept).

    ```pycon
    >>> import chainrule as cr
    >>> cr.squeeze(cr.zeros(2, 1, 3, 1)).shape, cr.squeeze(cr.zeros(2, 1, 3, 1), 1).shape
    (chainrule.Size([2, 3]), chainrule.Size([2, 3, 1]))

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("squeeze", "input", input)
    shape = input.shape
    if dim is None:
        dims = {i for i, n in enumerate(shape) if n == 1}
    else:
        wanted = _shape_args((dim,), "squeeze", "dim") if isinstance(dim, (tuple, list)) else (dim,)
        dims = {normalise_axis(d, len(shape), "squeeze") for d in wanted}
        dims = {d for d in dims if shape[d] == 1}
    return reshape(input, tuple(n for i, n in enumerate(shape) if i not in dims))


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """Insert a dimension of size 1 at ``dim``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.unsqueeze(cr.zeros(2, 3), 1).shape
    chainrule.Size([2, 1, 3])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("unsqueeze", "input", input)
    shape = input.shape
    axis = normalise_axis(dim, len(shape) + 1, "unsqueeze")
    return reshape(input, shape[:axis] + (1,) + shape[axis:])


def permute(input: Tensor, *dims: Any) -> Tensor:  # noqa: A002
    """Reorder the dimensions: output dimension i is input dimension dims[i].

    ```pycon
    >>> import chainrule as cr
    >>> cr.permute(cr.zeros(2, 3, 4), (2, 0, 1)).shape
    chainrule.Size([4, 2, 3])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("permute", "input", input)
    dims = _shape_args(dims, "permute", "dims")
    ndim = input.ndim
    axes = tuple(normalise_axis(d, ndim, "permute") for d in dims)
    if sorted(axes) != list(range(ndim)):
        raise OpError(f"permute: {dims} is not a permutation of the {ndim} dimensions")
    return Permute.apply(input, dims=axes)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """Swap two dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> cr.transpose(cr.tensor([[1, 2, 3]]), 0, 1).tolist()
    [[1], [2], [3]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("transpose", "input", input)
    ndim = input.ndim
    if ndim == 0:
        return reshape(input, ())
    axes = list(range(ndim))
    a = normalise_axis(dim0, ndim, "transpose", "dim0")
    b = normalise_axis(dim1, ndim, "transpose", "dim1")
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, dims=tuple(axes))


def t(input: Tensor) -> Tensor:  # noqa: A002
    """Transpose a tensor of at most 2 dimensions."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("t", "input", input)
    if input.ndim > 2:
        raise OpError(f"t: expects a tensor with at most 2 dimensions, got shape {input.shape}")
    return transpose(input, 0, -1) if input.ndim == 2 else reshape(input, input.shape)


def expand(input: Tensor, *sizes: Any) -> Tensor:  # noqa: A002
    """Broadcast to a larger shape without copying; -1 keeps a dimension's size."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("expand", "input", input)
    sizes = _shape_args(sizes, "expand", "size")
    shape = input.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise OpError(f"expand: cannot expand shape {shape} to fewer dimensions {sizes}")
    target = tuple(shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(sizes))
    for i, n in enumerate(shape):
        if n != 1 and n != target[lead + i]:
            raise OpError(f"expand: cannot expand shape {shape} to {sizes} (dimension {i})")
    return Expand.apply(input, shape=target)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension.

    ```pycon
    >>> import chainrule as cr
    >>> cr.cat([cr.tensor([[1, 2]]), cr.tensor([[3, 4], [5, 6]])]).tolist()
    [[1, 2], [3, 4], [5, 6]]

    ```
    """
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise OpError("cat: expected a non-empty sequence of tensors")
    first = tensors[0].shape
    axis = normalise_axis(dim, len(first), "cat")
    for i, x in enumerate(tensors[1:], 1):
        if len(x.shape) != len(first) or any(
            a != b for d, (a, b) in enumerate(zip(x.shape, first)) if d != axis
        ):
            raise OpError(
                f"cat: tensor {i} has shape {x.shape}, which does not match tensor 0's shape "
                f"{first} outside dimension {dim}"
            )
    return Cat.apply(*tensors, dim=axis)


concat = concatenate = cat


def _tensor_list(tensors: Any, op: str) -> Sequence[Tensor]:
    """``tensors`` as a list or tuple of tensors, or PyTorch's TypeError (a tensor, a NumPy
    array or a string would iterate, into the wrong things)."""
    if type(tensors) is not list and type(tensors) is not tuple:
        if isinstance(tensors, (Tensor, backend.ndarray, str, bytes)) or not hasattr(
            tensors, "__iter__"
        ):
            raise not_a_tensor(op, "tensors", tensors, "tuple of Tensors")
        tensors = list(tensors)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise not_a_tensor(op, "tensors", x, element=i)
    return tensors


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dimension.

    ```pycon
    >>> import chainrule as cr
    >>> cr.stack([cr.tensor([1, 2]), cr.tensor([3, 4])], dim=1).tolist()
    [[1, 3], [2, 4]]

    ```
    """
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise OpError("stack: expected a non-empty sequence of tensors")
    first = tensors[0].shape
    for i, x in enumerate(tensors[1:], 1):
        if x.shape != first:
            raise OpError(f"stack: tensor {i} has shape {x.shape}, tensor 0 has {first}")
    return Stack.apply(*tensors, dim=normalise_axis(dim, len(first) + 1, "stack"))


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into pieces of ``split_size`` (the last may be smaller), or of the listed sizes.

    ```pycon
    >>> import chainrule as cr
    >>> [part.tolist() for part in cr.split(cr.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    >>> [part.tolist() for part in cr.split(cr.arange(5), [1, 4])]
    [[0], [1, 2, 3, 4]]

    ```
    """
    if not isinstance(tensor, Tensor):
        raise not_a_tensor("split", "tensor", tensor)
    axis = normalise_axis(dim, tensor.ndim, "split")
    length = tensor.shape[axis]
    if not isinstance(split_size_or_sections, (tuple, list)):
        expected = "int or tuple of ints"
        step = as_index(split_size_or_sections, "split", "split_size_or_sections", expected)
        if step < 0 or (step == 0 and length > 0):  # as PyTorch: 0 cuts only an empty dim
            raise OpError(f"split: split_size must be positive, got {step} (dimension {dim})")
        sizes = [min(step, length - start) for start in range(0, length, step or 1)] or [0]
    else:
        sizes = list(_shape_args((split_size_or_sections,), "split", "split_size_or_sections"))
        if any(size < 0 for size in sizes):
            raise OpError(f"split: sizes {sizes} must be non-negative")
        if sum(sizes) != length:
            raise OpError(
                f"split: sizes {sizes} add up to {sum(sizes)}, but dimension {dim} has {length}"
            )
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(GetItem.apply(tensor, index))
        start += size
    views.mark_pieces(pieces, "split")
    return tuple(pieces)


def split_method(self: Tensor, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """``Tensor.split``: :func:`split`, under the method's argument name ``split_size``."""
    return split(self, split_size, dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """Cut into ``chunks`` pieces of equal size (the last may be smaller), as PyTorch does.

    ```pycon
    >>> import chainrule as cr
    >>> [part.shape[1] for part in cr.chunk(cr.zeros(2, 7), 3, dim=1)]
    [3, 3, 1]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("chunk", "input", input)
    chunks = as_index(chunks, "chunk", "chunks")
    if chunks <= 0:
        raise OpError(f"chunk: chunks must be positive, got {chunks}")
    length = input.shape[normalise_axis(dim, input.ndim, "chunk")]
    if length == 0:  # as PyTorch: the requested number of empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-length // chunks), dim)


def getitem(input: Tensor, index: Any) -> Tensor:  # noqa: A002
    """``input[index]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    return GetItem.apply(input, normalise_index(index))


def normalise_axis(dim: int, ndim: int, op: str, argument: str = "dim") -> int:
    """``dim`` as a non-negative axis of a tensor with ``ndim`` dimensions, or a clear error."""
    if type(dim) is not int:
        dim = as_index(dim, op, argument)
    if not -ndim <= dim < ndim:
        raise OpError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % ndim
