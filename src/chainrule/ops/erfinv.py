"""The inverse error function and the normal distribution's functions built on erf: erfinv,
erfcx (the scaled erfc), ndtri (the normal quantile) and log_ndtr (log of the normal CDF).

All are computed in float64 (float32 and float16 inputs too, the result rounded once):

- erfcx(x) = e^{x²} erfc(x): for x > 1, R(x)/x with R(x) = x e^{x²} erfc(x) the Chebyshev
  series of ops/erf.py's tail, so no e^{x²} is ever formed (erfcx(10³⁰⁰) = 5.6·10⁻³⁰¹); for
  x ≤ 1, e^{x²} erfc(x) with e^{x²} = e^{h²} e^{(x − h)(x + h)} (h: x to 1/16, h² exact).
- erfinv(x), |x| ≤ 1/2: the Maclaurin series Σ cₖ/(2k + 1) (√π x/2)²ᵏ⁺¹ with
  cₖ = Σₘ cₘ cₖ₋₁₋ₘ / ((m + 1)(2m + 1)), 14 terms (4·10⁻¹¹ at x = 1/2), then one Newton step
  on erf(y) = x.
- the tails, w = 1 − |x| ≤ 1/2 (and ndtri's p = w/2 down to 5·10⁻³²⁴): y with erfc(y) = w from
  a polynomial in t = √(−ln w) fitted to mpmath's values on three pieces of [0.83, 27.4]
  (within 3·10⁻⁶), then two Newton steps on ln erfc(y) = ln w, written with erfcx:
  y ← y + (ln erfcx(y) − y² − ln w) · √π/2 · erfcx(y). Nothing underflows, and 1 − |x| is exact.
- log_ndtr(x) = ln Φ(x): for x < 0, ln(erfcx(−x/√2)/2) − x²/2 (exact far into the left tail:
  log_ndtr(−10¹⁰) = −5·10¹⁹); for x ≥ 0, ln(1 − erfc(x/√2)/2) by log1p, erfc(x/√2) taken for
  x > 1 as erfcx(x/√2) e^{−x²/2}, so that the rounding of x/√2 does not cost x² ulps.

Derivatives: erfinv' = √π/2 · e^{erfinv(x)²}, erfcx' = 2x erfcx(x) − 2/√π,
ndtri' = √(2π) e^{ndtri(p)²/2}, log_ndtr' = √(2/π) / erfcx(−x/√2), each from the function's own
output or from erfcx, so second derivatives are recorded too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops import erf as _erf
from chainrule.ops.elementwise import as_float
from chainrule.tensor import Tensor

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _maclaurin(count: int) -> list[float]:
    """The coefficients of erfinv's series in powers of x (odd powers only: of x·(x²)ᵏ)."""
    c = [1.0]
    for k in range(1, count):
        c.append(sum(c[m] * c[k - 1 - m] / ((m + 1) * (2 * m + 1)) for m in range(k)))
    return [c[k] / (2 * k + 1) * _SQRT_PI_OVER_2 ** (2 * k + 1) for k in range(count)]


_CENTRAL = _maclaurin(14)
# y(t) with erfc(y) = e^{−t²}: (t from, t to, powers of u = (2t − (from + to))/(to − from)),
# least-squares fits to mpmath's values (tests/test_special_functions.py checks the fit).
_TAIL_FITS = (
    (0.83, 2.2, [
        1.1605621861586681, 0.712570225751753, 0.01088867992889303, -0.009009889853476297,
        0.0043131305488493385, -0.0016717513259494469, 0.0005516938482675634,
        -0.00013180144265844283, 1.2384780538633205e-05,
    ]),
    (2.2, 6.1, [
        3.906042683002258, 2.009675114211703, -0.015474074807954702, 0.003409808473667184,
        -0.0003052648067833798, -0.000132102724285626, 0.0001930076365608563,
        -0.00037377807434779237, 0.00020701623679074334,
    ]),
    (6.0, 27.4, [
        16.598399381822286, 10.746044294894585, -0.023788445375433502, 0.01281326706782134,
        -0.005314664286419541, 0.0026073859597431186, -0.004085137278837743,
        0.0024198349268980597,
    ]),
)  # fmt: skip


def _horner(z: Any, coefficients: list[float]) -> Any:
    total = backend.xp.zeros_like(z) + coefficients[-1]
    for c in coefficients[-2::-1]:
        total = total * z + c
    return total


def _flat64(x: Any) -> Any:
    return as_float(x).reshape(-1).astype(numpy.float64)


def _shaped(out: Any, x: Any) -> Any:
    x = as_float(x)
    return out.reshape(x.shape).astype(x.dtype, copy=False)


def _apply_where(out: Any, mask: Any, x: Any, fn: Any) -> None:
    index = backend.xp.flatnonzero(mask)
    if index.size:
        out[index] = fn(x.take(index))


# ---- erfcx ---------------------------------------------------------------------------------------


def _erfcx64(x: Any) -> Any:
    """e^{x²} erfc(x) on a flat float64 array."""
    xp = backend.xp
    out = xp.empty_like(x)

    def tail(v: Any) -> Any:  # R(v)/v, R from erf's Chebyshev pieces
        r = xp.empty_like(v)
        low = 1.0
        for high, name, to_u in _erf._TAIL_PIECES:
            _apply_where(
                r,
                (v > low) & (v <= high),
                v,
                lambda a, n=name, f=to_u: _erf._clenshaw(f(a), _erf._TERMS[n]),
            )
            low = high
        return r / v

    def direct(v: Any) -> Any:
        v = xp.maximum(v, -27.0)  # e^{27²} overflows already; the cap keeps inf − inf out
        h = xp.floor(v * 16) / 16
        return xp.exp(h * h) * xp.exp((v - h) * (v + h)) * _erf.erfc_array(v)

    _apply_where(out, x > 1, x, tail)
    _apply_where(out, ~(x > 1), x, direct)  # nan falls here: erfc(nan) is nan
    return out


def erfcx_array(x: Any) -> Any:
    """erfcx(x) = e^{x²} erfc(x), element-wise on an array (no graph)."""
    with fp_errors.silenced():
        return _shaped(_erfcx64(_flat64(x)), x)


# ---- erfinv and ndtri ----------------------------------------------------------------------------


def _central(x: Any) -> Any:
    """erfinv(x) for |x| ≤ 1/2 (flat float64)."""
    xp = backend.xp
    y = x * _horner(x * x, _CENTRAL)
    return y - (_erf.erf_array(y) - x) / (_TWO_OVER_SQRT_PI * xp.exp(-y * y))


def _tail(w: Any) -> Any:
    """y > 0 with erfc(y) = w, for 0 < w ≤ 1/2 (flat float64)."""
    xp = backend.xp
    log_w = xp.log(w)
    t = xp.sqrt(-log_w)
    y = xp.empty_like(t)
    low = -math.inf
    for start, end, coefficients in _TAIL_FITS:
        high = end if end < 27 else math.inf

        def fit(v: Any, a: float = start, b: float = end, c: list = coefficients) -> Any:
            return _horner((2 * v - (a + b)) / (b - a), c)

        _apply_where(y, (t > low) & (t <= high), t, fit)
        low = high
    for _ in range(2):
        scaled = _erfcx64(y)
        y = y + (xp.log(scaled) - y * y - log_w) * (_SQRT_PI_OVER_2 * scaled)
    return y


def _erfinv64(x: Any) -> Any:
    xp = backend.xp
    magnitude = xp.abs(x)
    out = xp.where(magnitude == 1, xp.copysign(math.inf, x), math.nan)
    _apply_where(out, magnitude <= 0.5, x, _central)
    _apply_where(
        out, (magnitude > 0.5) & (magnitude < 1), x, lambda v: xp.copysign(_tail(1 - xp.abs(v)), v)
    )
    return out


def erfinv_array(x: Any) -> Any:
    """erfinv(x), the y with erf(y) = x, element-wise on an array (no graph)."""
    with fp_errors.silenced():
        return _shaped(_erfinv64(_flat64(x)), x)


def _ndtri64(p: Any) -> Any:
    xp = backend.xp
    out = xp.where(p == 0, -math.inf, xp.where(p == 1, math.inf, math.nan))
    _apply_where(out, (p >= 0.25) & (p <= 0.75), p, lambda v: _SQRT_2 * _central(2 * v - 1))
    _apply_where(out, (p > 0) & (p < 0.25), p, lambda v: -_SQRT_2 * _tail(2 * v))
    _apply_where(out, (p > 0.75) & (p < 1), p, lambda v: _SQRT_2 * _tail(2 * (1 - v)))
    return out


def ndtri_array(p: Any) -> Any:
    """Φ⁻¹(p), the standard normal quantile, element-wise on an array (no graph)."""
    with fp_errors.silenced():
        return _shaped(_ndtri64(_flat64(p)), p)


def _erfc_scaled_back(x: Any) -> Any:
    """erfc(x/√2) for x > 1 as erfcx(x/√2) e^{−x²/2}, with e^{−x²/2} formed as
    e^{−h²/2} e^{−(x − h)(x + h)/2} (h: x to 1/16): erfc(x/√2) itself would carry the
    rounding of x/√2, x² ulps."""
    xp = backend.xp
    x = xp.minimum(x, 40.0)  # erfc(40/√2) = 0 already; the cap keeps inf − inf out
    h = xp.floor(x * 16) / 16
    return _erfcx64(x / _SQRT_2) * xp.exp(h * h * -0.5) * xp.exp((x - h) * (x + h) * -0.5)


def log_ndtr_array(x: Any) -> Any:
    """ln Φ(x), the log of the standard normal CDF, element-wise on an array (no graph)."""
    xp = backend.xp
    with fp_errors.silenced():
        v = _flat64(x)
        out = xp.log1p(-0.5 * _erf.erfc_array(v / _SQRT_2))  # nan stays nan
        _apply_where(out, v > 1, v, lambda a: xp.log1p(-0.5 * _erfc_scaled_back(a)))
        _apply_where(out, v < 0, v, lambda a: xp.log(0.5 * _erfcx64(-a / _SQRT_2)) - a * a * 0.5)
        return _shaped(out, x)


# ---- the operations -----------------------------------------------------------------------------


class Erfinv(Function):
    """d/dx erfinv(x) = √π/2 · e^{erfinv(x)²} (from the saved output)"""

    def forward(self, x: Any) -> Any:
        out = erfinv_array(x)
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * (_SQRT_PI_OVER_2 * backend.xp.exp(out * out)),)


class Erfcx(Function):
    """d/dx erfcx(x) = 2x · erfcx(x) − 2/√π (from the saved input and output)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        out = erfcx_array(x)
        self.saved = (x, out)
        return out

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        return (grad * (2 * x * out - _TWO_OVER_SQRT_PI),)


class Ndtri(Function):
    """d/dp Φ⁻¹(p) = √(2π) · e^{Φ⁻¹(p)²/2} (from the saved output)"""

    def forward(self, p: Any) -> Any:
        out = ndtri_array(p)
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * (_SQRT_2PI * backend.xp.exp(out * out * 0.5)),)


class LogNdtr(Function):
    """d/dx ln Φ(x) = φ(x)/Φ(x) = √(2/π) / erfcx(−x/√2)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return log_ndtr_array(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        if isinstance(x, Tensor):  # recording a graph: erfcx as an operation of its own
            return (grad * (_SQRT_2_OVER_PI / Erfcx.apply(x * (-1 / _SQRT_2))),)
        return (grad * (_SQRT_2_OVER_PI / erfcx_array(-x / _SQRT_2)),)

    def name(self) -> str:
        return "LogNdtrBackward"


# ---- the public functions ----------------------------------------------------------------------


def _unary(op: type, name: str, input: Any) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    return op.apply(input)


def erfinv(input: Tensor) -> Tensor:  # noqa: A002
    """The inverse error function: y with erf(y) = x, for x in [−1, 1] (±inf at ±1, nan
    outside), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.erfinv(cr.tensor([0.0, 0.5, -0.9])).tolist()]
    [0.0, 0.476936, -1.163087]

    ```
    """
    return _unary(Erfinv, "erfinv", input)


def erfcx(input: Tensor) -> Tensor:  # noqa: A002
    """The scaled complementary error function e^{x²} erfc(x), element-wise, accurate for large
    x (where erfc underflows).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.erfcx(cr.tensor([0.0, 1.0, 100.0])).tolist()]
    [1.0, 0.427584, 0.005642]

    ```
    """
    return _unary(Erfcx, "erfcx", input)


def ndtri(input: Tensor) -> Tensor:  # noqa: A002
    """The standard normal quantile Φ⁻¹(p) = √2 erfinv(2p − 1), element-wise, accurate for p
    down to the smallest float (ndtri(1e-300) = −37.05).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.ndtri(cr.tensor([0.5, 0.975])).tolist()]
    [0.0, 1.959964]

    ```
    """
    return _unary(Ndtri, "ndtri", input)


def log_ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """ln Φ(x), the log of the standard normal CDF, element-wise, accurate in the far left
    tail (log_ndtr(−40) = −804.6).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 4) for v in special.log_ndtr(cr.tensor([0.0, -40.0])).tolist()]
    [-0.6931, -804.6085]

    ```
    """
    return _unary(LogNdtr, "log_ndtr", input)
