"""The gamma family: lgamma, digamma, polygamma and mvlgamma, each the derivative of the one
before (lgamma' = digamma = polygamma(0), polygamma(n)' = polygamma(n + 1)).

NumPy has none of them; they are evaluated here in float64 (float32 and float16 inputs too,
the result rounded once to their dtype), vectorised over pieces of the real line:

- lgamma, x > 0: on [0.5, 2.5) the Taylor series about 1 or 2 in z = x − 1 or x − 2,
  lnΓ(2 + z) = (1 − γ)z + S(z) with S(z) = Σₖ₌₂ (−1)ᵏ (ζ(k) − 1)/k · zᵏ (|z| ≤ 1/2: 30
  terms), and lnΓ(1 + z) = −γz + S(z) + (z − ln(1 + z)), which keep every digit at the zeros
  x = 1 and 2; below 0.5, lnΓ(x) = lnΓ(1 + x) − ln x; on [2.5, 10), the recurrence
  lnΓ(x) = lnΓ(x − m) + ln((x − 1)⋯(x − m)) down to [1.5, 2.5); from 10 on, Stirling's series
  (x − ½) ln x − x + ½ ln 2π + Σₖ B₂ₖ / (2k(2k − 1) x²ᵏ⁻¹), 10 terms.
- digamma, x > 0: on [1, 2), ψ(x) = (x − x₀) g(x), x₀ = 1.4616… its zero (in two parts, so that
  x − x₀ is exact), g a Chebyshev series computed with mpmath; below 1, ψ(x) = ψ(x + 1) − 1/x;
  on [2, 10) the recurrence down to [1, 2); from 10 on the asymptotic series
  ln x − 1/(2x) − Σₖ B₂ₖ / (2k x²ᵏ).
- polygamma(n ≥ 1, x > 0) = (−1)ⁿ⁺¹ n! ζ(n + 1, x): the Hurwitz zeta function as the sum of
  its first M terms (all positive: nothing cancels) plus its Euler-Maclaurin tail at x + M,
  M chosen per n so that 12 tail terms reach 10⁻¹⁷.
- x < 0: the reflection formulas, with sin(πx) and cot(πx) reduced exactly to |r| ≤ 1/2:
  lnΓ(x) = ln π − ln|sin πx| − lnΓ(1 − x), and ψ⁽ⁿ⁾(x) = (−1)ⁿ ψ⁽ⁿ⁾(1 − x) − πⁿ⁺¹ Pₙ(cot πx)
  where Pₙ(cot y) = dⁿ cot y / dyⁿ (P₀ = c, Pₙ₊₁ = −(1 + c²) Pₙ').

Special values are PyTorch's: lgamma is +inf at 0 and the negative integers and at ±inf;
digamma is −inf at +0, +inf at −0, nan at the negative integers and −inf; polygamma(n ≥ 1) is
(−1)ⁿ⁺¹·inf at 0 and the negative integers. Two limits differ from PyTorch, which gives nan or
a large finite number there: polygamma(n ≥ 1, +inf) = 0, polygamma(n ≥ 1, −inf) = nan, and
trigamma at negative integers is +inf (PyTorch: about 10³² in float64). Measured accuracy:
tests/test_special_functions.py.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any

import numpy

from chainrule import backend, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.elementwise import as_float
from chainrule.tensor import Tensor

_EULER = 0.5772156649015329
# (−1)ᵏ (ζ(k) − 1)/k for k = 2..31, computed with mpmath (tests/test_special_functions.py).
_S = [
    0.3224670334241132, -0.0673523010531981, 0.020580808427784546, -0.007385551028673986,
    0.0028905103307415234, -0.001192753911703261, 0.0005096695247430425,
    -0.00022315475845357939, 9.945751278180853e-05, -4.492623673813314e-05,
    2.050721277567069e-05, -9.439488275268397e-06, 4.374866789907488e-06,
    -2.039215753801366e-06, 9.55141213040742e-07, -4.492469198764566e-07,
    2.1207184805554665e-07, -1.0043224823968099e-07, 4.7698101693639804e-08,
    -2.2711094608943164e-08, 1.0838659214896955e-08, -5.183475041970047e-09,
    2.4836745438024785e-09, -1.1921401405860912e-09, 5.731367241678862e-10,
    -2.7595228851242334e-10, 1.330476437424449e-10, -6.4229645638381e-11,
    3.1044247747322276e-11, -1.5021384080754142e-11,
]  # fmt: skip
# The positive zero of ψ, split so that x − _ROOT_HI is exact for x in [1, 2].
_ROOT_HI, _ROOT_LO = 1.4616321449683622, 9.549995429965697e-17
# Chebyshev coefficients of g(x) = ψ(x)/(x − x₀) in u = 2x − 3 (x in [1, 2]), from mpmath.
_G = [
    0.983570260441567, -0.2270640863346444, 0.03336889902393011, -0.005320077271596548,
    0.0008788656937820505, -0.00014773492650606044, 2.5060543468359146e-05,
    -4.2721034029993324e-06, 7.302769272465923e-07, -1.2502886813559594e-07,
    2.1425009322359472e-08, -3.673295918565179e-09, 6.299717236108931e-10,
    -1.080593028883266e-10, 1.853735192053638e-11, -3.18023536582553e-12,
    5.456147570322795e-13, -9.360993131036438e-14, 1.606064636295075e-14,
    -2.7555431377438815e-15, 4.727736178601912e-16, -8.11148420346509e-17,
    1.391707769474154e-17, -2.3877901082188625e-18,
]  # fmt: skip
SERIES = {"s": _S, "g": _G, "root": (_ROOT_HI, _ROOT_LO)}


def bernoulli(count: int) -> list[Fraction]:
    """B₀ … B_{count−1} exactly (B₁ = −1/2), from Σⱼ₌₀ᵐ C(m + 1, j) Bⱼ = 0."""
    values: list[Fraction] = []
    for m in range(count):
        total = sum((math.comb(m + 1, j) * b for j, b in enumerate(values)), Fraction(0))
        values.append(Fraction(1) if m == 0 else -total / (m + 1))
    return values


_B = bernoulli(32)
# Stirling: B₂ₖ/(2k(2k − 1)); digamma's asymptotic series: B₂ₖ/(2k); k = 1..10.
_STIRLING = [float(_B[2 * k] / (2 * k * (2 * k - 1))) for k in range(1, 11)]
_PSI_ASYMPTOTIC = [float(_B[2 * k] / (2 * k)) for k in range(1, 11)]
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_PI = math.log(math.pi)
_TAIL_TERMS = 12


def _horner(z: Any, coefficients: list[float]) -> Any:
    total = backend.xp.zeros_like(z) + coefficients[-1]
    for c in coefficients[-2::-1]:
        total = total * z + c
    return total


def _clenshaw(u: Any, coefficients: list[float]) -> Any:
    b1, b2 = backend.xp.zeros_like(u), backend.xp.zeros_like(u)
    for c in coefficients[:0:-1]:
        b1, b2 = 2 * u * b1 - b2 + c, b1
    return u * b1 - b2 + coefficients[0]


def _pieces(x: Any, kernel: Any, special: Any) -> Any:
    """``kernel`` on the finite x > 0 and ``special`` (returning the full array) on the rest,
    in float64 on a flat copy; the result in x's dtype and shape."""
    xp = backend.xp
    flat = x.reshape(-1).astype(numpy.float64)
    with fp_errors.silenced():  # poles and overflow give inf, as in PyTorch, without a word
        out = special(flat)
        index = xp.flatnonzero((flat > 0) & (flat < math.inf))
        if index.size:
            out[index] = kernel(flat.take(index))
        return out.reshape(x.shape).astype(x.dtype, copy=False)


def _apply_where(out: Any, mask: Any, x: Any, fn: Any) -> None:
    index = backend.xp.flatnonzero(mask)
    if index.size:
        out[index] = fn(x.take(index))


def _reduced(x: Any) -> Any:
    """r = x − round(x) in [−1/2, 1/2], exact: sin(πx) = ±sin(πr) and cot(πx) = cot(πr)."""
    return x - backend.xp.round(x)


# ---- lgamma ------------------------------------------------------------------------------------


def _lgamma_near_one(z: Any) -> Any:
    """lnΓ(1 + z) for |z| ≤ 1/2."""
    return -_EULER * z + z * z * _horner(z, _S) + (z - backend.xp.log1p(z))


def _lgamma_near_two(z: Any) -> Any:
    """lnΓ(2 + z) for |z| ≤ 1/2."""
    return (1 - _EULER) * z + z * z * _horner(z, _S)


def _lgamma_positive(x: Any) -> Any:
    xp = backend.xp
    out = xp.empty_like(x)
    _apply_where(out, x < 0.5, x, lambda v: _lgamma_near_one(v) - xp.log(v))
    _apply_where(out, (x >= 0.5) & (x < 1.5), x, lambda v: _lgamma_near_one(v - 1))
    _apply_where(out, (x >= 1.5) & (x < 2.5), x, lambda v: _lgamma_near_two(v - 2))

    def down(v: Any) -> Any:
        product = xp.ones_like(v)
        for _ in range(8):  # v < 10: at most 8 steps to [1.5, 2.5)
            step = v >= 2.5
            v = xp.where(step, v - 1, v)  # exact: v − 1 ≥ 1.5 keeps v's last bit
            product = xp.where(step, product * v, product)
        return _lgamma_near_two(v - 2) + xp.log(product)

    def stirling(v: Any) -> Any:
        inverse = 1 / v
        series = inverse * _horner(inverse * inverse, _STIRLING)
        return (v - 0.5) * xp.log(v) - v + _HALF_LOG_2PI + series

    _apply_where(out, (x >= 2.5) & (x < 10), x, down)
    _apply_where(out, x >= 10, x, stirling)
    return out


def _lgamma_rest(x: Any) -> Any:
    """lnΓ where x ≤ 0, ±inf or nan (anything for x > 0: overwritten)."""
    xp = backend.xp
    out = xp.where(xp.isnan(x), x, math.inf)
    negative = (x < 0) & (x > -math.inf) & (x != xp.floor(x))

    def reflect(v: Any) -> Any:
        sine = xp.abs(xp.sin(math.pi * _reduced(v)))
        return _LOG_PI - xp.log(sine) - _lgamma_positive(1 - v)

    _apply_where(out, negative, x, reflect)
    return out


def lgamma_array(x: Any) -> Any:
    """ln|Γ(x)|, element-wise on an array (no graph)."""
    return _pieces(as_float(x), _lgamma_positive, _lgamma_rest)


# ---- digamma and polygamma ---------------------------------------------------------------------


def _digamma_positive(x: Any) -> Any:
    xp = backend.xp
    out = xp.empty_like(x)

    def below_one(v: Any) -> Any:  # ψ(v + 1) − 1/v with v + 1 never rounded
        return ((v - (_ROOT_HI - 1)) - _ROOT_LO) * _clenshaw(2 * v - 1, _G) - 1 / v

    def one_to_two(v: Any) -> Any:
        return ((v - _ROOT_HI) - _ROOT_LO) * _clenshaw(2 * v - 3, _G)

    def down(v: Any) -> Any:
        total = xp.zeros_like(v)
        for _ in range(8):
            step = v >= 2
            v = xp.where(step, v - 1, v)
            total = xp.where(step, total + 1 / v, total)
        return one_to_two(v) + total

    def asymptotic(v: Any) -> Any:
        inverse_square = 1 / (v * v)
        return xp.log(v) - 0.5 / v - inverse_square * _horner(inverse_square, _PSI_ASYMPTOTIC)

    _apply_where(out, x < 1, x, below_one)
    _apply_where(out, (x >= 1) & (x < 2), x, one_to_two)
    _apply_where(out, (x >= 2) & (x < 10), x, down)
    _apply_where(out, x >= 10, x, asymptotic)
    return out


@functools.lru_cache(maxsize=64)
def _cot_derivative(n: int) -> tuple[int, ...]:
    """The coefficients (of c⁰, c¹, …) of Pₙ with dⁿ cot y / dyⁿ = Pₙ(cot y)."""
    p = [0, 1]
    for _ in range(n):
        derivative = [k * p[k] for k in range(1, len(p))]  # P'
        q = [0] * (len(derivative) + 2)
        for k, c in enumerate(derivative):  # −(1 + c²) P'
            q[k] -= c
            q[k + 2] -= c
        p = q
    return tuple(p)


def _polygamma_rest(n: int, x: Any) -> Any:
    """ψ⁽ⁿ⁾ where x ≤ 0, ±inf or nan (anything for x > 0: overwritten)."""
    xp = backend.xp
    pole = (x <= 0) & (x == xp.floor(x)) & (x > -math.inf)
    if n == 0:  # ψ: −inf at +0, +inf at −0, nan at the negative integers and at −inf
        out = xp.where(x == 0, xp.copysign(math.inf, -x), math.nan)
        out = xp.where(x == math.inf, math.inf, out)
    else:
        out = xp.where(pole, (-1) ** (n + 1) * math.inf, math.nan)
        out = xp.where(x == math.inf, (-1) ** (n + 1) * 0.0, out)
    negative = (x < 0) & ~pole & (x > -math.inf)

    def reflect(v: Any) -> Any:
        cotangent = 1 / xp.tan(math.pi * _reduced(v))
        coefficients = [float(c) for c in _cot_derivative(n)]
        polynomial = _horner(cotangent, coefficients) if len(coefficients) > 1 else 0 * v
        return (-1) ** n * _polygamma_positive(n, 1 - v) - math.pi ** (n + 1) * polynomial

    _apply_where(out, negative, x, reflect)
    return out


@functools.lru_cache(maxsize=64)
def _zeta_tail(s: int) -> tuple[int, list[float]]:
    """For ζ(s, a), s ≥ 2: the shift M and the coefficients cₖ = B₂ₖ (s)₂ₖ₋₁ / (2k)! of
    ζ(s, a) ≈ a¹⁻ˢ (1/(s − 1) + 1/(2a) + Σₖ cₖ a⁻²ᵏ), the sum cut after 12 terms, with a ≥ M
    where the next term is below 10⁻¹⁷ of the first."""

    def log_coefficient(k: int) -> float:  # ln|cₖ|, without overflow for large s
        rising = math.lgamma(s + 2 * k - 1) - math.lgamma(s)
        return math.log(abs(float(_B[2 * k]))) + rising - math.lgamma(2 * k + 1)

    coefficients = []
    for k in range(1, _TAIL_TERMS + 1):
        sign = 1.0 if _B[2 * k] > 0 else -1.0
        coefficients.append(sign * math.exp(log_coefficient(k)))
    next_term = log_coefficient(_TAIL_TERMS + 1) + math.log(s - 1)
    shift = math.exp((next_term + 17 * math.log(10)) / (2 * _TAIL_TERMS + 2))
    return max(10, math.ceil(shift)), coefficients


def _polygamma_positive(n: int, x: Any) -> Any:
    if n == 0:
        return _digamma_positive(x)
    xp = backend.xp
    s = n + 1
    shift, coefficients = _zeta_tail(s)
    a = x + shift
    inverse = 1 / a
    series = 1 / (s - 1) + inverse * (0.5 + inverse * _horner(inverse * inverse, coefficients))
    total = xp.power(a, 1 - s) * series
    for k in range(shift - 1, -1, -1):  # the smaller terms first
        total = total + xp.power(x + k, -s)
    factorial = float(math.factorial(n)) if n <= 170 else math.inf
    return ((-1) ** (n + 1) * factorial) * total


def polygamma_array(n: int, x: Any) -> Any:
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma, element-wise on an array (no graph)."""
    return _pieces(
        as_float(x), lambda v: _polygamma_positive(n, v), lambda v: _polygamma_rest(n, v)
    )


def digamma_array(x: Any) -> Any:
    """ψ(x) = Γ'(x)/Γ(x), element-wise on an array (no graph)."""
    return polygamma_array(0, x)


# ---- the operations -----------------------------------------------------------------------------


class Lgamma(Function):
    """d/dx ln|Γ(x)| = ψ(x)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        self.saved = (x,)
        return lgamma_array(x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        if isinstance(x, Tensor):  # recording a graph: ψ as an operation of its own
            return (grad * Polygamma.apply(x, n=0),)
        return (grad * digamma_array(x),)


class Polygamma(Function):
    """d/dx ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁺¹⁾(x)"""

    def forward(self, x: Any, n: int) -> Any:
        x = as_float(x)
        self.saved = (x,)
        self.n = n
        return polygamma_array(n, x)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        if isinstance(x, Tensor):
            return (grad * Polygamma.apply(x, n=self.n + 1),)
        return (grad * polygamma_array(self.n + 1, x),)

    def name(self) -> str:
        return "DigammaBackward" if self.n == 0 else "PolygammaBackward"


# ---- the public functions ----------------------------------------------------------------------


def lgamma(input: Tensor) -> Tensor:  # noqa: A002
    """ln|Γ(x)|, element-wise; +inf at 0 and the negative integers.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.gammaln(cr.tensor([0.5, 1.0, 10.0])).tolist()]
    [0.572365, 0.0, 12.801827]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("lgamma", "input", input)
    return Lgamma.apply(input)


def digamma(input: Tensor) -> Tensor:  # noqa: A002
    """ψ(x) = d/dx ln Γ(x), element-wise; −inf at +0, nan at the negative integers.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.digamma(cr.tensor([1.0, 2.0])).tolist()]
    [-0.577216, 0.422784]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("digamma", "input", input)
    return Polygamma.apply(input, n=0)


def polygamma(n: int, input: Tensor) -> Tensor:  # noqa: A002
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma (n ≥ 0), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> round(special.polygamma(1, cr.tensor(1.0)).item(), 6)  # π²/6
    1.644934

    ```
    """
    if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    if not isinstance(input, Tensor):
        raise not_a_tensor("polygamma", "input", input)
    return Polygamma.apply(input, n=int(n))


def polygamma_method(input: Tensor, n: int) -> Tensor:  # noqa: A002
    """``Tensor.polygamma(n)``: :func:`polygamma` with the tensor first, as PyTorch's method."""
    return polygamma(n, input)


def mvlgamma(input: Tensor, p: int) -> Tensor:  # noqa: A002
    """The multivariate log-gamma function ln Γₚ(x) = p(p − 1)/4 · ln π + Σᵢ₌₀ᵖ⁻¹ lnΓ(x − i/2),
    element-wise (p ≥ 1); its derivative is Σᵢ ψ(x − i/2).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> round(special.multigammaln(cr.tensor(2.0), 2).item(), 6)
    0.451583

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("mvlgamma", "input", input)
    if isinstance(p, bool) or not isinstance(p, (int, numpy.integer)):
        raise TypeError(f"mvlgamma(): argument 'p' must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError("mvlgamma: p has to be greater than or equal to 1")
    if input.array.dtype.kind == "b":
        raise RuntimeError("mvlgamma: the input tensor may not be a boolean tensor")
    total = Lgamma.apply(input)
    for i in range(1, int(p)):
        total = total + Lgamma.apply(input - i / 2)
    return total + p * (p - 1) / 4 * _LOG_PI
