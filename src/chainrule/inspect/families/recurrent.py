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
from chainrule.inspect.families.base import Context, Family, grad_array, retain
from chainrule.inspect.families.bptt import explain
from chainrule.inspect.records import Call, Record
from chainrule.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.ops.movement import cat, stack
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    pass

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
    return [None if w is None else _leaf(w.array) for w in group]


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
    array = numpy.asarray(value.array if isinstance(value, Tensor) else value, numpy.float64)
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
    x = _time_major(x_in.array, batched, module.batch_first).astype(numpy.float64)
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
    fused_out = _time_major(output.array, batched, module.batch_first)

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
            fused = fused_out[..., direction * hidden : (direction + 1) * hidden].copy()
        record = _from_steps(
            [run["steps"][t] for t in range(steps)],
            module._weights()[k],
            index=context.index + len(records),
            name=name,
            module=repr(module),
            kind=kind,
            layer=layer,
            reverse=bool(direction),
            a_in=run["x"],
            h0=h0[k],
            grad_from_above=run["seq"].grad.array.copy(),
            grad_h_n=grad_h_n[k],
            fused_h=fused,
        )
        if kind == "lstm":
            record.c0, record.grad_c_n = c0[k], grad_c_n[k]
        records.append(record)
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
        run["x"] = run["x"].array.copy()
    return runs


def _from_steps(steps: list[_Step], group: tuple, **fields: Any) -> RecurrentRecord:
    """A record from the unrolled steps, in forward time, and the layer's weights (W_ih, W_hh,
    b_ih, b_hh); ``fields`` are the record's others (its place, input and initial states)."""

    def series(get: Any) -> numpy.ndarray:
        return numpy.stack([numpy.asarray(get(step)) for step in steps])

    kind = fields["kind"]
    w_ih, w_hh, b_ih, b_hh = group
    record = RecurrentRecord(
        cell=kind,
        z=series(lambda s: s.h.array),
        delta=series(lambda s: s.h.grad.array),
        delta_in=series(lambda s: s.xw.grad.array),
        delta_rec=series(lambda s: s.hw.grad.array),
        w_ih=w_ih.array.copy(),
        w_hh=w_hh.array.copy(),
        b_ih=None if b_ih is None else b_ih.array.copy(),
        b_hh=None if b_hh is None else b_hh.array.copy(),
        grad_w_ih=_param_grad(w_ih),
        grad_w_hh=_param_grad(w_hh),
        grad_b_ih=None if b_ih is None else _param_grad(b_ih),
        grad_b_hh=None if b_hh is None else _param_grad(b_hh),
        gates={g: series(lambda s, g=g: s.gates[g].array) for g in GATES[kind]},
        **fields,
    )
    if kind == "lstm":
        record.c = series(lambda s: s.c.array)
        record.delta_c = series(lambda s: s.c.grad.array)
    if kind == "gru":
        record.hidden_n = series(lambda s: s.hidden_n.array)
    return record


def _param_grad(param: Any) -> numpy.ndarray:
    if param.grad is None:
        return numpy.zeros(param.shape, param.dtype)
    return param.grad.array.copy()


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
            x = numpy.asarray(call.input.array, numpy.float64)
            batched = x.ndim == 2
            x = x if batched else x[None]
            given = call.args[1] if len(call.args) > 1 else None
            h_in, c_in = given if kind == "lstm" and given is not None else (given, None)
            zeros = numpy.zeros((x.shape[0], hidden))
            h_prev = zeros if h_in is None else numpy.asarray(h_in.array, numpy.float64)
            c_prev = zeros if c_in is None else numpy.asarray(c_in.array, numpy.float64)
            h_prev, c_prev = (h_prev, c_prev) if batched else (h_prev[None], c_prev[None])
            step = _Step(kind, _constant(x), _leaf(h_prev), _leaf(c_prev), weights)
            h_out, c_out = call.output if kind == "lstm" else (call.output, None)
            grad_h = grad_array(h_out).reshape(step.h.shape)
            surrogate = (step.h * _constant(grad_h)).sum()
            if c_out is not None:
                grad_c = grad_array(c_out).reshape(step.c.shape)
                surrogate = surrogate + (step.c * _constant(grad_c)).sum()
            surrogate.backward()
            fused = numpy.asarray(h_out.array).reshape(step.h.shape)
            per_call.append((x, h_prev, c_prev, step, fused))

    def series(get: Any) -> numpy.ndarray:
        return numpy.stack([numpy.asarray(get(entry)) for entry in per_call])

    record = _from_steps(
        [entry[3] for entry in per_call],
        module._weights(),
        index=context.index,
        name=calls[0].name,
        module=repr(module),
        kind=kind,
        layer=0,
        reverse=False,
        a_in=series(lambda e: e[0]),
        h0=per_call[0][1],
        grad_from_above=None,
        grad_h_n=numpy.zeros_like(per_call[0][1]),
        fused_h=series(lambda e: e[4]),
        h_given=series(lambda e: e[1]),
    )
    if kind == "lstm":
        record.c0, record.c_given = per_call[0][2], series(lambda e: e[2])
    return [record]


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
