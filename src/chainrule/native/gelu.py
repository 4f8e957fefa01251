"""GELU's backward (ops/smooth_activations.py, the erf form) as two loops around NumPy's exp:
∂C/∂x = g·(Φ(x) + x·φ(x)), φ(x) = e^{−x²/2}/√(2π), where the NumPy form makes seven passes.
Each loop computes the NumPy form's expression operation for operation (no fused multiply-add),
so the gradient is the same bit for bit; the forward's loops are :mod:`chainrule.native.erf`'s.
"""

from __future__ import annotations

from typing import Any

from numpy import float32

from chainrule.native import jit
from chainrule.ops.smooth_activations import _INV_SQRT_2PI

MINUS_HALF = float32(-0.5)
INV_SQRT_2PI = float32(_INV_SQRT_2PI)


def _exponent(x: Any, out: Any) -> None:
    """out = (−½·x)·x, element-wise (1-d arrays)."""
    for i in range(x.size):
        value = x[i]
        out[i] = (MINUS_HALF * value) * value


def _slope(exponential: Any, x: Any, cdf: Any, grad: Any) -> None:
    """exponential ← ((e·(1/√(2π)))·x + Φ)·g, element-wise (1-d arrays): the gradient, written
    over the exponentials."""
    for i in range(x.size):
        density = INV_SQRT_2PI * exponential[i]
        density = density * x[i]
        density = density + cdf[i]
        exponential[i] = density * grad[i]


exponent = jit(_exponent, cache=True)
slope = jit(_slope, cache=True)
