"""The kernel of the GRU layer (ops/recurrent.py's GRULayer) for float32 sequences, built as
the LSTM's (:mod:`.lstm`; what they share is in :mod:`.recurrent`).
"""

from __future__ import annotations

from typing import Any

from numpy import empty, float32, matmul, ndarray
from numpy import tanh as npy_tanh

from chainrule.compiled.kernels import Kernel, builds, jit
from chainrule.compiled.kernels.recurrent import covered, eager_backward, itself_or_recycle
from chainrule.native.recurrent import HALF, ONE, ZERO, add_recurrent, weight_grads
from chainrule.native.tanh import tanh32
from chainrule.ops.recurrent import GRULayer
from chainrule.ops.recurrent_cells import gru_arrays, previous, time_order
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


_gru_forward_step, _gru_backward_step = jit(_gru_step_forward), jit(_gru_step_backward)


@builds(GRULayer)
def gru(node: Any, arrays: list, options: dict) -> Kernel | None:
    if set(options) - {"reverse"} or len(arrays) != 6 or not covered(arrays):
        return None
    needs = [bool(flag) for flag in node.needs_input_grad]
    grads = tuple(position for position, flag in enumerate(needs) if flag)
    template = node
    last: list = []  # the work arrays of the last call (as the LSTM's)

    def run_forward(
        x: Any,
        h0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        reverse: bool = False,
    ) -> tuple:
        inputs = [x, h0, w_ih, w_hh, b_ih, b_hh]
        itself = itself_or_recycle(inputs, reverse, template, last)
        if itself is not None:
            return itself
        x_rows, gates, w_rec, b_hn, out, hidden_n = gru_arrays(*inputs)
        n_steps, batch, hidden = out.shape
        recurrent = empty((batch, 3 * hidden), dtype=x.dtype)
        h = h0
        for t in time_order(n_steps, reverse):
            if h is not None:
                matmul(h, w_rec, out=recurrent)
                add_recurrent(gates, t, recurrent, 2)
            sigmoid_gates = gates[:2, t]
            npy_tanh(sigmoid_gates, out=sigmoid_gates)  # eager mode's tanh, vectorised
            _gru_forward_step(
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
        last.extend((x_rows, gates, hidden_n))
        return out, (x_rows, h0, w_ih, w_hh, gates, hidden_n, out, reverse)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:  # the operation ran itself
            results = saved.backward(grad)
            return tuple(results[position] for position in grads)
        x_rows, h0, w_ih, w_hh, gates, hidden_n, out, reverse = saved
        if grad.shape != out.shape or type(grad) is not ndarray or grad.dtype != float32:
            return eager_backward(template, saved, grad, grads)
        n_steps, batch, hidden = out.shape
        # δz of every step, row-major (T, B, 3H), for the input side and for the recurrent one
        # (whose n part is δn·r): as in the LSTM's kernel.
        rows_in = sequence_pool.take((n_steps, batch, 3 * hidden), gates.dtype)
        rows_rec = sequence_pool.take((n_steps, batch, 3 * hidden), gates.dtype)
        grad_h = empty((batch, hidden), dtype=grad.dtype)
        direct = empty((batch, hidden), dtype=grad.dtype)
        steps = time_order(n_steps, reverse)
        with_h = False
        for t in reversed(steps):
            h_prev = previous(out, h0, t, steps)
            _gru_backward_step(
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
        every = (
            grad_x,
            grad_h if needs[1] else None,
            grad_w_ih,
            grad_w_hh,
            grad_b_ih,
            grad_b_hh,
        )
        return tuple(every[position] for position in grads)

    return Kernel(run_forward, run_backward, grads)
