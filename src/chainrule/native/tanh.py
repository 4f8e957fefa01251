"""tanh for the float32 loops (of chainrule.native and the compiled step's kernels) as
arithmetic that the compiler vectorises.

A numba loop that calls ``tanh`` calls the C library once per element, which on the machines
measured is seven times slower than NumPy's vectorised ``tanh``; a rational function of a²
(tanh is odd) is multiplications, additions and one division, which LLVM runs eight or four
elements at a time. It is evaluated in float64 and rounded once to float32, so the result is
within one unit in the last place of tanh (the fit's own relative error is 7.5e-9, an eighth
of float32's unit; tests/test_compile_kernels.py checks every result against tanh in
float64). ``scripts/fit_tanh.py`` derives the coefficients.

    tanh(a) = a·P(a²) / Q(a²) for 0 ≤ a < 9.1, and 1 from 9.1 on (where tanh(a) rounds to 1);
    tanh(−a) = −tanh(a), so that −0 and NaN come out as they go in.
"""

from __future__ import annotations

from typing import Any

from numpy import float32, float64

from chainrule.native import jit

CUTOFF = 9.1
_P0, _P1, _P2, _P3, _P4, _P5, _P6 = (
    0.9999999925546041,
    0.13079725999039896,
    0.003099164125023648,
    1.1103947157369595e-05,
    -2.0019214105840126e-08,
    5.1777178403832225e-11,
    -8.228524627991695e-14,
)
_Q1, _Q2, _Q3 = 0.46413052373148483, 0.024476114165592516, 0.0002539153780972376


def _tanh32(value: Any) -> Any:
    """tanh of one float32, as a float32 (see the module's docstring)."""
    v = float64(value)
    a = v if v >= 0.0 else -v  # NaN stays NaN through every step below
    a = CUTOFF if a > CUTOFF else a
    s = a * a
    numerator = a * ((((((_P6 * s + _P5) * s + _P4) * s + _P3) * s + _P2) * s + _P1) * s + _P0)
    denominator = ((_Q3 * s + _Q2) * s + _Q1) * s + 1.0
    result = 1.0 if a >= CUTOFF else numerator / denominator
    return float32(result if v >= 0.0 else -result)


tanh32 = jit(_tanh32, cache=True)


def _tanh_array(values: Any, out: Any) -> None:
    flat, result = values.ravel(), out.reshape(-1)
    for i in range(flat.size):
        result[i] = tanh32(flat[i])


tanh_array = jit(_tanh_array, cache=True)
"""``tanh_array(values, out)``: out = tanh(values) elementwise, float32 (for tests and timing)."""
