"""Traced values: what a model's forward computes with while it is being exported.

A :class:`TracedValue` stands for one tensor of the ONNX graph. It carries the graph's name
for it and the real chainrule Tensor it stands for, computed alongside, so its shape and dtype
are always known and every operation can check its arguments the way chainrule does. The
Tensor methods that models use between layers (indexing, ``view``/``reshape``/``flatten``,
``size``/``shape``, ``permute``/``transpose``, arithmetic, a few activations and reductions)
add ONNX nodes; any other method is an :class:`UnsupportedLayerError` naming the layer whose
forward called it.

``x.size(0)`` and ``x.shape[0]`` are :class:`TracedSize`: ints that remember where they came
from, so ``x.view(x.size(0), -1)`` keeps a dynamic batch dimension dynamic. Arithmetic on them
gives plain ints, which the graph then holds as constants.
"""

from __future__ import annotations

from typing import Any

from chainrule.onnx import arithmetic, movement
from chainrule.onnx.errors import UnsupportedLayerError
from chainrule.tensor import Tensor


class _UnsupportedMethodError(UnsupportedLayerError, AttributeError):
    """An UnsupportedLayerError that ``hasattr`` and ``getattr(x, name, default)`` read as a
    missing attribute, as they would for a real Tensor lacking it."""


class TracedSize(int):
    """An int that is dimension ``axis`` of the traced value named ``source``."""

    source: str
    axis: int

    def __new__(cls, value: int, source: str, axis: int) -> TracedSize:
        size = super().__new__(cls, value)
        size.source, size.axis = source, axis
        return size


SUPPORTED_METHODS = (
    "[] indexing with ints, slices, None and ...",
    "+ - * / ** @ < > <= >= and unary -",
    "abs",
    "add",
    "contiguous",
    "detach",
    "dim",
    "div",
    "double",
    "exp",
    "flatten",
    "float",
    "log",
    "log_softmax",
    "long",
    "matmul",
    "mean",
    "mul",
    "neg",
    "permute",
    "relu",
    "reshape",
    "shape",
    "sigmoid",
    "size",
    "softmax",
    "sqrt",
    "squeeze",
    "sub",
    "sum",
    "tanh",
    "to(dtype)",
    "transpose",
    "unsqueeze",
    "view",
)


class TracedValue:
    """One value of the graph being exported: its ONNX ``name`` and its ``real`` Tensor."""

    __slots__ = ("name", "real", "tracer")

    def __init__(self, tracer: Any, name: str, real: Tensor) -> None:
        self.tracer, self.name, self.real = tracer, name, real

    def __repr__(self) -> str:
        return f"TracedValue({self.name!r}, shape={tuple(self.real.shape)}, dtype={self.dtype})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self.tracer.refusal(
            f"calls Tensor.{name} on a traced value; export follows {', '.join(SUPPORTED_METHODS)}",
            _UnsupportedMethodError,
        )

    # ---- what is known without computing --------------------------------------------------------

    @property
    def shape(self) -> tuple[TracedSize, ...]:
        return tuple(TracedSize(n, self.name, i) for i, n in enumerate(self.real.shape))

    def size(self, dim: int | None = None) -> Any:
        if dim is None:
            return self.shape
        return self.shape[dim]

    @property
    def dtype(self) -> Any:
        return self.real.dtype

    @property
    def ndim(self) -> int:
        return self.real.ndim

    def dim(self) -> int:
        return self.real.ndim

    @property
    def device(self) -> Any:
        return self.real.device

    def is_floating_point(self) -> bool:
        return self.real.is_floating_point()

    def __len__(self) -> int:
        return len(self.real)

    def __bool__(self) -> bool:
        raise self.tracer.refusal(
            "uses a traced value as a condition (if, while, and, or); the exported graph "
            "cannot branch on the data"
        )

    def __iter__(self) -> Any:
        raise self.tracer.refusal(
            "iterates over a traced value; index it instead (x[:, t] for each t)"
        )

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise self.tracer.refusal("converts a traced value to a NumPy array")

    # ---- movement ------------------------------------------------------------------------------

    def __getitem__(self, index: Any) -> TracedValue:
        return movement.getitem(self, index)

    def view(self, *shape: Any) -> TracedValue:
        return movement.reshape(self, shape)

    def reshape(self, *shape: Any) -> TracedValue:
        return movement.reshape(self, shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> TracedValue:
        return movement.flatten(self, start_dim, end_dim)

    def permute(self, *dims: Any) -> TracedValue:
        return movement.permute(self, dims)

    def transpose(self, dim0: int, dim1: int) -> TracedValue:
        return movement.transpose(self, dim0, dim1)

    def squeeze(self, dim: Any = None) -> TracedValue:
        return movement.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> TracedValue:
        return movement.unsqueeze(self, dim)

    def contiguous(self, *args: Any, **kwargs: Any) -> TracedValue:
        return self

    def detach(self) -> TracedValue:
        return self

    # ---- dtypes --------------------------------------------------------------------------------

    def to(self, *args: Any, **kwargs: Any) -> TracedValue:
        return arithmetic.to(self, args, kwargs)

    def float(self) -> TracedValue:
        return arithmetic.cast(self, self.real.float())

    def double(self) -> TracedValue:
        return arithmetic.cast(self, self.real.double())

    def long(self) -> TracedValue:
        return arithmetic.cast(self, self.real.long())

    # ---- arithmetic ----------------------------------------------------------------------------

    def __add__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Add", self, other)

    def __radd__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Add", other, self)

    def __sub__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Sub", self, other)

    def __rsub__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Sub", other, self)

    def __mul__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Mul", self, other)

    def __rmul__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Mul", other, self)

    def __truediv__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Div", self, other)

    def __rtruediv__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Div", other, self)

    def __pow__(self, other: Any) -> TracedValue:
        return arithmetic.binary("Pow", self, other)

    def __matmul__(self, other: Any) -> TracedValue:
        return arithmetic.binary("MatMul", self, other)

    def __rmatmul__(self, other: Any) -> TracedValue:
        return arithmetic.binary("MatMul", other, self)

    def __gt__(self, other: Any) -> TracedValue:
        return arithmetic.compare("Greater", self, other)

    def __lt__(self, other: Any) -> TracedValue:
        return arithmetic.compare("Less", self, other)

    def __ge__(self, other: Any) -> TracedValue:
        return arithmetic.compare("GreaterOrEqual", self, other)

    def __le__(self, other: Any) -> TracedValue:
        return arithmetic.compare("LessOrEqual", self, other)

    def __neg__(self) -> TracedValue:
        return arithmetic.unary("Neg", self)

    def add(self, other: Any, *, alpha: float = 1) -> TracedValue:
        return arithmetic.binary("Add", self, arithmetic.scaled(other, alpha))

    def sub(self, other: Any, *, alpha: float = 1) -> TracedValue:
        return arithmetic.binary("Sub", self, arithmetic.scaled(other, alpha))

    def mul(self, other: Any) -> TracedValue:
        return arithmetic.binary("Mul", self, other)

    def div(self, other: Any) -> TracedValue:
        return arithmetic.binary("Div", self, other)

    def matmul(self, other: Any) -> TracedValue:
        return arithmetic.binary("MatMul", self, other)

    def neg(self) -> TracedValue:
        return arithmetic.unary("Neg", self)

    def abs(self) -> TracedValue:
        return arithmetic.unary("Abs", self)

    def exp(self) -> TracedValue:
        return arithmetic.unary("Exp", self)

    def log(self) -> TracedValue:
        return arithmetic.unary("Log", self)

    def sqrt(self) -> TracedValue:
        return arithmetic.unary("Sqrt", self)

    def relu(self) -> TracedValue:
        return arithmetic.unary("Relu", self)

    def tanh(self) -> TracedValue:
        return arithmetic.unary("Tanh", self)

    def sigmoid(self) -> TracedValue:
        return arithmetic.unary("Sigmoid", self)

    def softmax(self, dim: int, dtype: Any = None) -> TracedValue:
        return arithmetic.softmax("Softmax", self, dim, dtype)

    def log_softmax(self, dim: int, dtype: Any = None) -> TracedValue:
        return arithmetic.softmax("LogSoftmax", self, dim, dtype)

    def mean(self, dim: Any = None, keepdim: bool = False) -> TracedValue:
        return arithmetic.reduce("ReduceMean", self, dim, keepdim)

    def sum(self, dim: Any = None, keepdim: bool = False) -> TracedValue:
        return arithmetic.reduce("ReduceSum", self, dim, keepdim)


def real_values(value: Any) -> Any:
    """``value`` with every traced value in it (in tuples, lists, dicts) replaced by its real
    Tensor: the arguments the real layer or function is called with."""
    if isinstance(value, TracedValue):
        return value.real
    if isinstance(value, (tuple, list)):
        items = [real_values(item) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        return {key: real_values(item) for key, item in value.items()}
    return value


def contains_traced(value: Any) -> bool:
    """Whether a traced value is in ``value`` (looking inside tuples, lists and dicts)."""
    if isinstance(value, TracedValue):
        return True
    if isinstance(value, (tuple, list)):
        return any(contains_traced(item) for item in value)
    if isinstance(value, dict):
        return any(contains_traced(item) for item in value.values())
    return False
