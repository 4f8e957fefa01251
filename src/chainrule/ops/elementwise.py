"""Element-wise arithmetic and math: the derivative table of the binary and unary operations.

Each operation's docstring starts with the derivative it implements. Binary operations accept
tensors, arrays or Python scalars on either side, broadcast as NumPy and PyTorch do, promote
dtypes as PyTorch does, and sum their gradients back over the broadcast axes.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function, OpError, not_a_tensor, saved_as_tensors
from chainrule.ops import fast_where
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.operands import check_operands
from chainrule.tensor import Tensor


def as_float(x: Any) -> Any:
    """Integer and bool arrays become the default float dtype (PyTorch's rule for exp, log...)."""
    if x.dtype.kind == "f":
        return x
    return x.astype(dtypes.get_default_dtype())


def constant_of(x: Any) -> Any:
    """x's values without its graph: the array of a tensor, anything else as it is.

    For what a backward that records a graph (``create_graph=True``) uses only where its own
    derivative is 0: a mask, a sign, a rounded quotient. On arrays it returns them unchanged.
    """
    return x.array if isinstance(x, Tensor) else x


def size_of(x: Any) -> int:
    """The number of elements of an array or a tensor (whose ``size`` is a method, as in
    PyTorch): a backward that records a graph receives tensors where it saved arrays."""
    return x.numel() if isinstance(x, Tensor) else x.size


def saved_operands(node: Function, output: Tensor) -> tuple:
    """``node.saved`` for a backward that records a graph, where the forward saved item i for
    input i: that input's tensor where the input is one (see ``saved_as_tensors``); as saved,
    a constant, where it was a number or an array (a target, a weight), which the forward
    may have converted."""
    return tuple(
        saved_as_tensors(node, saved, output) if isinstance(value, Tensor) else saved
        for value, saved in zip(node.inputs, node.saved)
    )


# ---- binary ------------------------------------------------------------------------------------


class Add(Function):
    """d(a + b)/da = 1, d(a + b)/db = 1"""

    argument_names = ("input", "other")

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

    argument_names = ("input", "other")

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

    argument_names = ("input", "other")

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

    argument_names = ("input", "other")

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
    """d(aᵇ)/da = b·aᵇ⁻¹ (taken as 0 where b = 0), d(aᵇ)/db = aᵇ·ln a (taken as 0 where a = 0
    and b ≥ 0)"""

    argument_names = ("input", "exponent")

    def forward(self, a: Any, b: Any) -> Any:
        if type(b) in _NUMBERS and a.dtype.char in "fd":
            # The common x ** 2 on the shortest path: a float tensor to a Python number keeps
            # its dtype (promote would return both as given), and b needs no gradient.
            self.saved = (a, b, None)
            kernel = _FLOAT_POWERS.get(b)
            return a**b if kernel is None else kernel(a)
        a, b = dtypes.promote(a, b)
        out = _power(a, b)
        # The power itself only for ∂C/∂b (see Mul): a later in-place change of it is allowed.
        self.saved = (a, b, out if self.needs_input_grad[1:2] == [True] else None)
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
                # a + a is 2·a exactly (doubling only moves the exponent), and NumPy adds two
                # arrays faster than it multiplies one by a Python number.
                grad_a = grad * (a + a)
            elif isinstance(b, (int, float)):
                # grad·(b·aᵇ⁻¹) in PyTorch's order, so that the gradient is PyTorch's bit for
                # bit where aᵇ⁻¹ is (the exponents of _power's table); in place on the new
                # power, which the product commutes with exactly.
                grad_a = _power(a, b - 1)
                grad_a *= b
                grad_a *= grad
            else:
                # b·aᵇ⁻¹ is 0·(1/0) = nan at a = b = 0, where a constant 1 has slope 0.
                slope = xp.where(b == 0, xp.zeros((), dtype=grad.dtype), b * a ** (b - 1))
                grad_a = unbroadcast(grad * slope, shape_of(a))
        if need_b:
            # The mask from the values: a mask of tensors would make ``where`` below build a
            # tensor of a number base too, an integer one whose log is float32.
            undefined_log = (constant_of(a) == 0) & (constant_of(b) >= 0)
            log_a = xp.log(xp.where(undefined_log, 1, a))
            grad_b = unbroadcast(grad * xp.where(undefined_log, 0, out * log_a), shape_of(b))
        return grad_a, grad_b


def _power(a: Any, b: Any) -> Any:
    """aᵇ, where a is an array. A Python-number exponent in the tables below is computed as
    PyTorch computes it, from products, reciprocals and square roots: NumPy's general power
    is ~15× slower than x·x·x on float32, and one ulp away from PyTorch's x³ on a quarter of
    the values. The roots also keep PyTorch's values where the C pow differs: it gives
    (−∞)^½ = ∞ and (−0)^−½ = +∞, the roots nan and −∞."""
    if type(b) in _NUMBERS:
        root = _ROOTS.get(b)
        if root is not None:
            return root(a)
        product = _PRODUCTS.get(b)
        # Integers only to the powers ≥ 0: the others are an error, raised by NumPy's power.
        if product is not None and (a.dtype.char in "fd" or (b >= 0 and a.dtype.kind in "iu")):
            return product(a)
    return a**b


_NUMBERS = frozenset({int, float})


def _cube(a: Any) -> Any:
    out = a * a
    out *= a
    return out


# exponent -> aᵇ, for float32 and float64 (and integers, for the exponents ≥ 0); 2.0 finds 2.
_PRODUCTS = {
    0: lambda a: backend.xp.ones_like(a),
    1: lambda a: a.copy(),
    2: lambda a: a * a,
    3: _cube,
    -1: lambda a: backend.xp.reciprocal(a),
    -2: lambda a: backend.xp.reciprocal(a * a),
}
# exponent -> aᵇ, for every float dtype.
_ROOTS = {
    0.5: lambda a: backend.xp.sqrt(a),
    -0.5: lambda a: 1 / backend.xp.sqrt(a),
}
# Both, for float32 and float64.
_FLOAT_POWERS = {**_PRODUCTS, **_ROOTS}


class Maximum(Function):
    """d max(a, b)/da = 1 where a > b, ½ where a = b, 0 where a < b (and symmetrically for b)

    Where a or b is nan, neither is below the other and both get the whole gradient, as in
    PyTorch."""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        self.saved = (a, b)
        return backend.xp.maximum(a, b)

    def backward(self, grad: Any) -> tuple:
        return _select_backward(self, grad, larger=True)


class Minimum(Function):
    """d min(a, b)/da = 1 where a < b, ½ where a = b, 0 where a > b (and symmetrically for b;
    both get the whole gradient where either is nan)"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        self.saved = (a, b)
        return backend.xp.minimum(a, b)

    def backward(self, grad: Any) -> tuple:
        return _select_backward(self, grad, larger=False)


def _select_backward(node: Function, grad: Any, larger: bool) -> tuple:
    """Shared by maximum and minimum: the gradient, halved where a and b tie, to each operand
    except where the other one was chosen (``larger``: the larger one is chosen)."""
    # The choice is a mask: recording a graph, its derivative is 0 (the values are constants).
    a, b = (constant_of(v) for v in node.saved)
    need_a, need_b = node.needs_input_grad
    xp = backend.xp
    zero = xp.zeros((), dtype=grad.dtype)
    select = fast_where.where
    shared = select(a == b, grad * 0.5, grad)
    grad_a = grad_b = None
    if need_a:
        grad_a = unbroadcast(select(a < b if larger else a > b, zero, shared), shape_of(a))
    if need_b:
        grad_b = unbroadcast(select(b < a if larger else b > a, zero, shared), shape_of(b))
    return grad_a, grad_b


class Where(Function):
    """d where(c, x, y)/dx = 1 where c, else 0; d/dy = 0 where c, else 1"""

    argument_names = ("condition", "input", "other")

    def forward(self, condition: Any, x: Any, y: Any) -> Any:
        if condition.dtype.kind != "b":
            raise TypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
        x, y = dtypes.promote(x, y)
        self.saved = (condition, shape_of(x), shape_of(y))
        return fast_where.where(condition, x, y)

    def backward(self, grad: Any) -> tuple:
        condition, shape_x, shape_y = self.saved
        _, need_x, need_y = self.needs_input_grad
        xp = backend.xp
        zero = xp.zeros((), dtype=grad.dtype)
        return (
            None,
            unbroadcast(fast_where.where(condition, grad, zero), shape_x) if need_x else None,
            unbroadcast(fast_where.where(condition, zero, grad), shape_y) if need_y else None,
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
        return (grad / (out + out),)  # out + out = 2·out exactly, and faster (see Pow)


class Abs(Function):
    """d/dx |x| = sign(x) (0 at 0, and at nan as in PyTorch)"""

    ties_gradients = True

    def forward(self, x: Any) -> Any:
        self.saved = (x,)
        return backend.xp.abs(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * sign_of(x),)

    def saved_in_graph(self, output: Tensor) -> tuple:
        # sign(x) is piecewise constant: x enters the derivative's graph as a constant.
        return self.saved


def sign_of(x: Any) -> Any:
    """−1, 0 or 1 by the sign of x, and 0 where x is nan (PyTorch's sign; NumPy's gives nan)."""
    xp = backend.xp
    sign = xp.sign(x, out=xp.empty_like(x))  # out: an array, also for a 0-d x
    # copyto with a mask: two passes, and no mixed bool-float arithmetic, which NumPy runs
    # through slow casting loops.
    xp.copyto(sign, xp.zeros((), dtype=sign.dtype), where=x != x)
    return sign


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
    """d/dx clamp(x, lo, hi) = 1 where lo ≤ x ≤ hi, else 0; with tensor bounds d/dlo = 1 where
    x < lo < hi, d/dhi = 1 where x > hi or hi < lo: the gradient goes to whichever of the
    three is the result (PyTorch's convention, also at ties, where it is x, and at nan: none)"""

    argument_names = ("input", "min", "max")

    def forward(self, x: Any, low: Any = None, high: Any = None) -> Any:
        if low is None and high is None:
            raise OpError("clamp: at least one of min and max must be given")
        # An integer tensor clamped to a Python float becomes float32; tensor bounds promote.
        if x.dtype.kind != "f" or hasattr(low, "dtype") or hasattr(high, "dtype"):
            dtype = dtypes.result_type(x, *[b for b in (low, high) if b is not None])
            x, low, high = (_cast(v, dtype) for v in (x, low, high))
        self.saved = (x, low, high)
        return backend.xp.clip(x, low, high)

    def backward(self, grad: Any) -> tuple:
        # Which bound applies is a mask: recording a graph, the values are constants.
        x, low, high = (constant_of(v) for v in self.saved)
        need_x, need_low, need_high = self.needs_input_grad
        xp = backend.xp
        grad_x = grad_low = grad_high = None
        if need_x:
            inside = True
            if low is not None:
                inside = x >= low
            if high is not None:
                inside = inside & (x <= high)
            # A selection, not grad · mask: outside the bounds the gradient is 0 even where the
            # incoming one is nan (nan · 0 is nan) or negative (−0), as in PyTorch.
            if inside is True:
                grad_x = grad
            else:
                grad_x = fast_where.where(inside, grad, xp.zeros((), dtype=grad.dtype))
            if grad_x.shape != x.shape:  # tensor bounds broadcast x
                grad_x = unbroadcast(grad_x, x.shape)
        if not (need_low or need_high):
            return grad_x, None, None
        zero = xp.zeros((), dtype=grad.dtype)
        if need_low:
            below = x < low if high is None else (x < low) & (low < high)
            grad_low = unbroadcast(fast_where.where(below, grad, zero), shape_of(low))
        if need_high:
            above = x > high if low is None else (x > high) | (high < low)
            grad_high = unbroadcast(fast_where.where(above, grad, zero), shape_of(high))
        return grad_x, grad_low, grad_high


def _cast(value: Any, dtype: Any) -> Any:
    """An array in ``dtype``; Python scalars and None as they are."""
    if hasattr(value, "dtype") and value.dtype != dtype:
        return value.astype(dtype)
    return value


# ---- the public functions ----------------------------------------------------------------------
#
# Each refuses, as PyTorch does, what no operation of tensors takes: NumPy arrays, lists,
# strings. The check is one type comparison on the path of a valid call; the operators of
# Tensor skip it, as PyTorch's ``t + array`` is allowed.


def add(input: Any, other: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """input + alpha·other, broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.add(cr.tensor([1.0, 2.0]), cr.tensor([10.0, 20.0]), alpha=2).tolist()
    [21.0, 42.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("add", ("input", "other"), input, other)
    return Add.apply(input, other if alpha == 1 else Mul.apply(other, alpha))


def sub(input: Any, other: Any, *, alpha: float = 1) -> Tensor:  # noqa: A002
    """input − alpha·other, broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.sub(cr.tensor([1.0, 2.0]), 1).tolist()
    [0.0, 1.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("sub", ("input", "other"), input, other)
    return Sub.apply(input, other if alpha == 1 else Mul.apply(other, alpha))


def mul(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input · other, element-wise and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.mul(cr.tensor([[1.0], [2.0]]), cr.tensor([3.0, 4.0])).tolist()
    [[3.0, 4.0], [6.0, 8.0]]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("mul", ("input", "other"), input, other)
    return Mul.apply(input, other)


def div(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input / other (true division), element-wise and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.div(cr.tensor([1, 3]), 2).tolist()
    [0.5, 1.5]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("div", ("input", "other"), input, other)
    return Div.apply(input, other)


# What needs no check as the exponent of a tensor: x.pow(2) is as common as x.pow(y).
_EXPONENT_TYPES = frozenset({Tensor, int, float})


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001, A002
    """inputᵉˣᵖᵒⁿᵉⁿᵗ, element-wise and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.pow(cr.tensor([2.0, 3.0]), 2).tolist()
    [4.0, 9.0]

    ```
    """
    if type(input) is not Tensor or type(exponent) not in _EXPONENT_TYPES:
        check_operands("pow", ("input", "exponent"), input, exponent)
    return Pow.apply(input, exponent)


def maximum(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The element-wise maximum of two tensors.

    ```pycon
    >>> import chainrule as cr
    >>> cr.maximum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0])).tolist()
    [3.0, 5.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("maximum", ("input", "other"), input, other, scalars=False)
    return Maximum.apply(input, other)


def minimum(input: Any, other: Any) -> Tensor:  # noqa: A002
    """The element-wise minimum of two tensors.

    ```pycon
    >>> import chainrule as cr
    >>> cr.minimum(cr.tensor([1.0, 5.0]), cr.tensor([3.0, 2.0])).tolist()
    [1.0, 2.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("minimum", ("input", "other"), input, other, scalars=False)
    return Minimum.apply(input, other)


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """input where condition holds, else other (all three broadcast together); input and other
    may be numbers.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([-1.0, 2.0, -3.0])
    >>> cr.where(x > 0, x, 0.0).tolist()
    [0.0, 2.0, 0.0]

    ```
    """
    if not isinstance(condition, Tensor):
        raise not_a_tensor("where", "condition", condition)
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("where", ("condition", "input", "other"), condition, input, other)
    return Where.apply(condition, input, other)


def neg(input: Any) -> Tensor:  # noqa: A002
    """−x, element-wise (also named ``negative``).

    ```pycon
    >>> import chainrule as cr
    >>> cr.neg(cr.tensor([1.0, -2.0])).tolist()
    [-1.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("neg", "input", input)
    return Neg.apply(input)


def exp(input: Any) -> Tensor:  # noqa: A002
    """eˣ, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.exp(cr.tensor([0.0, 1.0])).tolist()[0], round(cr.exp(cr.tensor(1.0)).item(), 4)
    (1.0, 2.7183)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("exp", "input", input)
    return Exp.apply(input)


def log(input: Any) -> Tensor:  # noqa: A002
    """The natural logarithm ln x, element-wise (−inf at 0, NaN below it).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.log(cr.tensor(2.0)).item(), 4), cr.log(cr.tensor([1.0])).tolist()
    (0.6931, [0.0])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("log", "input", input)
    return Log.apply(input)


def sqrt(input: Any) -> Tensor:  # noqa: A002
    """√x, element-wise (NaN for negative x).

    ```pycon
    >>> import chainrule as cr
    >>> cr.sqrt(cr.tensor([4.0, 9.0])).tolist()
    [2.0, 3.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sqrt", "input", input)
    return Sqrt.apply(input)


def abs(input: Any) -> Tensor:  # noqa: A001, A002
    """|x|, element-wise; its gradient at 0 is taken as 0.

    ```pycon
    >>> import chainrule as cr
    >>> cr.abs(cr.tensor([-1.5, 0.0, 2.0])).tolist()
    [1.5, 0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("abs", "input", input)
    return Abs.apply(input)


def sin(input: Any) -> Tensor:  # noqa: A002
    """sin x, element-wise, with x in radians.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.sin(cr.tensor(1.0)).item(), 4), cr.sin(cr.tensor([0.0])).tolist()
    (0.8415, [0.0])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sin", "input", input)
    return Sin.apply(input)


def cos(input: Any) -> Tensor:  # noqa: A002
    """cos x, element-wise, with x in radians.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.cos(cr.tensor(1.0)).item(), 4), cr.cos(cr.tensor([0.0])).tolist()
    (0.5403, [1.0])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("cos", "input", input)
    return Cos.apply(input)


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit every element to [min, max]; either bound may be omitted, and either may be a
    tensor (broadcast against the input). Where min > max the result is max, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).tolist()
    [0.0, 0.5, 1.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("clamp", "input", input)
    if not (min is None or isinstance(min, (float, int, Tensor))):
        check_operands("clamp", ("min", "input"), min, input)
    if not (max is None or isinstance(max, (float, int, Tensor))):
        check_operands("clamp", ("max", "input"), max, input)
    return Clamp.apply(input, min, max)
