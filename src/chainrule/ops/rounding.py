"""Rounding and signs: floor, ceil, round (half to even, to any decimal place), trunc (fix),
frac, sign and sgn.

All but frac are step functions: their derivative is 0 wherever it exists, and PyTorch takes it
as 0 at the steps too. They still record a node, as PyTorch does, so that their result
requires grad and a backward through them gives zeros rather than an error. Integer tensors
hold whole numbers already: floor, ceil, round and trunc return a copy of them unchanged.
PyTorch has no rounding of bool tensors, and no frac of integers; neither has chainrule.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, as_index, not_a_tensor
from chainrule.ops.elementwise import sign_of
from chainrule.ops.operands import not_implemented_for
from chainrule.tensor import Tensor


class Step(Function):
    """The backward shared by the step functions: d/dx f(x) = 0."""

    def backward(self, grad: Any) -> tuple:
        return (backend.xp.zeros_like(grad),)


def _whole(op: str, x: Any) -> Any:
    """A copy of an integer array (already whole), or None for a floating one; bool refused."""
    if x.dtype.kind == "b":
        raise not_implemented_for(op, x.dtype, "convert it with .int() or .float()")
    if x.dtype.kind in "iu":
        return x.copy()
    return None


# ---- step functions ----------------------------------------------------------------------------


class Floor(Step):
    """d/dx ⌊x⌋ = 0 (taken as 0 at the integers too)"""

    def forward(self, x: Any) -> Any:
        whole = _whole("floor", x)
        return backend.xp.floor(x) if whole is None else whole


class Ceil(Step):
    """d/dx ⌈x⌉ = 0 (taken as 0 at the integers too)"""

    def forward(self, x: Any) -> Any:
        whole = _whole("ceil", x)
        return backend.xp.ceil(x) if whole is None else whole


class Trunc(Step):
    """d/dx trunc(x) = 0 (taken as 0 at the integers too)"""

    def forward(self, x: Any) -> Any:
        whole = _whole("trunc", x)
        return backend.xp.trunc(x) if whole is None else whole


class Round(Step):
    """d/dx round(x, decimals) = 0 (taken as 0 at the halfway points too)"""

    def forward(self, x: Any, decimals: int = 0) -> Any:
        if decimals == 0:
            whole = _whole("round", x)
            if whole is not None:
                return whole
        elif x.dtype.kind != "f":
            raise not_implemented_for(f"round(decimals={decimals})", x.dtype)
        xp = backend.xp
        if decimals == 0:
            return xp.rint(x)  # halves to the even neighbour, as PyTorch's nearbyint
        # PyTorch scales by 10^|decimals| in the tensor's own dtype, rounds, and scales back;
        # the same steps give the same float32 results (0.125 → 0.12, as 12.5 rounds to 12).
        scale = x.dtype.type(10.0 ** abs(decimals))
        if decimals > 0:
            return xp.rint(x * scale) / scale
        return xp.rint(x / scale) * scale


class Sign(Step):
    """d/dx sign(x) = 0 (taken as 0 at 0 too)"""

    def forward(self, x: Any) -> Any:
        if x.dtype.kind == "f":
            return sign_of(x)  # 0 at nan, as in PyTorch
        if x.dtype.kind == "b":
            return x.copy()  # the sign of True is True
        return backend.xp.sign(x)


# ---- the fractional part ---------------------------------------------------------------------


class Frac(Function):
    """d/dx (x − trunc(x)) = 1"""

    def forward(self, x: Any) -> Any:
        if x.dtype.kind != "f":
            raise not_implemented_for("frac", x.dtype)
        return x - backend.xp.trunc(x)  # nan at ±inf, as in PyTorch

    def backward(self, grad: Any) -> tuple:
        return (grad,)


# ---- the public functions ----------------------------------------------------------------------


def floor(input: Tensor) -> Tensor:  # noqa: A002
    """The largest integer ≤ x, element-wise; integer tensors come back unchanged.

    ```pycon
    >>> import chainrule as cr
    >>> cr.floor(cr.tensor([-1.5, 0.5, 2.0])).tolist()
    [-2.0, 0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("floor", "input", input)
    return Floor.apply(input)


def ceil(input: Tensor) -> Tensor:  # noqa: A002
    """The smallest integer ≥ x, element-wise; integer tensors come back unchanged.

    ```pycon
    >>> import chainrule as cr
    >>> cr.ceil(cr.tensor([-1.5, 0.5, 2.0])).tolist()
    [-1.0, 1.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("ceil", "input", input)
    return Ceil.apply(input)


def trunc(input: Tensor) -> Tensor:  # noqa: A002
    """x rounded toward zero, element-wise (``fix`` is the same function).

    ```pycon
    >>> import chainrule as cr
    >>> cr.trunc(cr.tensor([-1.5, 0.5, 2.75])).tolist()
    [-1.0, 0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("trunc", "input", input)
    return Trunc.apply(input)


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """x rounded to ``decimals`` decimal places (negative: to tens, hundreds...), halves to
    the even neighbour: ``round(tensor([0.5, 1.5, 2.5]))`` is ``[0., 2., 2.]``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.round(cr.tensor([0.5, 1.5, 2.5, -0.5])).tolist()
    [0.0, 2.0, 2.0, -0.0]
    >>> cr.round(cr.tensor([1.26, 3.74], dtype=cr.float64), decimals=1).tolist()
    [1.3, 3.7]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("round", "input", input)
    decimals = as_index(decimals, "round", "decimals")
    if decimals == 0:
        return Round.apply(input)
    return Round.apply(input, decimals=decimals)


def frac(input: Tensor) -> Tensor:  # noqa: A002
    """The fractional part x − trunc(x), with the sign of x: ``frac(-2.5)`` is ``-0.5``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.frac(cr.tensor([-1.5, 2.25])).tolist()
    [-0.5, 0.25]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("frac", "input", input)
    return Frac.apply(input)


def sign(input: Tensor) -> Tensor:  # noqa: A002
    """−1, 0 or 1 by the sign of x (0 at nan, as in PyTorch), in x's dtype; its gradient is
    zero.

    ```pycon
    >>> import chainrule as cr
    >>> cr.sign(cr.tensor([-3.0, 0.0, 2.0])).tolist()
    [-1.0, 0.0, 1.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sign", "input", input)
    return Sign.apply(input)


def sgn(input: Tensor) -> Tensor:  # noqa: A002
    """x/|x| (0 at 0): for real tensors, the same as :func:`sign`.

    ```pycon
    >>> import chainrule as cr
    >>> cr.sgn(cr.tensor([-3.0, 0.0, 2.0])).tolist()
    [-1.0, 0.0, 1.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sgn", "input", input)
    return Sign.apply(input)


fix = trunc
