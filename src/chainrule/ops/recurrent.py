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

Four things carry the speed:

- Gate-major arrays: every gate's (B, H) block of a step is contiguous (gates[k, t]), so the
  gate math runs on whole blocks; NumPy is two to three times slower on the strided column
  slices of a (B, G·H) array. One transposing copy per step feeds the recurrent product.
- The biases ride in the input product as an extra column of ones in x (and a row of biases
  in the weights), so adding them, and summing their gradient, costs nothing.
- σ(z) = ½ + ½·tanh(z/2): with the rows of the sigmoid gates' weights halved (exact in binary
  floating point), one tanh call makes all the gates of a step, and two cheap passes turn the
  sigmoid gates' tanh into σ.
- The multi-megabyte work arrays are reused between calls (:class:`_ArrayPool`): fresh ones
  come from the operating system as untouched pages, and on the machines measured the page
  faults of filling them cost as much as the arithmetic of a layer.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from chainrule import backend
from chainrule.autograd.function import FREED, Function, OpError

# ---- memory kept between calls -------------------------------------------------------------------

_POOL_BYTES = 256 * 2**20
_PENDING = 64


class _ArrayPool:
    """Arrays that no one uses any more, by (shape, dtype), for the next call to take.

    Only arrays that never leave this module come here: a backward's work arrays when it
    returns, and the arrays a forward saves for backward once its graph node can no longer
    run backward (the engine freed its saved arrays, or the node is garbage), so a retained
    graph keeps its own. Outputs and gradients are always fresh arrays. Past ``_POOL_BYTES``
    the pool is emptied and refilled.
    """

    def __init__(self) -> None:
        self.free: dict[tuple, list] = {}
        self.nbytes = 0
        self.pending: list[tuple[weakref.ref, tuple]] = []  # (graph node, its saved arrays)
        self.lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: Any) -> Any:
        with self.lock:
            if self.pending:
                self._collect()
            stack = self.free.get((shape, dtype))
            if stack:
                array = stack.pop()
                self.nbytes -= array.nbytes
                if type(array) is backend.ndarray:  # not left over from another backend
                    return array
        return backend.xp.empty(shape, dtype=dtype)

    def give_back(self, *arrays: Any) -> None:
        with self.lock:
            self._add(arrays)

    def give_back_when_freed(self, node: Function, *arrays: Any) -> None:
        """Take ``arrays``, saved by ``node`` for its backward, once it no longer needs them.

        Only the newest ``_PENDING`` nodes are watched, so that a program holding many live
        graphs does not pay a growing scan per call; older ones are simply not recycled.
        """
        with self.lock:
            self.pending.append((weakref.ref(node), arrays))
            if len(self.pending) > _PENDING:
                del self.pending[0]

    def _collect(self) -> None:
        waiting = []
        for ref, arrays in self.pending:
            node = ref()
            if node is None or node.saved is FREED:
                self._add(arrays)
            else:
                waiting.append((ref, arrays))
        self.pending = waiting

    def _add(self, arrays: tuple) -> None:
        for array in arrays:
            if array.nbytes > _POOL_BYTES:
                continue
            if self.nbytes + array.nbytes > _POOL_BYTES:
                self.free.clear()
                self.nbytes = 0
            self.free.setdefault((array.shape, array.dtype), []).append(array)
            self.nbytes += array.nbytes


_pool = _ArrayPool()


# ---- shared helpers ------------------------------------------------------------------------------


def _steps(n_steps: int, reverse: bool) -> range:
    """The time indices in the order the recurrence visits them."""
    return range(n_steps - 1, -1, -1) if reverse else range(n_steps)


def check_sequence(
    name: str, x: Any, w_ih: Any, w_hh: Any, biases: tuple, gates: int, *states: Any
) -> None:
    """Raise an OpError naming ``name`` unless the shapes and dtypes fit one another."""
    hidden = w_hh.shape[1] if w_hh.ndim == 2 else -1
    expected_w = (gates * hidden, hidden)
    if w_hh.shape != expected_w or w_ih.ndim != 2 or w_ih.shape[0] != gates * hidden:
        raise OpError(
            f"{name}: weights of shapes {w_ih.shape} and {w_hh.shape} do not fit: expected "
            f"({gates * hidden}, input_size) and {expected_w}"
        )
    for bias in biases:
        if bias is not None and bias.shape != (gates * hidden,):
            raise OpError(f"{name}: expected biases of shape ({gates * hidden},), got {bias.shape}")
    if x.ndim != 3 or x.shape[2] != w_ih.shape[1] or x.shape[0] == 0:
        raise OpError(
            f"{name}: expected input of shape (L, N, {w_ih.shape[1]}) with L > 0, got {x.shape}"
        )
    for state in states:
        if state is not None and state.shape != (x.shape[1], hidden):
            raise OpError(
                f"{name}: expected a state of shape ({x.shape[1]}, {hidden}), got {state.shape}"
            )
    for array in (w_ih, w_hh, *biases, *states):
        if array is not None and array.dtype != x.dtype:
            raise OpError(f"{name}: input has dtype {x.dtype} but {array.dtype} was given too")


def _input_rows(x: Any, has_bias: bool) -> Any:
    """x (T, B, I) as rows (T·B, I) in a pooled array, plus a column of ones for the bias."""
    n_steps, batch, size = x.shape
    rows = _pool.take((n_steps * batch, size + has_bias), x.dtype)
    rows.reshape(n_steps, batch, size + has_bias)[..., :size] = x
    if has_bias:
        rows[:, size] = 1
    return rows


def _input_weights(w_ih: Any, bias: Any, order: list[int], sigmoids: int) -> Any:
    """The input product's right factors, one (I + 1, H) block per gate in ``order``: the
    gate's rows of W_ih transposed, its bias below; halved for the first ``sigmoids`` gates
    (σ(z) = ½ + ½·tanh(z/2))."""
    gates, size = len(order), w_ih.shape[1]
    hidden = w_ih.shape[0] // gates
    w = backend.xp.empty((gates, size + (bias is not None), hidden), dtype=w_ih.dtype)
    w[:, :size] = w_ih.reshape(gates, hidden, size)[order].transpose(0, 2, 1)
    if bias is not None:
        w[:, size] = bias.reshape(gates, hidden)[order]
    w[:sigmoids] *= 0.5
    return w


def _recurrent_weights(w_hh: Any, order: list[int], sigmoids: int) -> Any:
    """W_hhᵀ (H, G·H) with its column blocks in ``order``, the first ``sigmoids`` halved,
    row-major (the per-step product h W_hhᵀ runs faster on it than on a transposed view)."""
    gates, hidden = len(order), w_hh.shape[1]
    blocks = w_hh.reshape(gates, hidden, hidden)[order]  # a copy: indexing with a list
    w = backend.xp.ascontiguousarray(blocks.transpose(2, 0, 1)).reshape(hidden, gates * hidden)
    w[:, : sigmoids * hidden] *= 0.5
    return w


def _sum_bias(b_ih: Any, b_hh: Any) -> Any:
    return None if b_ih is None else b_ih + b_hh


def _gate_major(by_gate: Any, rows: Any) -> Any:
    """Copy (B, G·H) into the gate-major (G, B, H) ``by_gate``; returns it."""
    gates, batch, hidden = by_gate.shape
    backend.xp.copyto(by_gate, rows.reshape(batch, gates, hidden).transpose(1, 0, 2))
    return by_gate


def _row_major(rows: Any, by_gate: Any) -> Any:
    """Copy the gate-major (G, B, H) ``by_gate`` into (B, G·H) ``rows``; returns it."""
    gates, batch, hidden = by_gate.shape
    backend.xp.copyto(rows.reshape(batch, gates, hidden).transpose(1, 0, 2), by_gate)
    return rows


def _tanh_to_sigmoid(block: Any) -> None:
    """In place: tanh(z/2) → σ(z) = ½·tanh(z/2) + ½."""
    block *= 0.5
    block += 0.5


def _times_sigmoid_derivative(grad: Any, s: Any) -> None:
    """In place: grad ⊙= σ(1 − σ), given s = σ."""
    factor = backend.xp.subtract(1, s)
    factor *= s
    grad *= factor


def _times_tanh_derivative(grad: Any, th: Any) -> None:
    """In place: grad ⊙= 1 − tanh², given th = tanh."""
    factor = backend.xp.multiply(th, th)
    backend.xp.subtract(1, factor, out=factor)
    grad *= factor


def _previous(states: Any, initial: Any, t: int, steps: range) -> Any:
    """The state before step t: the previous step's, or the initial one (None: zeros)."""
    if t == steps[0]:
        return initial
    return states[t + 1] if steps.step < 0 else states[t - 1]


def _times_previous(factor: Any, states: Any, initial: Any, reverse: bool) -> None:
    """In place, for every step t: factor[t] ⊙= the state before step t (``initial`` before
    the first step; zero when it is None)."""
    n_steps = factor.shape[0]
    if reverse:
        first, rest, before = n_steps - 1, slice(0, n_steps - 1), slice(1, n_steps)
    else:
        first, rest, before = 0, slice(1, n_steps), slice(0, n_steps - 1)
    factor[rest] *= states[before]
    if initial is None:
        factor[first] = 0
    else:
        factor[first] *= initial


# ---- gradients of the weights, shared by the three layers ----------------------------------------


def _parameter_grads(
    needs: tuple,
    grad_in: Any,
    grad_rec: Any,
    x_rows: Any,
    w_ih: Any,
    h0: Any,
    out: Any,
    reverse: bool,
) -> tuple:
    """∂C/∂x, ∂C/∂W_ih, ∂C/∂W_hh, ∂C/∂b_ih, ∂C/∂b_hh from the gate-major (G, T, B, H)
    pre-activation gradients of all steps: ``grad_in`` for x W_ihᵀ + b_ih, ``grad_rec`` for
    h W_hhᵀ + b_hh (the same array unless, as in the GRU, they differ). ∂C/∂W_ih = Σ δᵀ x and
    ∂C/∂W_hh = Σ δᵀ h_{t−1} are one product per gate over all T·B rows."""
    xp = backend.xp
    need_x, need_w_ih, need_w_hh, need_b_ih, need_b_hh = needs
    gates, n_steps, batch, hidden = grad_in.shape
    size = w_ih.shape[1]
    rows_in = grad_in.reshape(gates, n_steps * batch, hidden)
    grad_x = grad_w_ih = grad_b_ih = grad_b_hh = None
    if need_x:  # ∂C/∂x = Σ_gates δ_gate W_ih,gate
        per_gate = xp.matmul(rows_in, w_ih.reshape(gates, hidden, size))
        grad_x = per_gate.sum(axis=0).reshape(n_steps, batch, size)
    if need_w_ih or need_b_ih or (need_b_hh and grad_rec is grad_in):
        # x_rows ends in a column of ones when there are biases: its column is ∂C/∂b.
        full = xp.matmul(rows_in.transpose(0, 2, 1), x_rows).reshape(gates * hidden, -1)
        grad_w_ih = xp.ascontiguousarray(full[:, :size])
        if full.shape[1] > size:
            grad_b_ih = grad_b_hh = xp.ascontiguousarray(full[:, size])
    if need_b_hh and grad_rec is not grad_in:
        grad_b_hh = grad_rec.reshape(gates, n_steps * batch, hidden).sum(axis=1).reshape(-1)
    grad_w_hh = _recurrent_weight_grad(grad_rec, out, h0, reverse) if need_w_hh else None
    return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def _recurrent_weight_grad(grads: Any, out: Any, h0: Any, reverse: bool) -> Any:
    """∂C/∂W_hh = Σ_t δ_tᵀ h_{t−1}: one product per gate over the steps whose h_{t−1} is an
    output, plus the first step's with h0 (nothing when h0 is zero)."""
    xp = backend.xp
    gates, n_steps, batch, hidden = grads.shape
    if reverse:  # step t follows step t + 1
        later, earlier = grads[:, : n_steps - 1], out[1:n_steps]
        first = grads[:, n_steps - 1]
    else:
        later, earlier = grads[:, 1:], out[: n_steps - 1]
        first = grads[:, 0]
    rows = (n_steps - 1) * batch
    later_rows = later.reshape(gates, rows, hidden).transpose(0, 2, 1)
    grad_w = xp.matmul(later_rows, earlier.reshape(rows, hidden))
    if h0 is not None:
        grad_w += xp.matmul(first.transpose(0, 2, 1), h0)
    return grad_w.reshape(gates * hidden, hidden)


# ---- watching backpropagation through time -------------------------------------------------------

Observer = Callable[[int, Any, Any], None]


class RecurrentLayer(Function):
    """One recurrent layer over a sequence as one graph node, whose backward can be watched.

    ``observer`` is None, or a callable that this node's backward calls once per time step t,
    in the order it visits them (t falling for a forward direction), as
    ``observer(t, delta_h, delta_c)``: ``delta_h`` (B, H) is δh_t = ∂C/∂h_t in full, from the
    output at step t and from the step after it; ``delta_c`` (B, H) is δc_t = ∂C/∂c_t for an
    LSTM, likewise in full, and None for the GRU and the RNN. The arrays are the loop's working
    memory: read them during the call, never keep or change them.

    Whoever watches sets ``observer`` on one node after its forward (GradientMonitor does, for
    the nodes of a module call); nothing else is global. backward reads it once, so a node that
    nobody watches pays one ``is not None`` test per step.
    """

    observer: Observer | None = None


# ---- LSTM ----------------------------------------------------------------------------------------

# The forward keeps the three sigmoid gates side by side (i, f, o, g), so that one pair of
# passes turns their tanh into σ; the backward's arrays use PyTorch's order (i, f, g, o), in
# which the gates that δc multiplies sit side by side and which the weight gradients must have.
_LSTM_ORDER = [0, 1, 3, 2]


class LSTMLayer(RecurrentLayer):
    """One LSTM layer over a sequence: x (T, B, I) → (T + 1, B, H), rows h_1..h_T then c_T.

    Gates (PyTorch's order i, f, g, o): [i f g o] = [σ σ tanh σ](x_t W_ihᵀ + b_ih + h W_hhᵀ
    + b_hh); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c'). The two results share one array because an
    operation returns one array; the layer slices output, h_n and c_n from it as views.

    Backward through time, per step: with δh = ∂C/∂h_t (from the output and from step t + 1)
    and δc likewise, δc += δh ⊙ o ⊙ (1 − tanh² c_t), δz_o = δh ⊙ tanh c_t ⊙ σ'(o),
    δz_i = δc ⊙ g ⊙ σ'(i), δz_f = δc ⊙ c_{t−1} ⊙ σ'(f), δz_g = δc ⊙ i ⊙ tanh'(g);
    ∂C/∂c_{t−1} = δc ⊙ f and ∂C/∂h_{t−1} = δz W_hh. Then ∂C/∂W_hh = Σ δzᵀ h_{t−1},
    ∂C/∂W_ih = Σ δzᵀ x_t, ∂C/∂b = Σ δz, ∂C/∂x_t = δz_t W_ih.
    """

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
        xp = backend.xp
        check_sequence("lstm", x, w_ih, w_hh, (b_ih, b_hh), 4, h0, c0)
        n_steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        x_rows = _input_rows(x, b_ih is not None)
        # The pre-activations of every step at once, gate-major in the order i, f, o, g; each
        # step turns its blocks into the gate values in place, which backward then reads.
        gates = _pool.take((4, n_steps, batch, hidden), x.dtype)
        w_in = _input_weights(w_ih, _sum_bias(b_ih, b_hh), _LSTM_ORDER, 3)
        xp.matmul(x_rows, w_in, out=gates.reshape(4, n_steps * batch, hidden))
        w_rec = _recurrent_weights(w_hh, _LSTM_ORDER, 3)
        out = xp.empty((n_steps + 1, batch, hidden), dtype=x.dtype)
        cells = _pool.take((n_steps, batch, hidden), x.dtype)
        tanh_cells = _pool.take((n_steps, batch, hidden), x.dtype)
        recurrent = xp.empty((batch, 4 * hidden), dtype=x.dtype)
        by_gate = xp.empty((4, batch, hidden), dtype=x.dtype)
        h, c = h0, c0
        for t in _steps(n_steps, reverse):
            z = gates[:, t]
            if h is not None:
                xp.matmul(h, w_rec, out=recurrent)
                z += _gate_major(by_gate, recurrent)
            xp.tanh(z, out=z)
            _tanh_to_sigmoid(z[:3])
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
        self.reverse = reverse
        self.saved = (x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out)
        _pool.give_back_when_freed(self, x_rows, gates, cells, tanh_cells)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        x_rows, h0, c0, w_ih, w_hh, gates, cells, tanh_cells, out = self.saved
        _, n_steps, batch, hidden = gates.shape
        i, f, o, g = gates
        # Every factor that does not depend on the incoming gradient, for all steps at once,
        # in PyTorch's order: local = [g σ'(i), c_{t−1} σ'(f), i tanh'(g), tanh c σ'(o)] and
        # k = o (1 − tanh² c), so that the loop below is five products per step.
        local = _pool.take(gates.shape, gates.dtype)
        xp.subtract(1, gates[:2], out=local[:2])
        local[:2] *= gates[:2]
        local[0] *= g
        _times_previous(local[1], cells, c0, self.reverse)
        xp.multiply(g, g, out=local[2])
        xp.subtract(1, local[2], out=local[2])
        local[2] *= i
        xp.subtract(1, o, out=local[3])
        local[3] *= o
        local[3] *= tanh_cells
        k = _pool.take(cells.shape, cells.dtype)
        xp.multiply(tanh_cells, tanh_cells, out=k)
        xp.subtract(1, k, out=k)
        k *= o

        grad_gates = _pool.take(gates.shape, gates.dtype)  # ∂C/∂z of all steps, gate-major
        grad_c = grad[n_steps].copy()
        work = xp.empty((batch, hidden), dtype=grad.dtype)
        rows = xp.empty((batch, 4 * hidden), dtype=grad.dtype)
        grad_h = None
        observer = self.observer
        for t in reversed(_steps(n_steps, self.reverse)):
            dz = grad_gates[:, t]
            # δh = ∂C/∂h_t in full: from the output at t and from step t + 1
            dh = grad[t] if grad_h is None else xp.add(grad[t], grad_h, out=grad_h)
            xp.multiply(dh, local[3, t], out=dz[3])
            xp.multiply(dh, k[t], out=work)
            grad_c += work  # δc = ∂C/∂c_t
            if observer is not None:
                observer(t, dh, grad_c)
            xp.multiply(grad_c, local[:3, t], out=dz[:3])  # δz_i, δz_f, δz_g at once
            grad_c *= f[t]  # ∂C/∂c_{t−1}
            grad_h = _row_major(rows, dz) @ w_hh  # ∂C/∂h_{t−1}
        needs = (self.needs_input_grad[0], *self.needs_input_grad[3:])
        grads = _parameter_grads(needs, grad_gates, grad_gates, x_rows, w_ih, h0, out, self.reverse)
        _pool.give_back(local, k, grad_gates)
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


# ---- GRU -----------------------------------------------------------------------------------------


class GRULayer(RecurrentLayer):
    """One GRU layer over a sequence: x (T, B, I) → h_1..h_T (T, B, H).

    Gates (PyTorch's order r, z, n): r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), z likewise,
    n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.

    Backward through time, per step, with δh = ∂C/∂h_t: δz = δh ⊙ (h_{t−1} − n) ⊙ σ',
    δn = δh ⊙ (1 − z) ⊙ tanh', δr = δn ⊙ (h W_hnᵀ + b_hn) ⊙ σ'; the recurrent pre-activation's
    n part gets δn ⊙ r; ∂C/∂h_{t−1} = δh ⊙ z + δ_rec W_hh. Weight gradients as in the LSTM.
    """

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
        xp = backend.xp
        check_sequence("gru", x, w_ih, w_hh, (b_ih, b_hh), 3, h0)
        n_steps, batch, _ = x.shape
        hidden = w_hh.shape[1]
        bias = b_hn = None
        if b_ih is not None:
            # b_hr and b_hz add to the input side's; b_hn sits inside r ⊙ (…) and cannot.
            bias = b_ih.copy()
            bias[: 2 * hidden] += b_hh[: 2 * hidden]
            b_hn = b_hh[2 * hidden :]
        x_rows = _input_rows(x, b_ih is not None)
        gates = _pool.take((3, n_steps, batch, hidden), x.dtype)  # gate-major r, z, n
        w_in = _input_weights(w_ih, bias, [0, 1, 2], 2)
        xp.matmul(x_rows, w_in, out=gates.reshape(3, n_steps * batch, hidden))
        w_rec = _recurrent_weights(w_hh, [0, 1, 2], 2)
        out = xp.empty((n_steps, batch, hidden), dtype=x.dtype)
        hidden_n = _pool.take((n_steps, batch, hidden), x.dtype)  # h W_hnᵀ + b_hn, for δr
        recurrent = xp.empty((batch, 3 * hidden), dtype=x.dtype)
        by_gate = xp.empty((3, batch, hidden), dtype=x.dtype)
        work = xp.empty((batch, hidden), dtype=x.dtype)
        h = h0
        for t in _steps(n_steps, reverse):
            rz, n, hn = gates[:2, t], gates[2, t], hidden_n[t]
            if h is None:
                hn[...] = 0 if b_hn is None else b_hn
            else:
                xp.matmul(h, w_rec, out=recurrent)
                _gate_major(by_gate, recurrent)
                rz += by_gate[:2]
                if b_hn is None:
                    hn[...] = by_gate[2]
                else:
                    xp.add(by_gate[2], b_hn, out=hn)
            xp.tanh(rz, out=rz)
            _tanh_to_sigmoid(rz)
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
        self.reverse = reverse
        self.saved = (x_rows, h0, w_ih, w_hh, gates, hidden_n, out)
        _pool.give_back_when_freed(self, x_rows, gates, hidden_n)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        x_rows, h0, w_ih, w_hh, gates, hidden_n, out = self.saved
        n_steps, batch, hidden = out.shape
        grad_in = _pool.take(gates.shape, gates.dtype)  # ∂C/∂(x W_ihᵀ + b_ih), all steps
        grad_rec = _pool.take(gates.shape, gates.dtype)  # ∂C/∂(h W_hhᵀ + b_hh), all steps
        work = xp.empty((batch, hidden), dtype=grad.dtype)
        rows = xp.empty((batch, 3 * hidden), dtype=grad.dtype)
        grad_h = None
        steps = _steps(n_steps, self.reverse)
        observer = self.observer
        for t in reversed(steps):
            d_in, d_rec = grad_in[:, t], grad_rec[:, t]
            r, update, n = gates[:, t]
            dr, dz, dn = d_in
            dh = grad[t] if grad_h is None else xp.add(grad[t], grad_h)  # ∂C/∂h_t in full
            if observer is not None:
                observer(t, dh, None)
            h_prev = _previous(out, h0, t, steps)
            if h_prev is None:
                xp.negative(n, out=dz)
            else:
                xp.subtract(h_prev, n, out=dz)
            dz *= dh
            xp.subtract(1, update, out=dn)
            dn *= dh
            _times_tanh_derivative(dn, n)
            xp.multiply(dn, hidden_n[t], out=dr)
            _times_sigmoid_derivative(d_in[:2], gates[:2, t])
            d_rec[:2] = d_in[:2]
            xp.multiply(dn, r, out=d_rec[2])
            xp.multiply(dh, update, out=work)
            grad_h = _row_major(rows, d_rec) @ w_hh
            grad_h += work
        needs = (self.needs_input_grad[0], *self.needs_input_grad[2:])
        grads = _parameter_grads(needs, grad_in, grad_rec, x_rows, w_ih, h0, out, self.reverse)
        _pool.give_back(grad_in, grad_rec)
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = grads
        grad_h0 = grad_h if self.needs_input_grad[1] else None
        return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


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
        x_rows = _input_rows(x, b_ih is not None)
        w_in = _input_weights(w_ih, _sum_bias(b_ih, b_hh), [0], 0)[0]
        out = xp.matmul(x_rows, w_in).reshape(n_steps, batch, hidden)
        w_rec = _recurrent_weights(w_hh, [0], 0)
        recurrent = xp.empty((batch, hidden), dtype=x.dtype)
        h = h0
        for t in _steps(n_steps, reverse):
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
        _pool.give_back_when_freed(self, x_rows)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        x_rows, h0, w_ih, w_hh, out = self.saved
        # The derivative of every step at once: tanh' = 1 − h², relu' = [h > 0].
        if self.nonlinearity == "tanh":
            derivative = _pool.take(out.shape, out.dtype)
            xp.multiply(out, out, out=derivative)
            xp.subtract(1, derivative, out=derivative)
        else:
            derivative = _pool.take(out.shape, xp.dtype(bool))
            xp.greater(out, 0, out=derivative)
        grad_pre = _pool.take(out.shape, out.dtype)
        grad_h = None
        observer = self.observer
        for t in reversed(_steps(out.shape[0], self.reverse)):
            dz = grad_pre[t]
            # δh = ∂C/∂h_t in full, summed in dz's memory, which then becomes δz_t
            dh = grad[t] if grad_h is None else xp.add(grad[t], grad_h, out=dz)
            if observer is not None:
                observer(t, dh, None)
            xp.multiply(dh, derivative[t], out=dz)
            grad_h = dz @ w_hh
        needs = (self.needs_input_grad[0], *self.needs_input_grad[2:])
        by_gate = grad_pre[None]  # one gate: (1, T, B, H)
        grads = _parameter_grads(needs, by_gate, by_gate, x_rows, w_ih, h0, out, self.reverse)
        _pool.give_back(derivative, grad_pre)
        grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh = grads
        grad_h0 = grad_h if self.needs_input_grad[1] else None
        return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh
