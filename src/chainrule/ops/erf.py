"""The error function erf and its complement erfc, which GELU needs.

NumPy has no erf, so it is evaluated here, vectorised, to float64 precision:

- |x| ≤ 1: the Maclaurin series erf(x) = 2/√π Σₙ (−1)ⁿ x²ⁿ⁺¹ / (n! (2n + 1)), whose
  coefficients are computed below from that formula; 19 terms reach 10⁻¹⁸ at |x| = 1.
- x > 1: erfc(x) = e^{−x²} R(x) / x with R(x) = x e^{x²} erfc(x), which varies slowly
  (R → 1/√π as x → ∞). R is a Chebyshev series in x on [1, 2] and [2, 4], and in s = 1/x² on
  x ≥ 4. The coefficients are Chebyshev interpolants of R at 32 points of the first kind,
  computed with mpmath at 40 significant digits and cut where they fall below 10⁻¹⁸ · |c₀|;
  ``tests/nn/test_erf.py`` recomputes them. e^{−x²} is formed as
  e^{−h²} e^{−(x − h)(x + h)} with h = x rounded down to 1/16, so that x² is never rounded.

Measured against mpmath (40 digits) on 40 000 points in [−6, 6] plus tails: erf within 2 ulp
(relative error 2.7·10⁻¹⁶; math.erf: 1 ulp), erfc within 6 ulp (10⁻¹⁵, worst where erfc is
1 − erf, near x = 0.9), including the far tail up to x = 27 where erfc is 10⁻³¹⁸.

float32 (and float16, computed in float32) takes the same split with two shorter series fitted
for it and evaluated in float32, about half the passes over the array: on |x| ≤ 1 the
Chebyshev interpolant of P(z) = erf(√z)/√z on z in [0, 1], 7 terms (the first dropped is
1.2·10⁻⁹), and on x > 1 one piece for R, its interpolant in v = 1/(1 + x/2) over x in
[1, 10.5], 9 terms (the first dropped 5·10⁻¹¹); past 10.5, erfc is below float32's smallest
number. Both are stored as powers (of z, and of v mapped onto [−1, 1]) for Horner's rule.
Measured in float32 against mpmath: erf within 2.3 ulp, erfc within 10 (the 1 − erf
cancellation near x = 1 again) and within 7 on the tail; the float64 series cut to float32
did no better (2.4, 9 and 6) in 1.7-1.9 times the time (128×512 normal values).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, native
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.elementwise import as_float
from chainrule.tensor import Tensor

# ---- the error function ------------------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_MACLAURIN = [_TWO_OVER_SQRT_PI * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(19)]
# Chebyshev coefficients of R(x) = x e^{x²} erfc(x) in u = 2x − 3 (x in [1, 2]).
_R_1_2 = [
    0.4758903880324922, 0.04069821609497773, -0.006594115617041834, 0.0008937067291132675,
    -0.00010758275571683853, 1.1847238617671451e-05, -1.2144505346525126e-06,
    1.1722340109658288e-07, -1.0741333148148341e-08, 9.400665089854028e-10,
    -7.895423508176425e-11, 6.387937539519675e-12, -4.994256472737516e-13, 3.7830454934589915e-14,
    -2.782521762034884e-15, 1.9911045715470332e-16, -1.388459730658617e-17, 9.44918446098187e-19,
]  # fmt: skip
# ... in u = x − 3 (x in [2, 4]).
_R_2_4 = [
    0.5333154426603268, 0.017887606209849458, -0.0038017529381680153, 0.0006971114350563907,
    -0.00011636884609523736, 1.8136767609171186e-05, -2.677199410014546e-06,
    3.7770133634191684e-07, -5.124911931796586e-08, 6.718706248010856e-09, -8.540207848890683e-10,
    1.055453513309396e-10, -1.2710917447088409e-11, 1.4944994204204674e-12,
    -1.7182429039166698e-13, 1.9343506109979857e-14, -2.134826790256981e-15,
    2.312170393005339e-16, -2.45985108702892e-17, 2.5727011271553835e-18,
]  # fmt: skip
# ... in u = 32/x² − 1 (x ≥ 4, s = 1/x² in [0, 1/16]).
_R_4_INF = [
    0.555925693425176, -0.008090332092115713, 0.00016776836928685166, -5.531041633808364e-06,
    2.443693640463472e-07, -1.3327004395823597e-08, 8.550274891720148e-10, -6.254007601349521e-11,
    5.101735166869338e-12, -4.56694847770334e-13, 4.4310635988433546e-14, -4.614610076462105e-15,
    5.118030871866858e-16, -6.006459509411205e-17, 7.41914386314289e-18, -9.601559084317444e-19,
]  # fmt: skip
SERIES = {"maclaurin": _MACLAURIN, "r_1_2": _R_1_2, "r_2_4": _R_2_4, "r_4_inf": _R_4_INF}


def _cut(coefficients: list[float], dtype: Any) -> list[float]:
    """The shortest prefix whose dropped tail stays below a quarter ulp of the leading term:
    float32 needs about half the terms of float64."""
    limit = numpy.finfo(dtype).eps * abs(coefficients[0]) / 4
    keep = len(coefficients)
    while keep > 1 and sum(abs(c) for c in coefficients[keep - 1 :]) <= limit:
        keep -= 1
    return coefficients[:keep]


_TERMS = {name: _cut(c, numpy.float64) for name, c in SERIES.items()}

# float32: powers of z of P(z) = erf(√z)/√z's Chebyshev interpolant on [0, 1] (7 terms) ...
_P_32 = [
    1.1283791658815028, -0.3761262690358044, 0.11283597463488056, -0.026854328796067244,
    0.005189311942686617, -0.000801885499278639, 7.882497110086663e-05,
]  # fmt: skip
# ... and powers of u = 2v/(vb − va) − (va + vb)/(vb − va) of R's interpolant in v = 1/(1 + x/2)
# on x in [1, 10.5] (v in [va, vb] = [0.16, 2/3]), 9 terms: u = _U_SCALE / (2 + x) + _U_SHIFT.
_R_32 = [
    0.5342558223469894, -0.05414477344498988, -0.037532097072567557, -0.012966802608355855,
    -0.0021864867215427735, 6.939962370359716e-05, 9.09556812374562e-05, 1.4908998743249644e-06,
    -3.932916682058402e-06,
]  # fmt: skip
_TAIL_END_32 = 10.5
_U_SCALE, _U_SHIFT = 4 / (2 / 3 - 0.16), -(0.16 + 2 / 3) / (2 / 3 - 0.16)
# float32 scalars: a Python float would be converted again in every operation.
_P_32_COEFFICIENTS = [numpy.float32(c) for c in _P_32]
_R_32_COEFFICIENTS = [numpy.float32(c) for c in _R_32]


def _horner(z: Any, coefficients: list[float]) -> Any:
    """Σ cₖ zᵏ, in place on one accumulator (at least two coefficients)."""
    total = z * coefficients[-1]
    total += coefficients[-2]
    for c in coefficients[-3::-1]:
        total *= z
        total += c
    return total


def _clenshaw(u: Any, coefficients: list[float]) -> Any:
    """Σ cₖ Tₖ(u) by Clenshaw's recurrence bₖ = cₖ + 2u bₖ₊₁ − bₖ₊₂ (stable for |u| ≤ 1)."""
    xp = backend.xp
    two_u = u + u
    b1, b2, spare = xp.full_like(u, coefficients[-1]), xp.zeros_like(u), xp.empty_like(u)
    for c in coefficients[-2:0:-1]:
        xp.multiply(two_u, b1, out=spare)
        spare -= b2
        spare += c
        b1, b2, spare = spare, b1, b2
    xp.multiply(u, b1, out=spare)
    spare -= b2
    spare += coefficients[0]
    return spare


# The pieces of R on x > 1: (upper end, series, the map from x to the series' variable u).
_TAIL_PIECES = (
    (2.0, "r_1_2", lambda x: 2 * x - 3),
    (4.0, "r_2_4", lambda x: x - 3),
    (math.inf, "r_4_inf", lambda x: 32 / (x * x) - 1),
)


def _erfc_tail(x: Any, terms: dict) -> Any:
    """erfc(x) for x > 1 (a 1-d array)."""
    xp = backend.xp
    x = xp.minimum(x, 30.0)  # erfc(30) = 0 in float64; the cap keeps inf out of x − h
    r = xp.empty_like(x)
    low = 1.0
    for high, name, to_u in _TAIL_PIECES:
        if high == math.inf:  # the last piece: all that is left, no search
            index = xp.flatnonzero(x > low)
        else:
            # Index arrays rather than boolean masks: NumPy's boolean gather and scatter
            # branch per element and cost ~3.5 ms per million elements on unpredictable
            # masks, 15× a take.
            index = xp.flatnonzero((x > low) & (x <= high))
        if index.size:
            r[index] = _clenshaw(to_u(x.take(index)), terms[name])
        low = high
    h = xp.floor(x * 16) / 16  # h² is exact: 4 bits after the point, 10 before
    r *= xp.exp(-h * h)
    r *= xp.exp(-(x - h) * (x + h))
    r /= x
    return r


def _erfc_tail_32(x: Any) -> Any:
    """erfc(x) for x > 1, float32 (a 1-d array, overwritten): e^{−x²} R(x) / x, with R from
    its float32 series and e^{−x²} split as in :func:`_erfc_tail` (h² exact in float32 too:
    h has at most 8 significant bits below 16)."""
    xp = backend.xp
    xp.minimum(x, _TAIL_END_32, out=x)  # also keeps inf out of x − h
    u = x + 2
    xp.divide(_U_SCALE, u, out=u)
    u += _U_SHIFT
    r = _horner(u, _R_32_COEFFICIENTS)
    h = x * 16
    xp.floor(h, out=h)
    h /= 16
    xp.subtract(x, h, out=u)  # the series' variable is spent: reuse its array
    part = x + h
    part *= u
    xp.negative(part, out=part)
    r *= xp.exp(part, out=part)
    xp.multiply(h, h, out=h)
    xp.negative(h, out=h)
    r *= xp.exp(h, out=h)
    r /= x
    return r


def _split(x: Any) -> tuple[Any, Any, Any, Any, Any]:
    """x flattened (index arrays then work for 0-d inputs too), in float32 for float16; the
    series x·P(x²) for erf on |x| ≤ 1 evaluated everywhere (x² capped at 1, where it holds);
    the positions where |x| > 1; the function that gives erfc on them; the dtype to return."""
    xp = backend.xp
    x = as_float(x)
    dtype = x.dtype
    flat = x.reshape(-1).astype(numpy.float32 if dtype.itemsize < 4 else dtype, copy=False)
    square = flat * flat
    large = xp.flatnonzero(square > 1)  # NaN is not: x·P(NaN) is already NaN
    xp.minimum(square, 1.0, out=square)
    if flat.dtype == numpy.float64:
        series = flat * _horner(square, _TERMS["maclaurin"])
        return flat, series, large, lambda a: _erfc_tail(a, _TERMS), dtype
    series = _horner(square, _P_32_COEFFICIENTS)
    series *= flat
    return flat, series, large, _erfc_tail_32, dtype


def native_loops(x: Any) -> Any:
    """chainrule.native.erf where its loops take x: a float32 or float16 NumPy array (float16
    is computed in float32, as in the NumPy form) of ``native.MAP_SIZE`` elements, or of
    ``native.FEWEST`` once numba is loaded, where the loops are enabled; None otherwise."""
    if x.size < native.FEWEST or (x.size < native.MAP_SIZE and not native.loaded()):
        return None
    if type(x) is numpy.ndarray and x.dtype.char in "fe" and native.enabled():
        from chainrule.native import erf as loops  # compiles numba's loops on the first use

        return loops
    return None


def _through_loops(x: Any, loops: Any, complement: bool) -> Any:
    """erfc(x) (``complement``) or erf(x) by chainrule.native.erf's loops: the NumPy form's
    operations and numbers, with NumPy's exponentials."""
    flat = x.reshape(-1).astype(numpy.float32, copy=False)
    values = erf_terms(loops, flat, numpy.float32(1), complement, False)[0]
    return values.reshape(x.shape).astype(x.dtype, copy=False)


def erf_terms(loops: Any, flat: Any, scale: Any, complement: bool, gelu: bool) -> tuple:
    """chainrule.native.erf's passes over float32 ``flat`` (1-d): erfc or erf of flat·scale,
    and with ``gelu`` (erfc of −flat/√2) Φ = erfc·½ in its place and GELU's flat·Φ; returns
    (the values, GELU's output or an unused array)."""
    # The results in arrays of their own, not rows of one block with the work arrays: a result
    # kept (a saved Φ, an output) would keep the whole block alive.
    values = numpy.empty(flat.size, numpy.float32)
    out = numpy.empty(flat.size, numpy.float32) if gelu else values  # not written without gelu
    a, first, second = numpy.empty((3, flat.size), numpy.float32)
    loops.terms(flat, scale, complement, values, a, first, second)
    numpy.exp(first, out=first)
    numpy.exp(second, out=second)
    loops.combine(flat, scale, values, a, first, second, complement, gelu, out)
    return values, out


def erf_array(x: Any) -> Any:
    """erf(x) = 2/√π ∫₀ˣ e^{−t²} dt, element-wise on an array (no graph)."""
    loops = native_loops(x)
    if loops is not None:
        return _through_loops(x, loops, complement=False)
    flat, out, large, erfc_tail, dtype = _split(x)
    if large.size:
        part = flat.take(large)
        out[large] = backend.xp.copysign(1 - erfc_tail(backend.xp.abs(part)), part)
    return out.reshape(x.shape).astype(dtype, copy=False)


def erfc_array(x: Any) -> Any:
    """erfc(x) = 1 − erf(x), accurate where it is tiny (x ≫ 1), element-wise on an array."""
    loops = native_loops(x)
    if loops is not None:
        return _through_loops(x, loops, complement=True)
    xp = backend.xp
    flat, out, large, erfc_tail, dtype = _split(x)
    xp.subtract(1, out, out=out)
    if large.size:
        part = flat.take(large)
        sign = xp.sign(part)  # erfc(−x) = 2 − erfc(x), written without a branch
        tail = erfc_tail(xp.abs(part))
        tail *= sign
        tail += 1 - sign  # 0 for x > 1, so that the tail keeps every digit
        out[large] = tail
    return out.reshape(x.shape).astype(dtype, copy=False)


class Erf(Function):
    """d/dx erf(x) = 2/√π · e^{−x²}"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return erf_array(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * (_TWO_OVER_SQRT_PI * backend.xp.exp(-x * x)),)


class Erfc(Function):
    """d/dx erfc(x) = −2/√π · e^{−x²}"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return erfc_array(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        return (grad * (-_TWO_OVER_SQRT_PI * backend.xp.exp(-x * x)),)


# ---- the public functions ----------------------------------------------------------------------


def erf(input: Any) -> Tensor:  # noqa: A002
    """The error function erf(x) = 2/√π ∫₀ˣ e^{−t²} dt, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.erf(cr.tensor(1.0)).item(), 4), cr.erf(cr.tensor([0.0])).tolist()
    (0.8427, [0.0])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("erf", "input", input)
    return Erf.apply(input)


def erfc(input: Any) -> Tensor:  # noqa: A002
    """The complementary error function erfc(x) = 1 − erf(x), element-wise, accurate where it
    is tiny (x ≫ 1).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.erfc(cr.tensor(1.0)).item(), 4), cr.erfc(cr.tensor([0.0])).tolist()
    (0.1573, [1.0])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("erfc", "input", input)
    return Erfc.apply(input)
