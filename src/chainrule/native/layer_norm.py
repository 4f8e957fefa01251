"""Layer norm's element-wise passes as loops over its rows (R, D), one pass where NumPy's form
makes three (forward: x̂ and the affine output) or five (backward: ∂C/∂x).

The row means and inner products stay in BLAS and einsum (ops/norm.py); each loop computes
exactly the NumPy form's expression, operation for operation (no fused multiply-add), so the
results are the same bit for bit:

- x̂ = (x − μ)·(1/σ), written over the centred rows, and y = x̂·γ + β (either term optional);
- ∂C/∂x = ((g·γ − mean(g·γ)) − x̂·mean(g·γ ⊙ x̂))·(1/σ), γ optional.
"""

from __future__ import annotations

from typing import Any

from chainrule.native import jit


def _normalise(centered: Any, inv_std: Any, weight: Any, bias: Any, affine: int, out: Any) -> None:
    """centered (R, D) ← centered·(1/σ) (R, 1), and out = x̂·γ + β: ``affine`` 1 takes γ, 2
    takes β, 3 both."""
    rows, width = centered.shape
    with_weight, with_bias = affine & 1, affine & 2
    for i in range(rows):
        v = inv_std[i, 0]
        c, r = centered[i], out[i]
        for j in range(width):
            c[j] = c[j] * v
        if with_weight and with_bias:
            for j in range(width):
                r[j] = c[j] * weight[j] + bias[j]
        elif with_weight:
            for j in range(width):
                r[j] = c[j] * weight[j]
        elif with_bias:
            for j in range(width):
                r[j] = c[j] + bias[j]
        else:
            for j in range(width):
                r[j] = c[j]


def _input_grad(
    grad: Any,
    x_hat: Any,
    weight: Any,
    with_weight: bool,
    mean_g: Any,
    mean_gx: Any,
    inv_std: Any,
    out: Any,
) -> None:
    """out = ((g·γ − mean_g) − x̂·mean_gx)·(1/σ) for (R, D) rows and (R, 1) columns; g alone
    where ``with_weight`` is False."""
    rows, width = grad.shape
    for i in range(rows):
        m, mx, v = mean_g[i, 0], mean_gx[i, 0], inv_std[i, 0]
        g, h, r = grad[i], x_hat[i], out[i]
        if with_weight:
            for j in range(width):
                r[j] = ((g[j] * weight[j] - m) - h[j] * mx) * v
        else:
            for j in range(width):
                r[j] = ((g[j] - m) - h[j] * mx) * v


normalise = jit(_normalise, cache=True)
input_grad = jit(_input_grad, cache=True)
