"""The picture of ‖δh_t‖ over t (chainrule.plot.gradient_through_time) and the example that draws
it for an RNN and an LSTM on the same long sequence."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.inspect import trace
from chainrule.plot import gradient_through_time

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vanishing_gradient_through_time.py"


class LastStep(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 3)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.lstm(x)[0][-1].sum(dim=1, keepdim=True)


def lstm_record() -> object:
    cr.manual_seed(3)
    return trace(LastStep(), cr.randn(7, 2, 2), cr.randn(2, 1), nn.MSELoss()).layer("lstm")


def test_the_picture_is_an_800_pixel_png_with_one_curve_per_norm(tmp_path: Path) -> None:
    path = gradient_through_time({"LSTM": lstm_record()}, tmp_path / "time.png", title="t")
    image = matplotlib.image.imread(path)
    assert image.shape[1] == 800 and image.shape[0] == 400
    assert [p.name for p in tmp_path.iterdir()] == ["time.png"]


def test_the_picture_refuses_what_is_not_a_recurrent_record(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no layers"):
        gradient_through_time({}, tmp_path / "x.png")
    with pytest.raises(TypeError, match="'W' is a ndarray, not a traced recurrent layer"):
        gradient_through_time({"W": np.zeros(3)}, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_the_example_shows_the_rnn_vanishing_and_the_open_lstm_keeping_its_gradient(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    spec = importlib.util.spec_from_file_location("vanishing_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    records = example.main(str(tmp_path / "delta.png"))
    norms = {label: record.time_norms()["δh"] for label, record in records.items()}
    assert all(len(values) == example.STEPS for values in norms.values())
    ratio = {label: values[0] / values[-1] for label, values in norms.items()}
    assert "RNN (tanh)" in capsys.readouterr().out
    # 100 steps back through tanh: twenty decades lost; the open forget gates keep one or two.
    assert ratio["RNN (tanh)"] < 1e-15
    assert ratio["LSTM, forget bias 3"] > 1e-3
    assert ratio["LSTM, default init"] < 1e-10
    assert matplotlib.image.imread(tmp_path / "delta.png").shape[1] == 800
