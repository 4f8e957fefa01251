"""Trigonometric and hyperbolic functions beyond sin and cos, their inverses, and the polar pair
atan2 and hypot: tan, sinh, cosh, asin, acos, atan, asinh, acosh, atanh, atan2, hypot.

Each is smooth inside its domain; at the domain's edge (asin at ±1, acosh at 1, atanh at ±1)
the derivative is infinite, as PyTorch gives it. Integer and bool tensors become the default
float dtype. NumPy's names (arcsin, arctan2...) are PyTorch's aliases too.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.elementwise import Where, as_float, sin
from chainrule.ops.operands import check_operands, not_implemented_for
from chainrule.tensor import Tensor

# ---- circular ----------------------------------------------------------------------------------


class Tan(Function):
    """d/dx tan x = 1 + tan² x (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = backend.xp.tan(as_float(x))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * (1 + out * out),)


class Asin(Function):
    """d/dx asin x = 1/√(1 − x²)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.arcsin(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / backend.xp.sqrt(1 - x * x),)


class Acos(Function):
    """d/dx acos x = −1/√(1 − x²)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.arccos(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (-grad / backend.xp.sqrt(1 - x * x),)


class Atan(Function):
    """d/dx atan x = 1/(1 + x²)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.arctan(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / (1 + x * x),)


# ---- hyperbolic --------------------------------------------------------------------------------


class Sinh(Function):
    """d/dx sinh x = cosh x"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.sinh(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * backend.xp.cosh(x),)


class Cosh(Function):
    """d/dx cosh x = sinh x"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.cosh(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * backend.xp.sinh(x),)


class Asinh(Function):
    """d/dx asinh x = 1/√(x² + 1)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.arcsinh(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / backend.xp.sqrt(x * x + 1),)


class Acosh(Function):
    """d/dx acosh x = 1/√(x² − 1)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.arccosh(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / backend.xp.sqrt(x * x - 1),)


class Atanh(Function):
    """d/dx atanh x = 1/(1 − x²)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return backend.xp.arctanh(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad / (1 - x * x),)


# ---- polar coordinates: the angle and the length of (b, a) -----------------------------------


class Atan2(Function):
    """∂atan2(a, b)/∂a = b/(a² + b²), ∂atan2(a, b)/∂b = −a/(a² + b²) (both 0 at a = b = 0,
    as in PyTorch)"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b = _float_pair(a, b)
        self.saved = (a, b)
        return backend.xp.arctan2(a, b)

    def backward(self, grad: Any) -> tuple:
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        xp = backend.xp
        squared = a * a + b * b
        # 1/(a² + b²) is inf at the origin, where the angle has no slope to give.
        scale = grad / xp.where(squared == 0, 1, squared) * (squared != 0)
        return (
            unbroadcast(scale * b, shape_of(a)) if need_a else None,
            unbroadcast(-scale * a, shape_of(b)) if need_b else None,
        )


class Hypot(Function):
    """∂√(a² + b²)/∂a = a/√(a² + b²), ∂√(a² + b²)/∂b = b/√(a² + b²) (from the saved output)"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        a, b = dtypes.promote(a, b)
        if a.dtype.kind != "f":
            raise not_implemented_for("hypot", a.dtype)
        out = backend.xp.hypot(a, b)
        need_a, need_b = self.needs_input_grad or (False, False)
        # Each side only for its own gradient (see Mul).
        self.saved = (a if need_a else None, b if need_b else None, out)
        self.shapes = shape_of(a), shape_of(b)
        return out

    def backward(self, grad: Any) -> tuple:
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        scale = grad / out
        return (
            unbroadcast(scale * a, shape_a) if need_a else None,
            unbroadcast(scale * b, shape_b) if need_b else None,
        )


def _float_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Two arrays in their common dtype, the default float one for integers and bools."""
    a, b = dtypes.promote(a, b)
    if a.dtype.kind != "f":
        a, b = as_float(a), as_float(b)
    return a, b


# ---- the public functions ----------------------------------------------------------------------


def tan(input: Tensor) -> Tensor:  # noqa: A002
    """tan x, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tan(cr.tensor([0.0])).tolist(), round(cr.tan(cr.tensor(0.7853981633974483)).item(), 4)
    ([0.0], 1.0)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("tan", "input", input)
    return Tan.apply(input)


def asin(input: Tensor) -> Tensor:  # noqa: A002
    """The angle in [−π/2, π/2] whose sine is x, element-wise (nan outside [−1, 1]).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.asin(cr.tensor(1.0)).item(), 4)
    1.5708

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("asin", "input", input)
    return Asin.apply(input)


def acos(input: Tensor) -> Tensor:  # noqa: A002
    """The angle in [0, π] whose cosine is x, element-wise (nan outside [−1, 1]).

    ```pycon
    >>> import chainrule as cr
    >>> cr.acos(cr.tensor([1.0])).tolist(), round(cr.acos(cr.tensor(0.0)).item(), 4)
    ([0.0], 1.5708)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("acos", "input", input)
    return Acos.apply(input)


def atan(input: Tensor) -> Tensor:  # noqa: A002
    """The angle in (−π/2, π/2) whose tangent is x, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.atan(cr.tensor(1.0)).item(), 4)
    0.7854

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("atan", "input", input)
    return Atan.apply(input)


def sinh(input: Tensor) -> Tensor:  # noqa: A002
    """sinh x = (eˣ − e⁻ˣ)/2, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.sinh(cr.tensor([0.0])).tolist(), round(cr.sinh(cr.tensor(1.0)).item(), 4)
    ([0.0], 1.1752)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sinh", "input", input)
    return Sinh.apply(input)


def cosh(input: Tensor) -> Tensor:  # noqa: A002
    """cosh x = (eˣ + e⁻ˣ)/2, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.cosh(cr.tensor([0.0])).tolist(), round(cr.cosh(cr.tensor(1.0)).item(), 4)
    ([1.0], 1.5431)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("cosh", "input", input)
    return Cosh.apply(input)


def asinh(input: Tensor) -> Tensor:  # noqa: A002
    """The inverse of sinh, ln(x + √(x² + 1)), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.asinh(cr.tensor(1.0)).item(), 4)
    0.8814

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("asinh", "input", input)
    return Asinh.apply(input)


def acosh(input: Tensor) -> Tensor:  # noqa: A002
    """The inverse of cosh on [0, ∞), ln(x + √(x² − 1)), element-wise (nan below 1).

    ```pycon
    >>> import chainrule as cr
    >>> cr.acosh(cr.tensor([1.0])).tolist(), round(cr.acosh(cr.tensor(2.0)).item(), 4)
    ([0.0], 1.317)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("acosh", "input", input)
    return Acosh.apply(input)


def atanh(input: Tensor) -> Tensor:  # noqa: A002
    """The inverse of tanh, ½ ln((1 + x)/(1 − x)), element-wise (nan outside [−1, 1]).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.atanh(cr.tensor(0.5)).item(), 4)
    0.5493

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("atanh", "input", input)
    return Atanh.apply(input)


def atan2(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The angle of the point (other, input) from the x axis, in (−π, π], element-wise and
    broadcast: ``atan2(y, x)``, with the quadrant that atan(y/x) cannot tell.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.atan2(cr.tensor([1.0, -1.0]), cr.tensor([0.0, -1.0])).tolist()]
    [1.5708, -2.3562]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("atan2", ("input", "other"), input, other, scalars=False)
    return Atan2.apply(input, other)


def hypot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """√(input² + other²), element-wise and broadcast, without overflow for large values.

    ```pycon
    >>> import chainrule as cr
    >>> cr.hypot(cr.tensor([3.0, 5.0]), cr.tensor([4.0, 12.0])).tolist()
    [5.0, 13.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        check_operands("hypot", ("input", "other"), input, other, scalars=False)
    return Hypot.apply(input, other)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def sinc(input: Tensor) -> Tensor:  # noqa: A002
    """The normalised sinc, sin(πx)/(πx), and 1 at x = 0, element-wise; d/dx = (cos(πx) −
    sinc x)/x, and 0 at x = 0.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.sinc(cr.tensor([0.0, 0.5, 1.0])).tolist()]
    [1.0, 0.6366, -0.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sinc", "input", input)
    x = input if dtypes.is_floating(input.array.dtype) else input.to(dtypes.get_default_dtype())
    at_zero = Tensor._make(x.array == 0, False, None)
    # 1 in place of 0 before the quotient, so that the branch not taken has no 0/0 whose
    # derivative would turn the gradient at 0 into nan.
    scaled = Where.apply(at_zero, 1.0, x) * math.pi
    return Where.apply(at_zero, 1.0, sin(scaled) / scaled)


def deg2rad(input: Tensor) -> Tensor:  # noqa: A002
    """Degrees to radians, x·π/180, element-wise (integers become the default float dtype).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.deg2rad(cr.tensor([180.0])).item(), 5)
    3.14159

    ```
    """
    return _scaled(input, "deg2rad", math.pi / 180)


def rad2deg(input: Tensor) -> Tensor:  # noqa: A002
    """Radians to degrees, x·180/π, element-wise (integers become the default float dtype).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.rad2deg(cr.tensor([3.141592653589793])).item(), 3)
    180.0

    ```
    """
    return _scaled(input, "rad2deg", 180 / math.pi)


def _scaled(input: Tensor, where: str, factor: float) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(where, "input", input)
    if not dtypes.is_floating(input.array.dtype):
        input = input.to(dtypes.get_default_dtype())  # noqa: A001
    return input * factor
