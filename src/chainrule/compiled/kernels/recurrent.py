"""The kernels of the LSTM and GRU layers (ops/recurrent.py), for float32 sequences.

Eager mode runs a step's gate math as a dozen NumPy passes over (B, H) blocks, plus a
transposing copy into the gates' layout before them; the LSTM's backward first makes the
factors of every step that do not depend on the gradient (two more arrays the size of the
gates). Here each step is one matrix product in BLAS, as there, and one numba call that does
the rest of the step: adds the recurrent product to the gates, applies the nonlinearities,
updates the cell and the hidden state. Backward likewise: per step one call that makes δz of
the gates and carries δc, then one product for δh. δz of every step is kept row-major,
(T, B, G·H), so that each step's rows feed its product and each weight gradient after the
loop is one product over all steps. The calls work row by row in short loops, one array or
two each, which the compiler vectorises.

The arithmetic is eager mode's, in its order, except in two places: the kernels' rational
tanh (:mod:`.tanh`) instead of NumPy's, each within one unit in the last place of the exact
value, and the weight gradients' sums, one product where eager mode has one per gate. The
results agree with eager mode to a few units in the last place.

Anything else runs the operation itself: float64 or another array type, a gradient of a
shape or dtype the recording did not see; a shape that does not fit raises eager mode's error.
"""

from __future__ import annotations

from typing import Any

from numpy import empty, float32, matmul, ndarray

from chainrule.compiled.kernels import Kernel, builds, fresh_node, jit
from chainrule.compiled.kernels.tanh import tanh32
from chainrule.ops.recurrent import GRULayer, LSTMLayer
from chainrule.ops.recurrent_cells import (
    after_first_step,
    gru_arrays,
    lstm_arrays,
    previous,
    time_order,
)
from chainrule.ops.work_arrays import sequence_pool

_ONE, _HALF, _ZERO = float32(1), float32(0.5), float32(0)


def _step_forward(
    gates: Any,
    t: int,
    recurrent: Any,
    with_recurrent: bool,
    c_prev: Any,
    with_c: bool,
    cells: Any,
    tanh_cells: Any,
    h_out: Any,
) -> None:
    """Step t in place: gates[:, t] (4, T, B, H; blocks i, f, o, g, the sigmoid gates' rows
    halved) += the recurrent product (B, 4H), turned into the gate values
    (σ(z) = ½·tanh(z/2) + ½, g = tanh z); c_t = i·g + f·c_{t−1} into cells[t], tanh c_t into
    tanh_cells[t], h_t = o·tanh c_t into h_out (B, H)."""
    # Short loops over one row each, so that the compiler vectorises them: one loop that
    # wrote all of these arrays at once would not be (it cannot rule out their overlapping).
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        for k in range(4):
            z = gates[k, t, b]
            if with_recurrent:
                product = recurrent[b, k * hidden : (k + 1) * hidden]
                for j in range(hidden):
                    z[j] += product[j]
            if k < 3:
                for j in range(hidden):
                    z[j] = tanh32(z[j]) * _HALF + _HALF
            else:
                for j in range(hidden):
                    z[j] = tanh32(z[j])
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
) -> None:
    """Step t of backpropagation through time: δh = ∂C/∂h_t (grad_t, plus grad_h from step
    t + 1), δc += δh·o·(1 − tanh² c_t); δz_o = δh·tanh c_t·σ'(o), δz_i = δc·g·σ'(i),
    δz_f = δc·c_{t−1}·σ'(f), δz_g = δc·i·(1 − g²), into rows (B, 4H) in PyTorch's order
    i, f, g, o; then grad_c becomes ∂C/∂c_{t−1} = δc·f."""
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
            dz_o[j] = dh[j] * (((_ONE - o[j]) * o[j]) * tanh_c[j])
        for j in range(hidden):
            dc[j] += dh[j] * ((_ONE - tanh_c[j] * tanh_c[j]) * o[j])
        for j in range(hidden):
            dz_i[j] = dc[j] * (((_ONE - i[j]) * i[j]) * g[j])
        if with_c:
            before = c_prev[b]
            for j in range(hidden):
                dz_f[j] = dc[j] * (((_ONE - f[j]) * f[j]) * before[j])
        else:
            for j in range(hidden):
                dz_f[j] = dc[j] * _ZERO
        for j in range(hidden):
            dz_g[j] = dc[j] * ((_ONE - g[j] * g[j]) * i[j])
        for j in range(hidden):
            dc[j] *= f[j]


_forward_step, _backward_step = jit(_step_forward), jit(_step_backward)


def _itself_or_recycle(inputs: list, reverse: bool, template: Any, last: list) -> tuple | None:
    """The operation's own forward and its node, where the kernel does not cover the inputs;
    else None, once the last call's work arrays are back in the pool."""
    if not _covered(inputs):
        fallback = fresh_node(template)
        return fallback.forward(*inputs, reverse=reverse), fallback
    if last:
        sequence_pool.give_back(*last)
        last.clear()
    return None


def _covered(arrays: list) -> bool:
    """Whether the kernel covers these inputs: NumPy float32 arrays, None where absent."""
    return all(
        array is None or (type(array) is ndarray and array.dtype == float32) for array in arrays
    )


@builds(LSTMLayer)
def lstm(node: Any, arrays: list, options: dict) -> Kernel | None:
    if set(options) - {"reverse"} or len(arrays) not in (5, 7) or not _covered(arrays):
        return None
    needs = [bool(flag) for flag in node.needs_input_grad] + [False] * (7 - len(arrays))
    grads = tuple(position for position, flag in enumerate(needs) if flag)
    template = node
    # The work arrays of the last call, back to the pool when the next call begins: a
    # backward may run again on a retained graph until then.
    last: list = []

    def run_forward(
        x: Any,
        h0: Any,
        c0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        reverse: bool = False,
    ) -> tuple:
        inputs = [x, h0, c0, w_ih, w_hh, b_ih, b_hh]
        itself = _itself_or_recycle(inputs, reverse, template, last)
        if itself is not None:
            return itself
        x_rows, gates, w_rec, out, cells, tanh_cells = lstm_arrays(*inputs)
        n_steps, batch, hidden = cells.shape
        recurrent = empty((batch, 4 * hidden), dtype=x.dtype)
        h, c = h0, c0
        for t in time_order(n_steps, reverse):
            if h is not None:
                matmul(h, w_rec, out=recurrent)
            with_c = c is not None
            _forward_step(
                gates,
                t,
                recurrent,
                h is not None,
                c if with_c else cells[t],  # read only with a previous cell state
                with_c,
                cells,
                tanh_cells,
                out[t],
            )
            h, c = out[t], cells[t]
        out[n_steps] = c
        last.extend((x_rows, gates, cells, tanh_cells))
        return out, (x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out, reverse)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:  # the operation ran itself
            results = saved.backward(grad)
            return tuple(results[position] for position in grads)
        x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out, reverse = saved
        if grad.shape != out.shape or type(grad) is not ndarray or grad.dtype != float32:
            return _eager_backward(template, saved, grad, grads)
        _, n_steps, batch, hidden = gates.shape
        # δz of every step, row-major (T, B, 4H): each step's rows feed its product for δh,
        # and all of them the weight gradients, one product each.
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
            )
            if first and not needs[1]:
                break  # ∂C/∂h0 is not wanted: the last product would go unused
            matmul(rows[t], w_hh, out=grad_h)  # ∂C/∂h_{t−1}
            with_h = True
        wanted = (needs[0], *needs[3:])
        results = _weight_grads(wanted, rows, rows, x_rows, w_ih, h0, out, reverse)
        sequence_pool.give_back(rows)
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = results
        every = (
            grad_x,
            grad_h if needs[1] else None,
            grad_c if needs[2] else None,
            grad_w_ih,
            grad_w_hh,
            grad_b_ih,
            grad_b_hh,
        )
        return tuple(every[position] for position in grads)

    return Kernel(run_forward, run_backward, grads)


def _weight_grads(
    needs: tuple,
    rows: Any,
    rows_rec: Any,
    x_rows: Any,
    w_ih: Any,
    h0: Any,
    out: Any,
    reverse: bool,
) -> tuple:
    """∂C/∂x, ∂C/∂W_ih, ∂C/∂W_hh, ∂C/∂b_ih, ∂C/∂b_hh from δz of every step, row-major
    (T, B, G·H): ``rows`` for x W_ihᵀ + b_ih, ``rows_rec`` for h W_hhᵀ + b_hh (the same
    array unless, as in the GRU, they differ). Each is one product over all T·B rows (eager
    mode's ``parameter_grads`` takes G products, one per gate, from its gate-major arrays; one
    product is a third faster)."""
    need_x, need_w_ih, need_w_hh, need_b_ih, need_b_hh = needs
    n_steps, batch, width = rows.shape
    size = w_ih.shape[1]
    flat = rows.reshape(n_steps * batch, width)
    shared = rows_rec is rows
    grad_x = grad_w_ih = grad_w_hh = grad_b_ih = grad_b_hh = None
    if need_x:
        grad_x = matmul(flat, w_ih).reshape(n_steps, batch, size)
    if need_w_ih or need_b_ih or (need_b_hh and shared):
        # x_rows ends in a column of ones when there are biases: its column is ∂C/∂b.
        full = matmul(flat.T, x_rows)
        grad_w_ih = full[:, :size].copy()
        if full.shape[1] > size:
            grad_b_ih = grad_b_hh = full[:, size].copy()
    if need_b_hh and not shared:
        grad_b_hh = rows_rec.reshape(n_steps * batch, width).sum(axis=0)
    if need_w_hh:  # Σ_t δz_tᵀ h_{t−1}; the first step's h_{t−1} is h0 (nothing when zero)
        later, earlier, first = after_first_step(n_steps, reverse)
        later, earlier, first = rows_rec[later], out[earlier], rows_rec[first]
        count = (n_steps - 1) * batch
        hidden = out.shape[2]
        grad_w_hh = matmul(later.reshape(count, width).T, earlier.reshape(count, hidden))
        if h0 is not None:
            grad_w_hh += matmul(first.T, h0)
    return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def _eager_backward(template: Any, saved: tuple, grad: Any, grads: tuple) -> tuple:
    """The operation's own backward on the kernel's saved arrays (the same as eager mode's)."""
    node = fresh_node(template)
    node.saved, node.reverse = saved[:-1], saved[-1]
    results = node.backward(grad)
    return tuple(results[position] for position in grads)


# ---- GRU -----------------------------------------------------------------------------------------


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
    """Step t in place, in GRULayer.forward's order of arithmetic: gates[:, t] (3, T, B, H;
    r, z, n, the sigmoid gates' rows halved) become r, z and n; hidden_n[t] = h W_hnᵀ + b_hn;
    h_out = (h − n)·z + n, or n − z·n from a zero state."""
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        for k in range(2):
            z = gates[k, t, b]
            if with_recurrent:
                product = recurrent[b, k * hidden : (k + 1) * hidden]
                for j in range(hidden):
                    z[j] += product[j]
            for j in range(hidden):
                z[j] = tanh32(z[j]) * _HALF + _HALF
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
                hn[j] = _ZERO
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
            dn[j] = ((_ONE - update[j]) * dh[j]) * (_ONE - n[j] * n[j])
        for j in range(hidden):
            dr[j] = (dn[j] * hn[j]) * ((_ONE - r[j]) * r[j])
        for j in range(hidden):
            dz[j] *= (_ONE - update[j]) * update[j]
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
    if set(options) - {"reverse"} or len(arrays) != 6 or not _covered(arrays):
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
        itself = _itself_or_recycle(inputs, reverse, template, last)
        if itself is not None:
            return itself
        x_rows, gates, w_rec, b_hn, out, hidden_n = gru_arrays(*inputs)
        n_steps, batch, hidden = out.shape
        recurrent = empty((batch, 3 * hidden), dtype=x.dtype)
        h = h0
        for t in time_order(n_steps, reverse):
            if h is not None:
                matmul(h, w_rec, out=recurrent)
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
            return _eager_backward(template, saved, grad, grads)
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
        results = _weight_grads(wanted, rows_in, rows_rec, x_rows, w_ih, h0, out, reverse)
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
