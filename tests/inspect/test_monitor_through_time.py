"""The per-time-step norms GradientMonitor records for recurrent layers: ‖δh_t‖ and ‖δc_t‖
checked against PyTorch unrolled one cell step at a time; an observer that changes no
gradient, stays inside the modules it watches and falls silent on close()."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.inspect import GradientMonitor
from chainrule.nn.functional import recurrent as recurrent_functional
from chainrule.ops.recurrent_layer import RecurrentLayer

# Every test twice: recurrent layers through chainrule.native's loops, and in NumPy.
pytestmark = pytest.mark.usefixtures("native_mode")

STEPS, BATCH, INPUT, HIDDEN = 6, 3, 4, 5

SEQUENCES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn_relu": nn.RNN}
CELLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn_tanh": nn.RNNCell, "rnn_relu": nn.RNNCell}
TORCH_CELLS = {
    "lstm": torch.nn.LSTMCell,
    "gru": torch.nn.GRUCell,
    "rnn_tanh": torch.nn.RNNCell,
    "rnn_relu": torch.nn.RNNCell,
}


def _options(kind: str) -> dict:
    return {"nonlinearity": kind[4:]} if kind.startswith("rnn") else {}


def _torch_cell(kind: str, weights: dict, suffix: str, dtype: torch.dtype) -> torch.nn.Module:
    w_ih = weights[f"weight_ih{suffix}"]
    cell = TORCH_CELLS[kind](w_ih.shape[1], HIDDEN, dtype=dtype, **_options(kind))
    cell.load_state_dict(
        {
            name: weights[f"{name}{suffix}"]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
    )
    return cell


def _torch_unrolled(kind: str, module: nn.Module, x: np.ndarray, h0: np.ndarray | None):
    """``module``'s computation in PyTorch, one cell call per layer, direction and step, on
    time-major ``x``; returns (output, h_n, c_n, {(layer, direction): (h_ts, c_ts)}) with
    every h_t and c_t retaining its gradient."""
    weights = {k: torch.tensor(v.numpy()) for k, v in module.state_dict().items()}
    directions = 2 if module.bidirectional else 1
    layer_input = torch.tensor(x)
    finals_h, finals_c, states = [], [], {}
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            cell = _torch_cell(kind, weights, suffix, layer_input.dtype)
            k = layer * directions + direction
            # The same initial states as chainrule's: zeros, or h0 and c0 = -h0.
            h = torch.zeros(BATCH, HIDDEN, dtype=torch.float64)
            c = torch.zeros_like(h)
            if h0 is not None:
                h, c = torch.tensor(h0[k]), torch.tensor(-h0[k])
            hs, cs = [None] * STEPS, [None] * STEPS
            for t in reversed(range(STEPS)) if direction else range(STEPS):
                if kind == "lstm":
                    h, c = cell(layer_input[t], (h, c))
                    c.retain_grad()
                    cs[t] = c
                else:
                    h = cell(layer_input[t], h)
                h.retain_grad()
                hs[t] = h
            states[(layer, direction)] = (hs, cs)
            outputs.append(torch.stack(hs))
            last = 0 if direction else STEPS - 1
            finals_h.append(hs[last])
            finals_c.append(cs[last])
        layer_input = torch.cat(outputs, dim=2)
    c_n = torch.stack(finals_c) if kind == "lstm" else None
    return layer_input, torch.stack(finals_h), c_n, states


def _key(name: str, module: nn.Module, layer: int, direction: int) -> str:
    if module.num_layers == 1 and not module.bidirectional:
        return name
    return f"{name}.l{layer}" + ("_reverse" if direction else "")


@pytest.mark.parametrize("kind", list(SEQUENCES))
@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first", "states"),
    [
        (1, False, False, False),
        (2, False, True, True),
        (1, True, True, False),
        (2, True, False, True),
    ],
)
def test_sequence_norms_equal_pytorch_unrolled_step_by_step(
    kind: str, layers: int, bidirectional: bool, batch_first: bool, states: bool
) -> None:
    cr.manual_seed(3)
    module = SEQUENCES[kind](
        INPUT, HIDDEN, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
        dtype="float64", **_options(kind),
    )  # fmt: skip
    directions = 2 if bidirectional else 1
    rng = np.random.default_rng(4)
    x = rng.standard_normal((STEPS, BATCH, INPUT))
    h0 = rng.standard_normal((layers * directions, BATCH, HIDDEN)) if states else None
    # A random weight on every output, so that each δh_t mixes what the loss sends at t with
    # what step t + 1 sends back (a plain sum would hide a transposed or misplaced step).
    g_out = rng.standard_normal((STEPS, BATCH, directions * HIDDEN))
    g_h = rng.standard_normal((layers * directions, BATCH, HIDDEN))
    g_c = rng.standard_normal((layers * directions, BATCH, HIDDEN))

    monitor = GradientMonitor(module)
    x_in = cr.tensor(x.transpose(1, 0, 2) if batch_first else x)
    hx = None
    if states:
        hx = (cr.tensor(h0), cr.tensor(-h0)) if kind == "lstm" else cr.tensor(h0)
    output, final = module(x_in, hx)
    h_n, c_n = final if kind == "lstm" else (final, None)
    g_out_in = g_out.transpose(1, 0, 2) if batch_first else g_out
    loss = (output * cr.tensor(g_out_in)).sum() + (h_n * cr.tensor(g_h)).sum()
    if kind == "lstm":
        loss = loss + (c_n * cr.tensor(g_c)).sum()
    loss.backward()
    record = monitor.record()

    out_t, h_n_t, c_n_t, steps = _torch_unrolled(kind, module, x, h0)
    loss_t = (out_t * torch.tensor(g_out)).sum() + (h_n_t * torch.tensor(g_h)).sum()
    if kind == "lstm":
        loss_t = loss_t + (c_n_t * torch.tensor(g_c)).sum()
    loss_t.backward()

    name = type(module).__name__  # the model itself: its class name
    expected_keys = {_key(name, module, k, d) for k in range(layers) for d in range(directions)}
    assert set(record.time_norms) == expected_keys
    for (layer, direction), (hs, cs) in steps.items():
        norms = record.time_norms[_key(name, module, layer, direction)]
        want_h = [h.grad.norm().item() for h in hs]
        assert norms["h"] == pytest.approx(want_h, rel=1e-10, abs=0)
        if kind == "lstm":
            assert norms["c"] == pytest.approx([c.grad.norm().item() for c in cs], rel=1e-10)
        else:
            assert "c" not in norms
    assert monitor.reversed_layers == {k for k in expected_keys if k.endswith("_reverse")}


class _CellLoop(nn.Module):
    """A cell run over the sequence in the model's own loop, a Linear head on every h_t."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.cell = CELLS[kind](INPUT, HIDDEN, dtype="float64", **_options(kind))
        self.head = nn.Linear(HIDDEN, 2, dtype="float64")
        self.kind = kind

    def forward(self, xs: cr.Tensor) -> cr.Tensor:
        state, outputs = None, []
        for t in range(xs.shape[0]):
            state = self.cell(xs[t], state)
            outputs.append(self.head(state[0] if self.kind == "lstm" else state))
        return cr.stack(outputs)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_in_a_user_loop_equal_pytorch(kind: str) -> None:
    cr.manual_seed(5)
    model = _CellLoop(kind)
    rng = np.random.default_rng(6)
    x, g = rng.standard_normal((STEPS, BATCH, INPUT)), rng.standard_normal((STEPS, BATCH, 2))
    monitor = GradientMonitor(model)
    (model(cr.tensor(x)) * cr.tensor(g)).sum().backward()
    record = monitor.record()

    weights = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    cell = _torch_cell(
        kind, {k[5:]: v for k, v in weights.items() if k[:5] == "cell."}, "", torch.float64
    )
    head = torch.nn.Linear(HIDDEN, 2, dtype=torch.float64)
    head.load_state_dict({"weight": weights["head.weight"], "bias": weights["head.bias"]})
    state, hs, cs, loss = None, [], [], 0
    for t in range(STEPS):
        state = cell(torch.tensor(x[t]), state)
        h = state[0] if kind == "lstm" else state
        h.retain_grad()
        hs.append(h)
        if kind == "lstm":
            state[1].retain_grad()
            cs.append(state[1])
        loss = loss + (head(h) * torch.tensor(g[t])).sum()
    loss.backward()

    assert monitor.recurrent_layers == ["cell"]
    assert list(record.time_norms) == ["cell"]
    norms = record.time_norms["cell"]
    assert norms["h"] == pytest.approx([h.grad.norm().item() for h in hs], rel=1e-10, abs=0)
    if kind == "lstm":
        assert norms["c"] == pytest.approx([c.grad.norm().item() for c in cs], rel=1e-10, abs=0)


def test_a_cell_as_the_model_counts_its_calls_between_records() -> None:
    cr.manual_seed(7)
    cell = nn.GRUCell(INPUT, HIDDEN)
    monitor = GradientMonitor(cell)
    xs = cr.randn(STEPS, BATCH, INPUT)
    for _ in range(2):  # two training steps
        h, loss = None, 0
        for t in range(STEPS):
            h = cell(xs[t], h)
            loss = loss + h.sum()
        with cr.no_grad():
            cell(xs[0], h)  # a call without gradients is not a step
        loss.backward()
        record = monitor.record()
        assert len(record.time_norms["GRUCell"]["h"]) == STEPS
    # δh_{T-1} gets only the loss's ones; earlier steps also what flows back from later ones
    assert record.time_norms["GRUCell"]["h"][-1] == pytest.approx(np.sqrt(BATCH * HIDDEN))


def _stacked_lstm(dtype: str = "float32") -> tuple[nn.Module, cr.Tensor]:
    cr.manual_seed(8)
    model = nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, batch_first=True, dtype=dtype)
    return model, cr.randn(BATCH, STEPS, INPUT, dtype=dtype)


def _param_grads(model: nn.Module, x: cr.Tensor) -> dict[str, np.ndarray]:
    model.zero_grad()
    output, (h_n, c_n) = model(x)
    ((output * output).sum() + h_n.sum() + (c_n * 2).sum()).backward()
    return {name: p.grad.numpy().copy() for name, p in model.named_parameters()}


def test_observing_changes_no_gradient_bit_for_bit() -> None:
    model, x = _stacked_lstm()
    plain = _param_grads(model, x)
    monitor = GradientMonitor(model)
    watched = _param_grads(model, x)
    assert len(monitor.record().time_norms) == 4  # it did observe
    for name, grad in plain.items():
        assert np.array_equal(grad, watched[name]), name


def test_close_silences_the_observer_and_new_nodes_carry_none() -> None:
    model, x = _stacked_lstm()
    monitor = GradientMonitor(model)
    output, _ = model(x)  # made while watched ...
    monitor.close()
    output.sum().backward()  # ... its backward runs after close
    assert monitor.record().time_norms == {}
    output, _ = model(x)
    node = _fused_node(output)
    assert node.observer is None
    output.sum().backward()
    assert monitor.record().time_norms == {}


def _fused_node(output: cr.Tensor) -> RecurrentLayer:
    """The fused node behind a recurrent output (the last layer's forward direction)."""
    tensor = output
    while not isinstance(tensor._ctx, RecurrentLayer):
        tensor = tensor._ctx.inputs[0]
    return tensor._ctx


def test_nodes_made_outside_a_watched_module_are_not_observed() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(INPUT, HIDDEN)

        def forward(self, x: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
            watched, _ = self.gru(x)
            weights = [(self.gru.weight_ih_l0, self.gru.weight_hh_l0, None, None)]
            unwatched, _ = recurrent_functional.gru(
                x, None, weights, 1, False
            )  # the same math, no module
            return watched, unwatched

    model = Mixed()
    monitor = GradientMonitor(model)
    watched, unwatched = model(cr.randn(STEPS, BATCH, INPUT))
    assert _fused_node(unwatched).observer is None
    assert _fused_node(watched).observer is not None
    other = nn.LSTM(INPUT, HIDDEN)  # a recurrent module outside the model
    other_out, _ = other(cr.randn(STEPS, BATCH, INPUT))
    assert _fused_node(other_out).observer is None
    (watched.sum() + unwatched.sum() + other_out.sum()).backward()
    assert list(monitor.record().time_norms) == ["gru"]


def test_monitors_in_two_threads_see_only_their_own_models() -> None:
    models = [_stacked_lstm("float64") for _ in range(2)]
    expected = []
    for model, x in models:
        monitor = GradientMonitor(model)
        _param_grads(model, x)
        expected.append(monitor.record().time_norms)
        monitor.close()
    seen: list = [None, None]

    def run(index: int) -> None:
        model, x = models[index]
        monitor = GradientMonitor(model)
        for _ in range(5):
            _param_grads(model, x)
            seen[index] = monitor.record().time_norms
            assert seen[index] == expected[index]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == expected


def test_a_module_called_twice_in_one_step_gets_two_keys() -> None:
    model = nn.RNN(INPUT, HIDDEN)
    monitor = GradientMonitor(model)
    first, _ = model(cr.randn(STEPS, BATCH, INPUT))
    # A second call, its initial state passed by keyword
    second, _ = model(cr.randn(STEPS + 2, BATCH, INPUT), hx=cr.randn(1, BATCH, HIDDEN))
    (first.sum() + second.sum()).backward()
    norms = monitor.record().time_norms
    assert list(norms) == ["RNN", "RNN[1]"]
    assert [len(v["h"]) for v in norms.values()] == [STEPS, STEPS + 2]
