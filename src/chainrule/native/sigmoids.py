"""Sigmoid, SiLU and tanh (ops/smooth_activations.py) with their element-wise passes as loops
around NumPy's exp and tanh, which stay in NumPy (a numba loop would call the C library once
per element, several times slower, and round otherwise).

The NumPy forms make four passes for σ's forward (the cap, eᶻ, 1 + eᶻ, the quotient) and two
for its backward, SiLU's five for its backward, tanh's three. Each loop computes the NumPy
form's expression operation for operation, each rounded once (no fused multiply-add), so the
results are the same bit for bit, nan's included. Every array is 1-d, of one float dtype.
"""

from __future__ import annotations

from typing import Any

from chainrule.native import jit


def _capped(z: Any, limit: Any, out: Any) -> None:
    """out = min(z, limit), NumPy's minimum (nan stays nan)."""
    for i in range(z.size):
        value = z[i]
        out[i] = limit if value > limit else value


def _sigmoid_from_exp(exp_z: Any, denominator: Any) -> None:
    """denominator = 1 + eᶻ, and σ = eᶻ/(1 + eᶻ) over ``exp_z``."""
    one = exp_z.dtype.type(1)
    for i in range(exp_z.size):
        e = exp_z[i]
        d = e + one
        denominator[i] = d
        exp_z[i] = e / d


def _silu_from_exp(x: Any, exp_x: Any, out: Any) -> None:
    """σ(x) = eˣ/(eˣ + 1) over ``exp_x``, and x·σ(x) into ``out``."""
    one = exp_x.dtype.type(1)
    for i in range(x.size):
        e = exp_x[i]
        s = e / (e + one)
        exp_x[i] = s
        out[i] = x[i] * s


def _sigmoid_backward(grad: Any, out: Any, denominator: Any, result: Any) -> None:
    """result = (g·σ)/(1 + eᶻ)."""
    for i in range(grad.size):
        slope = grad[i] * out[i]
        result[i] = slope / denominator[i]


def _silu_backward(grad: Any, x: Any, s: Any, result: Any) -> None:
    """result = ((1 − σ)·x + 1)·σ·g."""
    one = s.dtype.type(1)
    for i in range(grad.size):
        slope = one - s[i]
        slope = slope * x[i]
        slope = slope + one
        slope = slope * s[i]
        result[i] = slope * grad[i]


def _tanh_backward(grad: Any, out: Any, result: Any) -> None:
    """result = (1 − tanh²)·g."""
    one = out.dtype.type(1)
    for i in range(grad.size):
        value = out[i]
        slope = one - value * value
        result[i] = slope * grad[i]


capped = jit(_capped, cache=True)
sigmoid_from_exp = jit(_sigmoid_from_exp, cache=True)
silu_from_exp = jit(_silu_from_exp, cache=True)
sigmoid_backward = jit(_sigmoid_backward, cache=True)
silu_backward = jit(_silu_backward, cache=True)
tanh_backward = jit(_tanh_backward, cache=True)
