"""NumPy's names on chainrule tensors: the array namespace of a backward that records a graph.

Every operation writes its vector-Jacobian product once, against ``backend.xp``: on plain
arrays that is NumPy itself, so first-order backward costs nothing extra. When a backward runs
with ``create_graph=True`` (:mod:`chainrule.autograd.gradients`), the engine hands the
backward tensors instead of arrays and, for the length of that call, points ``backend.xp`` at
:data:`NAMESPACE` below. Its functions take NumPy's arguments (``axis``, ``keepdims``) and,
when any argument is a tensor, run chainrule's own differentiable operation, so the backward's
arithmetic is itself recorded and can be differentiated again. With arrays alone they call
NumPy, so the forward passes of those operations, which go through ``backend.xp`` too, run
unchanged. The arrays' own module is the fallback: NumPy on the CPU, and for the backward of
an operation that ran on a GPU that GPU's module (CuPy), named by :func:`active`, so that the
constants a backward makes (zeros, masks, indices) live where its tensors do.

Nothing converts a tensor that requires grad to an array silently while a graph is being
recorded: :func:`refuse_detach` (called by ``Tensor.__array__``) raises instead, so a backward
that uses a NumPy function this namespace lacks fails loudly rather than dropping a term of
the second derivative.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

import numpy

from chainrule import backend
from chainrule.tensor import Tensor

_depth = 0  # how many backward calls are recording a graph now (they nest: hooks, custom code)
_op_name = ""  # the operation whose backward is recording, for messages
_xp: Any = numpy  # the module of plain arrays in the backward now recording (see active)


def recording() -> bool:
    """Whether a backward is being recorded as a graph right now."""
    return _depth > 0


@contextlib.contextmanager
def active(op_name: str, module: Any = None) -> Iterator[None]:
    """Run the block with ``backend.xp`` pointing at :data:`NAMESPACE` (see the module), whose
    functions compute on plain arrays with ``module`` (the array module that ran the
    operation's forward; None: NumPy)."""
    global _depth, _op_name, _xp
    outer_xp, outer_name, outer_module = backend.xp, _op_name, _xp
    _depth += 1
    _op_name = op_name
    _xp = numpy if module is None else module
    backend.xp = NAMESPACE
    try:
        yield
    finally:
        _depth -= 1
        _op_name = outer_name
        _xp = outer_module
        backend.xp = outer_xp


def refuse_detach(tensor: Tensor) -> None:
    """Raise if ``tensor`` would lose its graph by becoming an array inside a recorded backward."""
    if _depth and tensor._requires_grad:
        raise RuntimeError(
            f"create_graph: the backward of {_op_name} turned a tensor of shape "
            f"{tuple(tensor.shape)} that requires grad into a NumPy array, which would drop a "
            f"term of the second derivative; {_op_name} does not support differentiating its "
            "derivative yet"
        )


def _any_tensor(values: tuple) -> bool:
    for value in values:
        if isinstance(value, Tensor):
            return True
        if isinstance(value, (tuple, list)) and _any_tensor(tuple(value)):
            return True
    return False


def _cr() -> Any:
    import chainrule

    return chainrule


def _dims(axis: Any) -> Any:
    if axis is None:
        return None
    return tuple(axis) if isinstance(axis, (tuple, list)) else int(axis)


def _tensor(value: Any) -> Tensor:
    """``value`` as a tensor: a constant (no gradient) where it is an array or a number, made
    where the backward's arrays live."""
    if isinstance(value, Tensor):
        return value
    constant = _cr().as_tensor(value)  # arrays keep their dtype, numbers take the default
    if _xp is not numpy:
        return Tensor._make(backend.transfer(constant.array, _xp), False, None)
    return constant


class _Ufunc:
    """A NumPy ufunc whose call (and ``reduce``, for ``add``) runs a chainrule operation when
    an argument is a tensor."""

    def __init__(self, name: str, differentiable: Any) -> None:
        self.name = name
        self.differentiable = differentiable

    @property
    def numpy(self) -> Any:
        """The ufunc itself, of the module of the backward's arrays."""
        return getattr(_xp, self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not _any_tensor(args):
            return self.numpy(*args, **kwargs)
        if kwargs.get("out") is not None:
            raise RuntimeError(
                f"create_graph: the backward of {_op_name} writes {self.name} into an "
                "existing array (out=), which a recorded graph cannot do"
            )
        kwargs.pop("out", None)
        kwargs.pop("dtype", None)
        return self.differentiable(*args)

    def reduce(self, value: Any, axis: Any = 0, keepdims: bool = False, **kwargs: Any) -> Any:
        if not isinstance(value, Tensor):
            return self.numpy.reduce(value, axis=axis, keepdims=keepdims, **kwargs)
        if self.name != "add":
            raise RuntimeError(f"create_graph: {self.name}.reduce on a tensor is not supported")
        return _cr().sum(value, dim=_dims(axis), keepdim=keepdims)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.numpy, name)


def _where(condition: Any, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:
        return _xp.where(condition)
    if isinstance(condition, Tensor):  # a mask: nothing differentiates through it
        condition = condition.array
    if not _any_tensor((x, y)):
        return _xp.where(condition, x, y)
    # chainrule.where promotes a Python scalar branch to the other branch's dtype, as NumPy
    # does for a scalar against an array.
    x, y = (_tensor(v) if backend.is_array(v) else v for v in (x, y))
    return _cr().where(_tensor(_xp.asarray(condition, dtype=bool)), x, y)


def _sum(value: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    if not isinstance(value, Tensor):
        return _xp.sum(value, axis=axis, dtype=dtype, keepdims=keepdims, **kw)
    dims = _dims(axis)
    if dims is None:
        total = value.sum()
        return total.reshape((1,) * value.ndim) if keepdims else total
    return value.sum(dim=dims, keepdim=keepdims)


def _mean(value: Any, axis: Any = None, keepdims: bool = False, **kw: Any) -> Any:
    if not isinstance(value, Tensor):
        return _xp.mean(value, axis=axis, keepdims=keepdims, **kw)
    dims = _dims(axis)
    if dims is None:
        total = value.mean()
        return total.reshape((1,) * value.ndim) if keepdims else total
    return value.mean(dim=dims, keepdim=keepdims)


def _reshape(value: Any, shape: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(value, Tensor):
        return value.reshape(shape)
    return _xp.reshape(value, shape, *args, **kwargs)


def _swapaxes(value: Any, a: int, b: int) -> Any:
    if isinstance(value, Tensor):
        return value.transpose(a, b)
    return _xp.swapaxes(value, a, b)


def _moveaxis(value: Any, source: Any, destination: Any) -> Any:
    if isinstance(value, Tensor):
        return _cr().movedim(value, source, destination)
    return _xp.moveaxis(value, source, destination)


def _transpose(value: Any, axes: Any = None) -> Any:
    if not isinstance(value, Tensor):
        return _xp.transpose(value, axes)
    if axes is None:
        axes = tuple(reversed(range(value.ndim)))
    return value.permute(*axes)


def _expand_dims(value: Any, axis: Any) -> Any:
    if not isinstance(value, Tensor):
        return _xp.expand_dims(value, axis)
    axes = sorted(a % (value.ndim + len(axis)) for a in axis) if isinstance(axis, tuple) else [axis]
    for a in axes:
        value = value.unsqueeze(a)
    return value


def _squeeze(value: Any, axis: Any = None) -> Any:
    if not isinstance(value, Tensor):
        return _xp.squeeze(value, axis)
    if axis is None:
        return value.squeeze()
    return value.squeeze(_dims(axis))


def _broadcast_to(value: Any, shape: Any) -> Any:
    if isinstance(value, Tensor):
        return _cr().broadcast_to(value, tuple(shape))
    return _xp.broadcast_to(value, shape)


def _flip(value: Any, axis: Any = None) -> Any:
    if not isinstance(value, Tensor):
        return _xp.flip(value, axis)
    dims = tuple(range(value.ndim)) if axis is None else _dims(axis)
    return _cr().flip(value, dims if isinstance(dims, tuple) else (dims,))


def _roll(value: Any, shift: Any, axis: Any = None) -> Any:
    if isinstance(value, Tensor):
        return _cr().roll(value, shift, _dims(axis))
    return _xp.roll(value, shift, axis)


def _diagonal(value: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    if isinstance(value, Tensor):
        return _cr().diagonal(value, offset, axis1, axis2)
    return _xp.diagonal(value, offset, axis1, axis2)


def _concatenate(values: Any, axis: int = 0, **kwargs: Any) -> Any:
    if _any_tensor(tuple(values)):
        return _cr().cat([_tensor(v) for v in values], dim=axis)
    return _xp.concatenate(values, axis=axis, **kwargs)


def _stack(values: Any, axis: int = 0, **kwargs: Any) -> Any:
    if _any_tensor(tuple(values)):
        return _cr().stack([_tensor(v) for v in values], dim=axis)
    return _xp.stack(values, axis=axis, **kwargs)


def _split(value: Any, indices_or_sections: Any, axis: int = 0) -> Any:
    if not isinstance(value, Tensor):
        return _xp.split(value, indices_or_sections, axis=axis)
    length = value.shape[axis]
    if isinstance(indices_or_sections, int):  # that many equal pieces
        if length % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
        step = length // indices_or_sections
        bounds = [step * k for k in range(1, indices_or_sections)]
    else:
        bounds = [int(b) for b in indices_or_sections]
    edges = [0, *bounds, length]
    lead = (slice(None),) * (axis % value.ndim)
    return [value[(*lead, slice(a, b))] for a, b in itertools.pairwise(edges)]


def _take(value: Any, indices: Any, axis: Any = None, **kwargs: Any) -> Any:
    if not isinstance(value, Tensor):
        return _xp.take(value, indices, axis=axis, **kwargs)
    if isinstance(indices, Tensor):
        indices = indices.array
    indices = _xp.asarray(indices)
    if axis is None:
        return value.reshape(-1)[_tensor(indices)]
    flat = _cr().index_select(value, axis, _tensor(indices.reshape(-1)))
    shape = value.shape[:axis] + indices.shape + value.shape[axis + 1 :]
    return flat.reshape(shape)


def _clip(value: Any, low: Any = None, high: Any = None, **kwargs: Any) -> Any:
    if _any_tensor((value, low, high)):
        return _cr().clamp(_tensor(value), low, high)
    return _xp.clip(value, low, high, **kwargs)


def _einsum(subscripts: str, *operands: Any, **kwargs: Any) -> Any:
    if _any_tensor(operands):
        return _cr().einsum(subscripts, *[_tensor(o) for o in operands])
    return _xp.einsum(subscripts, *operands, **kwargs)


def _full(shape: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Any:
    if not isinstance(fill_value, Tensor):
        return _xp.full(shape, fill_value, dtype=dtype, **kwargs)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    value = fill_value if dtype is None else fill_value.to(dtype)
    return _cr().broadcast_to(value, shape) * 1  # a tensor of its own, not a view


def _running(name: str) -> Any:
    def running(value: Any, axis: Any = None, dtype: Any = None, **kwargs: Any) -> Any:
        if not isinstance(value, Tensor):
            return getattr(_xp, name)(value, axis=axis, dtype=dtype, **kwargs)
        if axis is None:  # NumPy runs over the flattened array
            value, axis = value.reshape(-1), 0
        return getattr(_cr(), name)(value, axis)

    return running


def _like(name: str) -> Any:
    def like(value: Any, *args: Any, **kwargs: Any) -> Any:
        # A new constant of the tensor's shape and dtype: it carries no derivative.
        if isinstance(value, Tensor):
            value = value.array
        return getattr(_xp, name)(value, *args, **kwargs)

    return like


def _unary(name: str) -> _Ufunc:
    return _Ufunc(name, lambda x: getattr(_cr(), name)(_tensor(x)))


def _method(numpy_name: str, chainrule_name: str) -> _Ufunc:
    return _Ufunc(numpy_name, lambda *xs: getattr(_cr(), chainrule_name)(*xs))


def _binary(numpy_name: str, chainrule_name: str) -> _Ufunc:
    def differentiable(a: Any, b: Any) -> Any:
        cr = _cr()
        if not isinstance(a, Tensor):  # a constant on the left: keep its dtype with the tensor's
            a = _tensor(_xp.asarray(a, dtype=b.dtype) if numpy.isscalar(a) else a)
        if backend.is_array(b):  # an array on the right: a constant tensor
            b = _tensor(b)
        elif not isinstance(b, Tensor):  # a number: in the tensor's dtype, as NumPy keeps it
            b = _tensor(_xp.asarray(b, dtype=a.dtype))
        return getattr(cr, chainrule_name)(a, b)

    return _Ufunc(numpy_name, differentiable)


_UNARY = (
    *("exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "square", "reciprocal"),
    *("sin", "cos", "tan", "sinh", "cosh", "tanh", "sign", "abs", "floor", "ceil"),
    *("isnan", "isinf", "isfinite", "logical_not"),
)


class GraphNumpy:
    """The namespace itself: the functions above by NumPy's names, and NumPy for the rest."""

    def __init__(self) -> None:
        for name in _UNARY:
            setattr(self, name, _unary(name))
        self.absolute = self.abs
        self.negative = _Ufunc("negative", lambda x: -_tensor(x))
        for numpy_name, name in (
            ("arctan", "atan"),
            ("arcsin", "asin"),
            ("arccos", "acos"),
            ("arctanh", "atanh"),
            ("arcsinh", "asinh"),
            ("arccosh", "acosh"),
        ):
            setattr(self, numpy_name, _method(numpy_name, name))
        for numpy_name, name in (
            ("add", "add"),
            ("subtract", "sub"),
            ("multiply", "mul"),
            ("divide", "div"),
            ("true_divide", "div"),
            ("power", "pow"),
            ("maximum", "maximum"),
            ("minimum", "minimum"),
            ("arctan2", "atan2"),
            ("hypot", "hypot"),
            ("fmod", "fmod"),
            ("remainder", "remainder"),
            ("matmul", "matmul"),
            ("logical_and", "logical_and"),
            ("logical_or", "logical_or"),
            ("greater", "gt"),
            ("less", "lt"),
            ("equal", "eq"),
            ("not_equal", "ne"),
            ("greater_equal", "ge"),
            ("less_equal", "le"),
        ):
            setattr(self, numpy_name, _binary(numpy_name, name))
        self.dot = self.matmul
        self.where = _where
        self.sum = _sum
        self.mean = _mean
        self.reshape = _reshape
        self.swapaxes = _swapaxes
        self.moveaxis = _moveaxis
        self.transpose = _transpose
        self.expand_dims = _expand_dims
        self.squeeze = _squeeze
        self.broadcast_to = _broadcast_to
        self.flip = _flip
        self.roll = _roll
        self.diagonal = _diagonal
        self.concatenate = _concatenate
        self.stack = _stack
        self.take = _take
        self.split = _split
        self.clip = _clip
        self.einsum = _einsum
        self.full = _full
        for name in ("zeros_like", "ones_like", "empty_like", "full_like"):
            setattr(self, name, _like(name))
        self.cumsum = _running("cumsum")
        self.cumprod = _running("cumprod")
        self.tril = _Ufunc("tril", lambda x, k=0: _cr().tril(x, k))
        self.triu = _Ufunc("triu", lambda x, k=0: _cr().triu(x, k))

    def __getattr__(self, name: str) -> Any:
        return getattr(_xp, name)


NAMESPACE = GraphNumpy()
