"""Recurrent layers (RNN, LSTM, GRU and their cells): backpropagation through time, step by step.

chainrule runs a whole sequence through one layer as one fused operation, so the steps inside
it are invisible to hooks. The recorder therefore runs the layer again, unrolled: step by step
with elementary operations in float64, from the same input, initial state and weights, and
backward from the gradients that reached the layer's outputs in the real pass. Autodiff on the
unrolled graph gives, for every step t, δh_t = ∂C/∂h_t and (LSTM) δc_t = ∂C/∂c_t, the whole
gradient from the output at t and from step t + 1, and the gradients of the gate
pre-activations. The explanation then checks, in NumPy, the equations of backpropagation
through time against those numbers, and the sums over steps of the weight gradients against
the fused layer's own ``.grad``: the unrolled rerun and the fused kernel are independent.

Notation, samples as rows, one layer and direction, steps t = 1..T in processing order::

    RNN   z_t = x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh,  h_t = σ(z_t) (tanh or ReLU)
    LSTM  [i f g o]_t = [σ σ tanh σ](z_t),  c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t,
          h_t = o_t ⊙ tanh(c_t)
    GRU   r_t, z_t = σ(x_t W_i·ᵀ + b_i· + h_{t−1} W_h·ᵀ + b_h·),
          n_t = tanh(x_t W_inᵀ + b_in + r_t ⊙ (h_{t−1} W_hnᵀ + b_hn)),
          h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}

For a reverse direction, "step t + 1" is the one processed next (the earlier position).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy

from chainrule.autograd.grad_mode import enable_grad
from chainrule.inspect.equations import Equation, LayerExplanation, check, sub
from chainrule.inspect.families.base import Context, Family, grad_array, retain
from chainrule.inspect.records import Call, Record
from chainrule.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.ops.movement import cat, stack
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.inspect.tracer import Trace

# Gate names in PyTorch's order, per cell kind.
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn_tanh": (), "rnn_relu": ()}


@dataclass
class RecurrentRecord(Record):
    """One recurrent layer and direction over T steps, every array time-major in forward time
    (index 0 is the first position of the sequence, whatever the direction).

    ``a_in`` x (T, B, I); ``z`` the hidden states h (T, B, H); ``h0`` (B, H); ``c``, ``c0``
    likewise for an LSTM; ``gates`` name → (T, B, H) gate values; ``delta`` δh (T, B, H) the
    whole ∂C/∂h_t; ``delta_c`` δc (T, B, H); ``grad_from_above`` ∂C/∂y_t (T, B, H), the part
    of δh_t that comes from the output at t (the layer above, or the loss); ``grad_h_n`` and
    ``grad_c_n`` (B, H) what reached the final state; ``delta_in`` and ``delta_rec`` (T, B, G·H)
    the gradients of x_t W_ihᵀ + b_ih and of h_{t−1} W_hhᵀ + b_hh (equal except in a GRU).
    Weights as the module holds them; their gradients are the fused layer's ``.grad``. Unbatched
    input is recorded as a batch of one.
    """

    ARRAYS: ClassVar[dict[str, str]] = {
        "a_in": "x",
        "z": "h",
        "c": "c",
        "delta": "δh",
        "delta_c": "δc",
        "grad_from_above": "∂C/∂y",
        "delta_in": "∂C/∂(x W_ihᵀ + b_ih)",
        "delta_rec": "∂C/∂(h W_hhᵀ + b_hh)",
        "grad_weight": "∂C/∂[W_ih W_hh]",
        "grad_bias": "∂C/∂[b_ih b_hh]",
    }

    cell: str  # "lstm", "gru", "rnn_tanh" or "rnn_relu"
    layer: int  # k of a stacked layer
    reverse: bool
    a_in: numpy.ndarray
    z: numpy.ndarray
    h0: numpy.ndarray
    delta: numpy.ndarray
    grad_from_above: numpy.ndarray | None
    grad_h_n: numpy.ndarray
    delta_in: numpy.ndarray
    delta_rec: numpy.ndarray
    w_ih: numpy.ndarray
    w_hh: numpy.ndarray
    b_ih: numpy.ndarray | None
    b_hh: numpy.ndarray | None
    grad_w_ih: numpy.ndarray
    grad_w_hh: numpy.ndarray
    grad_b_ih: numpy.ndarray | None
    grad_b_hh: numpy.ndarray | None
    c: numpy.ndarray | None = None
    c0: numpy.ndarray | None = None
    delta_c: numpy.ndarray | None = None
    grad_c_n: numpy.ndarray | None = None
    gates: dict[str, numpy.ndarray] = field(default_factory=dict)
    hidden_n: numpy.ndarray | None = None  # GRU: h_{t−1} W_hnᵀ + b_hn, inside r ⊙ (…)
    fused_h: numpy.ndarray | None = None  # the fused layer's own h (T, B, H), where visible
    # A cell called once per step: the states each call was given (T, B, H), which need not
    # be the previous call's output.
    h_given: numpy.ndarray | None = None
    c_given: numpy.ndarray | None = None

    @property
    def steps(self) -> int:
        """T, the number of time steps."""
        return self.z.shape[0]

    @property
    def order(self) -> list[int]:
        """The positions in processing order."""
        return list(range(self.steps - 1, -1, -1)) if self.reverse else list(range(self.steps))

    @property
    def grad_weight(self) -> numpy.ndarray:
        """[∂C/∂W_ih ∂C/∂W_hh] side by side, (G·H, I + H)."""
        return numpy.concatenate([self.grad_w_ih, self.grad_w_hh], axis=1)

    @property
    def grad_bias(self) -> numpy.ndarray | None:
        """[∂C/∂b_ih; ∂C/∂b_hh], (2·G·H,), None without biases."""
        if self.grad_b_ih is None:
            return None
        return numpy.concatenate([self.grad_b_ih, self.grad_b_hh])

    def arrays(self) -> dict[str, numpy.ndarray]:
        found = super().arrays()
        found.update({f"gate_{name}": values for name, values in self.gates.items()})
        return found

    @property
    def h_before(self) -> numpy.ndarray:
        """h_{t−1}, the hidden state each step started from, (T, B, H)."""
        return self.h_given if self.h_given is not None else self.previous(self.z, self.h0)

    @property
    def c_before(self) -> numpy.ndarray:
        """c_{t−1} (LSTM), the cell state each step started from, (T, B, H)."""
        return self.c_given if self.c_given is not None else self.previous(self.c, self.c0)

    def previous(self, values: numpy.ndarray, initial: numpy.ndarray | None) -> numpy.ndarray:
        """The state before each step, (T, B, H): values shifted one step against the
        processing order, ``initial`` (zeros when None) before the first."""
        before = numpy.empty_like(values, dtype=numpy.float64)
        first = numpy.zeros(values.shape[1:]) if initial is None else initial
        if self.reverse:
            before[:-1], before[-1] = values[1:], first
        else:
            before[1:], before[0] = values[:-1], first
        return before

    def following(self, values: numpy.ndarray) -> numpy.ndarray:
        """What the next processed step holds, per step (zeros after the last)."""
        after = numpy.zeros_like(values, dtype=numpy.float64)
        if self.reverse:
            after[1:] = values[:-1]
        else:
            after[:-1] = values[1:]
        return after

    def weight_contributions(self) -> dict[str, numpy.ndarray]:
        """Each step's share of the weight gradients: "W_ih" (T, G·H, I) = δ(xW)_tᵀ x_t and
        "W_hh" (T, G·H, H) = δ(hW)_tᵀ h_{t−1}, summed over the batch."""
        return {
            "W_ih": numpy.einsum("tbg,tbi->tgi", self.delta_in, self.a_in),
            "W_hh": numpy.einsum("tbg,tbh->tgh", self.delta_rec, self.h_before),
        }

    def time_norms(self) -> dict[str, list[float]]:
        """Per step (forward time): ‖δh_t‖, ‖δc_t‖ (LSTM), and the norms of each step's
        contribution to ∂C/∂W_hh and ∂C/∂W_ih."""

        def per_step(values: numpy.ndarray) -> list[float]:
            flat = numpy.asarray(values, numpy.float64).reshape(values.shape[0], -1)
            return [float(v) for v in numpy.linalg.norm(flat, axis=1)]

        norms = {"δh": per_step(self.delta)}
        if self.delta_c is not None:
            norms["δc"] = per_step(self.delta_c)
        contributions = self.weight_contributions()
        norms["∂C/∂W_hh (step)"] = per_step(contributions["W_hh"])
        norms["∂C/∂W_ih (step)"] = per_step(contributions["W_ih"])
        return norms


# ---- recording -----------------------------------------------------------------------------------


def prepare(calls: list[Call]) -> None:
    """Keep the gradients that reach the layer's outputs (and final states)."""
    for call in calls:
        retain(call.output)


def _cell_kind(module: Any) -> str:
    if isinstance(module, (LSTM, LSTMCell)):
        return "lstm"
    if isinstance(module, (GRU, GRUCell)):
        return "gru"
    return f"rnn_{getattr(module, 'nonlinearity', 'tanh')}"


def _leaf(array: Any) -> Tensor:
    return Tensor(numpy.array(array, dtype=numpy.float64), requires_grad=True)


def _constant(array: Any) -> Tensor:
    return Tensor(numpy.array(array, dtype=numpy.float64))


def _weights(group: tuple) -> list[Tensor | None]:
    return [None if w is None else _leaf(w.data) for w in group]


class _Step:
    """One unrolled step in float64: the tensors whose gradients the record needs."""

    def __init__(self, kind: str, x: Tensor, h: Tensor, c: Tensor | None, weights: list) -> None:
        w_ih, w_hh, b_ih, b_hh = weights
        self.xw = x @ w_ih.T if b_ih is None else x @ w_ih.T + b_ih
        self.hw = h @ w_hh.T if b_hh is None else h @ w_hh.T + b_hh
        self.xw.retain_grad()
        self.hw.retain_grad()
        size = w_hh.shape[1]
        self.gates: dict[str, Tensor] = {}
        self.c = None
        if kind == "lstm":
            z = self.xw + self.hw
            i, f = z[:, :size].sigmoid(), z[:, size : 2 * size].sigmoid()
            g, o = z[:, 2 * size : 3 * size].tanh(), z[:, 3 * size :].sigmoid()
            self.gates = {"i": i, "f": f, "g": g, "o": o}
            self.c = f * c + i * g
            self.c.retain_grad()
            self.h = o * self.c.tanh()
        elif kind == "gru":
            r = (self.xw[:, :size] + self.hw[:, :size]).sigmoid()
            z = (self.xw[:, size : 2 * size] + self.hw[:, size : 2 * size]).sigmoid()
            self.hidden_n = self.hw[:, 2 * size :]
            n = (self.xw[:, 2 * size :] + r * self.hidden_n).tanh()
            self.gates = {"r": r, "z": z, "n": n}
            self.h = (1 - z) * n + z * h
        else:
            pre = self.xw + self.hw
            self.h = pre.tanh() if kind == "rnn_tanh" else pre.relu()
        self.h.retain_grad()


def _time_major(array: Any, batched: bool, batch_first: bool) -> numpy.ndarray:
    array = numpy.asarray(array)
    if not batched:
        return array[:, None]
    return array.swapaxes(0, 1) if batch_first else array


def _states(value: Any, batched: bool) -> numpy.ndarray:
    """A (L·D, N, H) state (or unbatched (L·D, H)) as float64 (L·D, N, H)."""
    array = numpy.asarray(value.data if isinstance(value, Tensor) else value, numpy.float64)
    return array if batched else array[:, None]


def record_sequence(context: Context) -> list[Record]:
    """One record per layer and direction of an RNN, LSTM or GRU module's single call."""
    call = context.calls[0]
    module = call.module
    if module.training and module.dropout > 0 and module.num_layers > 1:
        context.notes.append(
            f"{call.name!r} ({type(module).__name__}): dropout between its layers in training "
            "mode draws a mask the trace cannot see, so its steps are not recorded; trace the "
            "model in eval mode (model.eval()) to see them"
        )
        return []
    kind = _cell_kind(module)
    x_in = call.input
    batched = x_in.ndim == 3
    x = _time_major(x_in.data, batched, module.batch_first).astype(numpy.float64)
    steps, batch = x.shape[0], x.shape[1]
    output, state = call.output
    h_n, c_n = state if kind == "lstm" else (state, None)
    directions = 2 if module.bidirectional else 1
    layers = module.num_layers * directions
    zeros = numpy.zeros((layers, batch, module.hidden_size))
    hx = call.args[1] if len(call.args) > 1 else None
    h_init, c_init = hx if kind == "lstm" and hx is not None else (hx, None)
    h0 = zeros if h_init is None else _states(h_init, batched)
    c0 = zeros if c_init is None else _states(c_init, batched)
    grad_out = _time_major(grad_array(output), batched, module.batch_first)
    grad_h_n = _states(grad_array(h_n), batched)
    grad_c_n = None if c_n is None else _states(grad_array(c_n), batched)
    fused_out = _time_major(output.data, batched, module.batch_first)

    with enable_grad():
        runs = _unroll(kind, module, x, h0, c0, steps)
        top = runs[-directions:]
        top_out = top[0]["seq"] if directions == 1 else cat([r["seq"] for r in top], dim=2)
        surrogate = (top_out * _constant(grad_out)).sum()
        for k, run in enumerate(runs):
            surrogate = surrogate + (run["last"].h * _constant(grad_h_n[k])).sum()
            if grad_c_n is not None:
                surrogate = surrogate + (run["last"].c * _constant(grad_c_n[k])).sum()
        surrogate.backward()

    records: list[Record] = []
    hidden = module.hidden_size
    for k, run in enumerate(runs):
        layer, direction = divmod(k, directions)
        name = call.name
        if module.num_layers > 1 or directions > 1:
            name += f".l{layer}" + ("_reverse" if direction else "")
        fused = None
        if layer == module.num_layers - 1:
            fused = fused_out[..., direction * hidden : (direction + 1) * hidden]
        group = module._weights()[k]
        records.append(
            _make_record(
                context.index + len(records),
                name,
                module,
                kind,
                layer,
                bool(direction),
                run,
                group,
                h0[k],
                c0[k] if kind == "lstm" else None,
                grad_h_n[k],
                None if grad_c_n is None else grad_c_n[k],
                fused,
            )
        )
    return records


def _unroll(kind: str, module: Any, x: numpy.ndarray, h0: Any, c0: Any, steps: int) -> list:
    """Every layer and direction run step by step; per run its steps and output sequence."""
    directions = 2 if module.bidirectional else 1
    layer_input: Tensor = _constant(x)
    runs = []
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            weights = _weights(module._weights()[k])
            h = _leaf(h0[k])
            c = _leaf(c0[k]) if kind == "lstm" else None
            order = range(steps - 1, -1, -1) if direction else range(steps)
            by_time: dict[int, _Step] = {}
            for t in order:
                step = _Step(kind, layer_input[t], h, c, weights)
                by_time[t], h, c = step, step.h, step.c
            seq = stack([by_time[t].h for t in range(steps)])
            seq.retain_grad()  # only the layer above (or the loss) uses it: ∂C/∂y_t
            runs.append(
                {"steps": by_time, "seq": seq, "last": by_time[order[-1]], "x": layer_input}
            )
            outputs.append(seq)
        layer_input = outputs[0] if directions == 1 else cat(outputs, dim=2)
    for run in runs:
        run["x"] = run["x"].data.copy()
    return runs


def _make_record(
    index: int,
    name: str,
    module: Any,
    kind: str,
    layer: int,
    reverse: bool,
    run: dict,
    group: tuple,
    h0: Any,
    c0: Any,
    grad_h_n: Any,
    grad_c_n: Any,
    fused: Any,
) -> RecurrentRecord:
    by_time: dict[int, _Step] = run["steps"]
    times = range(len(by_time))

    def series(get: Any) -> numpy.ndarray:
        return numpy.stack([numpy.asarray(get(by_time[t])) for t in times])

    w_ih, w_hh, b_ih, b_hh = group
    record = RecurrentRecord(
        index=index,
        name=name,
        module=repr(module),
        kind=kind,
        cell=kind,
        layer=layer,
        reverse=reverse,
        a_in=run["x"],
        z=series(lambda s: s.h.data),
        h0=numpy.asarray(h0, numpy.float64),
        delta=series(lambda s: s.h.grad.data),
        grad_from_above=run["seq"].grad.data.copy(),
        grad_h_n=grad_h_n,
        delta_in=series(lambda s: s.xw.grad.data),
        delta_rec=series(lambda s: s.hw.grad.data),
        w_ih=w_ih.data.copy(),
        w_hh=w_hh.data.copy(),
        b_ih=None if b_ih is None else b_ih.data.copy(),
        b_hh=None if b_hh is None else b_hh.data.copy(),
        grad_w_ih=_param_grad(w_ih),
        grad_w_hh=_param_grad(w_hh),
        grad_b_ih=None if b_ih is None else _param_grad(b_ih),
        grad_b_hh=None if b_hh is None else _param_grad(b_hh),
        gates={g: series(lambda s, g=g: s.gates[g].data) for g in GATES[kind]},
        fused_h=None if fused is None else numpy.asarray(fused).copy(),
    )
    if kind == "lstm":
        record.c = series(lambda s: s.c.data)
        record.c0 = numpy.asarray(c0, numpy.float64)
        record.delta_c = series(lambda s: s.c.grad.data)
        record.grad_c_n = grad_c_n
    if kind == "gru":
        record.hidden_n = series(lambda s: s.hidden_n.data)
    return record


def _param_grad(param: Any) -> numpy.ndarray:
    if param.grad is None:
        return numpy.zeros(param.shape, param.dtype)
    return param.grad.data.copy()


def record_cells(context: Context) -> list[Record]:
    """One record for a cell called once per time step (the calls in order are the steps)."""
    calls = context.calls
    module = calls[0].module
    kind = _cell_kind(module)
    hidden = module.hidden_size
    weights = _weights(module._weights())
    per_call = []
    with enable_grad():
        for call in calls:
            x = numpy.asarray(call.input.data, numpy.float64)
            batched = x.ndim == 2
            x = x if batched else x[None]
            given = call.args[1] if len(call.args) > 1 else None
            h_in, c_in = given if kind == "lstm" and given is not None else (given, None)
            zeros = numpy.zeros((x.shape[0], hidden))
            h_prev = zeros if h_in is None else numpy.asarray(h_in.data, numpy.float64)
            c_prev = zeros if c_in is None else numpy.asarray(c_in.data, numpy.float64)
            h_prev, c_prev = (h_prev, c_prev) if batched else (h_prev[None], c_prev[None])
            step = _Step(kind, _constant(x), _leaf(h_prev), _leaf(c_prev), weights)
            h_out, c_out = call.output if kind == "lstm" else (call.output, None)
            grad_h = grad_array(h_out).reshape(step.h.shape)
            surrogate = (step.h * _constant(grad_h)).sum()
            if c_out is not None:
                grad_c = grad_array(c_out).reshape(step.c.shape)
                surrogate = surrogate + (step.c * _constant(grad_c)).sum()
            surrogate.backward()
            fused = numpy.asarray(h_out.data).reshape(step.h.shape)
            per_call.append((x, h_prev, c_prev, step, fused))

    def series(get: Any) -> numpy.ndarray:
        return numpy.stack([numpy.asarray(get(entry)) for entry in per_call])

    w_ih, w_hh, b_ih, b_hh = module._weights()
    record = RecurrentRecord(
        index=context.index,
        name=calls[0].name,
        module=repr(module),
        kind=kind,
        cell=kind,
        layer=0,
        reverse=False,
        a_in=series(lambda e: e[0]),
        z=series(lambda e: e[3].h.data),
        h0=per_call[0][1],
        delta=series(lambda e: e[3].h.grad.data),
        grad_from_above=None,
        grad_h_n=numpy.zeros_like(per_call[0][1]),
        delta_in=series(lambda e: e[3].xw.grad.data),
        delta_rec=series(lambda e: e[3].hw.grad.data),
        w_ih=w_ih.data.copy(),
        w_hh=w_hh.data.copy(),
        b_ih=None if b_ih is None else b_ih.data.copy(),
        b_hh=None if b_hh is None else b_hh.data.copy(),
        grad_w_ih=_param_grad(w_ih),
        grad_w_hh=_param_grad(w_hh),
        grad_b_ih=None if b_ih is None else _param_grad(b_ih),
        grad_b_hh=None if b_hh is None else _param_grad(b_hh),
        gates={g: series(lambda e, g=g: e[3].gates[g].data) for g in GATES[kind]},
        fused_h=series(lambda e: e[4]),
        h_given=series(lambda e: e[1]),
    )
    if kind == "lstm":
        record.c = series(lambda e: e[3].c.data)
        record.c0 = per_call[0][2]
        record.delta_c = series(lambda e: e[3].c.grad.data)
        record.c_given = series(lambda e: e[2])
    if kind == "gru":
        record.hidden_n = series(lambda e: e[3].hidden_n.data)
    return [record]


# ---- the equations -------------------------------------------------------------------------------


def _sigmoid_slope(s: numpy.ndarray) -> numpy.ndarray:
    return s * (1 - s)


def numpy_forward(record: RecurrentRecord) -> numpy.ndarray:
    """h of every step recomputed in NumPy (float64) from x, the initial state and the weights,
    step by step in processing order (a cell's steps from the states each call was given)."""
    x, w_ih, w_hh = record.a_in, record.w_ih, record.w_hh
    b_ih = 0.0 if record.b_ih is None else record.b_ih
    b_hh = 0.0 if record.b_hh is None else record.b_hh
    size = w_hh.shape[1]
    h, c = record.h0, record.c0
    out = numpy.empty(record.z.shape)
    for t in record.order:
        if record.h_given is not None:
            h = record.h_given[t]
            c = None if record.c_given is None else record.c_given[t]
        xw, hw = x[t] @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if record.cell == "lstm":
            z = xw + hw
            sig = 1 / (1 + numpy.exp(-z))
            i, f, o = sig[:, :size], sig[:, size : 2 * size], sig[:, 3 * size :]
            c = f * c + i * numpy.tanh(z[:, 2 * size : 3 * size])
            h = o * numpy.tanh(c)
        elif record.cell == "gru":
            rz = 1 / (1 + numpy.exp(-(xw[:, : 2 * size] + hw[:, : 2 * size])))
            r, update = rz[:, :size], rz[:, size:]
            n = numpy.tanh(xw[:, 2 * size :] + r * hw[:, 2 * size :])
            h = (1 - update) * n + update * h
        else:
            pre = xw + hw
            h = numpy.tanh(pre) if record.cell == "rnn_tanh" else numpy.maximum(pre, 0)
        out[t] = h
    return out


def _product_sum(*pairs: numpy.ndarray) -> numpy.ndarray:
    """a₁ ⊙ b₁ + a₂ ⊙ b₂ + … for operands given as a₁, b₁, a₂, b₂, …"""
    return sum(pairs[k] * pairs[k + 1] for k in range(0, len(pairs), 2))


def _at_last(record: RecurrentRecord, values: numpy.ndarray | None) -> numpy.ndarray:
    """(T, B, H) zeros with ``values`` at the last processed step (what reached h_n, c_n)."""
    placed = numpy.zeros(record.z.shape)
    if values is not None:
        placed[record.order[-1]] = values
    return placed


def _gate_slopes(record: RecurrentRecord) -> dict[str, numpy.ndarray]:
    """The local factors of each gate pre-activation's gradient, per step (T, B, H)."""
    g = record.gates
    if record.cell == "lstm":
        tanh_c = numpy.tanh(record.c)
        return {
            "i": g["g"] * _sigmoid_slope(g["i"]),
            "f": record.c_before * _sigmoid_slope(g["f"]),
            "g": g["i"] * (1 - g["g"] ** 2),
            "o": tanh_c * _sigmoid_slope(g["o"]),
            "c": g["o"] * (1 - tanh_c**2),
        }
    if record.cell == "gru":
        return {
            "n": (1 - g["z"]) * (1 - g["n"] ** 2),
            "z": (record.h_before - g["n"]) * _sigmoid_slope(g["z"]),
            "r": record.hidden_n * _sigmoid_slope(g["r"]),
        }
    if record.cell == "rnn_tanh":
        return {"h": 1 - record.z**2}
    return {"h": (record.z > 0).astype(numpy.float64)}


def explain(trace: Trace, record: RecurrentRecord, step: int | None = None) -> LayerExplanation:
    """Backpropagation through time for one recurrent layer and direction: the forward step,
    the δh (and δc) recursion, the gate gradients and the weight gradients as sums over steps.
    Every step is checked; the numbers shown are step ``step``'s (default: the step processed
    second to last, where both the output's and the next step's gradients arrive)."""
    order = record.order
    if step is None:
        step = order[-2] if len(order) > 1 else order[0]
    if not isinstance(step, int) or not 0 <= step < record.steps:
        raise IndexError(f"explain: step must be 0..{record.steps - 1} for {record.name!r}")
    t = sub("t")
    shown = (step, f"t = {step}")
    equations = [_forward_equation(record, step, shown)]
    equations += _delta_equations(record, step, shown)
    equations += _gate_equations(record, step, shown)
    equations += _weight_equations(record, step)
    name = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN (tanh)", "rnn_relu": "RNN (ReLU)"}
    heading = f"Layer {record.number} of {len(trace.layers)}: {record.name!r} {record.module}"
    direction = "reverse (from the last position to the first)" if record.reverse else "forward"
    convention = (
        f"{name[record.cell]}, layer {record.layer}, direction {direction}, T = {record.steps} "
        f"steps, a batch of {record.z.shape[1]}, {record.z.shape[2]} hidden units. Samples are "
        f"rows: x{t} is {record.a_in.shape[1]}×{record.a_in.shape[2]}, h{t} and δh{t} = ∂C/∂h{t} "
        f"are {record.z.shape[1]}×{record.z.shape[2]}. δh{t} is the whole gradient at step t: "
        f"from the output y{t} = h{t} (the layer above, or the loss) and from step t+1, the "
        "step processed next. The steps' δ come from autodiff on the layer unrolled step by "
        "step in float64; the weight gradients from the fused layer's backward."
    )
    if record.h_given is not None:
        convention += (
            " This is a cell called once per step: its calls, in order, are the steps, and "
            "each started from the state it was given."
        )
    return LayerExplanation(record, heading, convention, equations)


def _forward_equation(record: RecurrentRecord, step: int, shown: tuple) -> Equation:
    t, p = sub("t"), sub("t−1")
    forms = {
        "rnn_tanh": f"h{t} = tanh(x{t} W_ihᵀ + b_ih + h{p} W_hhᵀ + b_hh)",
        "rnn_relu": f"h{t} = ReLU(x{t} W_ihᵀ + b_ih + h{p} W_hhᵀ + b_hh)",
        "lstm": f"c{t} = f{t} ⊙ c{p} + i{t} ⊙ g{t},  h{t} = o{t} ⊙ tanh(c{t})",
        "gru": f"h{t} = (1 − z{t}) ⊙ n{t} + z{t} ⊙ h{p}",
    }
    equation = Equation("F", forms[record.cell], f"at t = {step}: " + forms[record.cell])
    equation.terms += [(f"x{t}", record.a_in[step]), (f"h{p}", record.h_before[step])]
    equation.terms += [(f"{name}{t}", values[step]) for name, values in record.gates.items()]
    if record.fused_h is not None:
        target, what = record.fused_h, "the fused layer's output"
    else:
        target, what = record.z, "the unrolled rerun (a lower layer's h is not an output)"
    equation.note = f"h recomputed step by step in NumPy, against {what}."
    computed = numpy_forward(record)
    equation.check = check(lambda v: v, (computed,), numpy.asarray(target))
    equation.shown = shown
    return equation


def _delta_equations(record: RecurrentRecord, step: int, shown: tuple) -> list[Equation]:
    t, n = sub("t"), sub("t+1")
    slopes = _gate_slopes(record)
    if record.cell == "gru":
        general = f"δh{t} = ∂C/∂y{t} + δh{n} ⊙ z{n} + δ(hW){n} W_hh"
    else:
        general = f"δh{t} = ∂C/∂y{t} + δz{n} W_hh"
    equation = Equation("BPTT1", general, f"at t = {step}: {general}")
    equations = [equation]
    if record.grad_from_above is None:
        equation.note = (
            "Not checked: each call of a cell returns h_t to the program, which may use it "
            "anywhere (the next call, the loss); δh_t is the whole gradient autodiff gave it."
        )
        equation.terms.append((f"δh{t} from autodiff", record.delta[step]))
    else:
        recurrent = record.following(record.delta_rec) @ record.w_hh
        operands = [record.grad_from_above, 1.0, _at_last(record, record.grad_h_n), 1.0]
        operands += [recurrent, 1.0]
        if record.cell == "gru":
            operands += [record.following(record.delta), record.following(record.gates["z"])]
        equation.terms += [
            (f"∂C/∂y{t}", record.grad_from_above[step]),
            (f"δ(hW){n} (zero after the last step)", record.following(record.delta_rec)[step]),
            ("W_hh", record.w_hh),
        ]
        equation.note = (
            "At the last step processed, the gradient that reached the final state h_n takes "
            "the place of the next step's."
        )
        equation.check = check(_product_sum, tuple(operands), record.delta)
        equation.shown = shown
    if record.cell == "lstm":
        cell = Equation(
            "BPTT2",
            f"δc{t} = δh{t} ⊙ o{t} ⊙ (1 − tanh² c{t}) + δc{n} ⊙ f{n}",
            f"at t = {step}",
            [(f"δh{t}", record.delta[step]), (f"o{t} ⊙ (1 − tanh² c{t})", slopes["c"][step])],
        )
        if record.h_given is not None:
            cell.note = "Not checked for a cell: c_t goes back to the program after each call."
            cell.terms.append((f"δc{t} from autodiff", record.delta_c[step]))
        else:
            operands = (
                record.delta,
                slopes["c"],
                record.following(record.delta_c),
                record.following(record.gates["f"]),
                _at_last(record, record.grad_c_n),
                1.0,
            )
            cell.check = check(_product_sum, operands, record.delta_c)
            cell.shown = shown
        equations.append(cell)
    return equations


def _gate_equations(record: RecurrentRecord, step: int, shown: tuple) -> list[Equation]:
    t = sub("t")
    slopes = _gate_slopes(record)
    if record.cell.startswith("rnn"):
        derivative = "1 − h²" if record.cell == "rnn_tanh" else "1 where h > 0, else 0"
        equation = Equation("BPTT3", f"δz{t} = δh{t} ⊙ σ'(z{t})", f"σ'(z) = {derivative}")
        equation.terms += [(f"δh{t}", record.delta[step]), (f"σ'(z{t})", slopes["h"][step])]
        equation.check = check(_product_sum, (record.delta, slopes["h"]), record.delta_in)
        equation.shown = shown
        return [equation]
    if record.cell == "lstm":
        dc, dh = record.delta_c, record.delta
        general = (
            f"δz{t} = [δc ⊙ g ⊙ σ'(i), δc ⊙ c{sub('t−1')} ⊙ σ'(f), δc ⊙ i ⊙ tanh'(g), "
            f"δh ⊙ tanh c ⊙ σ'(o)]{t}"
        )
        equation = Equation("BPTT3", general, "the four gates side by side, PyTorch's order")
        equation.terms += [(f"δc{t}", dc[step]), (f"δh{t}", dh[step])]

        def gates_lstm(dc: Any, si: Any, sf: Any, sg: Any, dh: Any, so: Any) -> Any:
            return numpy.concatenate([dc * si, dc * sf, dc * sg, dh * so], axis=-1)

        operands = (dc, slopes["i"], slopes["f"], slopes["g"], dh, slopes["o"])
        equation.check = check(gates_lstm, operands, record.delta_in)
        equation.shown = shown
        return [equation]
    dh, r = record.delta, record.gates["r"]

    def gru_input(dh: Any, sn: Any, sz: Any, sr: Any) -> Any:
        dn = dh * sn
        return numpy.concatenate([dn * sr, dh * sz, dn], axis=-1)

    def gru_recurrent(dh: Any, sn: Any, sz: Any, sr: Any, r: Any) -> Any:
        dn = dh * sn
        return numpy.concatenate([dn * sr, dh * sz, dn * r], axis=-1)

    operands = (dh, slopes["n"], slopes["z"], slopes["r"])
    first = Equation(
        "BPTT3",
        f"δn{t} = δh{t} ⊙ (1 − z{t}) ⊙ tanh'(n{t});  ∂C/∂(x W_ihᵀ + b_ih){t} = "
        f"[δn ⊙ (h W_hnᵀ + b_hn) ⊙ σ'(r), δh ⊙ (h{sub('t−1')} − n) ⊙ σ'(z), δn]{t}",
        "the gates r, z, n side by side",
        [(f"δh{t}", dh[step]), (f"z{t}", record.gates["z"][step])],
    )
    first.check = check(gru_input, operands, record.delta_in)
    first.shown = shown
    second = Equation(
        "BPTT4",
        f"∂C/∂(h W_hhᵀ + b_hh){t} = [δr, δz, δn ⊙ r]{t}",
        "the same, but the new gate's part passes through r",
        [(f"r{t}", r[step])],
    )
    second.check = check(gru_recurrent, (*operands, r), record.delta_rec)
    second.shown = shown
    return [first, second]


def _weight_equations(record: RecurrentRecord, step: int) -> list[Equation]:
    t = sub("t")
    contributions = record.weight_contributions()
    w_in = Equation(
        "W1",
        f"∂C/∂W_ih = Σ_t δ(xW){t}ᵀ x{t}",
        "summed over every step and sample",
        [(f"this step's share δ(xW){t}ᵀ x{t}", contributions["W_ih"][step])],
    )
    w_in.check = check(
        lambda d, x: numpy.einsum("tbg,tbi->gi", d, x),
        (record.delta_in, record.a_in),
        record.grad_w_ih,
    )
    w_rec = Equation(
        "W2",
        f"∂C/∂W_hh = Σ_t δ(hW){t}ᵀ h{sub('t−1')}",
        "summed over every step and sample: each step adds its share",
        [(f"this step's share δ(hW){t}ᵀ h{sub('t−1')}", contributions["W_hh"][step])],
    )
    w_rec.check = check(
        lambda d, h: numpy.einsum("tbg,tbh->gh", d, h),
        (record.delta_rec, record.h_before),
        record.grad_w_hh,
    )
    equations = [w_in, w_rec]
    bias = Equation("W3", "∂C/∂b_ih = Σ_t δ(xW)_t,  ∂C/∂b_hh = Σ_t δ(hW)_t", "[b_ih; b_hh]")
    if record.grad_bias is None:
        bias.note = "The layer has no biases."
    else:
        bias.check = check(
            lambda a, b: numpy.concatenate([a.sum(axis=(0, 1)), b.sum(axis=(0, 1))]),
            (record.delta_in, record.delta_rec),
            record.grad_bias,
        )
    equations.append(bias)
    for equation in equations[:2]:
        equation.note = (
            "Right-hand side from the unrolled steps' δ; autodiff here is the fused layer's "
            "own backward, an independent computation."
        )
    return equations


SEQUENCES = Family(
    name="recurrent",
    modules=(RNN, LSTM, GRU),
    record_type=RecurrentRecord,
    prepare=prepare,
    record=record_sequence,
    explain=explain,
)

CELLS = Family(
    name="recurrent cells",
    modules=(RNNCell, LSTMCell, GRUCell),
    record_type=RecurrentRecord,
    prepare=prepare,
    record=record_cells,
    explain=explain,
    calls_are_steps=True,
)
