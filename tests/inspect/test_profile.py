"""profile: per-layer forward/backward times and FLOPs; structure, hand-counted FLOPs, totals."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.inspect.profiler import LayerProfile, Profile, layer_flops, profile


class Twice(nn.Module):
    """The same Linear applied twice: one layer, two calls."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.shared(self.shared(x).tanh()))


class SequenceHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        output, _ = self.lstm(x)
        return self.head(output[:, -1])


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 3))


def test_rows_follow_the_layers_and_every_time_is_positive():
    result = profile(_mlp(), cr.randn(10, 16), cr.randint(0, 3, (10,)), nn.CrossEntropyLoss())
    assert isinstance(result, Profile)
    assert [(row.name, row.kind, row.calls) for row in result.rows] == [
        ("0", "Linear", 1),
        ("2", "Linear", 1),
        ("4", "Linear", 1),
    ]
    for row in result.rows:
        assert isinstance(row, LayerProfile)
        assert row.forward_s > 0 and row.backward_s > 0
        assert row.ratio == pytest.approx(row.backward_s / row.forward_s)
    assert result.forward_s > 0 and result.backward_s > 0
    assert result.ratio == pytest.approx(result.backward_s / result.forward_s)


def test_totals_are_the_sums_of_the_rows():
    result = profile(_mlp(), cr.randn(10, 16), cr.randint(0, 3, (10,)), nn.CrossEntropyLoss())
    assert result.layer_forward_s == pytest.approx(sum(r.forward_s for r in result.rows))
    assert result.layer_backward_s == pytest.approx(sum(r.backward_s for r in result.rows))
    assert result.forward_flops == sum(r.forward_flops for r in result.rows)
    assert result.backward_flops == sum(r.backward_flops for r in result.rows)


def test_linear_flops_match_hand_counts():
    result = profile(_mlp(), cr.randn(10, 16), cr.randint(0, 3, (10,)), nn.CrossEntropyLoss())
    forward = [2 * 10 * 16 * 32, 2 * 10 * 32 * 8, 2 * 10 * 8 * 3]
    assert [row.forward_flops for row in result.rows] == forward
    # The first layer reads data, which needs no gradient: only ∂C/∂W is computed there.
    assert [row.backward_flops for row in result.rows] == [
        forward[0],
        2 * forward[1],
        2 * forward[2],
    ]
    assert result.forward_flops == sum(forward)


def test_linear_on_a_batch_of_sequences_counts_every_row():
    layer = nn.Linear(5, 7)
    x = cr.randn(2, 3, 5, requires_grad=True)
    assert layer_flops(layer, (x,), layer(x)) == (2 * 6 * 5 * 7, 2 * 2 * 6 * 5 * 7)


def test_conv_flops_match_hand_counts():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = cr.randn(2, 3, 8, 8)
    # output (2, 4, 8, 8); each output value is a dot product over 3 channels × 3×3 taps
    expected = 2 * 2 * 4 * (8 * 8) * (3 * 3 * 3)
    assert layer_flops(conv, (x,), conv(x)) == (expected, expected)
    strided = nn.Conv2d(4, 6, (3, 2), stride=2, groups=2)
    x = cr.randn(1, 4, 9, 9, requires_grad=True)
    out = strided(x)
    assert out.shape == (1, 6, 4, 4)
    expected = 2 * 1 * 6 * (4 * 4) * (2 * 3 * 2)  # in_channels / groups = 2
    assert layer_flops(strided, (x,), out) == (expected, 2 * expected)
    conv1d = nn.Conv1d(2, 5, 4)
    x = cr.randn(3, 2, 10)
    assert layer_flops(conv1d, (x,), conv1d(x)) == (2 * 3 * 5 * 7 * (2 * 4),) * 2


def test_recurrent_flops_match_hand_counts():
    lstm = nn.LSTM(3, 4, batch_first=True, num_layers=2)
    x = cr.randn(2, 5, 3)  # N=2, T=5
    forward = 0
    from_input_first = 2 * 5 * 2 * 4 * 4 * 3  # 4 gates of width 4 read the 3 inputs
    for width in (3, 4):
        forward += 2 * 5 * 2 * (4 * 4) * (width + 4)
    counted = layer_flops(lstm, (x,), lstm(x))
    assert counted == (forward, 2 * forward - from_input_first)
    gru_cell = nn.GRUCell(3, 4)
    x = cr.randn(6, 3, requires_grad=True)
    forward = 2 * 6 * (3 * 4) * (3 + 4)
    assert layer_flops(gru_cell, (x,), gru_cell(x)) == (forward, 2 * forward)


def test_lstm_model_profiles_every_layer():
    result = profile(SequenceHead(), cr.randn(2, 5, 3), cr.randn(2, 1), nn.MSELoss(), repeat=2)
    assert [row.name for row in result.rows] == ["lstm", "head"]
    assert all(row.backward_s > 0 for row in result.rows)
    assert result.rows[1].forward_flops == 2 * 2 * 4 * 1


def test_activations_are_optional_rows_without_flops():
    model = _mlp()
    x, y = cr.randn(4, 16), cr.randint(0, 3, (4,))
    result = profile(model, x, y, nn.CrossEntropyLoss(), repeat=2, activations=True)
    assert [row.name for row in result.rows] == ["0", "1", "2", "3", "4"]
    assert result.rows[1].kind == "ReLU" and result.rows[1].forward_flops is None
    assert result.forward_flops == 2 * 4 * (16 * 32 + 32 * 8 + 8 * 3)


def test_a_layer_called_twice_adds_both_calls():
    result = profile(Twice(), cr.randn(4, 6), cr.randn(4, 2), nn.MSELoss(), repeat=2)
    shared = result.rows[0]
    assert (shared.name, shared.calls) == ("shared", 2)
    one_call = 2 * 4 * 6 * 6
    assert shared.forward_flops == 2 * one_call
    assert shared.backward_flops == one_call + 2 * one_call  # the second call's input needs grad


def test_the_model_passed_in_is_untouched():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    profile(model, cr.randn(8, 4), cr.randn(8, 1), nn.MSELoss(), repeat=2)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    assert all(param.grad is None for param in model.parameters())


def test_table_shows_rows_sums_and_whole_model():
    result = profile(_mlp(), cr.randn(4, 16), cr.randint(0, 3, (4,)), nn.CrossEntropyLoss(), 2)
    lines = str(result).splitlines()
    header = lines[0]
    assert header.split()[:2] == ["layer", "type"]
    names = [line.split()[0] for line in lines[2 : 2 + len(result.rows)]]
    assert names == ["0", "2", "4"]
    assert any(line.startswith("sum of layers") for line in lines)
    assert any(line.startswith("whole model") for line in lines)
    # Right-aligned columns: every row's FLOP count ends where the header's last column ends.
    end = len(header)
    for line, row in zip(lines[2:], result.rows):
        assert line[:end].endswith(f"{row.backward_flops:,}")
    assert "median of 2 runs" in lines[-1]
    assert math.isfinite(result.ratio)


def test_bad_arguments_are_clear_errors():
    x, y = cr.randn(2, 3), cr.randn(2, 1)
    with pytest.raises(ValueError, match="repeat must be a positive int"):
        profile(nn.Linear(3, 1), x, y, nn.MSELoss(), repeat=0)
    with pytest.raises(ValueError, match="no leaf module with parameters"):
        profile(nn.Sequential(nn.ReLU()), x, y, nn.MSELoss())
    with pytest.raises(TypeError, match="model must be a Module"):
        profile(object(), x, y, nn.MSELoss())
    with pytest.raises(ValueError, match="single-element Tensor"):
        profile(nn.Linear(3, 1), x, y, nn.MSELoss(reduction="none"))


def test_the_models_hooks_do_not_see_the_profile():
    model = _mlp()
    calls = []
    model[2].register_forward_hook(lambda module, args, output: calls.append(output.shape))
    profile(model, cr.randn(4, 16), cr.randint(0, 3, (4,)), nn.CrossEntropyLoss(), repeat=2)
    assert calls == []
    model(cr.randn(2, 16))
    assert calls == [(2, 8)]
