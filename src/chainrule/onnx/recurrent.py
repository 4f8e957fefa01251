"""Converters of the recurrent layers RNN, LSTM and GRU: one ONNX node per layer.

ONNX's RNN, LSTM and GRU operators run one layer in one or both directions over a time-major
sequence. A stacked layer is a chain of them: each node's Y [T, D, N, H] is laid out as
PyTorch's output [T, N, D·H] (forward features first) for the next one, and the final states
Y_h [D, N, H] of all layers are concatenated into h_n [L·D, N, H].

The gates are stored in another order: chainrule (as PyTorch) stacks LSTM's as i, f, g, o
and GRU's as r, z, n; ONNX wants i, o, f, c and z, r, h. GRU's candidate r ⊙ (W_hn h + b_hn)
is ONNX's ``linear_before_reset=1``. An initial state of zeros made in the forward
(``torch.zeros(layers, x.size(0), hidden)``, the usual way) is left out, which ONNX reads as
zeros of whatever batch size comes: the batch dimension stays dynamic.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, nn
from chainrule.onnx.registry import LayerCall, converts
from chainrule.tensor import Tensor

# For each operator: chainrule's gate blocks in the order ONNX stacks them.
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}


def _operator(module: Any) -> str:
    if isinstance(module, nn.LSTM):
        return "LSTM"
    return "GRU" if isinstance(module, nn.GRU) else "RNN"


def _reordered(array: Any, op_type: str, hidden: int) -> Any:
    blocks = [array[g * hidden : (g + 1) * hidden] for g in _GATE_ORDER[op_type]]
    return numpy.concatenate(blocks, axis=0)


def _layer_weights(call: LayerCall, op_type: str, layer: int) -> list[str]:
    """W [D, G·H, I], R [D, G·H, H] and (with biases) B [D, 2·G·H] of one layer."""
    module = call.module
    hidden = module.hidden_size
    suffixes = [f"_l{layer}"] + ([f"_l{layer}_reverse"] if module.bidirectional else [])

    def stacked(kinds: tuple[str, ...]) -> Any:
        def compute(_: Any) -> Any:
            rows = []
            for suffix in suffixes:
                parts = [getattr(module, kind + suffix).array for kind in kinds]
                # Host copies: the exported file holds the weights wherever the model lives.
                parts = [_reordered(backend.to_numpy(part), op_type, hidden) for part in parts]
                rows.append(numpy.concatenate(parts, axis=0))
            return numpy.stack(rows)

        return compute

    names = []
    groups = [("W", ("weight_ih",)), ("R", ("weight_hh",))]
    if module.bias:
        groups.append(("B", ("bias_ih", "bias_hh")))
    for label, kinds in groups:
        first = getattr(module, kinds[0] + suffixes[0])
        name = f"{call.path}.{label}_l{layer}" if call.path else f"{label}_l{layer}"
        names.append(call.tracer.derived(first, f"onnx_{label}", stacked(kinds), name))
    return names


def _initial_state(call: LayerCall, state: Any, unbatched: bool) -> str | None:
    """The graph name of an initial state [L·D, N, H], or None for zeros."""
    if state is None:
        return None
    if isinstance(state, Tensor) and not backend.to_numpy(state.array).any():
        return None  # zeros: ONNX's default, which keeps the batch size free
    name = call.tracer.name_of(state)
    if unbatched:
        name = call.graph.add("Unsqueeze", [name, call.graph.ints([1])])
    return name


def _layer_slice(call: LayerCall, state: str | None, layer: int, directions: int) -> str:
    if state is None:
        return ""
    if call.module.num_layers == 1:
        return state
    bounds = [layer * directions], [(layer + 1) * directions], [0]
    return call.graph.add("Slice", [state, *(call.graph.ints(b) for b in bounds)])


@converts(nn.LSTM, nn.GRU, nn.RNN)
def _recurrent(call: LayerCall) -> Any:
    module, graph = call.module, call.graph
    op_type = _operator(module)
    x = call.input()
    hx = call.argument(1, "hx")
    real = call.real_output()
    unbatched = x.ndim == 2
    if unbatched:
        sequence = graph.add("Unsqueeze", [x.name, graph.ints([1])])
    elif module.batch_first:
        sequence = graph.add("Transpose", [x.name], perm=[1, 0, 2])
    else:
        sequence = x.name
    given = list(hx) if op_type == "LSTM" and hx is not None else [hx]
    initial = [_initial_state(call, state, unbatched) for state in given]
    directions = 2 if module.bidirectional else 1
    attributes: dict[str, Any] = {
        "hidden_size": module.hidden_size,
        "direction": "bidirectional" if module.bidirectional else "forward",
    }
    if op_type == "GRU":
        attributes["linear_before_reset"] = 1
    if op_type == "RNN":
        attributes["activations"] = [module.nonlinearity.capitalize()] * directions
    finals: list[list[str]] = [[] for _ in range(2 if op_type == "LSTM" else 1)]
    for layer in range(module.num_layers):
        weights = _layer_weights(call, op_type, layer)
        weights += [""] * (3 - len(weights))  # no B: ONNX's biases default to zeros
        layer_states = [_layer_slice(call, state, layer, directions) for state in initial]
        inputs = [sequence, *weights, "", *layer_states]  # "": no sequence_lens
        while inputs[-1] == "":
            inputs.pop()
        y, *layer_finals = graph.add(op_type, inputs, outputs=1 + len(finals), **attributes)
        # Y [T, D, N, H] → [T, N, D, H] → [T, N, D·H]
        y = graph.add("Transpose", [y], perm=[0, 2, 1, 3])
        sequence = graph.add("Reshape", [y, graph.ints([0, 0, -1])])
        for collected, final in zip(finals, layer_finals):
            collected.append(final)
    output = sequence
    if unbatched:
        output = graph.add("Squeeze", [output, graph.ints([1])])
    elif module.batch_first:
        output = graph.add("Transpose", [output], perm=[1, 0, 2])
    states = []
    for collected in finals:
        state = collected[0] if len(collected) == 1 else graph.add("Concat", collected, axis=0)
        if unbatched:
            state = graph.add("Squeeze", [state, graph.ints([1])])
        states.append(state)
    real_output, real_states = real
    traced_output = call.tracer.wrap(output, real_output)
    if op_type == "LSTM":
        h_n, c_n = (call.tracer.wrap(s, r) for s, r in zip(states, real_states))
        return traced_output, (h_n, c_n)
    return traced_output, call.tracer.wrap(states[0], real_states)
