"""History: one value per epoch per name, late names padded, the last epoch, the plot."""

from __future__ import annotations

import math

from chainrule.train import History


def test_columns_stay_aligned_when_names_come_and_go() -> None:
    history = History()
    history.append(0, {"loss": 1.0})
    history.append(1, {"loss": 0.5, "val_loss": 0.7})
    history.append(2, {"val_loss": 0.6})
    assert history.epoch == [0, 1, 2] and len(history) == 3
    assert history["loss"][:2] == [1.0, 0.5] and math.isnan(history["loss"][2])
    assert math.isnan(history["val_loss"][0]) and history["val_loss"][1:] == [0.7, 0.6]
    assert "val_loss" in history and "accuracy" not in history
    assert history.last() == {"loss": history["loss"][2], "val_loss": 0.6}


def test_many_epochs_are_cheap_to_record() -> None:
    history = History()
    for epoch in range(20_000):
        history.append(epoch, {"loss": 1.0 / (epoch + 1), "lr": 0.1})
    assert len(history["loss"]) == 20_000 and history["loss"][-1] == 1.0 / 20_000


def test_the_plot_is_written(tmp_path) -> None:
    history = History()
    for epoch in range(3):
        history.append(epoch, {"loss": 1.0 - 0.2 * epoch, "accuracy": 0.5 + 0.1 * epoch})
    path = history.plot(tmp_path / "h.png", title="three epochs")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "3 epochs" in repr(history) and "accuracy=0.7" in repr(history)
