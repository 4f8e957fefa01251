"""The modified Bessel functions of the first kind I₀ and I₁, and their exponentially scaled
forms i0e(x) = e^{−|x|} I₀(x) and i1e(x) = e^{−|x|} I₁(x): torch.special's i0, i0e, i1, i1e.

Computed in float64 (float32 and float16 inputs too, the result rounded once to their dtype):

- |x| ≤ 20: the power series I₀(x) = Σₖ qᵏ/(k!)² and I₁(x) = (x/2) Σₖ qᵏ/(k! (k + 1)!) with
  q = x²/4, 46 terms (the first dropped is below 10⁻¹⁸ of the sum at |x| = 20). Every term is
  positive: nothing cancels.
- |x| > 20: Hankel's asymptotic series e^{−|x|} I_ν(|x|) = Σₖ (−1)ᵏ aₖ(ν) / |x|ᵏ / √(2π|x|), with
  aₖ(ν) = Πⱼ₌₁ᵏ (4ν² − (2j − 1)²) / (k! 8ᵏ), 40 terms (the smallest term, near k = 2|x|, is
  e^{−2|x|} ≈ 4·10⁻¹⁸ at 20). I₀ and I₁ multiply by e^{|x|/2} twice, so that they stay finite
  up to x ≈ 713 where e^{|x|} alone would overflow at 709.7.

Derivatives: I₀' = I₁, I₁' = I₀ − I₁/x (1/2 at 0), i0e' = i1e − sign(x) i0e,
i1e' = i0e − i1e (sign(x) + 1/x) (1/2 at 0). At ±inf, I₀ = inf and I₁ = ±inf (PyTorch gives nan,
the value of its series there).
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.elementwise import as_float
from chainrule.tensor import Tensor

_SERIES = {
    0: [1 / (math.factorial(k) ** 2) for k in range(46)],
    1: [1 / (math.factorial(k) * math.factorial(k + 1)) for k in range(46)],
}


def _hankel(nu: int, count: int) -> list[float]:
    coefficients = [1.0]
    for k in range(1, count):
        coefficients.append(-coefficients[-1] * (4 * nu * nu - (2 * k - 1) ** 2) / (k * 8))
    return coefficients


_ASYMPTOTIC = {0: _hankel(0, 40), 1: _hankel(1, 40)}
_SMALL = 20.0


def _horner(z: Any, coefficients: list[float]) -> Any:
    total = backend.xp.zeros_like(z) + coefficients[-1]
    for c in coefficients[-2::-1]:
        total = total * z + c
    return total


def _bessel64(nu: int, scaled: bool, x: Any) -> Any:
    """I_ν(x) or e^{−|x|} I_ν(x) (``scaled``), ν = 0 or 1, on a flat float64 array."""
    xp = backend.xp
    magnitude = xp.abs(x)
    out = xp.empty_like(x)
    small = xp.flatnonzero(~(magnitude > _SMALL))  # nan too: the series gives nan
    if small.size:
        v = x.take(small)
        series = _horner(v * v * 0.25, _SERIES[nu])
        if nu == 1:
            series = series * (v * 0.5)
        out[small] = series * xp.exp(-xp.abs(v)) if scaled else series
    large = xp.flatnonzero(magnitude > _SMALL)
    if large.size:
        v = x.take(large)
        a = xp.abs(v)
        value = _horner(1 / a, _ASYMPTOTIC[nu]) / xp.sqrt(2 * math.pi * a)
        value = xp.where(a == math.inf, 0.0, value)  # not inf/inf
        if not scaled:
            half = xp.exp(a * 0.5)
            value = xp.where(a == math.inf, math.inf, value * half * half)
        out[large] = xp.copysign(value, v) if nu == 1 else value
    return out


def bessel_array(nu: int, scaled: bool, x: Any) -> Any:
    """I_ν(x), or e^{−|x|} I_ν(x) with ``scaled``, for ν = 0 or 1, element-wise on an array."""
    x = as_float(x)
    with fp_errors.silenced():
        out = _bessel64(nu, scaled, x.reshape(-1).astype(numpy.float64))
        return out.reshape(x.shape).astype(x.dtype, copy=False)  # overflow to inf: silent


class _Bessel(Function):
    nu = 0
    scaled = False

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        out = bessel_array(self.nu, self.scaled, x)
        self.saved = (x, out)
        return out

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        xp = backend.xp
        graph = isinstance(x, Tensor)
        other = _OPERATIONS[(1 - self.nu, self.scaled)]
        partner = other.apply(x) if graph else bessel_array(1 - self.nu, self.scaled, x)
        if self.nu == 0:
            slope = partner if not self.scaled else partner - xp.sign(x) * out
        else:
            # 1/x taken at 1 where x = 0, so that the unused branch has no 0/0 to differentiate.
            at_zero = x == 0
            safe = xp.where(at_zero, 1.0, x)
            inverse = 1 / safe
            slope = partner - out * (xp.sign(x) + inverse if self.scaled else inverse)
            slope = xp.where(at_zero, 0.5, slope)
        return (grad * slope,)


class I0(_Bessel):
    """d/dx I₀(x) = I₁(x)"""


class I0e(_Bessel):
    """d/dx e^{−|x|} I₀(x) = i1e(x) − sign(x) i0e(x)"""

    scaled = True


class I1(_Bessel):
    """d/dx I₁(x) = I₀(x) − I₁(x)/x (1/2 at 0)"""

    nu = 1


class I1e(_Bessel):
    """d/dx e^{−|x|} I₁(x) = i0e(x) − i1e(x) (sign(x) + 1/x) (1/2 at 0)"""

    nu = 1
    scaled = True


_OPERATIONS = {(0, False): I0, (0, True): I0e, (1, False): I1, (1, True): I1e}


def _unary(op: type, name: str, input: Any) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    return op.apply(input)


def i0(input: Tensor) -> Tensor:  # noqa: A002
    """The modified Bessel function of the first kind of order 0, I₀(x) = Σₖ (x/2)²ᵏ/(k!)².

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.i0(cr.tensor([0.0, 1.0, -2.0])).tolist()]
    [1.0, 1.266066, 2.279585]

    ```
    """
    return _unary(I0, "i0", input)


def i0e(input: Tensor) -> Tensor:  # noqa: A002
    """The exponentially scaled I₀: e^{−|x|} I₀(x), finite for every x.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.i0e(cr.tensor([0.0, 1.0, 1000.0])).tolist()]
    [1.0, 0.46576, 0.012617]

    ```
    """
    return _unary(I0e, "i0e", input)


def i1(input: Tensor) -> Tensor:  # noqa: A002
    """The modified Bessel function of the first kind of order 1, I₁(x) = Σₖ (x/2)²ᵏ⁺¹/(k!(k+1)!).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.i1(cr.tensor([0.0, 1.0, -2.0])).tolist()]
    [0.0, 0.565159, -1.590637]

    ```
    """
    return _unary(I1, "i1", input)


def i1e(input: Tensor) -> Tensor:  # noqa: A002
    """The exponentially scaled I₁: e^{−|x|} I₁(x), finite for every x.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import special
    >>> [round(v, 6) for v in special.i1e(cr.tensor([0.0, 1.0, -1000.0])).tolist()]
    [0.0, 0.20791, -0.012611]

    ```
    """
    return _unary(I1e, "i1e", input)
