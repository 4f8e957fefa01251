"""The LSTM layer (ops/recurrent.py's LSTMLayer) over a float32 sequence as loops: per time
step one matrix product in BLAS, a numba call that adds it to the gates, NumPy's tanh over the
four gates (as in the NumPy form, and three times faster than the loops' own tanh on 20,480
elements), and a numba call for the rest of the step (σ from tanh, the cell and the hidden
state); backward one numba call and one product per step, δz of every step kept row-major for
the two weight-gradient products after the loop.

The saved arrays are the NumPy form's, so that its backward can run on them (to watch the
steps, or for a gradient the loops do not cover). The numbers agree with the NumPy form to a
few units in the last place (:mod:`chainrule.compiled.kernels.recurrent` says where they
differ). Eager mode runs these where numba is enabled; the compiled step's kernel too.
"""

from __future__ import annotations

from typing import Any

from numpy import empty, matmul, multiply
from numpy import tanh as npy_tanh

from chainrule.native import jit
from chainrule.native.recurrent import HALF, ONE, ZERO, add_recurrent
from chainrule.native.tanh import tanh32
from chainrule.ops.recurrent_cells import lstm_arrays, time_order, weight_grads
from chainrule.ops.work_arrays import sequence_pool


def _step_forward(
    gates: Any,
    t: int,
    c_prev: Any,
    with_c: bool,
    cells: Any,
    tanh_cells: Any,
    h_out: Any,
) -> None:
    """Step t in place, once gates[:, t] holds tanh of the pre-activations (the sigmoid
    gates' rows halved): σ = ½·tanh + ½ for i, f, o; c_t = i·g + f·c_{t−1} into cells[t],
    tanh c_t into tanh_cells[t], h_t = o·tanh c_t into h_out (B, H)."""
    # Short loops over one row each, so that the compiler vectorises them: one loop that
    # wrote all of these arrays at once would not be (it cannot rule out their overlapping).
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        for k in range(3):
            z = gates[k, t, b]
            for j in range(hidden):
                z[j] = z[j] * HALF + HALF
        i, f, o, g = gates[0, t, b], gates[1, t, b], gates[2, t, b], gates[3, t, b]
        c = cells[t, b]
        for j in range(hidden):
            c[j] = i[j] * g[j]
        if with_c:
            before = c_prev[b]
            for j in range(hidden):
                c[j] += f[j] * before[j]
        tanh_c, h = tanh_cells[t, b], h_out[b]
        for j in range(hidden):
            tanh_c[j] = tanh32(c[j])
        for j in range(hidden):
            h[j] = o[j] * tanh_c[j]


def _step_backward(
    gates: Any,
    t: int,
    tanh_cells: Any,
    c_prev: Any,
    with_c: bool,
    grad_t: Any,
    grad_h: Any,
    with_h: bool,
    grad_c: Any,
    rows: Any,
    to_previous: bool,
) -> None:
    """Step t of backpropagation through time: δh = ∂C/∂h_t (grad_t, plus grad_h from step
    t + 1), δc += δh·o·(1 − tanh² c_t); δz_o = δh·tanh c_t·σ'(o), δz_i = δc·g·σ'(i),
    δz_f = δc·c_{t−1}·σ'(f), δz_g = δc·i·(1 − g²), into rows (B, 4H) in PyTorch's order
    i, f, g, o; then, with ``to_previous``, grad_c becomes ∂C/∂c_{t−1} = δc·f (the caller
    does that itself where it shows δc to an observer first)."""
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        i, f, o, g = gates[0, t, b], gates[1, t, b], gates[2, t, b], gates[3, t, b]
        dz_i, dz_f = rows[b, :hidden], rows[b, hidden : 2 * hidden]
        dz_g, dz_o = rows[b, 2 * hidden : 3 * hidden], rows[b, 3 * hidden :]
        tanh_c, dc, dh = tanh_cells[t, b], grad_c[b], grad_t[b]
        if with_h:
            dh = grad_h[b]
            from_output = grad_t[b]
            for j in range(hidden):
                dh[j] = from_output[j] + dh[j]
        for j in range(hidden):
            dz_o[j] = dh[j] * (((ONE - o[j]) * o[j]) * tanh_c[j])
        for j in range(hidden):
            dc[j] += dh[j] * ((ONE - tanh_c[j] * tanh_c[j]) * o[j])
        for j in range(hidden):
            dz_i[j] = dc[j] * (((ONE - i[j]) * i[j]) * g[j])
        if with_c:
            before = c_prev[b]
            for j in range(hidden):
                dz_f[j] = dc[j] * (((ONE - f[j]) * f[j]) * before[j])
        else:
            for j in range(hidden):
                dz_f[j] = dc[j] * ZERO
        for j in range(hidden):
            dz_g[j] = dc[j] * ((ONE - g[j] * g[j]) * i[j])
        if to_previous:
            for j in range(hidden):
                dc[j] *= f[j]


_forward_step, _backward_step = jit(_step_forward), jit(_step_backward)


def forward(
    x: Any,
    h0: Any,
    c0: Any,
    w_ih: Any,
    w_hh: Any,
    b_ih: Any,
    b_hh: Any,
    reverse: bool,
) -> tuple:
    """LSTMLayer's forward on arrays that :func:`~chainrule.native.recurrent.covers`: its output
    (T + 1, B, H) and its saved arrays ``(x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells,
    out)``, the first and the last three from ``sequence_pool``."""
    x_rows, gates, w_rec, out, cells, tanh_cells = lstm_arrays(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    n_steps, batch, hidden = cells.shape
    recurrent = empty((batch, 4 * hidden), dtype=x.dtype)
    h, c = h0, c0
    for t in time_order(n_steps, reverse):
        z = gates[:, t]
        if h is not None:
            matmul(h, w_rec, out=recurrent)
            add_recurrent(gates, t, recurrent, 4)
        npy_tanh(z, out=z)
        with_c = c is not None
        _forward_step(
            gates,
            t,
            c if with_c else cells[t],  # read only with a previous cell state
            with_c,
            cells,
            tanh_cells,
            out[t],
        )
        h, c = out[t], cells[t]
    out[n_steps] = c
    return out, (x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out)


def backward(saved: tuple, grad: Any, reverse: bool, needs: list, observer: Any = None) -> tuple:
    """LSTMLayer's backward from :func:`forward`'s saved arrays and a float32 gradient of the
    output's shape and type: the gradients of (x, h0, c0, w_ih, w_hh, b_ih, b_hh), None for
    those that ``needs`` (seven flags) does not ask for. ``observer`` (or None) is called at
    each step as ``observer(t, δh_t, δc_t)``, as RecurrentLayer describes."""
    x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out = saved
    _, n_steps, batch, hidden = gates.shape
    # δz of every step, row-major (T, B, 4H): each step's rows feed its product for δh, and
    # all of them the weight gradients, one product each.
    rows = sequence_pool.take((n_steps, batch, 4 * hidden), gates.dtype)
    grad_c = grad[n_steps].copy()
    grad_h = empty((batch, hidden), dtype=grad.dtype)
    order = time_order(n_steps, reverse)
    with_h = False
    for t in reversed(order):
        first = t == order[0]
        c_prev = c0 if first else cells[t + 1 if reverse else t - 1]
        with_c = c_prev is not None
        _backward_step(
            gates,
            t,
            tanh_cells,
            c_prev if with_c else grad_c,
            with_c,
            grad[t],
            grad_h,
            with_h,
            grad_c,
            rows[t],
            observer is None,
        )
        if observer is not None:
            observer(t, grad_h if with_h else grad[t], grad_c)
            multiply(grad_c, gates[1, t], out=grad_c)  # ∂C/∂c_{t−1} = δc·f, as the loop does
        if first and not needs[1]:
            break  # ∂C/∂h0 is not wanted: the last product would go unused
        matmul(rows[t], w_hh, out=grad_h)  # ∂C/∂h_{t−1}
        with_h = True
    wanted = (needs[0], *needs[3:])
    results = weight_grads(wanted, rows, rows, x_rows, w_ih, h0, out, reverse)
    sequence_pool.give_back(rows)
    grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = results
    return (
        grad_x,
        grad_h if needs[1] else None,
        grad_c if needs[2] else None,
        grad_w_ih,
        grad_w_hh,
        grad_b_ih,
        grad_b_hh,
    )
