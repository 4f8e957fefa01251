"""Cases of the operation table (tests/op_cases.py): the element-wise math beyond + − × ÷:
rounding and signs, division's other forms, exponentials and logarithms, trigonometric and
hyperbolic functions, lerp/addcmul/addcdiv, one-sided clamps, nan_to_num and erf, with the
tests for infinities and closeness (no gradient).

Each differentiable function draws its inputs where it is smooth (asin inside (−0.9, 0.9),
log1p above −0.5...); the step functions (floor, round, sign...) are also checked exactly on
their steps, where PyTorch's gradient is 0. floor_divide, which PyTorch does not differentiate,
and the dtype rules are tested in tests/test_elementwise_math.py.
"""

from __future__ import annotations

import math

import numpy as np

from op_cases import (
    NOGRAD,
    ONE,
    X3,
    A,
    B,
    Domain,
    at,
    away_from,
    case,
    distinct,
    nonzero,
    normal,
    positive,
    ties,
)


def between(low: float, high: float) -> Domain:
    """Uniform values in [low, high]: the smooth part of a function's domain."""

    def domain(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
        return np.asarray(rng.uniform(low, high, shape))

    domain.__name__ = f"between({low}, {high})"
    return domain


UNIT = between(-0.9, 0.9)  # asin, acos, atanh
INF = math.inf
NON_FINITE = at(INF, -INF, math.nan)

# ---- rounding and signs: zero gradient, at the steps too ----------------------------------------

case("floor", lambda m, x: m.floor(3 * x), A)
case("floor_method", lambda m, x: x.floor(), X3)
case("floor_at_integers", lambda m, x: x.floor(), A, domain=at(-1.0, 0.0, 2.0), **ONE)
case("ceil", lambda m, x: m.ceil(3 * x), A)
case("ceil_method", lambda m, x: x.ceil(), ())
case("ceil_at_integers", lambda m, x: m.ceil(x), A, domain=at(-2.0, 0.0, 1.0), **ONE)
case("trunc", lambda m, x: m.trunc(3 * x), A)
case("fix_method", lambda m, x: x.fix(), X3)
case("round", lambda m, x: m.round(3 * x), A)
case("round_method", lambda m, x: (3 * x).round(), X3)
case("round_halves", lambda m, x: x.round(), A, domain=at(0.5, 1.5, 2.5, -0.5, -1.5), **ONE)
case("round_decimals", lambda m, x: m.round(x, decimals=2), A)
case("round_negative_decimals", lambda m, x: (100 * x).round(decimals=-1), X3)
case("frac", lambda m, x: m.frac(3 * x), A)
case("frac_method", lambda m, x: (x * x + x).frac(), X3)
case("sign", lambda m, x: m.sign(x), A)
case("sign_method", lambda m, x: x.sign() * x, X3)
case("sign_at_zero", lambda m, x: x.sign(), A, domain=at(0.0), **ONE)
# PyTorch's gradient of sgn alone is a ZeroTensor, which has no array to compare: a sum with x
# or a product makes it an ordinary one (and would show a nonzero gradient of sgn).
case("sgn", lambda m, x: m.sgn(x) * x, A, domain=away_from(0.0))
case("sgn_method", lambda m, x: x.sgn() + x, ())

# ---- division: remainders, true division, reciprocals ------------------------------------------

case("remainder", lambda m, x, y: m.remainder(x, y), A, B, domain=(normal, nonzero))
case("remainder_bcast", lambda m, x, y: m.remainder(x, y), (3, 1), (4,), domain=(normal, nonzero))
case("remainder_scalar", lambda m, x: m.remainder(x, 0.7), A)
case("remainder_negative_scalar", lambda m, x: x.remainder(-0.6), X3)
case("remainder_operator", lambda m, x, y: x % y, A, (4,), domain=(normal, nonzero))
case("remainder_operator_scalar", lambda m, x: x % 1.5, X3)
case("fmod", lambda m, x, y: m.fmod(x, y), A, B, domain=(normal, nonzero))
case("fmod_bcast", lambda m, x, y: x.fmod(y), X3, (3, 1), domain=(normal, nonzero))
case("fmod_scalar", lambda m, x: m.fmod(x, -0.7), A)
case("true_divide", lambda m, x, y: m.true_divide(x, y), A, B, domain=(normal, positive))
case("true_divide_method", lambda m, x, y: x.true_divide(y), A, (4,), domain=(normal, nonzero))
case("reciprocal", lambda m, x: m.reciprocal(x), A, domain=nonzero)
case("reciprocal_method", lambda m, x: x.reciprocal(), X3, domain=nonzero)
case("rsqrt", lambda m, x: m.rsqrt(x), A, domain=positive)
case("rsqrt_method", lambda m, x: x.rsqrt(), (), domain=positive)

# ---- exponentials, logarithms and powers -------------------------------------------------------

case("exp2", lambda m, x: m.exp2(x), A)
case("exp2_method", lambda m, x: x.exp2(), X3)
case("expm1", lambda m, x: m.expm1(x), A)
case("expm1_method", lambda m, x: (x * 1e-3).expm1(), X3)
case("log1p", lambda m, x: m.log1p(x), A, domain=between(-0.5, 3.0))
case("log1p_method", lambda m, x: (x * 1e-3).log1p(), X3)
case("log2", lambda m, x: m.log2(x), A, domain=positive)
case("log2_method", lambda m, x: x.log2(), (), domain=positive)
case("log10", lambda m, x: m.log10(x), A, domain=positive)
case("log10_method", lambda m, x: x.log10(), X3, domain=positive)
case("logit", lambda m, x: m.logit(x), A, domain=between(0.05, 0.95))
case("logit_method", lambda m, x: x.logit(), X3, domain=between(0.05, 0.95))
case("logit_eps", lambda m, x: m.logit(x, eps=0.1), A, domain=between(0.15, 0.85))
# Outside [eps, 1 − eps] the input is clamped and its gradient 0 (outside [0, 1] without eps,
# where the value and gradient are nan, see tests/test_elementwise_math.py).
case("logit_eps_clamped", lambda m, x: x.logit(1e-2), X3, domain=between(-0.5, 1.5), **ONE)
case("xlogy", lambda m, x, y: m.xlogy(x, y), A, B, domain=(normal, positive))
case("xlogy_bcast", lambda m, x, y: x.xlogy(y), (3, 1), (4,), domain=(normal, positive))
case("xlogy_scalar_other", lambda m, x: m.xlogy(x, 3.0), A)
case("xlogy_scalar_input", lambda m, y: m.xlogy(2.0, y), A, domain=positive)
case(
    "xlogy_at_zero",
    lambda m, x, y: m.xlogy(x, y),
    A,
    B,
    domain=(at(0.0), at(0.0, -1.0, rest=positive)),
    **ONE,
)
case("float_power", lambda m, x, y: m.float_power(x, y), A, B, domain=positive)
case("float_power_scalar", lambda m, x: x.float_power(3), X3)
case("float_power_scalar_base", lambda m, x: m.float_power(2.5, x), A)
case("square", lambda m, x: m.square(x), A)
case("square_method", lambda m, x: x.square(), X3)
case("erf", lambda m, x: m.erf(x), A)
case("erf_method", lambda m, x: (2 * x).erf(), X3)
case("erfc", lambda m, x: m.erfc(x), A)
case("erfc_method", lambda m, x: (2 * x).erfc(), X3)

# ---- trigonometric and hyperbolic --------------------------------------------------------------

case("tan", lambda m, x: m.tan(x), A, domain=between(-1.2, 1.2))
case("tan_method", lambda m, x: x.tan(), X3, domain=between(-1.2, 1.2))
case("asin", lambda m, x: m.asin(x), A, domain=UNIT)
case("arcsin_method", lambda m, x: x.arcsin(), X3, domain=UNIT)
case("acos", lambda m, x: m.acos(x), A, domain=UNIT)
case("arccos", lambda m, x: m.arccos(x), (), domain=UNIT)
case("atan", lambda m, x: m.atan(x), A)
case("arctan_method", lambda m, x: (3 * x).arctan(), X3)
case("sinh", lambda m, x: m.sinh(x), A)
case("sinh_method", lambda m, x: x.sinh(), X3)
case("cosh", lambda m, x: m.cosh(x), A)
case("cosh_method", lambda m, x: x.cosh(), X3)
case("asinh", lambda m, x: m.asinh(3 * x), A)
case("arcsinh_method", lambda m, x: x.arcsinh(), X3)
case("acosh", lambda m, x: m.acosh(x), A, domain=between(1.2, 3.0))
case("arccosh_method", lambda m, x: x.arccosh(), X3, domain=between(1.2, 3.0))
case("atanh", lambda m, x: m.atanh(x), A, domain=UNIT)
case("arctanh_method", lambda m, x: x.arctanh(), X3, domain=UNIT)
case("atan2", lambda m, x, y: m.atan2(x, y), A, B)
case("atan2_bcast", lambda m, x, y: m.atan2(x, y), (3, 1), (4,))
case("arctan2_method", lambda m, x, y: x.arctan2(y), X3, (4,))
case("atan2_origin", lambda m, x, y: m.atan2(x, y), A, B, domain=at(0.0), **ONE)
case("hypot", lambda m, x, y: m.hypot(x, y), A, B)
case("hypot_bcast", lambda m, x, y: x.hypot(y), (3, 1), (1, 4))

# ---- lerp, addcmul, addcdiv --------------------------------------------------------------------

case("lerp", lambda m, x, y: m.lerp(x, y, 0.3), A, B)
case("lerp_past_half", lambda m, x, y: x.lerp(y, 0.8), A, B)
case("lerp_tensor_weight", lambda m, x, y, w: m.lerp(x, y, w), A, B, B)
case("lerp_bcast", lambda m, x, y, w: m.lerp(x, y, w), (3, 1), (4,), (3, 4))
case("lerp_0d_weight", lambda m, x, y, w: x.lerp(y, w), A, (4,), ())
case("addcmul", lambda m, x, a, b: m.addcmul(x, a, b), A, B, B)
case("addcmul_value", lambda m, x, a, b: m.addcmul(x, a, b, value=-0.5), (4,), (3, 1), A)
case("addcmul_method", lambda m, x, a, b: x.addcmul(a, b, value=2), X3, (3, 4), (2, 1, 1))
case("addcdiv", lambda m, x, a, b: m.addcdiv(x, a, b), A, B, B, domain=(normal, normal, nonzero))
case(
    "addcdiv_value",
    lambda m, x, a, b: x.addcdiv(a, b, value=-2.0),
    A,
    (4,),
    (3, 1),
    domain=(normal, normal, positive),
)

# ---- one-sided clamps and nan_to_num -----------------------------------------------------------

case("clamp_min_fn", lambda m, x: m.clamp_min(x, -0.5), A, domain=away_from(-0.5))
case("clamp_min_method", lambda m, x: x.clamp_min(0.2), X3, domain=away_from(0.2))
case("clamp_max_fn", lambda m, x: m.clamp_max(x, 0.5), A, domain=away_from(0.5))
case("clamp_max_method", lambda m, x: x.clamp_max(-0.2), X3, domain=away_from(-0.2))
case("clamp_min_tensor", lambda m, x, y: m.clamp_min(x, y), A, B, domain=distinct)
case("clamp_max_tensor", lambda m, x, y: x.clamp_max(y), A, (4,), domain=distinct)
case("clamp_min_at_bound", lambda m, x: x.clamp_min(0.0), A, domain=at(0.0), **ONE)
case("nan_to_num", lambda m, x: m.nan_to_num(x), A)
case("nan_to_num_method", lambda m, x: x.nan_to_num(1.0, 5.0, -5.0), X3, domain=NON_FINITE, **ONE)
case("nan_to_num_default", lambda m, x: m.nan_to_num(x, nan=-1.0), A, domain=NON_FINITE, **ONE)

# ---- infinities, closeness, logic (no gradient) ------------------------------------------------

case("isinf", lambda m, x: m.isinf(x), A, domain=NON_FINITE, **NOGRAD)
case("isinf_method", lambda m, x: x.isinf(), X3, **NOGRAD)
case("isposinf", lambda m, x: m.isposinf(x), A, domain=NON_FINITE, **NOGRAD)
case("isneginf_method", lambda m, x: x.isneginf(), A, domain=NON_FINITE, **NOGRAD)
case("isclose", lambda m, x, y: m.isclose(x, y), A, B, domain=ties, **NOGRAD)
case("isclose_tolerances", lambda m, x, y: x.isclose(y, rtol=0.1, atol=0.5), A, B, **NOGRAD)
case("isclose_bcast", lambda m, x, y: m.isclose(x, y, atol=0.3), (3, 1), (4,), **NOGRAD)
case(
    "isclose_nan",
    lambda m, x, y: m.isclose(x, y, equal_nan=True),
    A,
    B,
    domain=NON_FINITE,
    **NOGRAD,
)
case("logical_xor", lambda m, x, y: m.logical_xor(x, y), A, B, domain=ties, **NOGRAD)
case("logical_and_method", lambda m, x, y: x.logical_and(y), A, (4,), domain=ties, **NOGRAD)
case("logical_or_method", lambda m, x, y: x.logical_or(y), A, B, domain=ties, **NOGRAD)
case("where_method", lambda m, x, y: x.where(x > y, y), A, B, domain=distinct)

# ---- nan-skipping extremes, smooth maxima, signs, sinc, angles, PyTorch's other names ---------

NAN_HOLES = np.array([[1.0, np.nan, 1.0, 1.0], [1.0, 1.0, np.nan, 1.0], [1.0, 1.0, 1.0, 1.0]])


def _with_nan(m, x):
    """x with nan at fixed places (the same in both libraries)."""
    return x * m.tensor(NAN_HOLES, dtype=x.dtype).nan_to_num(0.0) + m.tensor(
        np.where(np.isnan(NAN_HOLES), np.nan, 0.0), dtype=x.dtype
    )


case("fmax", lambda m, x, y: m.fmax(x, y), A, B, domain=distinct)
case("fmax_bcast_method", lambda m, x, y: x.fmax(y), A, (4,), domain=distinct)
case("fmin", lambda m, x, y: m.fmin(x, y), A, B, domain=distinct)
case("fmax_nan", lambda m, x, y: m.fmax(_with_nan(m, x), y), A, B, domain=distinct)
case(
    "fmin_nan_both", lambda m, x, y: m.fmin(_with_nan(m, x), _with_nan(m, y)), A, B, domain=distinct
)
case("fmax_ties", lambda m, x, y: m.fmax(x, y), A, B, domain=ties, **ONE)
case("logaddexp", lambda m, x, y: m.logaddexp(x * 3, y), A, B)
case("logaddexp_bcast_method", lambda m, x, y: x.logaddexp(y * 20), A, (4,))
case("logaddexp2", lambda m, x, y: m.logaddexp2(x, y * 3), A, B)
case("logaddexp2_method", lambda m, x, y: x.logaddexp2(y), (4,), A)
case("copysign", lambda m, x, y: m.copysign(x, y), A, B, domain=(nonzero, nonzero))
case("copysign_scalar_method", lambda m, x: x.copysign(-1.5), A, domain=nonzero)
case("copysign_bcast", lambda m, x, y: m.copysign(x, y), (3, 1), (4,), domain=(nonzero, normal))
case("copysign_at_zero", lambda m, x, y: m.copysign(x, y), A, B, domain=ties, **ONE)
case("signbit", lambda m, x: m.signbit(x), A, domain=ties, **NOGRAD)
case("positive", lambda m, x: m.positive(x) * 2, A)
case("sinc", lambda m, x: m.sinc(x * 2), A, domain=nonzero)
# At 0 itself PyTorch's second derivative of sinc is nan (0/0 under its mask): first order only.
case("sinc_method_at_zero", lambda m, x: x.sinc(), A, domain=at(0.0), **ONE)
case("deg2rad", lambda m, x: m.deg2rad(x * 90), A)
case("rad2deg_method", lambda m, x: x.rad2deg(), A)
case("absolute", lambda m, x: m.absolute(x), A, domain=nonzero)
case("subtract_method", lambda m, x, y: x.subtract(y, alpha=2), A, B)
case("multiply_divide_methods", lambda m, x, y: x.multiply(y).divide(y + 3), A, B, domain=positive)
case("negative_method", lambda m, x: x.negative(), A)
case(
    "greater_less_names",
    lambda m, x, y: m.greater(x, y) ^ m.less_equal(y, x),
    A,
    B,
    domain=ties,
    **NOGRAD,
)
case(
    "not_equal_methods",
    lambda m, x, y: x.not_equal(y) | x.greater_equal(y) | x.less(y),
    A,
    B,
    domain=ties,
    **NOGRAD,
)
