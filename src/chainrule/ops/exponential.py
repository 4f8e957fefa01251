"""Exponentials, logarithms and powers beyond exp, log and pow: exp2, expm1, log1p, log2, log10,
logit, xlogy, float_power and square.

expm1 and log1p keep their precision near 0, where eˣ − 1 and ln(1 + x) computed from exp and
log lose it to cancellation (exp(1e-10) − 1 is 1.000000082e-10, expm1(1e-10) is 1e-10).
Integer and bool tensors become the default float dtype, as for exp and log; float_power
computes in float64 whatever it is given, and square keeps integers integer, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops import conversion, elementwise, fast_where
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.elementwise import as_float, saved_operands
from chainrule.ops.operands import check_operands
from chainrule.tensor import Tensor

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# ---- exponentials ------------------------------------------------------------------------------


class Exp2(Function):
    """d/dx 2ˣ = 2ˣ · ln 2 (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = backend.xp.exp2(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * (out * _LN2),)


class Expm1(Function):
    """d/dx (eˣ − 1) = eˣ = out + 1 (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = backend.xp.expm1(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * (out + 1),)


# ---- logarithms --------------------------------------------------------------------------------


class Log1p(Function):
    """d/dx ln(1 + x) = 1/(1 + x)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.log1p(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / (x + 1),)


class Log2(Function):
    """d/dx log₂ x = 1/(x · ln 2)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.log2(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / (x * _LN2),)


class Log10(Function):
    """d/dx log₁₀ x = 1/(x · ln 10)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        xp = backend.xp
        if x.dtype.itemsize < 8 and x.dtype.kind == "f":
            # NumPy's float32 log10 with AVX-512 rounds twice (log10(100) = 2.0000002, and
            # half of all results a unit off); in float64, rounded once, as PyTorch's.
            return xp.log10(x.astype(xp.float64)).astype(x.dtype)
        return xp.log10(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / (x * _LN10),)


class Logit(Function):
    """d/dx ln(x/(1 − x)) = 1/(x(1 − x)); with eps, x is first clamped to [eps, 1 − eps] and
    the derivative is 0 outside; without, it is nan outside [0, 1] (PyTorch's convention)"""

    def forward(self, x: Any, eps: float | None = None) -> Any:
        x = as_float(x)
        self.saved = (x,)
        self.eps = eps
        if eps is not None:
            low = x.dtype.type(eps)  # the bounds in x's dtype, as PyTorch forms them
            x = backend.xp.clip(x, low, 1 - low)
        return backend.xp.log(x / (1 - x))

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        xp = backend.xp
        slope = grad / (x * (1 - x))
        if self.eps is None:
            return (xp.where((x < 0) | (x > 1), math.nan, slope),)
        low = x.dtype.type(self.eps)
        return (xp.where((x < low) | (x > 1 - low), 0, slope),)


class Xlogy(Function):
    """∂(x · ln y)/∂x = ln y (0 where x = 0 and y ≤ 0), ∂(x · ln y)/∂y = x/y"""

    argument_names = ("input", "other")

    def forward(self, x: Any, y: Any) -> Any:
        x, y = _float_operands(x, y)
        self.saved = (x, y)
        return _xlogy(x, y)

    def backward(self, grad: Any) -> tuple:
        x, y = self.saved
        need_x, need_y = self.needs_input_grad
        xp = backend.xp
        grad_x = grad_y = None
        if need_x:
            # ln y times grad, as xlogy(grad, y): 0 where grad is 0, even where ln y is −inf.
            grad_x = xp.where((x == 0) & (y <= 0), 0, _xlogy(grad, y))
            grad_x = unbroadcast(grad_x, shape_of(x))
        if need_y:
            grad_y = unbroadcast(grad * x / y, shape_of(y))
        return grad_x, grad_y

    def saved_in_graph(self, output: Tensor) -> tuple:
        # A number operand became a 0-d array in forward: a constant of the derivative's graph.
        return saved_operands(self, output)


def _xlogy(x: Any, y: Any) -> Any:
    """x · ln y, with +0 where x = 0 (where ln y may be −inf or nan), and nan where y is nan.

    Where x = 0 and ln y is finite, the +0 is x · ln y + 0 rather than a constant 0: a
    backward that records a graph runs this on the gradient as x, and the derivative there
    must stay ln y (PyTorch's), not vanish with a constant branch."""
    xp = backend.xp
    with fp_errors.silenced():  # ln 0 and ln(−1) are replaced below, or are the answer
        out = x * xp.log(y)
    zero = x == 0
    select = fast_where.where
    out = select(zero, out + 0, out)  # −0 + 0 = +0, as PyTorch's xlogy gives at x = 0
    out = select(zero & ((y <= 0) | (y == math.inf)), 0, out)  # 0 · (−inf, nan, inf)
    return select(xp.isnan(y), math.nan, out)


def _float_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Both operands as arrays of their common dtype, the default float one for integers:
    Python numbers become 0-d arrays, so that NumPy keeps that dtype throughout."""
    dtype = dtypes.result_type(a, b)
    if not dtypes.is_floating(dtype):
        dtype = dtypes.get_default_dtype()
    return backend.xp.asarray(a, dtype=dtype), backend.xp.asarray(b, dtype=dtype)


class LogAddExp(Function):
    """∂/∂x log(eˣ + eʸ) = 1/(1 + e^{y−x}), ∂/∂y = 1/(1 + e^{x−y}); in base 2 (``base2``),
    log₂(2ˣ + 2ʸ) with 1/(1 + 2^{y−x}) and 1/(1 + 2^{x−y})"""

    argument_names = ("input", "other")

    def forward(self, x: Any, y: Any, base2: bool) -> Any:
        x, y = _float_operands(x, y)
        self.saved = (x, y)
        self.base2 = base2
        # NumPy's loops give the larger operand where both are the same infinity.
        return (backend.xp.logaddexp2 if base2 else backend.xp.logaddexp)(x, y)

    def backward(self, grad: Any) -> tuple:
        x, y = self.saved
        xp = backend.xp
        power = xp.exp2 if self.base2 else xp.exp
        need_x, need_y = self.needs_input_grad
        token = fp_errors.enter()  # e^{y−x} overflows to inf where x ≪ y: the share is 0
        try:
            grad_x = unbroadcast(grad / (1 + power(y - x)), shape_of(x)) if need_x else None
            grad_y = unbroadcast(grad / (1 + power(x - y)), shape_of(y)) if need_y else None
        finally:
            fp_errors.leave(token)
        return grad_x, grad_y

    def saved_in_graph(self, output: Tensor) -> tuple:
        return saved_operands(self, output)


# ---- the public functions ----------------------------------------------------------------------


def exp2(input: Tensor) -> Tensor:  # noqa: A002
    """2ˣ, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.exp2(cr.tensor([0.0, 3.0])).tolist()
    [1.0, 8.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("exp2", "input", input)
    return Exp2.apply(input)


def expm1(input: Tensor) -> Tensor:  # noqa: A002
    """eˣ − 1, element-wise, accurate for small x.

    ```pycon
    >>> import chainrule as cr
    >>> cr.expm1(cr.tensor([0.0])).tolist(), round(cr.expm1(cr.tensor(1e-6)).item() * 1e6, 4)
    ([0.0], 1.0)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("expm1", "input", input)
    return Expm1.apply(input)


def log1p(input: Tensor) -> Tensor:  # noqa: A002
    """ln(1 + x), element-wise, accurate for small x.

    ```pycon
    >>> import chainrule as cr
    >>> cr.log1p(cr.tensor([0.0])).tolist(), round(cr.log1p(cr.tensor(1e-6)).item() * 1e6, 4)
    ([0.0], 1.0)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("log1p", "input", input)
    return Log1p.apply(input)


def log2(input: Tensor) -> Tensor:  # noqa: A002
    """log₂ x, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.log2(cr.tensor([1.0, 8.0])).tolist()
    [0.0, 3.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("log2", "input", input)
    return Log2.apply(input)


def log10(input: Tensor) -> Tensor:  # noqa: A002
    """log₁₀ x, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.log10(cr.tensor([1.0, 100.0])).tolist()
    [0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("log10", "input", input)
    return Log10.apply(input)


def logit(input: Tensor, eps: float | None = None) -> Tensor:  # noqa: A002
    """ln(p/(1 − p)), the inverse of the sigmoid; with ``eps``, p is first clamped to
    [eps, 1 − eps], so that 0 and 1 give finite values.

    ```pycon
    >>> import chainrule as cr
    >>> cr.logit(cr.tensor([0.5])).tolist(), round(cr.logit(cr.tensor(0.75)).item(), 4)
    ([0.0], 1.0986)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("logit", "input", input)
    if eps is None:
        return Logit.apply(input)
    return Logit.apply(input, eps=float(eps))


def xlogy(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input · ln(other), element-wise and broadcast, taken as 0 where input is 0 (as in the
    entropy term p · ln p); either may be a Python number.

    ```pycon
    >>> import chainrule as cr
    >>> cr.xlogy(cr.tensor([0.0, 2.0]), cr.tensor([0.0, 1.0])).tolist()
    [0.0, 0.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("xlogy", ("input", "other"), input, other)
    return Xlogy.apply(input, other)


def float_power(input: Any, exponent: Any) -> Tensor:  # noqa: A002
    """inputᵉˣᵖᵒⁿᵉⁿᵗ computed in float64, whatever the dtypes given (the gradient of a float32
    input comes back in float32); either may be a Python number.

    ```pycon
    >>> import chainrule as cr
    >>> y = cr.float_power(cr.tensor([2, 3]), 2)
    >>> y.dtype == cr.float64, y.tolist()
    (True, [4.0, 9.0])

    ```
    """
    if type(input) is not Tensor or type(exponent) is not Tensor:
        check_operands("float_power", ("input", "exponent"), input, exponent)
    return elementwise.pow(_in_float64(input), _in_float64(exponent))


def _in_float64(value: Any) -> Any:
    if isinstance(value, Tensor) and value.dtype != dtypes.float64:
        return conversion.to(value, dtypes.float64)
    return value


def square(input: Tensor) -> Tensor:  # noqa: A002
    """x², element-wise; integer tensors stay integer, and bool ones become int64 (PyTorch).

    ```pycon
    >>> import chainrule as cr
    >>> cr.square(cr.tensor([-3.0, 0.5])).tolist()
    [9.0, 0.25]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("square", "input", input)
    if input.array.dtype.kind == "b":
        input = Tensor._make(input.array.astype(dtypes.int64), False, None)  # noqa: A001
    return elementwise.Pow.apply(input, 2)


def logaddexp(input: Any, other: Any) -> Tensor:  # noqa: A002
    """log(eˣ + eʸ), element-wise, without overflow: the smooth maximum of x and y.

    ```pycon
    >>> import chainrule as cr
    >>> out = cr.logaddexp(cr.tensor([0.0, 1000.0]), cr.tensor([0.0, 1.0]))
    >>> [round(v, 4) for v in out.tolist()]
    [0.6931, 1000.0]

    ```
    """
    check_operands("logaddexp", ("input", "other"), input, other, scalars=False)
    return LogAddExp.apply(input, other, base2=False)


def logaddexp2(input: Any, other: Any) -> Tensor:  # noqa: A002
    """log₂(2ˣ + 2ʸ), element-wise, without overflow.

    ```pycon
    >>> import chainrule as cr
    >>> cr.logaddexp2(cr.tensor([1.0, 3.0]), cr.tensor([1.0, 3.0])).tolist()
    [2.0, 4.0]

    ```
    """
    check_operands("logaddexp2", ("input", "other"), input, other, scalars=False)
    return LogAddExp.apply(input, other, base2=True)
