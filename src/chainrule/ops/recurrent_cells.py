"""The arithmetic that the fused recurrent layers (:mod:`.recurrent`) share: argument checks,
the weights rearranged for the products, the gate math, and the weight gradients of all steps.

Shapes: x (T, B, I) time-major (any memory layout), h0 and c0 (B, H) or None for zeros,
W_ih (G·H, I), W_hh (G·H, H), b_ih and b_hh (G·H,) or None, with G = 4 (LSTM), 3 (GRU) or 1.

Three layouts carry the speed:

- Gate-major arrays: every gate's (B, H) block of a step is contiguous (gates[k, t]), so the
  gate math runs on whole blocks; NumPy is two to three times slower on the strided column
  slices of a (B, G·H) array. One transposing copy per step feeds the recurrent product.
- The biases ride in the input product as an extra column of ones in x (and a row of biases
  in the weights), so adding them, and summing their gradient, costs nothing.
- σ(z) = ½ + ½·tanh(z/2): with the rows of the sigmoid gates' weights halved (exact in binary
  floating point), one tanh call makes all the gates of a step, and two cheap passes turn the
  sigmoid gates' tanh into σ.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.ops.movement import stack
from chainrule.ops.work_arrays import sequence_pool

# ---- arguments and layouts -----------------------------------------------------------------------


def time_order(n_steps: int, reverse: bool) -> range:
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


def input_rows(x: Any, has_bias: bool) -> Any:
    """x (T, B, I) as rows (T·B, I) in a pooled array, plus a column of ones for the bias."""
    n_steps, batch, size = x.shape
    rows = sequence_pool.take((n_steps * batch, size + has_bias), x.dtype)
    rows.reshape(n_steps, batch, size + has_bias)[..., :size] = x
    if has_bias:
        rows[:, size] = 1
    return rows


def input_weights(w_ih: Any, bias: Any, order: list[int], sigmoids: int) -> Any:
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


_TILE = 64
"""Rows of W_hh transposed per copy in :func:`recurrent_weights`."""


def recurrent_weights(w_hh: Any, order: list[int], sigmoids: int) -> Any:
    """W_hhᵀ (H, G·H) with its column blocks in ``order``, the first ``sigmoids`` halved,
    row-major (the per-step product h W_hhᵀ runs faster on it than on a transposed view)."""
    xp = backend.xp
    gates, hidden = len(order), w_hh.shape[1]
    w = xp.empty((hidden, gates * hidden), dtype=w_hh.dtype)
    # Transposed 64 rows at a time, halved in the same pass: one transposing copy of the whole
    # (G·H, H) array, a reorder and a halving took 97 µs for an LSTM of 128 hidden units, these
    # copies 39 µs (the strided reads of a narrow block stay in cache).
    for target_gate, source_gate in enumerate(order):
        for start in range(0, hidden, _TILE):
            stop = min(start + _TILE, hidden)
            block = w_hh[source_gate * hidden + start : source_gate * hidden + stop].T
            target = w[:, target_gate * hidden + start : target_gate * hidden + stop]
            if target_gate < sigmoids:
                xp.multiply(block, 0.5, out=target)
            else:
                target[...] = block
    return w


def sum_bias(b_ih: Any, b_hh: Any) -> Any:
    return None if b_ih is None else b_ih + b_hh


def gate_major(by_gate: Any, rows: Any) -> Any:
    """Copy (B, G·H) into the gate-major (G, B, H) ``by_gate``; returns it."""
    gates, batch, hidden = by_gate.shape
    backend.xp.copyto(by_gate, rows.reshape(batch, gates, hidden).transpose(1, 0, 2))
    return by_gate


def row_major(rows: Any, by_gate: Any) -> Any:
    """Copy the gate-major (G, B, H) ``by_gate`` into (B, G·H) ``rows``; returns it."""
    gates, batch, hidden = by_gate.shape
    backend.xp.copyto(rows.reshape(batch, gates, hidden).transpose(1, 0, 2), by_gate)
    return rows


def tanh_to_sigmoid(block: Any) -> None:
    """In place: tanh(z/2) → σ(z) = ½·tanh(z/2) + ½."""
    block *= 0.5
    block += 0.5


def times_sigmoid_derivative(grad: Any, s: Any) -> None:
    """In place: grad ⊙= σ(1 − σ), given s = σ."""
    factor = backend.xp.subtract(1, s)
    factor *= s
    grad *= factor


def times_tanh_derivative(grad: Any, th: Any) -> None:
    """In place: grad ⊙= 1 − tanh², given th = tanh."""
    factor = backend.xp.multiply(th, th)
    backend.xp.subtract(1, factor, out=factor)
    grad *= factor


def previous(states: Any, initial: Any, t: int, steps: range) -> Any:
    """The state before step t: the previous step's, or the initial one (None: zeros)."""
    if t == steps[0]:
        return initial
    return states[t + 1] if steps.step < 0 else states[t - 1]


def times_previous(factor: Any, states: Any, initial: Any, reverse: bool) -> None:
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


# ---- the arrays the LSTM and GRU loops start from ------------------------------------------------

# The forward keeps the three sigmoid gates side by side (i, f, o, g), so that one pair of
# passes turns their tanh into σ; the backward's arrays use PyTorch's order (i, f, g, o), in
# which the gates that δc multiplies sit side by side and which the weight gradients must have.
LSTM_ORDER = [0, 1, 3, 2]


def lstm_arrays(x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> tuple:
    """The arrays an LSTM layer's forward loop works on, once the shapes are checked:
    x_rows (T·B, I [+ 1]), gates (4, T, B, H) holding every step's input product (gate-major
    in the order i, f, o, g, which each step turns into the gate values in place for backward
    to read), W_hh rearranged for the per-step product (H, 4H), out (T + 1, B, H), and cells
    and tanh_cells (T, B, H), uninitialised."""
    xp = backend.xp
    check_sequence("lstm", x, w_ih, w_hh, (b_ih, b_hh), 4, h0, c0)
    n_steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    x_rows = input_rows(x, b_ih is not None)
    gates = sequence_pool.take((4, n_steps, batch, hidden), x.dtype)
    w_in = input_weights(w_ih, sum_bias(b_ih, b_hh), LSTM_ORDER, 3)
    xp.matmul(x_rows, w_in, out=gates.reshape(4, n_steps * batch, hidden))
    w_rec = recurrent_weights(w_hh, LSTM_ORDER, 3)
    out = xp.empty((n_steps + 1, batch, hidden), dtype=x.dtype)
    cells = sequence_pool.take((n_steps, batch, hidden), x.dtype)
    tanh_cells = sequence_pool.take((n_steps, batch, hidden), x.dtype)
    return x_rows, gates, w_rec, out, cells, tanh_cells


def gru_arrays(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> tuple:
    """The arrays a GRU layer's forward loop works on, once the shapes are checked: x_rows,
    gates (3, T, B, H) holding every step's input product (gate-major r, z, n, with b_hr and
    b_hz, which add to the input side's biases), W_hh rearranged for the per-step product
    (H, 3H), b_hn (H,) or None (it sits inside r ⊙ (h W_hnᵀ + b_hn) and cannot move), out
    (T, B, H), and hidden_n (T, B, H) for each step's h W_hnᵀ + b_hn, which δr needs."""
    xp = backend.xp
    check_sequence("gru", x, w_ih, w_hh, (b_ih, b_hh), 3, h0)
    n_steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    bias = b_hn = None
    if b_ih is not None:
        bias = b_ih.copy()
        bias[: 2 * hidden] += b_hh[: 2 * hidden]
        b_hn = b_hh[2 * hidden :]
    x_rows = input_rows(x, b_ih is not None)
    gates = sequence_pool.take((3, n_steps, batch, hidden), x.dtype)
    w_in = input_weights(w_ih, bias, [0, 1, 2], 2)
    xp.matmul(x_rows, w_in, out=gates.reshape(3, n_steps * batch, hidden))
    w_rec = recurrent_weights(w_hh, [0, 1, 2], 2)
    out = xp.empty((n_steps, batch, hidden), dtype=x.dtype)
    hidden_n = sequence_pool.take((n_steps, batch, hidden), x.dtype)
    return x_rows, gates, w_rec, b_hn, out, hidden_n


# ---- gradients of the weights, shared by the three layers ----------------------------------------


def weight_grads(
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
    array unless, as in the GRU, they differ). Each is one product over all T·B rows (a
    third faster than one product per gate from gate-major arrays)."""
    matmul = backend.xp.matmul
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


def after_first_step(n_steps: int, reverse: bool) -> tuple[slice, slice, int]:
    """For Σ_t δ_tᵀ h_{t−1}: the steps after the recurrence's first (a slice of the time
    axis), the outputs h_{t−1} that those steps read (a slice of h_1..h_T), and the first
    step, whose h_{t−1} is h0."""
    if reverse:  # step t follows step t + 1
        return slice(0, n_steps - 1), slice(1, n_steps), n_steps - 1
    return slice(1, n_steps), slice(0, n_steps - 1), 0


# ---- the same recurrences from differentiable operations (create_graph) --------------------------
#
# The fused layers' backward is a kernel on arrays; a backward that records a graph
# differentiates these instead (each node's ``composite``): the cell math of every step as
# chainrule tensor operations, in PyTorch's gate order, with None for an absent state or bias.


def lstm_steps(
    x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, reverse: bool
) -> Any:
    """LSTMLayer's forward on tensors: (T + 1, B, H), rows h_1..h_T then the last c."""

    def cell(z_in: Any, states: tuple) -> tuple:
        h, c = states
        i, f, g, o = _gates(_plus(z_in, _recurrent_part(h, w_hh, b_hh)), 4)
        i, f, g, o = _sigmoid(i), _sigmoid(f), g.tanh(), _sigmoid(o)
        c = _plus(i * g, None if c is None else f * c)
        return o * c.tanh(), c

    outputs, (_, c_last) = _run_steps(cell, x, (h0, c0), w_ih, b_ih, reverse)
    return stack([*outputs, c_last])


def gru_steps(x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, reverse: bool) -> Any:
    """GRULayer's forward on tensors: h_1..h_T (T, B, H)."""

    def cell(z_in: Any, states: tuple) -> tuple:
        (h,) = states
        x_r, x_z, x_n = _gates(z_in, 3)
        h_r, h_z, h_n = _gates(_recurrent_part(h, w_hh, b_hh), 3)
        r, update = _sigmoid(_plus(x_r, h_r)), _sigmoid(_plus(x_z, h_z))
        n = _plus(x_n, None if h_n is None else r * h_n).tanh()
        return (n - update * n if h is None else n + update * (h - n),)  # h' = n + z ⊙ (h − n)

    outputs, _ = _run_steps(cell, x, (h0,), w_ih, b_ih, reverse)
    return stack(outputs)


def rnn_steps(
    x: Any, h0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, nonlinearity: str, reverse: bool
) -> Any:
    """RNNLayer's forward on tensors: h_1..h_T (T, B, H)."""

    def cell(z_in: Any, states: tuple) -> tuple:
        z = _plus(z_in, _recurrent_part(states[0], w_hh, b_hh))
        return (z.tanh() if nonlinearity == "tanh" else z.relu(),)

    outputs, _ = _run_steps(cell, x, (h0,), w_ih, b_ih, reverse)
    return stack(outputs)


def _run_steps(cell: Any, x: Any, states: tuple, w_ih: Any, b_ih: Any, reverse: bool) -> tuple:
    """``states = cell(x_t W_ihᵀ + b_ih, states)`` for each step of x (T, B, I) in the order of
    the recurrence; returns (each step's first state, in time order; the last states)."""
    n_steps, batch, size = x.shape
    z_in = x.reshape(n_steps * batch, size) @ w_ih.t()
    if b_ih is not None:
        z_in = z_in + b_ih
    z_in = z_in.reshape(n_steps, batch, -1)
    outputs: list = [None] * n_steps
    for t in time_order(n_steps, reverse):
        states = cell(z_in[t], states)
        outputs[t] = states[0]
    return outputs, states


def _recurrent_part(h: Any, w_hh: Any, b_hh: Any) -> Any:
    """h W_hhᵀ + b_hh, where h (None: zeros) or b_hh may be absent (None when both are)."""
    return _plus(None if h is None else h @ w_hh.t(), b_hh)


def _gates(z: Any, count: int) -> tuple:
    """The ``count`` equal blocks of the last axis of z (Nones for None)."""
    if z is None:
        return (None,) * count
    hidden = z.shape[-1] // count
    return tuple(z[..., k * hidden : (k + 1) * hidden] for k in range(count))


def _sigmoid(z: Any) -> Any:
    """σ(z) = ½ + ½·tanh(z/2), as the forward computes it."""
    return (z * 0.5).tanh() * 0.5 + 0.5


def _plus(a: Any, b: Any) -> Any:
    """a + b, where None stands for zero."""
    if a is None or b is None:
        return b if a is None else a
    return a + b
