"""Signs: ``copysign`` (a magnitude with another's sign), ``signbit``, ``heaviside`` (the unit
step) and ``positive`` (+x).

copysign's derivative is ±1 with respect to its first operand (0 where that is 0, as in PyTorch)
and 0 with respect to the second; signbit and heaviside give values without a gradient.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.exponential import _float_operands
from chainrule.ops.operands import check_operands
from chainrule.tensor import Tensor


class CopySign(Function):
    """∂/∂x copysign(x, y) = copysign(x, y)/x (±1; 0 where x = 0), ∂/∂y = 0

    Both derivatives are piecewise constant: a backward recording a graph takes them as
    constants, tied to the inputs (derivative 0 there), as PyTorch's formula gives.
    """

    argument_names = ("input", "other")
    ties_gradients = True

    def forward(self, x: Any, y: Any) -> Any:
        x, y = _float_operands(x, y)
        out = backend.xp.copysign(x, y)
        self.saved = (x, out)
        self.other_shape = shape_of(y)
        return out

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        xp = backend.xp
        need_x, need_y = self.needs_input_grad
        grad_x = grad_y = None
        if need_x:
            # The ratio is ±1 away from 0; at x = 0 it is 0/0, taken as 0 as PyTorch does.
            ratio = xp.where(x == 0, 0, out / xp.where(x == 0, 1, x)).astype(x.dtype)
            grad_x = unbroadcast(grad * ratio, shape_of(x))
        if need_y:
            grad_y = xp.zeros(self.other_shape, dtype=x.dtype)
        return grad_x, grad_y

    def saved_in_graph(self, output: Tensor) -> tuple:
        return self.saved  # the ratio's arrays: constants of the derivative


def copysign(input: Any, other: Any) -> Tensor:  # noqa: A002
    """|input| with the sign of ``other`` (its sign bit: −0 and a nan with the sign bit set count
    as negative), element-wise; ``other`` may be a number.

    ```pycon
    >>> import chainrule as cr
    >>> cr.copysign(cr.tensor([1.0, -2.0, 3.0]), cr.tensor([-1.0, 1.0, -0.0])).tolist()
    [-1.0, 2.0, -3.0]

    ```
    """
    check_operands("copysign", ("input", "other"), input, other)
    return CopySign.apply(input, other)


def signbit(input: Tensor) -> Tensor:  # noqa: A002
    """True where the sign bit is set (negative numbers, −0, −inf), element-wise; a bool tensor
    without a gradient.

    ```pycon
    >>> import chainrule as cr
    >>> cr.signbit(cr.tensor([-1.0, -0.0, 0.0, 2.0])).tolist()
    [True, True, False, False]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("signbit", "input", input)
    return Tensor._make(backend.xp.signbit(input.array), False, None)


def heaviside(input: Tensor, values: Tensor) -> Tensor:  # noqa: A002
    """The unit step: 0 where input < 0, 1 where input > 0, and ``values`` where input is 0
    (broadcast against input, of input's dtype); a tensor without a gradient (PyTorch has no
    derivative for it either).

    ```pycon
    >>> import chainrule as cr
    >>> cr.heaviside(cr.tensor([-2.0, 0.0, 3.0]), cr.tensor([0.5])).tolist()
    [0.0, 0.5, 1.0]

    ```
    """
    check_operands("heaviside", ("input", "values"), input, values, scalars=False)
    if input.array.dtype != values.array.dtype:
        raise OpError(
            f"heaviside: input and values must have the same dtype, got {input.dtype} and "
            f"{values.dtype}"
        )
    return Tensor._make(backend.xp.heaviside(input.array, values.array), False, None)


def positive(input: Tensor) -> Tensor:  # noqa: A002
    """+x: ``input`` itself (PyTorch returns the same tensor), refused for a bool tensor.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, -2.0])
    >>> cr.positive(x) is x
    True

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("positive", "input", input)
    if input.array.dtype == bool:
        raise OpError("positive: the + operator on a bool tensor is not supported")
    return input
