"""The in-place forms of the element-wise math: ``x.floor_()``, ``x.round_(decimals=1)``,
``x.remainder_(3)``, ``x.lerp_(end, 0.1)``, ``x.addcdiv_(m, v.sqrt(), value=-lr)``, ``x //= 2``...

Each is ``x ← f(x, ...)`` for the out-of-place function f, written into x's memory by
:func:`~chainrule.ops.inplace.modify`, which also records it in the graph as PyTorch does
(and refuses what PyTorch refuses: a leaf that requires grad, a result of a dtype x cannot
hold, as ``reciprocal_`` of an integer tensor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import dtypes
from chainrule.ops import (
    division,
    erf,
    exponential,
    fused_arithmetic,
    one_sided_clamp,
    rounding,
    special_values,
    trigonometric,
)
from chainrule.ops.inplace import modify
from chainrule.tensor import Tensor


def _unary(name: str, function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``x.name(*options)``: x ← function(x, *options), where the options are numbers
    (``decimals``, ``eps``, the replacements of nan_to_num)."""

    def method(self: Tensor, *options: Any, **named: Any) -> Tensor:
        if not (options or named):
            return modify(self, name, function)
        return modify(self, name, lambda x: function(x, *options, **named))

    method.__name__ = name
    method.__doc__ = f"``{name.rstrip('_')}`` of this tensor, in place."
    return method


def _binary(name: str, function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``x.name(other)``: x ← function(x, other), where other may be a tensor in the graph."""

    def method(self: Tensor, other: Any) -> Tensor:
        return modify(self, name, function, other)

    method.__name__ = name
    method.__doc__ = f"``{name.rstrip('_')}(self, other)`` written into this tensor."
    return method


def clamp_min_(self: Tensor, min: Any) -> Tensor:  # noqa: A002
    return modify(self, "clamp_min_", one_sided_clamp.clamp_min, min)


def clamp_max_(self: Tensor, max: Any) -> Tensor:  # noqa: A002
    return modify(self, "clamp_max_", one_sided_clamp.clamp_max, max)


def float_power_(self: Tensor, exponent: Any) -> Tensor:
    """``self ← self ** exponent`` in float64: only a float64 tensor can hold the result."""
    if self.dtype != dtypes.float64:
        raise RuntimeError(
            f"float_power_: the base given to float_power_ has dtype {self.dtype} but the "
            "operation's result requires dtype float64, as in PyTorch; convert it first with "
            "t = t.double()"
        )
    return modify(self, "float_power_", exponential.float_power, exponent)


def lerp_(self: Tensor, end: Tensor, weight: Any) -> Tensor:
    """``self ← self + weight·(end − self)``: an exponential moving average's update."""
    return modify(self, "lerp_", fused_arithmetic.lerp, end, weight)


def addcmul_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """``self ← self + value·tensor1·tensor2``."""

    def compute(x: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
        return fused_arithmetic.addcmul(x, t1, t2, value=value)

    return modify(self, "addcmul_", compute, tensor1, tensor2)


def addcdiv_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    """``self ← self + value·tensor1/tensor2``."""

    def compute(x: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
        return fused_arithmetic.addcdiv(x, t1, t2, value=value)

    return modify(self, "addcdiv_", compute, tensor1, tensor2)


def _augmented(symbol: str, name: str, function: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """``x //= y`` and ``x %= y``: NotImplemented for an operand no tensor takes, so that Python
    raises its own TypeError."""

    def method(self: Tensor, other: Any) -> Any:
        if not isinstance(other, (Tensor, int, float)):
            return NotImplemented
        return modify(self, symbol, function, other)

    method.__name__ = name
    return method


_r, _e, _t, _d = rounding, exponential, trigonometric, division
METHODS: dict[str, Any] = {
    # rounding and signs
    "floor_": _unary("floor_", _r.floor),
    "ceil_": _unary("ceil_", _r.ceil),
    "trunc_": _unary("trunc_", _r.trunc),
    "fix_": _unary("fix_", _r.trunc),
    "round_": _unary("round_", _r.round),
    "frac_": _unary("frac_", _r.frac),
    "sign_": _unary("sign_", _r.sign),
    "sgn_": _unary("sgn_", _r.sgn),
    # exponentials, logarithms and powers
    "exp2_": _unary("exp2_", _e.exp2),
    "expm1_": _unary("expm1_", _e.expm1),
    "log1p_": _unary("log1p_", _e.log1p),
    "log2_": _unary("log2_", _e.log2),
    "log10_": _unary("log10_", _e.log10),
    "logit_": _unary("logit_", _e.logit),
    "square_": _unary("square_", _e.square),
    "xlogy_": _binary("xlogy_", _e.xlogy),
    "float_power_": float_power_,
    "erf_": _unary("erf_", erf.erf),
    "erfc_": _unary("erfc_", erf.erfc),
    # trigonometric and hyperbolic
    "tan_": _unary("tan_", _t.tan),
    "asin_": _unary("asin_", _t.asin),
    "acos_": _unary("acos_", _t.acos),
    "atan_": _unary("atan_", _t.atan),
    "arcsin_": _unary("arcsin_", _t.asin),
    "arccos_": _unary("arccos_", _t.acos),
    "arctan_": _unary("arctan_", _t.atan),
    "sinh_": _unary("sinh_", _t.sinh),
    "cosh_": _unary("cosh_", _t.cosh),
    "asinh_": _unary("asinh_", _t.asinh),
    "acosh_": _unary("acosh_", _t.acosh),
    "atanh_": _unary("atanh_", _t.atanh),
    "arcsinh_": _unary("arcsinh_", _t.asinh),
    "arccosh_": _unary("arccosh_", _t.acosh),
    "arctanh_": _unary("arctanh_", _t.atanh),
    "atan2_": _binary("atan2_", _t.atan2),
    "arctan2_": _binary("arctan2_", _t.atan2),
    "hypot_": _binary("hypot_", _t.hypot),
    # division
    "floor_divide_": _binary("floor_divide_", _d.floor_divide),
    "true_divide_": _binary("true_divide_", _d.true_divide),
    "remainder_": _binary("remainder_", _d.remainder),
    "fmod_": _binary("fmod_", _d.fmod),
    "reciprocal_": _unary("reciprocal_", _d.reciprocal),
    "rsqrt_": _unary("rsqrt_", _d.rsqrt),
    "__ifloordiv__": _augmented("//=", "__ifloordiv__", _d.floor_divide),
    "__imod__": _augmented("%=", "__imod__", _d.remainder),
    # clamping, fused arithmetic, special values
    "clamp_min_": clamp_min_,
    "clamp_max_": clamp_max_,
    "lerp_": lerp_,
    "addcmul_": addcmul_,
    "addcdiv_": addcdiv_,
    "nan_to_num_": _unary("nan_to_num_", special_values.nan_to_num),
}
