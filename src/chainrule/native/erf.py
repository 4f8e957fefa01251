"""erf and erfc of float32 arrays (ops/erf.py, and GELU through it) with their series as loops.

The NumPy form evaluates each series by Horner's rule as one whole-array pass per operation:
on |x| ≤ 1 the seven terms of P(x²) make some sixteen passes over every element, and on the
tail |x| > 1 the nine terms of R and the split exponential some thirty over the tail's
elements, gathered and scattered by index. The loops make the same operations one element at
a time, in the same order and each rounded once to float32 (no fused multiply-add), so the
results are the NumPy form's bit for bit; the two exponentials stay in NumPy (a numba loop
would call the C library's expf once per element, several times slower than NumPy's
vectorised exp, and rounding otherwise).

- :func:`_terms`: for every element, both branches (no gather or scatter): the series
  x·P(min(x², 1)) (1 − that for erfc) and, for a = min(|x|, 10.5), R(u(a)) and the two
  exponents of e^{−a²} = e^{−h²}·e^{−(a − h)(a + h)}, h = ⌊16a⌋/16; the tail's kept;
- :func:`_combine`: on the tail, R·e^{−(a−h)(a+h)}·e^{−h²}/a, signed for erfc(x) or as
  1 − that with x's sign for erf(x); with ``gelu``, Φ = erfc/2 and x·Φ.
"""

from __future__ import annotations

from typing import Any

from numpy import float32, floor

from chainrule.native import jit
from chainrule.ops import erf as _form

ZERO, HALF, ONE, TWO = float32(0), float32(0.5), float32(1), float32(2)
SIXTEEN = float32(16)
END, SCALE, SHIFT = float32(_form._TAIL_END_32), float32(_form._U_SCALE), float32(_form._U_SHIFT)
# The series' float32 coefficients, lowest power first, as constants of the compiled loops
# (Horner's rule written out, so that each loop is one straight line that LLVM vectorises).
P0, P1, P2, P3, P4, P5, P6 = _form._P_32_COEFFICIENTS
R0, R1, R2, R3, R4, R5, R6, R7, R8 = _form._R_32_COEFFICIENTS


def _terms(
    flat: Any, scale: Any, complement: bool, values: Any, a: Any, first: Any, second: Any
) -> None:
    """For each x = flat·scale (GELU's −x/√2; a scale of 1 leaves x as it is): on |x| ≤ 1 the
    series x·P(x²) (1 − that for erfc) into ``values``; on the tail |x| > 1, a = min(|x|,
    10.5), R(u) with u = SCALE/(a + 2) + SHIFT into ``values``, and the exponents
    −(a + h)(a − h) into ``first`` and −h² into ``second`` (h = ⌊16a⌋/16; both 0 off the
    tail). Both branches are computed for every element and one is kept: a straight line that
    LLVM vectorises, where a branch per element would not be."""
    for i in range(flat.size):
        x = flat[i] * scale
        z = x * x
        tail = z > ONE  # NaN is not: its series is NaN
        z = z if z <= ONE or z != z else ONE  # NumPy's minimum: nan stays nan
        total = z * P6
        total = total + P5
        total = total * z
        total = total + P4
        total = total * z
        total = total + P3
        total = total * z
        total = total + P2
        total = total * z
        total = total + P1
        total = total * z
        total = total + P0
        total = total * x
        total = ONE - total if complement else total
        size = x if x >= 0 else -x
        size = size if size <= END else END
        u = size + TWO
        u = SCALE / u
        u = u + SHIFT
        r = u * R8
        r = r + R7
        r = r * u
        r = r + R6
        r = r * u
        r = r + R5
        r = r * u
        r = r + R4
        r = r * u
        r = r + R3
        r = r * u
        r = r + R2
        r = r * u
        r = r + R1
        r = r * u
        r = r + R0
        h = size * SIXTEEN
        h = floor(h)
        h = h / SIXTEEN
        difference = size - h
        product = size + h
        product = product * difference
        values[i] = r if tail else total
        a[i] = size
        first[i] = -product if tail else ZERO
        second[i] = -(h * h) if tail else ZERO


def _combine(
    flat: Any,
    scale: Any,
    values: Any,
    a: Any,
    first: Any,
    second: Any,
    complement: bool,
    gelu: bool,
    out: Any,
) -> None:
    """On the tail of x = flat·scale, with e^{…} now in ``first`` and ``second``: t = R·e₁·e₂/a,
    and erfc(x) = t·sign(x) + (1 − sign(x)), or erf(x) = 1 − t with x's sign, written over
    ``values``. With ``gelu`` (erfc of −flat/√2): Φ = erfc·½ over ``values`` instead, and
    GELU's flat·Φ into ``out``."""
    for i in range(flat.size):
        x = flat[i] * scale
        t = values[i] * first[i]
        t = t * second[i]
        t = t / a[i]
        sign = ONE if x > 0 else -ONE
        if complement:
            t = t * sign
            t = t + (ONE - sign)
        else:
            t = ONE - t
            t = t if x > 0 else -t
        t = t if x * x > ONE else values[i]
        if gelu:
            t = t * HALF
            out[i] = flat[i] * t
        values[i] = t


terms = jit(_terms, cache=True)
combine = jit(_combine, cache=True)
