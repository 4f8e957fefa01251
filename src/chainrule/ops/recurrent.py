"""Recurrent layers as fused operations: one node runs a whole sequence through one layer in
one direction, and its backward runs backpropagation through time in one loop.

Built from primitives, an LSTM over T steps is some 15·T graph nodes, each a small NumPy call
plus the engine's bookkeeping, and costs about three times PyTorch's fused kernel. Fused, the
input projection of all T steps is one matrix product, each step is one product with the
recurrent weights plus the gate math on whole (batch, hidden) arrays, and the weight gradients
are one product each over all steps at the end.

Shapes: x (T, B, I) time-major (any memory layout), h0 and c0 (B, H) or None for zeros,
W_ih (G·H, I), W_hh (G·H, H), b_ih and b_hh (G·H,) or None, with G = 4 (LSTM), 3 (GRU) or 1.
``reverse=True`` runs the steps from T−1 down to 0 (the backward half of a bidirectional layer);
the outputs stay in time order.

The layouts that make the steps fast (gate-major arrays, biases inside the input product, the
sigmoid through tanh) and the helpers the three layers share are in :mod:`.recurrent_cells`.
The multi-megabyte work arrays are reused between calls (``sequence_pool``, from
:mod:`.work_arrays`): fresh ones come from the operating system as untouched pages, and on the
machines measured the page faults of filling them cost as much as the arithmetic of a layer.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.ops.recurrent_cells import (
    check_sequence,
    gate_major,
    gru_arrays,
    gru_steps,
    input_rows,
    input_weights,
    lstm_arrays,
    lstm_steps,
    previous,
    recurrent_weights,
    rnn_steps,
    row_major,
    sum_bias,
    tanh_to_sigmoid,
    time_order,
    times_previous,
    times_sigmoid_derivative,
    times_tanh_derivative,
    weight_grads,
)
from chainrule.ops.recurrent_layer import RecurrentLayer
from chainrule.ops.work_arrays import sequence_pool

# ---- LSTM ----------------------------------------------------------------------------------------


class LSTMLayer(RecurrentLayer):
    """One LSTM layer over a sequence: x (T, B, I) → (T + 1, B, H), rows h_1..h_T then c_T.

    Gates (PyTorch's order i, f, g, o): [i f g o] = [σ σ tanh σ] of (x_t W_ihᵀ + b_ih +
    h W_hhᵀ + b_hh); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c'). The two results share one array
    because an operation returns one array; the layer slices output, h_n and c_n from it as
    views.

    Backward through time, per step: with δh = ∂C/∂h_t (from the output and from step t + 1)
    and δc likewise, δc += δh ⊙ o ⊙ (1 − tanh² c_t), δz_o = δh ⊙ tanh c_t ⊙ σ'(o),
    δz_i = δc ⊙ g ⊙ σ'(i), δz_f = δc ⊙ c_{t−1} ⊙ σ'(f), δz_g = δc ⊙ i ⊙ tanh'(g);
    ∂C/∂c_{t−1} = δc ⊙ f and ∂C/∂h_{t−1} = δz W_hh. Then ∂C/∂W_hh = Σ δzᵀ h_{t−1},
    ∂C/∂W_ih = Σ δzᵀ x_t, ∂C/∂b = Σ δz, ∂C/∂x_t = δz_t W_ih.

    Where numba is enabled (:mod:`chainrule.native`), a float32 sequence runs through the loops
    of :mod:`chainrule.native.lstm` instead (the same saved arrays, the numbers within a few
    units in the last place), backward too for a float32 gradient.
    """

    loops_name, input_count = "lstm", 7

    def forward(
        self,
        x: Any,
        h0: Any,
        c0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        reverse: bool = False,
    ) -> Any:
        self.reverse = reverse
        out = self._native_forward([x, h0, c0, w_ih, w_hh, b_ih, b_hh], reverse, (0, 5, 6, 7))
        if out is not None:  # one numba call per step for the gate math, NumPy's a dozen
            return out
        xp = backend.xp
        x_rows, gates, w_rec, out, cells, tanh_cells = lstm_arrays(
            x, h0, c0, w_ih, w_hh, b_ih, b_hh
        )
        n_steps, batch, hidden = cells.shape
        recurrent = xp.empty((batch, 4 * hidden), dtype=x.dtype)
        by_gate = xp.empty((4, batch, hidden), dtype=x.dtype)
        h, c = h0, c0
        for t in time_order(n_steps, reverse):
            z = gates[:, t]
            if h is not None:
                xp.matmul(h, w_rec, out=recurrent)
                z += gate_major(by_gate, recurrent)
            xp.tanh(z, out=z)
            tanh_to_sigmoid(z[:3])
            i, f, o, g = z
            c_t = cells[t]
            xp.multiply(i, g, out=c_t)
            if c is not None:
                fc = by_gate[0]  # free again once z holds the gates
                xp.multiply(f, c, out=fc)
                c_t += fc
            tanh_c = tanh_cells[t]
            xp.tanh(c_t, out=tanh_c)
            h, c = xp.multiply(o, tanh_c, out=out[t]), c_t
        out[n_steps] = c
        self.saved = (x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out)
        sequence_pool.give_back_when_freed(self, x_rows, gates, cells, tanh_cells)
        return out

    def backward(self, grad: Any) -> tuple:
        found = self._native_backward(grad)
        if found is not None:
            return found
        xp = backend.xp
        x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out = self.saved
        _, n_steps, batch, hidden = gates.shape
        i, f, o, g = gates
        # Every factor that does not depend on the incoming gradient, for all steps at once,
        # in PyTorch's order: local = [g σ'(i), c_{t−1} σ'(f), i tanh'(g), tanh c σ'(o)] and
        # k = o (1 − tanh² c), so that the loop below is five products per step.
        local = sequence_pool.take(gates.shape, gates.dtype)
        xp.subtract(1, gates[:2], out=local[:2])
        local[:2] *= gates[:2]
        local[0] *= g
        times_previous(local[1], cells, c0, self.reverse)
        xp.multiply(g, g, out=local[2])
        xp.subtract(1, local[2], out=local[2])
        local[2] *= i
        xp.subtract(1, o, out=local[3])
        local[3] *= o
        local[3] *= tanh_cells
        k = sequence_pool.take(cells.shape, cells.dtype)
        xp.multiply(tanh_cells, tanh_cells, out=k)
        xp.subtract(1, k, out=k)
        k *= o

        # ∂C/∂z of all steps, row-major (T, B, 4H): each step's rows feed its product for δh,
        # and all of them the weight gradients, one product each (a third faster than one per
        # gate from gate-major arrays).
        rows = sequence_pool.take((n_steps, batch, 4 * hidden), gates.dtype)
        dz = xp.empty((4, batch, hidden), dtype=grad.dtype)  # one step's, gate-major
        grad_c = grad[n_steps].copy()
        work = xp.empty((batch, hidden), dtype=grad.dtype)
        grad_h = None
        observer = self.observer
        for t in reversed(time_order(n_steps, self.reverse)):
            # δh = ∂C/∂h_t in full: from the output at t and from step t + 1
            dh = grad[t] if grad_h is None else xp.add(grad[t], grad_h, out=grad_h)
            xp.multiply(dh, local[3, t], out=dz[3])
            xp.multiply(dh, k[t], out=work)
            grad_c += work  # δc = ∂C/∂c_t
            if observer is not None:
                observer(t, dh, grad_c)
            xp.multiply(grad_c, local[:3, t], out=dz[:3])  # δz_i, δz_f, δz_g at once
            grad_c *= f[t]  # ∂C/∂c_{t−1}
            grad_h = row_major(rows[t], dz) @ w_hh  # ∂C/∂h_{t−1}
        needs = (self.needs_input_grad[0], *self.needs_input_grad[3:])
        grads = weight_grads(needs, rows, rows, x_rows, w_ih, h0, out, self.reverse)
        sequence_pool.give_back(local, k, rows)
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = grads
        need_h0, need_c0 = self.needs_input_grad[1:3]
        return (
            grad_x,
            grad_h if need_h0 else None,
            grad_c if need_c0 else None,
            grad_w_ih,
            grad_w_hh,
            grad_b_ih,
            grad_b_hh,
        )

    def composite(
        self, x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
    ) -> Any:
        """The same layer, step by step from differentiable operations (for create_graph)."""
        return lstm_steps(x, h0, c0, w_ih, w_hh, b_ih, b_hh, self.reverse)


# ---- GRU -----------------------------------------------------------------------------------------


class GRULayer(RecurrentLayer):
    """One GRU layer over a sequence: x (T, B, I) → h_1..h_T (T, B, H).

    Gates (PyTorch's order r, z, n): r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), z likewise,
    n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.

    Backward through time, per step, with δh = ∂C/∂h_t: δz = δh ⊙ (h_{t−1} − n) ⊙ σ',
    δn = δh ⊙ (1 − z) ⊙ tanh', δr = δn ⊙ (h W_hnᵀ + b_hn) ⊙ σ'; the recurrent pre-activation's
    n part gets δn ⊙ r; ∂C/∂h_{t−1} = δh ⊙ z + δ_rec W_hh. Weight gradients as in the LSTM.

    Where numba is enabled (:mod:`chainrule.native`), a float32 sequence runs through the loops
    of :mod:`chainrule.native.gru` instead, as the LSTM's do.
    """

    loops_name, input_count = "gru", 6

    def forward(
        self,
        x: Any,
        h0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        reverse: bool = False,
    ) -> Any:
        self.reverse = reverse
        out = self._native_forward([x, h0, w_ih, w_hh, b_ih, b_hh], reverse, (0, 4, 5))
        if out is not None:
            return out
        xp = backend.xp
        x_rows, gates, w_rec, b_hn, out, hidden_n = gru_arrays(x, h0, w_ih, w_hh, b_ih, b_hh)
        n_steps, batch, hidden = out.shape
        recurrent = xp.empty((batch, 3 * hidden), dtype=x.dtype)
        by_gate = xp.empty((3, batch, hidden), dtype=x.dtype)
        work = xp.empty((batch, hidden), dtype=x.dtype)
        h = h0
        for t in time_order(n_steps, reverse):
            rz, n, hn = gates[:2, t], gates[2, t], hidden_n[t]
            if h is None:
                hn[...] = 0 if b_hn is None else b_hn
            else:
                xp.matmul(h, w_rec, out=recurrent)
                gate_major(by_gate, recurrent)
                rz += by_gate[:2]
                if b_hn is None:
                    hn[...] = by_gate[2]
                else:
                    xp.add(by_gate[2], b_hn, out=hn)
            xp.tanh(rz, out=rz)
            tanh_to_sigmoid(rz)
            r, update = rz
            xp.multiply(r, hn, out=work)
            n += work
            xp.tanh(n, out=n)
            h_t = out[t]  # h' = n + z ⊙ (h − n)
            if h is None:
                xp.multiply(update, n, out=h_t)
                xp.subtract(n, h_t, out=h_t)
            else:
                xp.subtract(h, n, out=h_t)
                h_t *= update
                h_t += n
            h = h_t
        self.saved = (x_rows, h0, w_ih, w_hh, gates, hidden_n, out)
        sequence_pool.give_back_when_freed(self, x_rows, gates, hidden_n)
        return out

    def backward(self, grad: Any) -> tuple:
        found = self._native_backward(grad)
        if found is not None:
            return found
        xp = backend.xp
        x_rows, h0, w_ih, w_hh, gates, hidden_n, out = self.saved
        n_steps, batch, hidden = out.shape
        # ∂C/∂(x W_ihᵀ + b_ih) and ∂C/∂(h W_hhᵀ + b_hh) of all steps, row-major (T, B, 3H), for
        # one product per weight gradient (as in the LSTM); each step works gate-major first.
        rows_in = sequence_pool.take((n_steps, batch, 3 * hidden), gates.dtype)
        rows_rec = sequence_pool.take((n_steps, batch, 3 * hidden), gates.dtype)
        d_in = xp.empty((3, batch, hidden), dtype=grad.dtype)
        d_rec = xp.empty((3, batch, hidden), dtype=grad.dtype)
        work = xp.empty((batch, hidden), dtype=grad.dtype)
        grad_h = None
        steps = time_order(n_steps, self.reverse)
        observer = self.observer
        for t in reversed(steps):
            r, update, n = gates[:, t]
            dr, dz, dn = d_in
            dh = grad[t] if grad_h is None else xp.add(grad[t], grad_h)  # ∂C/∂h_t in full
            if observer is not None:
                observer(t, dh, None)
            h_prev = previous(out, h0, t, steps)
            if h_prev is None:
                xp.negative(n, out=dz)
            else:
                xp.subtract(h_prev, n, out=dz)
            dz *= dh
            xp.subtract(1, update, out=dn)
            dn *= dh
            times_tanh_derivative(dn, n)
            xp.multiply(dn, hidden_n[t], out=dr)
            times_sigmoid_derivative(d_in[:2], gates[:2, t])
            d_rec[:2] = d_in[:2]
            xp.multiply(dn, r, out=d_rec[2])
            xp.multiply(dh, update, out=work)
            row_major(rows_in[t], d_in)
            grad_h = row_major(rows_rec[t], d_rec) @ w_hh
            grad_h += work
        needs = (self.needs_input_grad[0], *self.needs_input_grad[2:])
        grads = weight_grads(needs, rows_in, rows_rec, x_rows, w_ih, h0, out, self.reverse)
        sequence_pool.give_back(rows_in, rows_rec)
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = grads
        grad_h0 = grad_h if self.needs_input_grad[1] else None
        return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh

    def composite(
        self, x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
    ) -> Any:
        """The same layer, step by step from differentiable operations (for create_graph)."""
        return gru_steps(x, h0, w_ih, w_hh, b_ih, b_hh, self.reverse)


# ---- Elman RNN -----------------------------------------------------------------------------------


class RNNLayer(RecurrentLayer):
    """One Elman RNN layer: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act tanh or relu;
    x (T, B, I) → h_1..h_T (T, B, H).

    Backward through time: δz_t = (∂C/∂h_t + δz_{t+1} W_hh) ⊙ act'(z_t), with tanh' = 1 − h²
    and relu' = [h > 0]; weight gradients as in the LSTM.
    """

    def forward(
        self,
        x: Any,
        h0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        nonlinearity: str = "tanh",
        reverse: bool = False,
    ) -> Any:
        xp = backend.xp
        if nonlinearity not in ("tanh", "relu"):
            raise OpError(f"rnn: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        check_sequence(f"rnn_{nonlinearity}", x, w_ih, w_hh, (b_ih, b_hh), 1, h0)
        n_steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        x_rows = input_rows(x, b_ih is not None)
        w_in = input_weights(w_ih, sum_bias(b_ih, b_hh), [0], 0)[0]
        out = xp.matmul(x_rows, w_in).reshape(n_steps, batch, hidden)
        w_rec = recurrent_weights(w_hh, [0], 0)
        recurrent = xp.empty((batch, hidden), dtype=x.dtype)
        h = h0
        for t in time_order(n_steps, reverse):
            h_t = out[t]
            if h is not None:
                xp.matmul(h, w_rec, out=recurrent)
                h_t += recurrent
            if nonlinearity == "tanh":
                xp.tanh(h_t, out=h_t)
            else:
                xp.maximum(h_t, 0, out=h_t)
            h = h_t
        self.reverse, self.nonlinearity = reverse, nonlinearity
        self.saved = (x_rows, h0, w_ih, w_hh, out)
        sequence_pool.give_back_when_freed(self, x_rows)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        x_rows, h0, w_ih, w_hh, out = self.saved
        # The derivative of every step at once: tanh' = 1 − h², relu' = [h > 0].
        if self.nonlinearity == "tanh":
            derivative = sequence_pool.take(out.shape, out.dtype)
            xp.multiply(out, out, out=derivative)
            xp.subtract(1, derivative, out=derivative)
        else:
            derivative = sequence_pool.take(out.shape, xp.dtype(bool))
            xp.greater(out, 0, out=derivative)
        grad_pre = sequence_pool.take(out.shape, out.dtype)
        grad_h = None
        observer = self.observer
        for t in reversed(time_order(out.shape[0], self.reverse)):
            dz = grad_pre[t]
            # δh = ∂C/∂h_t in full, summed in dz's memory, which then becomes δz_t
            dh = grad[t] if grad_h is None else xp.add(grad[t], grad_h, out=dz)
            if observer is not None:
                observer(t, dh, None)
            xp.multiply(dh, derivative[t], out=dz)
            grad_h = dz @ w_hh
        needs = (self.needs_input_grad[0], *self.needs_input_grad[2:])
        grads = weight_grads(needs, grad_pre, grad_pre, x_rows, w_ih, h0, out, self.reverse)
        sequence_pool.give_back(derivative, grad_pre)
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = grads
        grad_h0 = grad_h if self.needs_input_grad[1] else None
        return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh

    def composite(
        self, x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None
    ) -> Any:
        """The same layer, step by step from differentiable operations (for create_graph)."""
        return rnn_steps(x, h0, w_ih, w_hh, b_ih, b_hh, self.nonlinearity, self.reverse)
