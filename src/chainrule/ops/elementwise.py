"""Element-wise arithmetic and math: the derivative table of the binary and unary operations.

Each operation's docstring starts with the derivative it implements. Binary operations accept
tensors, arrays or Python scalars on either side, broadcast as NumPy and PyTorch do, promote
dtypes as PyTorch does, and sum their gradients back over the broadcast axes.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.tensor import Tensor


def as_float(x: Any) -> Any:
    """Integer and bool arrays become the default float dtype (PyTorch's rule for exp, log...)."""
    if x.dtype.kind == "f":
        return x
    return x.astype(dtypes.get_default_dtype())


# ---- binary ------------------------------------------------------------------------------------


class Add(Function):
    """d(a + b)/da = 1, d(a + b)/db = 1"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        self.shapes = shape_of(a), shape_of(b)
        return a + b

    def backward(self, grad: Any) -> tuple:
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        return (
            unbroadcast(grad, shape_a) if need_a else None,
            unbroadcast(grad, shape_b) if need_b else None,
        )


class Sub(Function):
    """d(a - b)/da = 1, d(a - b)/db = -1"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        self.shapes = shape_of(a), shape_of(b)
        return a - b

    def backward(self, grad: Any) -> tuple:
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        return (
            unbroadcast(grad, shape_a) if need_a else None,
            unbroadcast(-grad, shape_b) if need_b else None,
        )


class Mul(Function):
    """d(a·b)/da = b, d(a·b)/db = a"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        need_a, need_b = self.needs_input_grad or (False, False)
        # Each factor is kept only for the other's gradient, so that a factor that no gradient
        # needs may change in place afterwards, as in PyTorch.
        self.saved = (a if need_b else None, b if need_a else None)
        self.shapes = shape_of(a), shape_of(b)
        return a * b

    def backward(self, grad: Any) -> tuple:
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        return (
            unbroadcast(grad * b, shape_a) if need_a else None,
            unbroadcast(grad * a, shape_b) if need_b else None,
        )


class Div(Function):
    """d(a/b)/da = 1/b, d(a/b)/db = -a/b² = -(a/b)/b"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        if getattr(a, "dtype", getattr(b, "dtype", None)).kind != "f":
            # Integer division is true division into the default float dtype, as in PyTorch.
            a = as_float(a) if hasattr(a, "dtype") else a
            b = as_float(b) if hasattr(b, "dtype") else b
        out = a / b
        # The quotient is kept only for ∂C/∂b (see Mul).
        self.saved = (shape_of(a), b, out if self.needs_input_grad[1:2] == [True] else None)
        return out

    def backward(self, grad: Any) -> tuple:
        shape_a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        grad_a = grad / b
        return (
            unbroadcast(grad_a, shape_a) if need_a else None,
            unbroadcast(-grad_a * out, shape_of(b)) if need_b else None,
        )


class Pow(Function):
    """d(aᵇ)/da = b·aᵇ⁻¹, d(aᵇ)/db = aᵇ·ln a (taken as 0 where a = 0 and b ≥ 0)"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        out = a**b
        self.saved = (a, b, out)
        return out

    def backward(self, grad: Any) -> tuple:
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        xp = backend.xp
        grad_a = grad_b = None
        if need_a:
            if isinstance(b, (int, float)) and b == 0:
                grad_a = xp.zeros_like(a)
            elif isinstance(b, (int, float)) and b == 2:  # the square in every MSE
                grad_a = grad * (2 * a)
            else:
                grad_a = unbroadcast(grad * b * a ** (b - 1), shape_of(a))
        if need_b:
            undefined_log = (a == 0) & (b >= 0)
            log_a = xp.log(xp.where(undefined_log, 1, a))
            grad_b = unbroadcast(grad * xp.where(undefined_log, 0, out * log_a), shape_of(b))
        return grad_a, grad_b


class Maximum(Function):
    """d max(a, b)/da = 1 where a > b, ½ where a = b, else 0 (and symmetrically for b)"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        self.saved = (a, b)
        return backend.xp.maximum(a, b)

    def backward(self, grad: Any) -> tuple:
        return _select_backward(self, grad, sign=1)


class Minimum(Function):
    """d min(a, b)/da = 1 where a < b, ½ where a = b, else 0 (and symmetrically for b)"""

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        self.saved = (a, b)
        return backend.xp.minimum(a, b)

    def backward(self, grad: Any) -> tuple:
        return _select_backward(self, grad, sign=-1)


def _select_backward(node: Function, grad: Any, sign: int) -> tuple:
    """Shared by maximum and minimum: route the gradient to the chosen operand, split ties."""
    a, b = node.saved
    need_a, need_b = node.needs_input_grad
    xp = backend.xp
    chosen_a = (a > b) if sign > 0 else (a < b)
    share_a = xp.where(chosen_a, 1.0, xp.where(a == b, 0.5, 0.0)).astype(grad.dtype)
    return (
        unbroadcast(grad * share_a, shape_of(a)) if need_a else None,
        unbroadcast(grad * (1 - share_a), shape_of(b)) if need_b else None,
    )


class Where(Function):
    """d where(c, x, y)/dx = 1 where c, else 0; d/dy = 0 where c, else 1"""

    def forward(self, condition: Any, x: Any, y: Any) -> Any:
        if condition.dtype.kind != "b":
            raise TypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
        x, y = dtypes.promote(x, y)
        self.saved = (condition, shape_of(x), shape_of(y))
        return backend.xp.where(condition, x, y)

    def backward(self, grad: Any) -> tuple:
        condition, shape_x, shape_y = self.saved
        _, need_x, need_y = self.needs_input_grad
        xp = backend.xp
        zero = xp.zeros((), dtype=grad.dtype)
        return (
            None,
            unbroadcast(xp.where(condition, grad, zero), shape_x) if need_x else None,
            unbroadcast(xp.where(condition, zero, grad), shape_y) if need_y else None,
        )


# ---- unary -------------------------------------------------------------------------------------


class Neg(Function):
    """d(-x)/dx = -1"""

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, grad: Any) -> tuple:
        return (-grad,)


class Exp(Function):
    """d/dx eˣ = eˣ (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = backend.xp.exp(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * out,)


class Log(Function):
    """d/dx ln x = 1/x"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.log(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / x,)


class Sqrt(Function):
    """d/dx √x = 1/(2√x) (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = backend.xp.sqrt(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad / (2 * out),)


class Abs(Function):
    """d/dx |x| = sign(x) (0 at 0)"""

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        return backend.xp.abs(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * backend.xp.sign(x),)


class Sin(Function):
    """d/dx sin x = cos x"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.sin(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * backend.xp.cos(x),)


class Cos(Function):
    """d/dx cos x = -sin x"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.cos(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (-grad * backend.xp.sin(x),)


class Clamp(Function):
    """d/dx clamp(x, lo, hi) = 1 where lo ≤ x ≤ hi, else 0"""

    def forward(self, x: Any, min: Any = None, max: Any = None) -> Any:  # noqa: A002
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        if x.dtype.kind != "f":  # an integer tensor clamped to a Python float becomes float32
            bounds = [b for b in (min, max) if b is not None]
            x = x.astype(dtypes.result_type(x, *bounds), copy=False)
        self.saved = (x,)
        self.bounds = (min, max)
        return backend.xp.clip(x, min, max)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        low, high = self.bounds
        inside = True
        if low is not None:
            inside = x >= low
        if high is not None:
            inside = inside & (x <= high)
        return (grad * inside,)


# ---- the public functions ----------------------------------------------------------------------


def add(input: Any, other: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """input + alpha·other, broadcast."""
    return Add.apply(input, other if alpha == 1 else mul(other, alpha))


def sub(input: Any, other: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """input − alpha·other, broadcast."""
    return Sub.apply(input, other if alpha == 1 else mul(other, alpha))


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input · other, element-wise and broadcast."""
    return Mul.apply(input, other)


def div(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input / other (true division), element-wise and broadcast."""
    return Div.apply(input, other)


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002
    """inputᵉˣᵖᵒⁿᵉⁿᵗ, element-wise and broadcast."""
    return Pow.apply(input, exponent)


def maximum(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The element-wise maximum of two tensors."""
    return Maximum.apply(input, other)


def minimum(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The element-wise minimum of two tensors."""
    return Minimum.apply(input, other)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """input where condition holds, else other (all three broadcast together)."""
    return Where.apply(condition, input, other)


def neg(input: Any) -> Tensor:  # noqa: A002
    return Neg.apply(input)


def exp(input: Any) -> Tensor:  # noqa: A002
    return Exp.apply(input)


def log(input: Any) -> Tensor:  # noqa: A002
    return Log.apply(input)


def sqrt(input: Any) -> Tensor:  # noqa: A002
    return Sqrt.apply(input)


def abs(input: Any) -> Tensor:  # noqa: A001, A002
    return Abs.apply(input)


def sin(input: Any) -> Tensor:  # noqa: A002
    return Sin.apply(input)


def cos(input: Any) -> Tensor:  # noqa: A002
    return Cos.apply(input)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit every element to [min, max]; either bound may be omitted.

    Tensor bounds are supported by composing maximum and minimum.
    """
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:  # applied last: where min > max the result is max, as in PyTorch
            out = minimum(out, max)
        return out
    return Clamp.apply(input, min=min, max=max)
