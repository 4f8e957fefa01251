"""Arithmetic on traced values: element-wise operators, matmul, casts, softmax, reductions.

As in :mod:`chainrule.onnx.movement`, the real result comes first, from chainrule itself; its
dtype is the dtype every operand is brought to, so ``x + 1`` on a float32 value adds a float32
constant and an int64 value divided by 2 is cast first, as chainrule's promotion does.
"""

from __future__ import annotations

import operator
from typing import Any

from chainrule.onnx.graph import elem_type
from chainrule.tensor import Tensor

_PYTHON_OPERATORS = {
    "Add": operator.add,
    "Sub": operator.sub,
    "Mul": operator.mul,
    "Div": operator.truediv,
    "Pow": operator.pow,
    "MatMul": operator.matmul,
}

_TENSOR_METHODS = {
    "Abs": "abs",
    "Erf": "erf",
    "Exp": "exp",
    "Log": "log",
    "Neg": "neg",
    "Relu": "relu",
    "Sigmoid": "sigmoid",
    "Sqrt": "sqrt",
    "Tanh": "tanh",
}


def _traced(*values: Any) -> Any:
    """The first traced value among ``values`` (there is one: a proxy called us)."""
    return next(value for value in values if hasattr(value, "tracer"))


def _real(value: Any) -> Any:
    return value.real if hasattr(value, "tracer") else value


def operand(tracer: Any, value: Any, dtype: Any) -> str:
    """The graph name of ``value`` (traced, a Tensor, or a number) as ``dtype``."""
    graph = tracer.graph
    if hasattr(value, "tracer"):
        if value.dtype == dtype:
            return value.name
        return graph.add("Cast", [value.name], to=elem_type(dtype))
    if isinstance(value, Tensor) and value.dtype != dtype:
        return graph.constant(value.array.astype(dtype))
    return tracer.name_of(value, dtype)


def binary(op_type: str, a: Any, b: Any) -> Any:
    """a (op) b for Add, Sub, Mul, Div, Pow and MatMul; NumPy broadcasting, as ONNX's."""
    tracer = _traced(a, b).tracer
    real = _PYTHON_OPERATORS[op_type](_real(a), _real(b))
    if op_type == "Pow" and not hasattr(b, "tracer"):
        # Pow's exponent keeps its own type; a float exponent of a float value is exact.
        names = [operand(tracer, a, real.dtype), operand(tracer, b, real.dtype)]
    else:
        names = [operand(tracer, value, real.dtype) for value in (a, b)]
    return tracer.wrap(tracer.graph.add(op_type, names), real)


_COMPARISONS = {
    "Greater": operator.gt,
    "Less": operator.lt,
    "GreaterOrEqual": operator.ge,
    "LessOrEqual": operator.le,
}


def compare(op_type: str, a: Any, b: Any) -> Any:
    """a > b, a < b, a >= b, a <= b: a bool value, the operands compared in the traced one's
    dtype."""
    traced = _traced(a, b)
    real = _COMPARISONS[op_type](_real(a), _real(b))
    names = [operand(traced.tracer, value, traced.dtype) for value in (a, b)]
    return traced.tracer.wrap(traced.tracer.graph.add(op_type, names), real)


def scaled(value: Any, alpha: float) -> Any:
    """``alpha * value`` for add/sub's ``alpha`` (the value itself when alpha is 1)."""
    return value if alpha == 1 else value * alpha


def unary(op_type: str, x: Any) -> Any:
    """An element-wise ONNX operator with no options: Neg, Abs, Exp, Log, Sqrt, Relu ..."""
    real = getattr(x.real, _TENSOR_METHODS[op_type])()
    return x.tracer.wrap(x.tracer.graph.add(op_type, [x.name]), real)


def cast(x: Any, real: Tensor) -> Any:
    """x converted to ``real``'s dtype (itself if it has it already)."""
    if real.dtype == x.dtype:
        return x
    return x.tracer.wrap(x.tracer.graph.add("Cast", [x.name], to=elem_type(real.dtype)), real)


def to(x: Any, args: tuple, kwargs: dict) -> Any:
    """x.to(dtype) (a device other than the CPU fails in chainrule itself)."""
    return cast(x, x.real.to(*args, **kwargs))


def softmax(op_type: str, x: Any, dim: int, dtype: Any = None) -> Any:
    """Softmax or LogSoftmax along ``dim`` (opset 13's single-axis form), after a cast to
    ``dtype`` when given."""
    if dtype is not None:
        x = to(x, (dtype,), {})
    real = x.real.softmax(dim) if op_type == "Softmax" else x.real.log_softmax(dim)
    axis = dim % max(x.real.ndim, 1)
    return x.tracer.wrap(x.tracer.graph.add(op_type, [x.name], axis=axis), real)


def reduce(op_type: str, x: Any, dim: Any, keepdim: bool) -> Any:
    """ReduceMean or ReduceSum over ``dim`` (an int, a tuple, or None: every dimension)."""
    method = x.real.mean if op_type == "ReduceMean" else x.real.sum
    real = method(dim, keepdim)
    ndim = x.real.ndim
    if dim is None:
        axes = list(range(ndim))
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = sorted(d % ndim for d in dims)
    return x.tracer.wrap(x.tracer.graph.reduce(op_type, x.name, axes, keepdim), real)
