"""Built-in callbacks: Keras's early-stopping rule, checkpoints, CSV logs, schedules."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import load
from chainrule.train import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TrainingState,
    fit,
)


def drive(callback, values, monitor="val_loss", model=None):
    """Feed a callback one epoch-end figure per epoch, as fit would; returns the stop epoch."""
    model = model or nn.Linear(2, 1)
    state = TrainingState(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    callback.set_state(state)
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value})
        if state.stop_training:
            callback.on_train_end({})
            return epoch
    callback.on_train_end({})
    return None


@pytest.mark.parametrize(
    ("values", "patience", "min_delta", "stop"),
    [
        # Keras's rule: wait counts epochs since the last improvement; stop when wait >= patience.
        ([1.0, 0.9, 0.95, 0.96, 0.97], 2, 0.0, 3),
        ([1.0, 0.9, 0.95, 0.96, 0.97], 0, 0.0, 2),
        ([1.0, 0.9, 0.8, 0.7, 0.6], 1, 0.0, None),
        ([1.0, 0.95, 0.91], 1, 0.06, 1),  # improvements under min_delta do not count
        ([1.0, 0.93, 0.90, 0.88], 1, 0.06, 2),
        ([1.0, 0.9, 0.91, 0.85, 0.86, 0.87, 0.88], 3, 0.0, 6),
    ],
)
def test_early_stopping_follows_keras_patience_rule(values, patience, min_delta, stop) -> None:
    callback = EarlyStopping(patience=patience, min_delta=min_delta)
    assert drive(callback, values) == stop


def test_early_stopping_maximises_accuracy_like_figures() -> None:
    callback = EarlyStopping(monitor="val_accuracy", patience=2)
    assert callback.mode == "max"
    assert drive(callback, [0.5, 0.6, 0.55, 0.58], monitor="val_accuracy") == 3


def test_early_stopping_restores_the_best_weights() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
    cr.manual_seed(0)
    model = nn.Linear(3, 1)
    snapshots = []
    record = LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(
            (logs["val_loss"], model.weight.detach().numpy().copy())
        )
    )
    stopper = EarlyStopping(patience=2, restore_best=True)
    # A rate that overshoots makes the validation loss rise after a few epochs.
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.9),
        (x, y),
        val_data=(x[:16], y[:16]),
        epochs=50,
        batch_size=64,
        callbacks=[record, stopper],
        progress=False,
    )
    best_loss, best_weight = min(snapshots, key=lambda pair: pair[0])
    assert stopper.stopped_epoch is not None and "EarlyStopping" in history.stop_reason
    np.testing.assert_array_equal(model.weight.detach().numpy(), best_weight)
    assert stopper.best == pytest.approx(best_loss)


def test_a_missing_monitored_figure_warns_once_and_does_nothing() -> None:
    callback = EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(RuntimeWarning, match="'val_loss' is not in the epoch's logs") as caught:
        assert drive(callback, [1.0, 2.0, 3.0], monitor="loss") is None
    assert len(caught) == 1


def test_model_checkpoint_saves_only_improvements(tmp_path) -> None:
    cr.manual_seed(0)
    model = nn.Linear(2, 1)
    path = tmp_path / "best.safetensors"
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    weights_at = {}

    def bump(epoch):
        with cr.no_grad():
            model.weight.add_(1.0)
        weights_at[epoch] = model.weight.detach().numpy().copy()

    state = TrainingState(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss())
    checkpoint.set_state(state)
    checkpoint.on_train_begin({})
    for epoch, value in enumerate([1.0, 0.5, 0.7, 0.4, 0.9]):
        bump(epoch)
        checkpoint.on_epoch_end(epoch, {"val_loss": value})
    assert len(checkpoint.saved) == 3  # epochs 0, 1, 3
    np.testing.assert_array_equal(load(path)["weight"].numpy(), weights_at[3])


def test_model_checkpoint_fills_the_path_from_the_logs(tmp_path) -> None:
    model = nn.Linear(2, 1)
    checkpoint = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{loss:.2f}.safetensors")
    checkpoint.set_state(TrainingState(model, None, None))
    checkpoint.on_epoch_end(4, {"loss": 0.123})
    assert (tmp_path / "m-05-0.12.safetensors").exists()
    bad = ModelCheckpoint(tmp_path / "m-{val_acc}.safetensors")
    bad.set_state(TrainingState(model, None, None))
    with pytest.raises(ValueError, match="cannot fill the path"):
        bad.on_epoch_end(0, {"loss": 1.0})


def test_csv_logger_writes_one_row_per_epoch(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2)).astype(np.float32)
    y = rng.integers(0, 2, 20)
    model = nn.Linear(2, 2)
    path = tmp_path / "log.csv"
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=3,
        batch_size=5,
        metrics=["accuracy"],
        callbacks=[CSVLogger(path)],
        progress=False,
    )
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert [float(row["loss"]) for row in rows] == pytest.approx(history["loss"])
    assert [float(row["accuracy"]) for row in rows] == pytest.approx(history["accuracy"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]  # no temporary files left
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=2,
        batch_size=5,
        metrics=["accuracy"],
        callbacks=[CSVLogger(path, append=True)],
        progress=False,
    )
    with open(path, newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5


def test_learning_rate_scheduler_function_sets_the_rate_each_epoch() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = nn.Linear(2, 1)
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=4,
        batch_size=8,
        callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5**epoch)],
        progress=False,
    )
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="returned nan at epoch 0"):
        fit(
            model,
            nn.MSELoss(),
            optim.SGD(model.parameters(), lr=0.1),
            (x, y),
            callbacks=[LearningRateScheduler(lambda epoch, lr: math.nan)],
            progress=False,
        )


def test_learning_rate_scheduler_steps_a_chainrule_scheduler() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        nn.MSELoss(),
        opt,
        (x, y),
        epochs=3,
        batch_size=8,
        callbacks=[LearningRateScheduler(optim.lr_scheduler.StepLR(opt, 1, gamma=0.1))],
        progress=False,
    )
    assert history["lr"] == pytest.approx([1.0, 0.1, 0.01])


def test_lambda_callback_rejects_unknown_hooks() -> None:
    with pytest.raises(TypeError, match="unknown hook 'on_epoch_finish'"):
        LambdaCallback(on_epoch_finish=print)
