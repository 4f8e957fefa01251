"""Writing by position: index_add, index_copy and index_fill (whole slices along a dimension,
picked by a 1-d index), masked_scatter (a tensor's elements, in order, where a mask is true),
and the in-place fill_diagonal_, tril_ and triu_.

Each out-of-place form is a differentiable operation; each in-place form (``x.index_add_(...)``)
runs it through :func:`chainrule.ops.inplace.modify`, so that it is recorded in the graph, bumps
the tensor's version and updates its views, as every in-place operation does.

With a repeated index, index_add adds every value sent to a slice; index_copy keeps one of them
(which one is unspecified, as in PyTorch).
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops import inplace
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.conversion import to
from chainrule.ops.indexing import index_array
from chainrule.ops.matrix import tril, triu
from chainrule.ops.movement import normalise_axis, placed, zeroed
from chainrule.tensor import Tensor


def _1d(array: Any) -> Any:
    return array.reshape(1) if array.ndim == 0 else array


def _slices(index: Any, dim: int) -> tuple:
    """The index that picks the slices ``index`` along ``dim``."""
    return (slice(None),) * dim + (index,)


class IndexAdd(Function):
    """out = x with alpha·src[…, i, …] added to slice index[i] along dim: ∂C/∂x = ∂C/∂out,
    ∂C/∂src = alpha · the slices of ∂C/∂out at index"""

    argument_names = ("input", "source")

    def forward(self, x: Any, src: Any, index: Any, dim: int, alpha: Any) -> Any:
        self.index, self.dim, self.alpha, self.src_shape = index, dim, alpha, src.shape
        out = _1d(x).copy()
        backend.scatter_add(out, _slices(index, dim), _1d(src) * alpha if alpha != 1 else _1d(src))
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        taken = backend.xp.take(_1d(grad), self.index, axis=self.dim)
        grad_src = taken * self.alpha if self.alpha != 1 else taken
        return grad, grad_src.reshape(self.src_shape), None


class IndexCopy(Function):
    """out = x with slice index[i] along dim replaced by src[…, i, …]: ∂C/∂x = ∂C/∂out with
    those slices zeroed, ∂C/∂src = the slices of ∂C/∂out at index"""

    argument_names = ("input", "source")

    def forward(self, x: Any, src: Any, index: Any, dim: int) -> Any:
        self.index, self.dim, self.src_shape = index, dim, src.shape
        out = _1d(x).copy()
        out[_slices(index, dim)] = _1d(src)
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        grad_x = zeroed(_1d(grad), _slices(self.index, self.dim)).reshape(grad.shape)
        grad_src = backend.xp.take(_1d(grad), self.index, axis=self.dim)
        return grad_x, grad_src.reshape(self.src_shape), None


class IndexFill(Function):
    """out = x with the slices at index along dim set to value: ∂C/∂x = ∂C/∂out with those
    slices zeroed, ∂C/∂value = Σ ∂C/∂out over those slices (each counted once)"""

    argument_names = ("input", "value")

    def forward(self, x: Any, value: Any, index: Any, dim: int) -> Any:
        self.index, self.dim = backend.xp.unique(index), dim
        out = _1d(x).copy()
        out[_slices(self.index, dim)] = value
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        place = _slices(self.index, self.dim)
        grad_x = zeroed(_1d(grad), place).reshape(grad.shape)
        grad_value = _1d(grad)[place].sum() if self.needs_input_grad[1] else None
        return grad_x, grad_value, None


class MaskedScatter(Function):
    """out = x (broadcast with mask) with the first k elements of src, in order, written where
    the mask is true: ∂C/∂x = ∂C/∂out where the mask is false (summed back over x's broadcast
    dimensions), ∂C/∂src = ∂C/∂out at the masked places for its first k elements, 0 after"""

    argument_names = ("input", "source")

    def forward(self, x: Any, src: Any, mask: Any) -> Any:
        xp = backend.xp
        shape = xp.broadcast_shapes(x.shape, mask.shape)
        where = xp.broadcast_to(mask, shape)
        out = xp.broadcast_to(x, shape).copy()
        out[where] = src.reshape(-1)[: int(where.sum())]
        self.saved = (where,)
        self.shapes = (x.shape, src.shape)
        return out

    def backward(self, grad: Any) -> tuple:
        (where,) = self.saved
        xp = backend.xp
        shape_x, shape_src = self.shapes
        grad_x = unbroadcast(xp.where(where, xp.zeros((), dtype=grad.dtype), grad), shape_x)
        taken = grad[where]
        count = taken.shape[0]  # the masked places, in order: source's first elements
        grad_src = placed(taken, (int(xp.prod(shape_src)),), slice(0, count))
        return grad_x, grad_src.reshape(shape_src), None


class FillDiagonal(Function):
    """out = x with value on its main diagonal: ∂C/∂x = ∂C/∂out with the diagonal zeroed"""

    def forward(self, x: Any, value: Any, wrap: bool) -> Any:
        self.places = _diagonal_places(x.shape, wrap)
        out = x.copy()
        out.reshape(-1)[self.places] = value
        return out

    def backward(self, grad: Any) -> tuple:
        return (zeroed(grad.reshape(-1), self.places).reshape(grad.shape),)


def _diagonal_places(shape: tuple[int, ...], wrap: bool) -> Any:
    """Flat positions of the elements (i, i, …, i): one step along every dimension at once.
    A tall matrix with ``wrap`` starts the diagonal again below the square block, after a gap
    row, as NumPy and PyTorch do."""
    xp = backend.xp
    step, stride = 0, 1
    for n in reversed(shape):
        step += stride
        stride *= n
    size = stride
    if wrap and len(shape) == 2 and shape[0] > shape[1]:
        return xp.arange(0, size, step)
    return xp.arange(min(shape)) * step


# ---- checks ------------------------------------------------------------------------------------


def _checked_index(input: Tensor, dim: int, index: Any, op: str, negative: bool = False) -> tuple:  # noqa: A002
    """The axis and the 1-d index array of an index_* operation, checked as PyTorch does;
    negative positions count from the end where ``negative`` (index_fill), else are refused."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(op, "input", input)
    axis = normalise_axis(dim, max(input.ndim, 1), op)
    positions = index_array(index, op)
    if positions.ndim > 1:
        raise OpError(f"{op}: index is supposed to be a vector, got shape {tuple(positions.shape)}")
    positions = positions.reshape(-1).astype("int64")
    size = (input.shape or (1,))[axis]
    if negative:
        positions = backend.xp.where(positions < 0, positions + size, positions)
    if positions.size and (positions.min() < 0 or positions.max() >= size):
        bad = positions.min() if positions.min() < 0 else positions.max()
        raise IndexError(
            f"{op}: index {bad} is out of bounds for dimension {axis} with size {size}"
        )
    return axis, positions


def _checked_source(input: Tensor, source: Any, axis: int, count: int, op: str) -> None:  # noqa: A002
    if not isinstance(source, Tensor):
        raise not_a_tensor(op, "source", source)
    if source.dtype != input.dtype:
        raise TypeError(
            f"{op}: self ({input.dtype}) and source ({source.dtype}) must have the same dtype"
        )
    expected = list(input.shape or (1,))
    expected[axis] = count
    if list(source.shape or (1,)) != expected or (source.ndim == 0) != (input.ndim == 0):
        raise OpError(
            f"{op}: source of shape {source.shape} must match self of shape {input.shape} "
            f"outside dimension {axis}, along which it must have {count} slices (one per index)"
        )


# ---- the public functions ----------------------------------------------------------------------


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """A copy of ``input`` with ``alpha * source[…, i, …]`` added to its slice ``index[i]``
    along ``dim`` (repeated positions add up).

    ```pycon
    >>> import chainrule as cr
    >>> cr.zeros(4).index_add(0, cr.tensor([1, 1, 3]), cr.tensor([1.0, 2.0, 5.0])).tolist()
    [0.0, 3.0, 0.0, 5.0]

    ```
    """
    axis, positions = _checked_index(input, dim, index, "index_add")
    _checked_source(input, source, axis, positions.size, "index_add")
    return IndexAdd.apply(input, source, positions, dim=axis, alpha=alpha)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """A copy of ``input`` whose slice ``index[i]`` along ``dim`` is ``source[…, i, …]``.

    ```pycon
    >>> import chainrule as cr
    >>> source = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.index_copy(cr.zeros(3, 2), 0, cr.tensor([2, 0]), source).tolist()
    [[3.0, 4.0], [0.0, 0.0], [1.0, 2.0]]

    ```
    """
    axis, positions = _checked_index(input, dim, index, "index_copy")
    _checked_source(input, source, axis, positions.size, "index_copy")
    return IndexCopy.apply(input, source, positions, dim=axis)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:  # noqa: A002
    """A copy of ``input`` whose slices at ``index`` along ``dim`` (negative positions count
    from the end) hold ``value``: a number, or a 0-d tensor (which may require grad).

    ```pycon
    >>> import chainrule as cr
    >>> cr.index_fill(cr.zeros(2, 3), 1, cr.tensor([0, 2]), 7.0).tolist()
    [[7.0, 0.0, 7.0], [7.0, 0.0, 7.0]]

    ```
    """
    axis, positions = _checked_index(input, dim, index, "index_fill", negative=True)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise OpError(
                f"index_fill: only supports a 0-dimensional value tensor, got shape {value.shape}"
            )
        if value.dtype != input.dtype:
            value = to(value, input.dtype)
    return IndexFill.apply(input, value, positions, dim=axis)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:  # noqa: A002
    """``input`` (broadcast with the bool ``mask``) with the elements of ``source``, taken in
    row-major order, written where ``mask`` is true: the k-th true place gets source's k-th
    element. ``source`` needs at least as many elements as ``mask`` has true places.

    ```pycon
    >>> import chainrule as cr
    >>> mask = cr.tensor([True, False, True])
    >>> cr.zeros(3).masked_scatter(mask, cr.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("masked_scatter", "input", input)
    if not isinstance(mask, Tensor) or mask.dtype.kind != "b":
        kind = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_scatter: only supports boolean masks, got {kind}")
    if not isinstance(source, Tensor):
        raise not_a_tensor("masked_scatter", "source", source)
    if source.dtype != input.dtype:
        raise TypeError(
            f"masked_scatter: expected self and source of the same dtype, got {input.dtype} and "
            f"{source.dtype}"
        )
    try:
        shape = backend.xp.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise OpError(
            f"masked_scatter: mask of shape {mask.shape} does not broadcast with input of shape "
            f"{input.shape}"
        ) from None
    needed = int(backend.xp.broadcast_to(mask.array, shape).sum())
    if source.numel() < needed:
        raise OpError(
            f"masked_scatter: source has {source.numel()} elements, fewer than the {needed} true "
            "places of the mask"
        )
    return MaskedScatter.apply(input, source, mask.array)


# ---- in place ----------------------------------------------------------------------------------


def index_add_(self: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """:func:`index_add` in place."""
    return inplace.modify(
        self, "index_add_", lambda x, s: index_add(x, dim, index, s, alpha=alpha), source
    )


def index_copy_(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """:func:`index_copy` in place."""
    return inplace.modify(self, "index_copy_", lambda x, s: index_copy(x, dim, index, s), source)


def index_fill_(self: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """:func:`index_fill` in place."""
    return inplace.modify(self, "index_fill_", lambda x, v: index_fill(x, dim, index, v), value)


def masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """:func:`masked_scatter` in place; ``mask`` must broadcast to this tensor's shape."""
    if isinstance(mask, Tensor) and not _broadcasts_into(mask.shape, self.shape):
        raise OpError(
            f"masked_scatter_: mask of shape {mask.shape} does not broadcast to the shape "
            f"{self.shape} of the tensor changed in place"
        )
    return inplace.modify(self, "masked_scatter_", lambda x, s: masked_scatter(x, mask, s), source)


def _broadcasts_into(shape: tuple[int, ...], into: tuple[int, ...]) -> bool:
    try:
        return tuple(backend.xp.broadcast_shapes(shape, into)) == tuple(into)
    except ValueError:
        return False


def fill_diagonal_(self: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Write ``fill_value`` on the main diagonal, in place: the elements (i, i) of a matrix, or
    (i, i, …, i) of a tensor whose dimensions are all of one length. ``wrap`` continues the
    diagonal of a tall matrix below its square block (after one row of gap)."""
    if self.ndim < 2:
        raise OpError(f"fill_diagonal_: dimensions must be larger than 1, got shape {self.shape}")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise OpError(
            f"fill_diagonal_: all dimensions of input must be of equal length, got shape "
            f"{self.shape}"
        )
    return inplace.modify(
        self, "fill_diagonal_", lambda x: FillDiagonal.apply(x, value=fill_value, wrap=wrap)
    )


def tril_(self: Tensor, diagonal: int = 0) -> Tensor:
    """:func:`~chainrule.tril` in place: the entries above diagonal ``diagonal`` set to 0."""
    return inplace.modify(self, "tril_", lambda x: tril(x, diagonal))


def triu_(self: Tensor, diagonal: int = 0) -> Tensor:
    """:func:`~chainrule.triu` in place: the entries below diagonal ``diagonal`` set to 0."""
    return inplace.modify(self, "triu_", lambda x: triu(x, diagonal))
