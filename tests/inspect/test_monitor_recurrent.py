"""GradientMonitor on recurrent models: the warning when gradients vanish through time, the
summary's table and the plot's panel of ‖δh_t‖, and use as a fit callback."""

from __future__ import annotations

import warnings

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.inspect import GradientMonitor, GradientWarning

STEPS, BATCH, INPUT, HIDDEN = 6, 3, 4, 5


def _fading_rnn(bidirectional: bool = False) -> nn.Module:
    cr.manual_seed(9)
    model = nn.RNN(INPUT, HIDDEN, bidirectional=bidirectional)
    with cr.no_grad():
        model.weight_hh_l0 *= 0.05  # each step back multiplies δh by about this much
        if bidirectional:
            model.weight_hh_l0_reverse *= 0.05
    return model


def test_vanishing_through_time_is_flagged_with_the_layer_and_numbers() -> None:
    model = _fading_rnn()
    monitor = GradientMonitor(model)
    output, _ = model(cr.randn(20, BATCH, INPUT))
    output[-1].sum().backward()  # the loss reads only the last step
    with pytest.warns(GradientWarning, match="vanishing through time") as caught:
        record = monitor.record()
    h = record.time_norms["RNN"]["h"]
    assert h[0] < 1e-3 * h[-1]
    message = str(caught[0].message)
    assert f"'RNN' ‖δh_0‖ = {h[0]:.3g} is {h[0] / h[-1]:.3g} times ‖δh_19‖ = {h[-1]:.3g}" in message
    assert "from t = 19 to t = 0" in message and "orthogonal" in message
    text = monitor.summary()
    assert "RNN" in text and f"{h[0] / h[-1]:.3e}" in text and "vanishing through time" in text


def test_a_reverse_direction_vanishes_towards_the_last_step() -> None:
    model = _fading_rnn(bidirectional=True)
    monitor = GradientMonitor(model)
    output, _ = model(cr.randn(20, BATCH, INPUT))
    output[0].sum().backward()  # only t = 0: the reverse direction carries it to t = T-1
    with pytest.warns(GradientWarning) as caught:
        record = monitor.record()
    assert len(caught) == 1 and "'RNN.l0_reverse'" in str(caught[0].message)
    assert "from t = 0 to t = 19, so the late steps" in str(caught[0].message)
    h = record.time_norms["RNN.l0_reverse"]["h"]
    assert h[-1] < 1e-3 * h[0]
    assert record.time_norms["RNN.l0"]["h"][1:] == [0.0] * 19  # nothing flows forward in time


def test_a_loss_on_every_step_does_not_warn() -> None:
    model = _fading_rnn()
    monitor = GradientMonitor(model)
    output, _ = model(cr.randn(20, BATCH, INPUT))
    output.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientWarning)
        monitor.record()
    assert monitor.warned == {}


class _Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(INPUT, HIDDEN, num_layers=2, batch_first=True)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        output, _ = self.lstm(x)
        return self.head(output[:, -1])


def test_as_a_fit_callback_and_in_summary_and_plot(tmp_path) -> None:
    from matplotlib import image  # a test dependency

    from chainrule import optim
    from chainrule.train import fit

    cr.manual_seed(10)
    model = _Classifier()
    monitor = GradientMonitor()
    x, y = cr.randn(16, STEPS, INPUT), cr.randn(16, 1)
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    fit(model, nn.MSELoss(), optimizer, (x, y), epochs=1, batch_size=8, callbacks=[monitor],
        progress=False)  # fmt: skip
    assert len(monitor.history) == 2
    for record in monitor.history:
        assert list(record.time_norms) == ["lstm.l0", "lstm.l1"]
        assert all(
            len(norms["h"]) == len(norms["c"]) == STEPS for norms in record.time_norms.values()
        )
    text = monitor.summary()
    rows = [line.split() for line in text.splitlines() if line.startswith("lstm.")]
    last = monitor.history[-1].time_norms
    for row in rows:
        h = last[row[0]]["h"]
        assert row[1:] == [str(STEPS), f"{h[0]:.3e}", f"{h[-1]:.3e}", f"{h[0] / h[-1]:.3e}"]
    assert len(rows) == 2
    path = monitor.plot(tmp_path / "through_time.png")
    height, width = image.imread(path).shape[:2]
    assert (width, height) == (1815, 495)  # a third panel: ‖δh_t‖ against t


def test_a_recurrent_model_alone_is_monitored_and_plotted(tmp_path) -> None:
    from matplotlib import image

    model = nn.GRU(INPUT, HIDDEN)
    monitor = GradientMonitor(model)
    assert monitor.layers == [] and monitor.recurrent_layers == ["GRU"]
    model(cr.randn(STEPS, BATCH, INPUT))[0].sum().backward()
    monitor.record()
    path = monitor.plot(tmp_path / "gru.png")
    height, width = image.imread(path).shape[:2]
    assert (width, height) == (605, 495)  # the time panel only
    assert "GRU" in monitor.summary()
