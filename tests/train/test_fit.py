"""fit: the same numbers as a hand-written loop, stop conditions, history, schedules, hooks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Callback, evaluate, fit, predict


def xor_data():
    x = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
    return x, y


def xor_net(seed: int = 0) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1), nn.Sigmoid())


def blobs(n: int = 120, classes: int = 3, features: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, features))
    y = rng.integers(0, classes, n)
    x = (centres[y] + rng.normal(0, 1, (n, features))).astype(np.float32)
    return x, y.astype(np.int64)


def weights(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_fit_is_exactly_the_hand_written_loop(batch_size: int) -> None:
    x, y = xor_data()
    by_hand = xor_net()
    opt = optim.SGD(by_hand.parameters(), lr=0.5, momentum=0.9)
    loss_fn = nn.MSELoss()
    for _ in range(30):
        for start in range(0, 4, batch_size):
            opt.zero_grad()
            loss = loss_fn(by_hand(x[start : start + batch_size]), y[start : start + batch_size])
            loss.backward()
            opt.step()

    model = xor_net()
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.5, momentum=0.9),
        (x, y),
        epochs=30,
        batch_size=batch_size,
        shuffle=False,
        progress=False,
    )
    for mine, theirs in zip(weights(model), weights(by_hand)):
        np.testing.assert_array_equal(mine, theirs)
    assert history.steps == 30 * (4 // batch_size)
    assert len(history["loss"]) == 30


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses() -> None:
    x, y = blobs(10)
    seen = []
    model = nn.Linear(4, 3)
    # lr=0 keeps the weights fixed, so the epoch loss must equal the full-data loss.
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.0),
        (x, y),
        batch_size=4,
        progress=False,
        callbacks=[LoggingCallback(seen)],
    )
    full = nn.CrossEntropyLoss()(model(cr.tensor(x)), cr.tensor(y)).item()
    epoch_logs = next(args[1] for hook, args in seen if hook == "on_epoch_end")
    assert epoch_logs["loss"] == pytest.approx(full, rel=1e-6)


class LoggingCallback(Callback):
    def __init__(self, seen: list) -> None:
        self.seen = seen

    def on_train_begin(self, logs=None):
        self.seen.append(("on_train_begin", ()))

    def on_train_end(self, logs=None):
        self.seen.append(("on_train_end", ()))

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(("on_epoch_begin", (epoch,)))

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(("on_epoch_end", (epoch, dict(logs))))

    def on_batch_begin(self, step, logs=None):
        self.seen.append(("on_batch_begin", (step,)))

    def on_backward_end(self, step, logs=None):
        grads = [p.grad is not None for p in self.model.parameters()]
        self.seen.append(("on_backward_end", (step, all(grads))))

    def on_batch_end(self, step, logs=None):
        self.seen.append(("on_batch_end", (step, logs["loss"])))


def test_callbacks_are_called_in_order_with_gradients_set_before_the_step() -> None:
    x, y = xor_data()
    model = xor_net()
    seen: list = []
    fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=2,
        batch_size=2,
        shuffle=False,
        progress=False,
        callbacks=[LoggingCallback(seen)],
    )
    hooks = [hook for hook, _ in seen]
    batch = ["on_batch_begin", "on_backward_end", "on_batch_end"]
    epoch = ["on_epoch_begin", *batch, *batch, "on_epoch_end"]
    assert hooks == ["on_train_begin", *epoch, *epoch, "on_train_end"]
    assert [args[0] for hook, args in seen if hook == "on_batch_begin"] == [0, 1, 2, 3]
    assert all(args[1] for hook, args in seen if hook == "on_backward_end")


def test_a_callback_can_stop_training() -> None:
    x, y = xor_data()
    model = xor_net()

    class StopAfterThree(Callback):
        def on_batch_end(self, step, logs=None):
            if step == 2:
                self.state.stop_training = True
                self.state.stop_reason = "enough"

    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=10,
        batch_size=1,
        progress=False,
        callbacks=[StopAfterThree()],
    )
    assert history.steps == 3 and len(history) == 1 and history.stop_reason == "enough"


def test_max_steps_stops_mid_epoch_at_the_exact_step() -> None:
    x, y = blobs(40)
    model = nn.Linear(4, 3)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=100,
        batch_size=8,
        max_steps=13,
        progress=False,
    )
    assert history.steps == 13
    assert len(history) == 3  # epochs of 5 steps: 5, 5, then 3
    assert "max_steps=13" in history.stop_reason


def test_stop_at_loss_stops_at_the_first_epoch_at_or_below_it() -> None:
    x, y = xor_data()
    model = xor_net()
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=2.0),
        (x, y),
        epochs=20000,
        batch_size=4,
        stop_at_loss=0.05,
        progress=False,
    )
    losses = history["loss"]
    assert losses[-1] <= 0.05 and all(value > 0.05 for value in losses[:-1])
    assert len(losses) < 20000 and "stop_at_loss" in history.stop_reason


def test_history_has_metrics_validation_lr_and_time_matching_scikit_learn() -> None:
    x, y = blobs(150)
    x_val, y_val = blobs(60, seed=1)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.01),
        (x, y),
        val_data=(x_val, y_val),
        epochs=4,
        batch_size=16,
        metrics=["accuracy", "f1"],
        progress=False,
        seed=3,
    )
    expected = {"loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr", "time"}
    assert set(history.history) == expected
    assert all(len(column) == 4 for column in history.history.values())
    assert history["lr"] == [0.01] * 4
    assert all(t > 0 for t in history["time"])
    # Validation figures are computed after the epoch's last step: they describe the final model.
    predicted = predict(model, x_val).argmax(axis=1)
    assert history["val_accuracy"][-1] == pytest.approx(accuracy_score(y_val, predicted))
    assert history["val_f1"][-1] == pytest.approx(f1_score(y_val, predicted, average="macro"))
    figures = evaluate(model, (x_val, y_val), ["accuracy"], loss_fn=nn.CrossEntropyLoss())
    assert figures["loss"] == pytest.approx(history["val_loss"][-1], rel=1e-5)


def test_binary_accuracy_thresholds_logits_at_zero_and_probabilities_at_half() -> None:
    x = np.array([[-2.0], [-0.2], [0.2], [2.0]], dtype=np.float32)
    y = np.array([[0.0], [1.0], [0.0], [1.0]], dtype=np.float32)
    identity = nn.Linear(1, 1)
    with cr.no_grad():
        identity.weight.fill_(1.0)
        identity.bias.fill_(0.0)
    logits = evaluate(identity, (x, y), ["accuracy"], loss_fn=nn.BCEWithLogitsLoss())
    assert logits["accuracy"] == 0.5  # rows 1 and 2 are on the wrong side of 0
    probabilities = nn.Sequential(identity, nn.Sigmoid())
    assert evaluate(probabilities, (x, y), ["accuracy"], loss_fn=nn.BCELoss())["accuracy"] == 0.5


def test_schedulers_step_per_epoch_or_per_step() -> None:
    x, y = blobs(32)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=4,
        batch_size=8,
        scheduler=optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
        progress=False,
    )
    assert history["lr"] == [1.0, 0.5, 0.25, 0.125]
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=1.0)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=2,
        batch_size=8,
        scheduler=optim.lr_scheduler.ExponentialLR(opt, gamma=0.5),
        scheduler_interval="step",
        progress=False,
    )
    assert history["lr"] == [1.0, 0.5**4]


def test_reduce_on_plateau_gets_the_validation_loss() -> None:
    x, y = blobs(32)
    model = nn.Linear(4, 3)
    opt = optim.SGD(model.parameters(), lr=0.0)  # nothing changes, so nothing improves
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    opt.param_groups[0]["lr"] = 0.0
    fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        val_data=(x, y),
        epochs=3,
        batch_size=32,
        scheduler=plateau,
        progress=False,
    )
    full = nn.CrossEntropyLoss()(model(cr.tensor(x)), cr.tensor(y)).item()
    assert plateau.best == pytest.approx(full, rel=1e-6)
    assert plateau.num_bad_epochs == 0 and plateau.last_epoch == 3


def test_a_dataloader_and_a_dataset_are_accepted_as_they_are() -> None:
    x, y = blobs(20)
    dataset = TensorDataset(cr.tensor(x), cr.tensor(y))
    model = nn.Linear(4, 3)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        DataLoader(dataset, batch_size=7),
        progress=False,
    )
    assert history.steps == 3 and history.params["batch_size"] == 7
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        dataset,
        batch_size=5,
        progress=False,
    )
    assert history.steps == 4


def test_shuffling_is_reproducible_from_a_seed() -> None:
    x, y = blobs(50)
    results = []
    for _ in range(2):
        cr.manual_seed(1)
        model = nn.Linear(4, 3)
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            (x, y),
            epochs=2,
            batch_size=8,
            seed=11,
            progress=False,
        )
        results.append(weights(model))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_progress_bar_goes_to_stderr_only_when_asked(capsys: pytest.CaptureFixture) -> None:
    x, y = xor_data()
    model = xor_net()
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, nn.MSELoss(), opt, (x, y), epochs=3, batch_size=2, progress=False)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    fit(model, nn.MSELoss(), opt, (x, y), epochs=3, batch_size=2, progress=True)
    shown = capsys.readouterr()
    assert "6/6" in shown.err and "loss=" in shown.err and shown.out == ""
    fit(model, nn.MSELoss(), opt, (x, y), epochs=3, batch_size=2, progress="auto")
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal


def test_predict_and_evaluate_use_eval_mode_and_restore_it() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    x, y = blobs(30)
    outputs = predict(model, x, batch_size=7)
    model.eval()
    np.testing.assert_allclose(outputs, model(cr.tensor(x)).detach().numpy(), rtol=1e-6)
    model.train()
    predict(model, cr.tensor(x))
    evaluate(model, (x, y), ["accuracy"])
    assert model.training


def test_fit_drives_lbfgs_with_a_closure_as_a_hand_written_loop_does():
    """LBFGS evaluates the loss several times a step: fit hands it a closure, and its result
    equals the PyTorch-style loop with ``optimizer.step(closure)``."""
    from chainrule import nn, optim

    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]

    def build():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1))
        return model, optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)

    model, optimizer = build()
    fit(
        model,
        nn.MSELoss(),
        optimizer,
        (x, y),
        epochs=3,
        batch_size=24,
        progress=False,
        shuffle=False,
    )
    by_fit = [p.detach().numpy().copy() for p in model.parameters()]

    model, optimizer = build()
    loss_fn, xs, ys = nn.MSELoss(), cr.tensor(x), cr.tensor(y)
    for _ in range(3):

        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(xs), ys)
            loss.backward()
            return loss

        optimizer.step(closure)
    by_hand = [p.detach().numpy() for p in model.parameters()]
    for a, b in zip(by_fit, by_hand):
        np.testing.assert_array_equal(a, b)
    assert float(loss_fn(model(xs), ys).item()) < float(loss_fn(build()[0](xs), ys).item())
