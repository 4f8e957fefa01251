"""Batch norm's element-wise passes as loops over x seen as rows (outer, C, inner) in memory
order (:class:`~chainrule.ops.channel_rows.ChannelRows`), or (N, C) for a batch of vectors,
one pass where NumPy's form makes two or five.

The per-channel sums stay products with a vector of ones in BLAS (ops/channel_rows.py); the
loops make what those sums read and what batch norm returns. Each computes exactly the NumPy
form's expression, operation for operation (no fused multiply-add: numba keeps IEEE rounding),
so the results are the same bit for bit:

- the squared deviations (x − μ)², whose channel sums give the biased variance;
- the output x·s + t, with s = γ/σ and t = β − μs per channel;
- g·x̂ with x̂ = (x − μ)·(1/σ), whose channel sums give ∂C/∂γ (and the backward's second mean);
- ∂C/∂x = ((g − mean(g)) − x̂·mean(g x̂))·s.
"""

from __future__ import annotations

from typing import Any

from chainrule.native import jit


def _squared_deviations(rows: Any, mean: Any, out: Any) -> None:
    """out = (x − μ)² for rows (outer, C, inner) and μ (C,)."""
    outer, channels, inner = rows.shape
    for o in range(outer):
        for c in range(channels):
            m = mean[c]
            x, r = rows[o, c], out[o, c]
            for i in range(inner):
                d = x[i] - m
                r[i] = d * d


def _scale_shift(rows: Any, scale: Any, shift: Any, out: Any) -> None:
    """out = x·s + t for rows (outer, C, inner) and s, t (C,)."""
    outer, channels, inner = rows.shape
    for o in range(outer):
        for c in range(channels):
            s, t = scale[c], shift[c]
            x, r = rows[o, c], out[o, c]
            for i in range(inner):
                r[i] = x[i] * s + t


def _times_normalised(grad: Any, rows: Any, mean: Any, inv_std: Any, out: Any) -> None:
    """out = g·((x − μ)·(1/σ)) for g and rows (outer, C, inner), μ and 1/σ (C,)."""
    outer, channels, inner = rows.shape
    for o in range(outer):
        for c in range(channels):
            m, v = mean[c], inv_std[c]
            x, g, r = rows[o, c], grad[o, c], out[o, c]
            for i in range(inner):
                r[i] = g[i] * ((x[i] - m) * v)


def _input_grad(
    grad: Any,
    rows: Any,
    mean: Any,
    inv_std: Any,
    mean_g: Any,
    mean_gx: Any,
    scale: Any,
    out: Any,
) -> None:
    """out = ((g − mean g) − ((x − μ)·(1/σ))·mean(g x̂))·s per channel, for g and rows (outer,
    C, inner) and the rest (C,)."""
    outer, channels, inner = rows.shape
    for o in range(outer):
        for c in range(channels):
            m, v, mg, mgx, s = mean[c], inv_std[c], mean_g[c], mean_gx[c], scale[c]
            x, g, r = rows[o, c], grad[o, c], out[o, c]
            for i in range(inner):
                r[i] = ((g[i] - mg) - ((x[i] - m) * v) * mgx) * s


# x of (N, C) (BatchNorm1d on a batch of vectors) is seen as rows (N, C): the same arithmetic
# with the channels innermost, where a loop over an inner axis of 1 would run element by
# element.


def _squared_deviations_columns(rows: Any, mean: Any, out: Any) -> None:
    """out = (x − μ)² for rows (N, C) and μ (C,)."""
    for o in range(rows.shape[0]):
        x, r = rows[o], out[o]
        for c in range(rows.shape[1]):
            d = x[c] - mean[c]
            r[c] = d * d


def _scale_shift_columns(rows: Any, scale: Any, shift: Any, out: Any) -> None:
    """out = x·s + t for rows (N, C) and s, t (C,)."""
    for o in range(rows.shape[0]):
        x, r = rows[o], out[o]
        for c in range(rows.shape[1]):
            r[c] = x[c] * scale[c] + shift[c]


def _times_normalised_columns(grad: Any, rows: Any, mean: Any, inv_std: Any, out: Any) -> None:
    """out = g·((x − μ)·(1/σ)) for g and rows (N, C), μ and 1/σ (C,)."""
    for o in range(rows.shape[0]):
        x, g, r = rows[o], grad[o], out[o]
        for c in range(rows.shape[1]):
            r[c] = g[c] * ((x[c] - mean[c]) * inv_std[c])


def _input_grad_columns(
    grad: Any,
    rows: Any,
    mean: Any,
    inv_std: Any,
    mean_g: Any,
    mean_gx: Any,
    scale: Any,
    out: Any,
) -> None:
    """:func:`_input_grad` for g and rows (N, C)."""
    for o in range(rows.shape[0]):
        x, g, r = rows[o], grad[o], out[o]
        for c in range(rows.shape[1]):
            x_hat = (x[c] - mean[c]) * inv_std[c]
            r[c] = ((g[c] - mean_g[c]) - x_hat * mean_gx[c]) * scale[c]


_loops = {
    3: tuple(jit(f, cache=True) for f in (_squared_deviations, _scale_shift,
                                          _times_normalised, _input_grad)),
    2: tuple(jit(f, cache=True) for f in (_squared_deviations_columns, _scale_shift_columns,
                                          _times_normalised_columns, _input_grad_columns)),
}  # fmt: skip


def squared_deviations(rows: Any, mean: Any, out: Any) -> None:
    """out = (x − μ)² for rows (outer, C, inner) or (N, C)."""
    _loops[rows.ndim][0](rows, mean, out)


def scale_shift(rows: Any, scale: Any, shift: Any, out: Any) -> None:
    """out = x·s + t for rows (outer, C, inner) or (N, C)."""
    _loops[rows.ndim][1](rows, scale, shift, out)


def times_normalised(grad: Any, rows: Any, mean: Any, inv_std: Any, out: Any) -> None:
    """out = g·x̂ for g and rows (outer, C, inner) or (N, C)."""
    _loops[rows.ndim][2](grad, rows, mean, inv_std, out)


def input_grad(*arrays: Any) -> None:
    """∂C/∂x (:func:`_input_grad`'s arguments) for rows (outer, C, inner) or (N, C)."""
    _loops[arrays[1].ndim][3](*arrays)
