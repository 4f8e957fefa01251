"""Indexing by tensors of positions and by masks: gather, scatter, scatter_add, index_select,
masked_fill and masked_select, with their in-place forms scatter_ and scatter_add_.

``gather`` and the scatters pair each element of an ``index`` tensor with one place of the
input: ``index[i][j][k]`` is the position along ``dim``, and ``(i, j, k)`` gives the others
(for dim 1: ``out[i][j][k] = x[i][index[i][j][k]][k]``). They are each other's gradients:
the gradient of a gather is a scatter-add of ∂C/∂out, and that of a scatter is a gather.

As in PyTorch, an index is an int64 (or int32) tensor, every entry must lie in
``[0, size of dim)`` (no negative positions), and along the other axes ``index`` may be
smaller than the input, never larger. A 0-d tensor counts as a 1-d tensor of one element.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, OpError
from chainrule.ops import fast_where, inplace
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.movement import normalise_axis, placed, zeroed
from chainrule.tensor import Tensor


def positions(index: Any, dim: int) -> tuple:
    """The advanced index that sends each element of ``index`` to its place: the entry itself
    along ``dim``, the element's own coordinate along every other axis."""
    xp = backend.xp
    rank = index.ndim
    return tuple(
        index
        if axis == dim
        else xp.arange(n).reshape([-1 if a == axis else 1 for a in range(rank)])
        for axis, n in enumerate(index.shape)
    )


def _lead(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The region ``[:n0, :n1, ...]`` of a larger array that an array of ``shape`` covers."""
    return tuple(slice(0, n) for n in shape)


def _1d(array: Any) -> Any:
    return array.reshape(1) if array.ndim == 0 else array


class Gather(Function):
    """out = x[index along dim]: ∂C/∂x = ∂C/∂out added at the gathered places (repeats sum)"""

    def forward(self, x: Any, index: Any, dim: int) -> Any:
        self.shape, self.dim = x.shape, dim
        self.saved = (index,)
        return _1d(x)[positions(_1d(index), dim)].reshape(index.shape)

    def backward(self, grad: Any) -> tuple:
        (index,) = self.saved
        index = _1d(index)
        full = placed(grad.reshape(index.shape), self.shape or (1,), positions(index, self.dim))
        return full.reshape(self.shape), None


class Scatter(Function):
    """out = x with src written at the indexed places: ∂C/∂x = ∂C/∂out zeroed there (they were
    overwritten), ∂C/∂src = ∂C/∂out gathered from there (0 where src went unused)"""

    def forward(self, x: Any, src: Any, index: Any, dim: int) -> Any:
        self.src_shape, self.dim = src.shape, dim
        self.saved = (index,)
        out = _1d(x).copy()
        index = _1d(index)
        out[positions(index, dim)] = _1d(src)[_lead(index.shape)]
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        (index,) = self.saved
        places = positions(_1d(index), self.dim)
        grad_x = grad_src = None
        if self.needs_input_grad[0]:
            grad_x = zeroed(_1d(grad), places).reshape(grad.shape)
        if self.needs_input_grad[1]:
            grad_src = _gathered(grad, places, self.src_shape)
        return grad_x, grad_src, None


class ScatterAdd(Function):
    """out = x with src added at the indexed places (repeats sum): ∂C/∂x = ∂C/∂out,
    ∂C/∂src = ∂C/∂out gathered from those places (0 where src went unused)"""

    def forward(self, x: Any, src: Any, index: Any, dim: int) -> Any:
        self.src_shape, self.dim = src.shape, dim
        self.saved = (index,)
        out = _1d(x).copy()
        index = _1d(index)
        backend.scatter_add(out, positions(index, dim), _1d(src)[_lead(index.shape)])
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        (index,) = self.saved
        grad_src = None
        if self.needs_input_grad[1]:
            grad_src = _gathered(grad, positions(_1d(index), self.dim), self.src_shape)
        return grad, grad_src, None


class ScatterMultiply(Function):
    """out = x with each indexed place multiplied by src (scatter's reduce='multiply').

    PyTorch has no derivative here, and neither has chainrule: backward raises as PyTorch does.
    """

    def forward(self, x: Any, src: Any, index: Any, dim: int) -> Any:
        out = _1d(x).copy()
        index = _1d(index)
        backend.xp.multiply.at(out, positions(index, dim), _1d(src)[_lead(index.shape)])
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        raise RuntimeError(
            "scatter: the derivative of scatter with reduce='multiply' is not implemented (nor "
            "is it in PyTorch); multiply by a tensor built with scatter instead"
        )


def _gathered(grad: Any, places: tuple, shape: tuple[int, ...]) -> Any:
    """∂C/∂src of a scatter: ∂C/∂out at the places src was sent, in src's shape."""
    taken = _1d(grad)[places]
    return placed(taken, shape or (1,), _lead(taken.shape)).reshape(shape)


class IndexSelect(Function):
    """out = x[..., index, ...] along dim: ∂C/∂x = ∂C/∂out added back at the selected slices"""

    def forward(self, x: Any, index: Any, dim: int) -> Any:
        self.shape, self.dim = x.shape, dim
        self.saved = (index,)
        if x.ndim == 0:  # a scalar: PyTorch's one allowed index, 0, gives the scalar back
            return x.copy()
        return backend.xp.take(x, index.reshape(-1), axis=dim)

    def backward(self, grad: Any) -> tuple:
        if not self.shape:
            return grad, None
        (index,) = self.saved
        return placed(grad, self.shape, (slice(None),) * self.dim + (index.reshape(-1),)), None


class MaskedFill(Function):
    """out = value where mask, else x: ∂C/∂x = ∂C/∂out where not mask (summed back over x's
    broadcast axes), ∂C/∂value = Σ ∂C/∂out where mask"""

    def forward(self, x: Any, value: Any, mask: Any) -> Any:
        xp = backend.xp
        self.shape = x.shape
        self.saved = (mask,)
        return fast_where.where(mask, xp.asarray(value).astype(x.dtype), x)

    def backward(self, grad: Any) -> tuple:
        (mask,) = self.saved
        nothing = backend.xp.zeros((), dtype=grad.dtype)
        grad_x = grad_value = None
        if self.needs_input_grad[0]:
            grad_x = unbroadcast(fast_where.where(mask, nothing, grad), self.shape)
        if self.needs_input_grad[1]:
            grad_value = fast_where.where(mask, grad, nothing).sum()
        return grad_x, grad_value, None


class MaskedSelect(Function):
    """out = the elements of x where mask, flattened: ∂C/∂x = ∂C/∂out put back at those
    places, 0 elsewhere (summed back over x's broadcast axes)"""

    def forward(self, x: Any, mask: Any) -> Any:
        xp = backend.xp
        self.shape = x.shape
        self.saved = (mask,)
        self.out_shape = xp.broadcast_shapes(x.shape, mask.shape)
        return xp.broadcast_to(x, self.out_shape)[xp.broadcast_to(mask, self.out_shape)]

    def backward(self, grad: Any) -> tuple:
        (mask,) = self.saved
        full = placed(grad, self.out_shape, backend.xp.broadcast_to(mask, self.out_shape))
        return unbroadcast(full, self.shape), None


# ---- checks ------------------------------------------------------------------------------------


def index_array(index: Any, op: str) -> Any:
    """The array of an index tensor, which must hold int64 (or int32) positions, as PyTorch."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be a tensor of int64, got {type(index).__name__}")
    if index.dtype.name not in ("int64", "int32"):
        raise TypeError(f"{op}: expected an index of dtype int64 (or int32), got {index.dtype}")
    return index.array


def _check_range(index: Any, size: int, dim: int, op: str) -> None:
    if index.size == 0:
        return
    low, high = index.min(), index.max()
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise IndexError(
            f"{op}: index {bad} is out of bounds for dimension {dim} with size {size} "
            f"(positions run from 0 to {size - 1}; negative positions are not allowed)"
        )


def _check_rank(index: Any, other: Tensor, name: str, op: str) -> None:
    if max(index.ndim, 1) != max(other.ndim, 1):
        raise OpError(
            f"{op}: index of shape {tuple(index.shape)} must have as many dimensions as {name} "
            f"of shape {other.shape}"
        )


def _check_fits(index: Any, shape: tuple, name: str, dim: int | None, op: str) -> None:
    """Along every axis (but ``dim``, where given) index may be no larger than ``shape``."""
    index_shape, shape = _1d(index).shape, shape or (1,)
    for axis, (n, limit) in enumerate(zip(index_shape, shape)):
        if axis != dim and n > limit:
            apart = (
                "" if dim is None else f" (only dimension {dim}, along which it indexes, may be)"
            )
            raise OpError(
                f"{op}: index of shape {tuple(index.shape)} is larger than {name} of shape "
                f"{tuple(shape)} at dimension {axis}{apart}"
            )


def _checked(input: Tensor, dim: int, index: Any, op: str) -> tuple[int, Any]:  # noqa: A002
    """The axis and the index array of a gather or scatter, checked as PyTorch checks them."""
    axis = normalise_axis(dim, max(input.ndim, 1), op)
    array = index_array(index, op)
    _check_rank(array, input, "input", op)
    return axis, array


# ---- the public functions ----------------------------------------------------------------------


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:  # noqa: A002
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` for dim 1 (likewise for other dims): the
    elements of ``input`` at the positions ``index`` gives along ``dim``; shape of ``index``.

    ``sparse_grad`` is accepted for PyTorch's signature; the gradient is always dense.

    ```pycon
    >>> from chainrule import tensor
    >>> gather(tensor([[1.0, 2.0], [3.0, 4.0]]), 1, tensor([[1, 1], [0, 1]])).tolist()
    [[2.0, 2.0], [3.0, 4.0]]

    ```
    """
    axis, array = _checked(input, dim, index, "gather")
    _check_fits(array, input.shape, "input", axis, "gather")
    _check_range(array, (input.shape or (1,))[axis], axis, "gather")
    return Gather.apply(input, array, dim=axis)


def scatter(
    input: Tensor,  # noqa: A002
    dim: int,
    index: Tensor,
    src: Any = None,
    *,
    value: Any = None,
    reduce: str | None = None,
) -> Tensor:
    """A copy of ``input`` with ``src[i][j][k]`` written at ``[i][index[i][j][k]][k]`` (dim 1):
    the inverse of :func:`gather`. ``src`` is a tensor of ``input``'s dtype, or a number (also
    accepted as ``value=``) written at every indexed place. ``reduce='add'`` or ``'multiply'``
    combines with the values there instead of overwriting them.

    Where ``index`` repeats a place, which write wins is unspecified (as in PyTorch).

    ```pycon
    >>> import chainrule as cr
    >>> index = cr.tensor([2, 0])
    >>> cr.scatter(cr.zeros(3), 0, index, cr.tensor([5.0, 6.0])).tolist()
    [6.0, 0.0, 5.0]

    ```
    """
    if value is not None:
        if src is not None:
            raise TypeError("scatter: give either src or value, not both")
        src = value
    if src is None:
        raise TypeError("scatter: missing the src tensor (or the value) to write")
    if reduce not in (None, "add", "multiply"):
        raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    op = {None: Scatter, "add": ScatterAdd, "multiply": ScatterMultiply}[reduce]
    return _scatter(op, "scatter", input, dim, index, src)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``src[i][j][k]`` added at ``[i][index[i][j][k]][k]`` (dim 1);
    where ``index`` repeats a place, every value sent there is added.

    ```pycon
    >>> import chainrule as cr
    >>> index = cr.tensor([0, 1, 0])
    >>> cr.scatter_add(cr.zeros(2), 0, index, cr.tensor([1.0, 2.0, 3.0])).tolist()
    [4.0, 2.0]

    ```
    """
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    return _scatter(ScatterAdd, "scatter_add", input, dim, index, src)


def _scatter(op: type, name: str, input: Tensor, dim: int, index: Any, src: Any) -> Tensor:  # noqa: A002
    axis, array = _checked(input, dim, index, name)
    if isinstance(src, Tensor):
        _check_rank(array, src, "src", name)
        if src.dtype != input.dtype:
            raise TypeError(
                f"{name}: src has dtype {src.dtype}, but input has {input.dtype}; they must be "
                f"equal (convert src with .to({input.dtype}))"
            )
        _check_fits(array, src.shape, "src", None, name)
    else:  # a number: written at every indexed place
        src = backend.xp.full(array.shape, src, dtype=input.dtype)
    _check_fits(array, input.shape, "input", axis, name)
    _check_range(array, (input.shape or (1,))[axis], axis, name)
    return op.apply(input, src, array, dim=axis)


def scatter_(
    self: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None, reduce: Any = None
) -> Tensor:
    """:func:`scatter` in place."""
    return inplace.modify(
        self,
        "scatter_",
        lambda x, s: scatter(x, dim, index, s, reduce=reduce),
        src if value is None else value,
    )


def scatter_add_(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """:func:`scatter_add` in place."""
    return inplace.modify(self, "scatter_add_", lambda x, s: scatter_add(x, dim, index, s), src)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:  # noqa: A002
    """The slices of ``input`` at the positions in the 1-d ``index`` along ``dim``, in that
    order (repeats allowed): ``dim`` takes the length of ``index``.

    ```pycon
    >>> from chainrule import tensor
    >>> index_select(tensor([[1.0, 2.0], [3.0, 4.0]]), 0, tensor([1, 1, 0])).tolist()
    [[3.0, 4.0], [3.0, 4.0], [1.0, 2.0]]

    ```
    """
    axis = normalise_axis(dim, max(input.ndim, 1), "index_select")
    array = index_array(index, "index_select")
    if array.ndim > 1:
        raise OpError(
            f"index_select: index must be a vector (1-d or 0-d), got shape {tuple(array.shape)}"
        )
    if input.ndim == 0 and array.size != 1:
        raise OpError(
            f"index_select: a 0-d input takes an index of exactly one value, got {array.size}"
        )
    _check_range(array, (input.shape or (1,))[axis], axis, "index_select")
    return IndexSelect.apply(input, array, dim=axis)


def _mask_array(mask: Any, op: str) -> Any:
    array = mask.array if isinstance(mask, Tensor) else backend.as_array(mask)
    if array.dtype.kind != "b":
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {array.dtype}")
    return array


def _broadcast_shape(a: tuple, b: tuple, op: str) -> tuple:
    try:
        return backend.xp.broadcast_shapes(a, b)
    except ValueError:
        raise OpError(
            f"{op}: mask of shape {b} does not broadcast with input of shape {a}"
        ) from None


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:  # noqa: A002
    """``input`` with ``value`` (a number, or a 0-d tensor, which may require grad) where the
    bool ``mask`` is true; ``mask`` broadcasts with ``input``, and so the result's shape is
    theirs broadcast. The result keeps ``input``'s dtype.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, -2.0, 3.0])
    >>> cr.masked_fill(x, x < 0, 0.0).tolist()
    [1.0, 0.0, 3.0]

    ```
    """
    where = _mask_array(mask, "masked_fill")
    _broadcast_shape(input.shape, where.shape, "masked_fill")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise OpError(
            f"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape "
            f"{value.shape}"
        )
    return MaskedFill.apply(input, value, where)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:  # noqa: A002
    """The elements of ``input`` where the bool ``mask`` is true, as a 1-d tensor (row-major
    order); ``input`` and ``mask`` broadcast with each other first.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, -2.0], [-3.0, 4.0]])
    >>> cr.masked_select(x, x > 0).tolist()
    [1.0, 4.0]

    ```
    """
    where = _mask_array(mask, "masked_select")
    _broadcast_shape(input.shape, where.shape, "masked_select")
    return MaskedSelect.apply(input, where)
