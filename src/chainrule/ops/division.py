"""Division in its other forms: the quotient rounded down (floor_divide, ``//``), the two
remainders (remainder, ``%``, with the divisor's sign as in Python; fmod with the dividend's
sign as in C), true_divide (``div``), and the reciprocals 1/x and 1/√x.

For integers the quotient and the remainders stay integer, and a zero divisor is an error, as
in PyTorch; for floats it gives inf or nan. remainder(a, b) = a − b·⌊a/b⌋ and
fmod(a, b) = a − b·trunc(a/b) are differentiated as PyTorch does, with the rounded quotient a
constant. floor_divide is a step function that PyTorch does not differentiate: its result
requires grad, and a backward through it raises, as there.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.elementwise import as_float, div
from chainrule.ops.operands import check_integer_divisor, check_operands, not_implemented_for
from chainrule.tensor import Tensor

# ---- rounded quotients and remainders ----------------------------------------------------------


def _operands(op: str, a: Any, b: Any) -> tuple[Any, Any, bool]:
    """The operands in their common dtype, and whether it is an integer one (after checking
    that the divisor has no zero then); bool has no kernel in PyTorch."""
    a, b = dtypes.promote(a, b)
    dtype = a.dtype if hasattr(a, "dtype") else b.dtype
    if dtype.kind == "b":
        raise not_implemented_for(op, dtype, "convert it with .int() or .float()")
    integer = dtype.kind in "iu"
    if integer:
        check_integer_divisor(op, b)
    return a, b, integer


class FloorDivide(Function):
    """⌊a/b⌋ is a step function; as in PyTorch, its derivative is not implemented"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b, _ = _operands("floor_divide", a, b)
        # NumPy's floor division of floats is Python's (and PyTorch's): the exact quotient's
        # floor, not floor(a/b) of the rounded quotient; inf or nan for a zero divisor.
        return backend.xp.floor_divide(a, b)

    def backward(self, grad: Any) -> tuple:
        raise RuntimeError(
            "floor_divide: the derivative of floor_divide (//) is not implemented, as in "
            "PyTorch; for a zero gradient through the rounding use (a / b).floor(), or detach() "
            "the quotient"
        )


class Remainder(Function):
    """∂remainder(a, b)/∂a = 1, ∂remainder(a, b)/∂b = −⌊a/b⌋"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b, integer = _operands("remainder", a, b)
        # The operands only for ∂/∂b: a may change in place when b needs no gradient.
        self.saved = (shape_of(a), a, b) if self.needs_input_grad[1:2] == [True] else (shape_of(a),)
        xp = backend.xp
        if integer:
            return xp.remainder(a, b)
        # C's fmod, moved by b where its sign differs from b's: PyTorch's steps, which keep
        # the sign of a zero remainder and give remainder(−5, inf) = inf.
        mod = xp.fmod(a, b)
        return xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)

    def backward(self, grad: Any) -> tuple:
        shape_a, *operands = self.saved
        need_a, need_b = self.needs_input_grad
        grad_a = unbroadcast(grad, shape_a) if need_a else None
        grad_b = None
        if need_b:
            a, b = operands
            grad_b = unbroadcast(-grad * backend.xp.floor_divide(a, b), shape_of(b))
        return grad_a, grad_b

    def saved_in_graph(self, output: Tensor) -> tuple:
        # a and b enter only the rounded quotient, whose derivative is 0: constants.
        return self.saved


class Fmod(Function):
    """∂fmod(a, b)/∂a = 1, ∂fmod(a, b)/∂b = −trunc(a/b)"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b, _ = _operands("fmod", a, b)
        self.saved = (shape_of(a), a, b) if self.needs_input_grad[1:2] == [True] else (shape_of(a),)
        return backend.xp.fmod(a, b)

    def backward(self, grad: Any) -> tuple:
        shape_a, *operands = self.saved
        need_a, need_b = self.needs_input_grad
        grad_a = unbroadcast(grad, shape_a) if need_a else None
        grad_b = None
        if need_b:
            a, b = operands
            grad_b = unbroadcast(-grad * backend.xp.trunc(a / b), shape_of(b))
        return grad_a, grad_b

    def saved_in_graph(self, output: Tensor) -> tuple:
        return self.saved  # as in Remainder: only the rounded quotient uses them


# ---- reciprocals -------------------------------------------------------------------------------


class Reciprocal(Function):
    """d/dx (1/x) = −1/x² = −out² (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = backend.xp.reciprocal(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        # −grad·(out·out): PyTorch's order, hence its rounding.
        slope = out * out
        slope *= grad
        return (-slope,)


class Rsqrt(Function):
    """d/dx x^(−½) = −½ x^(−3/2) = −½ out³ (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = 1 / backend.xp.sqrt(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        # (−½·grad)·out³ with out³ = out·out·out: PyTorch's order, hence its rounding.
        slope = out * out
        slope *= out
        slope *= -0.5 * grad
        return (slope,)


# ---- the public functions ----------------------------------------------------------------------


def floor_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """⌊input/other⌋, element-wise and broadcast: integers stay integer (−7 // 2 is −4), floats
    stay float; either may be a Python number. Not differentiable (as in PyTorch).

    ```pycon
    >>> import chainrule as cr
    >>> cr.floor_divide(cr.tensor([7, -7]), 2).tolist()
    [3, -4]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("floor_divide", ("input", "other"), input, other)
    return FloorDivide.apply(input, other)


def remainder(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input − other·⌊input/other⌋, element-wise and broadcast: the remainder with the sign of
    the divisor, as Python's ``%`` (``remainder(-3, 2)`` is 1); either may be a number.

    ```pycon
    >>> import chainrule as cr
    >>> cr.remainder(cr.tensor([7, -7]), 3).tolist()
    [1, 2]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("remainder", ("input", "other"), input, other)
    return Remainder.apply(input, other)


def fmod(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """input − other·trunc(input/other), element-wise and broadcast: the remainder with the
    sign of the dividend, as C's fmod (``fmod(-3, 2)`` is −1); other may be a number.

    ```pycon
    >>> import chainrule as cr
    >>> cr.fmod(cr.tensor([7, -7]), 3).tolist()
    [1, -1]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("fmod", "input", input)
    if type(other) is not Tensor:
        check_operands("fmod", ("input", "other"), input, other)
    return Fmod.apply(input, other)


def true_divide(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input / other, element-wise and broadcast: :func:`~chainrule.ops.elementwise.div`.

    ```pycon
    >>> import chainrule as cr
    >>> cr.true_divide(cr.tensor([3, 4]), 2).tolist()
    [1.5, 2.0]

    ```
    """
    return div(input, other)


def reciprocal(input: Tensor) -> Tensor:  # noqa: A002
    """1/x, element-wise; integer tensors give floats.

    ```pycon
    >>> import chainrule as cr
    >>> cr.reciprocal(cr.tensor([2.0, 4.0])).tolist()
    [0.5, 0.25]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("reciprocal", "input", input)
    return Reciprocal.apply(input)


def rsqrt(input: Tensor) -> Tensor:  # noqa: A002
    """1/√x, element-wise; integer tensors give floats.

    ```pycon
    >>> import chainrule as cr
    >>> cr.rsqrt(cr.tensor([4.0, 16.0])).tolist()
    [0.5, 0.25]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("rsqrt", "input", input)
    return Rsqrt.apply(input)
