"""The GRU layer (ops/recurrent.py's GRULayer) over a float32 sequence as loops, built as the
LSTM's (:mod:`.lstm`): per time step one matrix product in BLAS, a numba call that adds its r
and z blocks to the gates, NumPy's tanh over them, and a numba call for the rest of the step;
backward one numba call and one product per step.

The saved arrays are the NumPy form's, so that its backward can run on them. The numbers agree
with the NumPy form to a few units in the last place: the candidate state's tanh is the loops'
rational one (:mod:`.tanh`). Eager mode runs these where numba is enabled; the compiled step's
kernel too.
"""

from __future__ import annotations

from typing import Any

from numpy import add, empty, matmul
from numpy import tanh as npy_tanh

from chainrule.native import jit
from chainrule.native.recurrent import HALF, ONE, ZERO, add_recurrent
from chainrule.native.tanh import tanh32
from chainrule.ops.recurrent_cells import gru_arrays, previous, time_order, weight_grads
from chainrule.ops.work_arrays import sequence_pool


def _gru_step_forward(
    gates: Any,
    t: int,
    recurrent: Any,
    with_recurrent: bool,
    b_hn: Any,
    with_b_hn: bool,
    h_prev: Any,
    hidden_n: Any,
    h_out: Any,
) -> None:
    """Step t in place, in GRULayer.forward's order of arithmetic, once the r and z blocks of
    gates[:, t] (3, T, B, H; r, z, n, the sigmoid gates' rows halved) hold tanh of their
    pre-activations: they become r and z (σ = ½·tanh + ½), n its value;
    hidden_n[t] = h W_hnᵀ + b_hn; h_out = (h − n)·z + n, or n − z·n from a zero state."""
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        for k in range(2):
            z = gates[k, t, b]
            for j in range(hidden):
                z[j] = z[j] * HALF + HALF
        r, update, n, hn = gates[0, t, b], gates[1, t, b], gates[2, t, b], hidden_n[t, b]
        if with_recurrent:
            product = recurrent[b, 2 * hidden :]
            if with_b_hn:
                for j in range(hidden):
                    hn[j] = product[j] + b_hn[j]
            else:
                for j in range(hidden):
                    hn[j] = product[j]
        elif with_b_hn:
            for j in range(hidden):
                hn[j] = b_hn[j]
        else:
            for j in range(hidden):
                hn[j] = ZERO
        for j in range(hidden):
            n[j] = tanh32(n[j] + r[j] * hn[j])
        h = h_out[b]
        if with_recurrent:
            before = h_prev[b]
            for j in range(hidden):
                h[j] = (before[j] - n[j]) * update[j] + n[j]
        else:
            for j in range(hidden):
                h[j] = n[j] - update[j] * n[j]


def _gru_step_backward(
    gates: Any,
    t: int,
    hidden_n: Any,
    h_prev: Any,
    with_h_prev: bool,
    grad_t: Any,
    grad_h: Any,
    with_h: bool,
    rows_in: Any,
    rows_rec: Any,
    direct: Any,
) -> None:
    """Step t of backpropagation through time, in GRULayer.backward's order of arithmetic:
    δh = grad_t (+ grad_h from step t + 1); δz = (h_{t−1} − n)·δh·σ'(z),
    δn = (1 − z)·δh·(1 − n²), δr = δn·(h W_hnᵀ + b_hn)·σ'(r) into rows_in (B, 3H: r, z, n);
    the same with δn·r for the n part into rows_rec (B, 3H); and direct = δh·z, the part of
    ∂C/∂h_{t−1} that does not go through W_hh."""
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        r, update, n, hn = gates[0, t, b], gates[1, t, b], gates[2, t, b], hidden_n[t, b]
        dr, dz = rows_in[b, :hidden], rows_in[b, hidden : 2 * hidden]
        dn = rows_in[b, 2 * hidden :]
        dh, from_output = direct[b], grad_t[b]  # δh, until it becomes δh·z at the end
        if with_h:
            later = grad_h[b]
            for j in range(hidden):
                dh[j] = from_output[j] + later[j]
        else:
            for j in range(hidden):
                dh[j] = from_output[j]
        if with_h_prev:
            before = h_prev[b]
            for j in range(hidden):
                dz[j] = (before[j] - n[j]) * dh[j]
        else:
            for j in range(hidden):
                dz[j] = -n[j] * dh[j]
        for j in range(hidden):
            dn[j] = ((ONE - update[j]) * dh[j]) * (ONE - n[j] * n[j])
        for j in range(hidden):
            dr[j] = (dn[j] * hn[j]) * ((ONE - r[j]) * r[j])
        for j in range(hidden):
            dz[j] *= (ONE - update[j]) * update[j]
        for j in range(hidden):
            dh[j] = dh[j] * update[j]
        row_in, row_rec = rows_in[b], rows_rec[b]
        for j in range(2 * hidden):
            row_rec[j] = row_in[j]
        for j in range(hidden):
            row_rec[2 * hidden + j] = dn[j] * r[j]


_forward_step, _backward_step = jit(_gru_step_forward), jit(_gru_step_backward)


def forward(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, reverse: bool) -> tuple:
    """GRULayer's forward on arrays that :func:`~chainrule.native.recurrent.covers`: its output
    (T, B, H) and its saved arrays ``(x_rows, h0, w_ih, w_hh, gates, hidden_n, out)``, x_rows,
    gates and hidden_n from ``sequence_pool``."""
    x_rows, gates, w_rec, b_hn, out, hidden_n = gru_arrays(x, h0, w_ih, w_hh, b_ih, b_hh)
    n_steps, batch, hidden = out.shape
    recurrent = empty((batch, 3 * hidden), dtype=x.dtype)
    h = h0
    for t in time_order(n_steps, reverse):
        if h is not None:
            matmul(h, w_rec, out=recurrent)
            add_recurrent(gates, t, recurrent, 2)
        sigmoid_gates = gates[:2, t]
        npy_tanh(sigmoid_gates, out=sigmoid_gates)  # the NumPy form's tanh, vectorised
        _forward_step(
            gates,
            t,
            recurrent,
            h is not None,
            recurrent[0] if b_hn is None else b_hn,  # read only with a bias
            b_hn is not None,
            out[t] if h is None else h,  # read only with a previous state
            hidden_n,
            out[t],
        )
        h = out[t]
    return out, (x_rows, h0, w_ih, w_hh, gates, hidden_n, out)


def backward(saved: tuple, grad: Any, reverse: bool, needs: list, observer: Any = None) -> tuple:
    """GRULayer's backward from :func:`forward`'s saved arrays and a float32 gradient of the
    output's shape and type: the gradients of (x, h0, w_ih, w_hh, b_ih, b_hh), None for those
    that ``needs`` (six flags) does not ask for. ``observer`` (or None) is called at each step
    as ``observer(t, δh_t, None)``, as RecurrentLayer describes."""
    x_rows, h0, w_ih, w_hh, gates, hidden_n, out = saved
    n_steps, batch, hidden = out.shape
    # δz of every step, row-major (T, B, 3H), for the input side and for the recurrent one
    # (whose n part is δn·r): as in the LSTM's loops.
    rows_in = sequence_pool.take((n_steps, batch, 3 * hidden), gates.dtype)
    rows_rec = sequence_pool.take((n_steps, batch, 3 * hidden), gates.dtype)
    grad_h = empty((batch, hidden), dtype=grad.dtype)
    direct = empty((batch, hidden), dtype=grad.dtype)
    steps = time_order(n_steps, reverse)
    with_h = False
    for t in reversed(steps):
        if observer is not None:  # δh in full, as the step below makes it (one addition)
            observer(t, add(grad[t], grad_h) if with_h else grad[t], None)
        h_prev = previous(out, h0, t, steps)
        _backward_step(
            gates,
            t,
            hidden_n,
            grad_h if h_prev is None else h_prev,  # read only with a previous state
            h_prev is not None,
            grad[t],
            grad_h,
            with_h,
            rows_in[t],
            rows_rec[t],
            direct,
        )
        matmul(rows_rec[t], w_hh, out=grad_h)  # ∂C/∂h_{t−1}, through W_hh ...
        grad_h += direct  # ... and directly
        with_h = True
    wanted = (needs[0], *needs[2:])
    results = weight_grads(wanted, rows_in, rows_rec, x_rows, w_ih, h0, out, reverse)
    sequence_pool.give_back(rows_in, rows_rec)
    grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = results
    return (
        grad_x,
        grad_h if needs[1] else None,
        grad_w_ih,
        grad_w_hh,
        grad_b_ih,
        grad_b_hh,
    )
