"""GradientMonitor(sharpness_every=N): λ_max tracked during training, checked against the exact
Hessian of a least-squares loss, and the edge-of-stability warning when lr > 2/λ_max."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.inspect import GradientMonitor, GradientWarning
from chainrule.train import fit


def regression(samples: int = 16) -> tuple[cr.Tensor, cr.Tensor, float]:
    """Data for y ≈ xw + b, and λ_max of the Hessian of its mean squared error: with
    X̃ = [x, 1], C = (1/n)‖X̃θ − y‖² has H = (2/n) X̃ᵀX̃ whatever θ is."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 3)) * np.array([2.0, 1.0, 0.3])
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((samples, 1))
    augmented = np.hstack([x, np.ones((samples, 1))])
    lambda_max = np.linalg.eigvalsh(2 / samples * augmented.T @ augmented).max()
    return cr.tensor(x), cr.tensor(y), float(lambda_max)


def model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Linear(3, 1).double()


def train_by_hand(net: nn.Module, lr: float, steps: int, **monitor_options: object) -> tuple:
    """SGD on the regression, recording every step; returns (monitor, losses, warnings)."""
    x, y, _ = regression()
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(net.parameters(), lr=lr)
    monitor = GradientMonitor(net, loss_fn=loss_fn, optimizer=optimizer, **monitor_options)
    losses = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            monitor.record(batch=(x, y))
            optimizer.step()
            monitor.after_step()
            losses.append(loss.item())
    monitor.close()
    edge = [w for w in caught if issubclass(w.category, GradientWarning)]
    return monitor, losses, edge


def test_lambda_max_is_measured_every_n_steps_and_below_the_edge_nothing_is_said() -> None:
    _, _, exact = regression()
    monitor, losses, caught = train_by_hand(model(), 0.9 * 2 / exact, 12, sharpness_every=5)
    measured = [(r.step, r.lambda_max) for r in monitor.history if r.lambda_max is not None]
    assert [step for step, _ in measured] == [0, 5, 10]
    for _, value in measured:
        assert value == pytest.approx(exact, rel=1e-3)
    assert monitor.history[0].stable_lr == pytest.approx(2 / exact, rel=1e-3)
    assert monitor.history[0].lr == pytest.approx(0.9 * 2 / exact)
    assert caught == [] and "edge_of_stability" not in monitor.warned
    assert losses[-1] < losses[0]
    summary = monitor.summary()
    assert "sharpness (λ_max of the loss Hessian)" in summary
    assert f"step 10: λ_max = {measured[-1][1]:.4g}" in summary and "(below)" in summary


def test_past_two_over_lambda_max_it_warns_once_and_the_loss_grows() -> None:
    _, _, exact = regression()
    monitor, losses, caught = train_by_hand(model(), 1.1 * 2 / exact, 12, sharpness_every=5)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("edge of stability: at step 0 the learning rate")
    assert f"{2 / exact:.4g}" in message and "Cohen et al., 2021" in message
    assert losses[-1] > losses[0]
    assert "(above)" in monitor.summary() and "warning: edge of stability" in monitor.summary()


def test_tracking_sharpness_does_not_change_training() -> None:
    _, _, exact = regression()
    plain, _, _ = train_by_hand(net_a := model(), 0.5 * 2 / exact, 6)
    tracked, _, _ = train_by_hand(net_b := model(), 0.5 * 2 / exact, 6, sharpness_every=1)
    assert all(r.lambda_max is None for r in plain.history)
    assert all(r.lambda_max is not None for r in tracked.history)
    for a, b in zip(net_a.parameters(), net_b.parameters(), strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    for a, b in zip(plain.history, tracked.history, strict=True):
        assert a.grad_norm == b.grad_norm and a.update_ratio == b.update_ratio


def test_as_a_fit_callback_it_measures_on_the_first_batch_with_fits_loss_and_optimizer() -> None:
    x, y, exact = regression()
    net = nn.Sequential(model())  # a Sequential: fit replays its steps (compile=None)
    monitor = GradientMonitor(sharpness_every=3)
    optimizer = optim.SGD(net.parameters(), lr=1.2 * 2 / exact)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(
            net,
            nn.MSELoss(),
            optimizer,
            (x, y),
            epochs=7,
            batch_size=16,
            progress=False,
            callbacks=[monitor],
        )
    measured = [r for r in monitor.history if r.lambda_max is not None]
    assert [r.step for r in measured] == [0, 3, 6]
    # batch_size covers the whole set, so the fixed batch is all of it.
    assert measured[0].lambda_max == pytest.approx(exact, rel=1e-3)
    assert "edge_of_stability" in monitor.warned
    assert sum("edge of stability" in str(w.message) for w in caught) == 1


def test_without_an_optimizer_it_records_lambda_max_only() -> None:
    x, y, exact = regression()
    net = model()
    monitor = GradientMonitor(net, sharpness_every=1, loss_fn=nn.MSELoss(), sharpness_data=(x, y))
    nn.MSELoss()(net(x), y).backward()
    record = monitor.record()
    assert record.lambda_max == pytest.approx(exact, rel=1e-3)
    assert record.lr is None and record.stable_lr is None and not monitor.warned


def test_missing_pieces_are_named() -> None:
    with pytest.raises(ValueError, match="sharpness_every must be a positive int"):
        GradientMonitor(sharpness_every=0)
    x, y, _ = regression()
    net = model()
    nn.MSELoss()(net(x), y).backward()
    with pytest.raises(ValueError, match="needs the loss: pass loss_fn="):
        GradientMonitor(net, sharpness_every=1).record(batch=(x, y))
    with pytest.raises(ValueError, match=r"needs data: pass sharpness_data=\(x, y\)"):
        GradientMonitor(net, sharpness_every=1, loss_fn=nn.MSELoss()).record()
