"""Checkpoints: what they hold, exact state_dict round trips, and the errors of a bad resume."""

from __future__ import annotations

import collections
import io
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler
from chainrule.train import (
    Callback,
    Checkpoint,
    CSVLogger,
    EarlyStopping,
    fit,
    load_checkpoint,
)

# ---- exact round trips of optimizer and scheduler state through a file ------------------------


def _round_trip(obj):
    buffer = io.BytesIO()
    cr.save(obj, buffer)
    buffer.seek(0)
    return cr.load(buffer)


def assert_same(saved, loaded, where="state") -> None:
    """Equal values of the same types, containers and key order, arrays bit for bit. A file
    keeps a defaultdict or a Counter as a plain dict; load_state_dict makes it one again."""
    plain = isinstance(saved, (collections.defaultdict, collections.Counter))
    assert type(loaded) is type(saved) or (plain and type(loaded) is dict), (
        where,
        type(saved),
        type(loaded),
    )
    if isinstance(saved, dict):
        assert list(loaded) == list(saved), where
        for key in saved:
            assert_same(saved[key], loaded[key], f"{where}[{key!r}]")
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved), where
        for i, (a, b) in enumerate(zip(saved, loaded)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(saved, cr.Tensor):
        assert loaded.dtype == saved.dtype, where
        assert np.array_equal(saved.detach().numpy(), loaded.detach().numpy()), where
    elif isinstance(saved, (np.ndarray, np.generic)):
        assert loaded.dtype == saved.dtype and np.shape(loaded) == np.shape(saved), where
        assert np.array_equal(saved, loaded), where
    elif isinstance(saved, float) and math.isnan(saved):
        assert math.isnan(loaded), where
    else:
        assert loaded == saved, where


OPTIMIZERS = {
    "SGD-momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1),
    "SGD-nesterov": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "Adam": lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99)),
    "Adam-amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True, maximize=True),
    "AdamW": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.9),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.01),
    "Adadelta": lambda p: optim.Adadelta(p, weight_decay=0.01),
    "Adamax": lambda p: optim.Adamax(p),
    "NAdam": lambda p: optim.NAdam(p, momentum_decay=0.005),
    "NAdam-decoupled": lambda p: optim.NAdam(p, decoupled_weight_decay=True, weight_decay=0.1),
    "RAdam": lambda p: optim.RAdam(p, lr=0.01),
    "ASGD": lambda p: optim.ASGD(p, lr=0.05, t0=2),
    "LBFGS": lambda p: optim.LBFGS(p, lr=0.5, history_size=3, max_iter=4),
}

SCHEDULERS = {
    "StepLR": lambda o: lr_scheduler.StepLR(o, 2, 0.5),
    "MultiStepLR": lambda o: lr_scheduler.MultiStepLR(o, [1, 3, 3], 0.5),
    "ExponentialLR": lambda o: lr_scheduler.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, 5, eta_min=0.001),
    "CosineAnnealingWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 2, 2),
    "LinearLR": lambda o: lr_scheduler.LinearLR(o, 0.3, total_iters=6),
    "ConstantLR": lambda o: lr_scheduler.ConstantLR(o, 0.5, total_iters=6),
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, 0.1, total_steps=20, three_phase=True),
    "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, 0.001, 0.1, step_size_up=2, mode="exp_range"),
    "LambdaLR": lambda o: lr_scheduler.LambdaLR(o, lambda epoch: 0.9**epoch),
    "MultiplicativeLR": lambda o: lr_scheduler.MultiplicativeLR(o, lambda epoch: 0.95),
    "SequentialLR": lambda o: lr_scheduler.SequentialLR(
        o,
        [lr_scheduler.LinearLR(o, 0.5, total_iters=2), lr_scheduler.ExponentialLR(o, 0.9)],
        milestones=[3],
    ),
    "ChainedScheduler": lambda o: lr_scheduler.ChainedScheduler(
        [lr_scheduler.ConstantLR(o, 0.5, total_iters=4), lr_scheduler.ExponentialLR(o, 0.9)]
    ),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=0, factor=0.5),
    "PolynomialLR": lambda o: lr_scheduler.PolynomialLR(o, total_iters=8, power=2.0),
}

X = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
Y = np.random.default_rng(2).normal(size=(8, 1)).astype(np.float32)


def _build(make_optimizer, make_scheduler=None):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    optimizer = make_optimizer(model.parameters())
    scheduler = None if make_scheduler is None else make_scheduler(optimizer)
    return model, optimizer, scheduler


def _train(model, optimizer, scheduler, steps: int) -> None:
    x, y = cr.tensor(X), cr.tensor(Y)
    for i in range(steps):

        def closure():
            optimizer.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            return loss

        loss = optimizer.step(closure)
        if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
            scheduler.step(float(loss.item()) + i % 2)  # worse every other step: reductions
        elif scheduler is not None:
            scheduler.step()


def _parameters(model) -> list[np.ndarray]:
    return [tensor.numpy() for tensor in model.state_dict().values()]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_survives_a_file_exactly(name) -> None:
    model, optimizer, _ = _build(OPTIMIZERS[name])
    _train(model, optimizer, None, 4)
    loaded = _round_trip(optimizer.state_dict())
    assert_same(optimizer.state_dict(), loaded)
    twin, twin_optimizer, _ = _build(OPTIMIZERS[name])
    twin.load_state_dict(_round_trip(model.state_dict()))
    twin_optimizer.load_state_dict(loaded)
    _train(model, optimizer, None, 4)
    _train(twin, twin_optimizer, None, 4)
    assert all(np.array_equal(a, b) for a, b in zip(_parameters(model), _parameters(twin)))


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_state_survives_a_file_exactly(name) -> None:
    make_optimizer = OPTIMIZERS["SGD-momentum"]
    model, optimizer, scheduler = _build(make_optimizer, SCHEDULERS[name])
    _train(model, optimizer, scheduler, 5)
    loaded = _round_trip(scheduler.state_dict())
    assert_same(scheduler.state_dict(), loaded)
    twin, twin_optimizer, twin_scheduler = _build(make_optimizer, SCHEDULERS[name])
    twin.load_state_dict(_round_trip(model.state_dict()))
    twin_optimizer.load_state_dict(_round_trip(optimizer.state_dict()))
    twin_scheduler.load_state_dict(loaded)
    _train(model, optimizer, scheduler, 6)
    _train(twin, twin_optimizer, twin_scheduler, 6)
    assert twin_scheduler.get_last_lr() == scheduler.get_last_lr()
    assert all(np.array_equal(a, b) for a, b in zip(_parameters(model), _parameters(twin)))


def test_multistep_milestones_come_back_as_a_counter() -> None:
    _, _, scheduler = _build(OPTIMIZERS["Adam"], SCHEDULERS["MultiStepLR"])
    scheduler.load_state_dict(_round_trip(scheduler.state_dict()))
    assert scheduler.milestones == collections.Counter({1: 1, 3: 2})
    assert isinstance(scheduler.milestones, collections.Counter)
    with pytest.warns(UserWarning, match="deprecated"):
        scheduler.step(4)  # the closed form counts milestones with Counter.elements()
    assert scheduler.get_last_lr() == pytest.approx([0.01 * 0.5**3])


# ---- the Checkpoint callback ------------------------------------------------------------------


def _data():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _model(hidden: int = 8, layers: int = 1):
    cr.manual_seed(0)
    parts = [nn.Linear(4, hidden), nn.ReLU(), nn.Dropout(0.2)]
    for _ in range(layers - 1):
        parts += [nn.Linear(hidden, hidden), nn.ReLU()]
    return nn.Sequential(*parts, nn.Linear(hidden, 2))


def _fit(model, epochs, optimizer=None, **kwargs):
    optimizer = optimizer or optim.Adam(model.parameters(), lr=0.01)
    kwargs.setdefault("seed", 4)
    return fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        _data(),
        epochs=epochs,
        batch_size=8,
        progress=False,
        **kwargs,
    )


def test_checkpoint_holds_the_run_after_each_epoch(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    model = _model()
    scheduler_optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = lr_scheduler.StepLR(scheduler_optimizer, 1, 0.5)
    history = _fit(model, 3, scheduler_optimizer, scheduler=scheduler, checkpoint=str(path))
    checkpoint = load_checkpoint(path)
    assert checkpoint["format"] == 1
    assert checkpoint["epoch"] == 3 and checkpoint["step"] == 12
    assert checkpoint["optimizer_class"] == "SGD"
    assert checkpoint["scheduler_class"] == "StepLR"
    assert checkpoint["scheduler"]["last_epoch"] == 3
    assert checkpoint["history"]["epoch"] == [0, 1, 2]
    assert checkpoint["history"]["history"]["loss"] == history["loss"]
    assert list(checkpoint["model"]) == list(model.state_dict())
    for name, tensor in model.state_dict().items():
        assert np.array_equal(checkpoint["model"][name].numpy(), tensor.numpy())
    assert np.array_equal(checkpoint["rng"].numpy(), cr.get_rng_state().numpy())
    assert len(checkpoint["loader"]) == 1  # the generator of seed=4
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


@pytest.mark.parametrize(("epochs", "saved"), [(3, [2, 3]), (5, [2, 4, 5]), (4, [2, 4])])
def test_checkpoint_every_n_epochs_and_at_the_end(epochs, saved) -> None:
    written = []
    saver = Checkpoint(lambda state: written.append(state["epoch"]), every_n_epochs=2)
    _fit(_model(), epochs, callbacks=[saver])
    assert written == saved


def test_checkpoint_saves_the_epoch_a_callback_stopped_at() -> None:
    written = []

    class StopAtSecond(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.state.stop_training = epoch == 1

    saver = Checkpoint(lambda state: written.append(state["epoch"]), every_n_epochs=5)
    # The Checkpoint listed first still runs after the callback that stops training.
    history = _fit(_model(), 10, callbacks=[saver, StopAtSecond()])
    assert len(history) == 2 and written == [2]


@pytest.mark.parametrize("every", [0, -1, 1.5, True])
def test_checkpoint_rejects_a_bad_interval(every) -> None:
    with pytest.raises(ValueError, match="every_n_epochs"):
        Checkpoint("x.ckpt", every_n_epochs=every)


def test_checkpoint_argument_must_be_a_path_or_a_checkpoint() -> None:
    with pytest.raises(TypeError, match="checkpoint must be a file path"):
        _fit(_model(), 1, checkpoint=3)


class Recorder(Callback):
    def __init__(self) -> None:
        self.began = False

    def on_train_begin(self, logs=None):
        self.began = True


@pytest.mark.parametrize(
    ("where", "error", "words"),
    [
        ("missing/run.ckpt", FileNotFoundError, "does not exist"),
        ("", IsADirectoryError, "is a directory"),
        ("a-file/run.ckpt", NotADirectoryError, "is not a directory"),
    ],
)
def test_unwritable_checkpoint_path_fails_before_training(tmp_path, where, error, words) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    model = _model()
    before = _parameters(model)
    recorder = Recorder()
    with pytest.raises(error, match=words):
        _fit(model, 2, callbacks=[recorder], checkpoint=tmp_path / where)
    assert not recorder.began
    assert all(np.array_equal(a, b) for a, b in zip(before, _parameters(model)))


# ---- resuming ---------------------------------------------------------------------------------


def test_resume_at_or_past_the_budget_trains_nothing(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    first = _fit(_model(), 3, checkpoint=path)
    model = _model(hidden=8)
    history = _fit(model, 2, resume_from=path)
    assert history.epoch == [0, 1, 2] and history["loss"] == first["loss"]
    assert history.steps == 12
    checkpoint = load_checkpoint(path)
    assert all(
        np.array_equal(model.state_dict()[name].numpy(), tensor.numpy())
        for name, tensor in checkpoint["model"].items()
    )


def test_resume_with_a_checkpoint_path_keeps_writing_it(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    _fit(_model(), 1, checkpoint=path)
    history = _fit(_model(), 3, checkpoint=path, resume_from=path)
    assert history.epoch == [0, 1, 2]
    assert load_checkpoint(path)["epoch"] == 3


def test_early_stopping_continues_across_a_resume(tmp_path) -> None:
    # With a huge min_delta only the first epoch improves: the count of epochs without
    # improvement reaches patience=3 at epoch 3, whether or not training stopped in between.
    def stopper():
        return EarlyStopping(monitor="loss", patience=3, min_delta=1e9)

    straight = _model()
    expected = _fit(straight, 10, callbacks=[stopper()])
    assert len(expected) == 4
    path = tmp_path / "run.ckpt"
    _fit(_model(), 2, callbacks=[stopper()], checkpoint=path)
    model, resumed_stopper = _model(hidden=8), stopper()
    cr.manual_seed(77)
    history = _fit(model, 10, callbacks=[resumed_stopper], resume_from=path)
    assert history.epoch == expected.epoch
    assert history["loss"] == expected["loss"]
    assert resumed_stopper.stopped_epoch == 3 and resumed_stopper.best_epoch == 0
    assert history.stop_reason == expected.stop_reason
    assert all(np.array_equal(a, b) for a, b in zip(_parameters(model), _parameters(straight)))


def test_csv_logger_keeps_the_earlier_epochs_across_a_resume(tmp_path) -> None:
    log, path = tmp_path / "log.csv", tmp_path / "run.ckpt"
    _fit(_model(), 2, callbacks=[CSVLogger(log)], checkpoint=path)
    _fit(_model(), 4, callbacks=[CSVLogger(log)], resume_from=path)
    rows = log.read_text().splitlines()
    assert rows[0].startswith("epoch,loss") and [row.split(",")[0] for row in rows[1:]] == [
        "0",
        "1",
        "2",
        "3",
    ]


def test_a_corrupt_checkpoint_is_a_load_error(tmp_path) -> None:
    from chainrule.io import LoadError

    path = tmp_path / "run.ckpt"
    _fit(_model(), 1, checkpoint=path)
    data = path.read_bytes()
    (tmp_path / "half.ckpt").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.ckpt").write_bytes(b"\x00\x01 not a checkpoint at all")
    cr.save(_model().state_dict(), tmp_path / "weights.safetensors")
    cr.save({"format": 1, "model": {}}, tmp_path / "partial.ckpt")
    for name in ("half.ckpt", "noise.ckpt", "weights.safetensors", "partial.ckpt"):
        model = _model()
        before = _parameters(model)
        with pytest.raises(LoadError) as caught:
            _fit(model, 2, resume_from=tmp_path / name)
        assert name in str(caught.value)
        assert all(np.array_equal(a, b) for a, b in zip(before, _parameters(model)))
    with pytest.raises(LoadError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "weights.safetensors")
    with pytest.raises(LoadError, match="lacks the entries"):
        load_checkpoint(tmp_path / "partial.ckpt")
    with pytest.raises(LoadError):
        load_checkpoint(tmp_path / "absent.ckpt")


def _shifted_model():
    cr.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Identity(), nn.Linear(8, 2)
    )


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (
            lambda: _model(hidden=16),
            r"'0\.weight' has shape \(8, 4\) in the checkpoint but \(16, 4\)",
        ),
        (lambda: _model(layers=2), r"the checkpoint lacks the model's \['5\.weight', '5\.bias'\]"),
        (
            _shifted_model,
            r"\['4\.weight', '4\.bias'\]; the model has no \['3\.weight', '3\.bias'\]",
        ),
    ],
)
def test_a_checkpoint_of_another_model_names_the_key(tmp_path, build, words) -> None:
    path = tmp_path / "run.ckpt"
    _fit(_model(), 1, checkpoint=path)
    model = build()
    before = _parameters(model)
    with pytest.raises(ValueError, match=words) as caught:
        _fit(model, 2, resume_from=path)
    assert "resume_from" in str(caught.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, _parameters(model)))


def test_a_checkpoint_of_another_optimizer_or_scheduler_is_refused(tmp_path) -> None:
    path = tmp_path / "run.ckpt"
    _fit(_model(), 1, checkpoint=path)
    model = _model()
    with pytest.raises(ValueError, match="state of Adam, not of SGD"):
        _fit(model, 2, optim.SGD(model.parameters(), lr=0.1), resume_from=path)
    adam = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="no scheduler, but StepLR was"):
        _fit(model, 2, adam, scheduler=lr_scheduler.StepLR(adam, 1), resume_from=path)
    with pytest.raises(ValueError, match="data-loader generator"):
        _fit(model, 2, resume_from=path, seed=None)


def test_divergence_names_the_last_checkpoint(tmp_path) -> None:
    from chainrule.train import TrainingDivergedError

    path = tmp_path / "run.ckpt"

    class Blow(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                for p in self.model.parameters():
                    p.data.fill_(math.inf)

    with pytest.raises(TrainingDivergedError, match=r"run\.ckpt"):
        _fit(_model(), 3, callbacks=[Blow()], checkpoint=path)
    assert load_checkpoint(path)["epoch"] == 1
