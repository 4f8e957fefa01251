"""GradientMonitor: per-layer statistics checked against PyTorch, and the three warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.inspect.monitor import GradientMonitor, GradientWarning
from chainrule.train.callback import TrainingState


def _deep(activation: type, depth: int = 20, width: int = 32, he: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        linear = nn.Linear(16 if i == 0 else width, width)
        if he:
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def _train(model: nn.Module, steps: int = 5, lr: float = 0.01) -> tuple[GradientMonitor, list]:
    """A few SGD steps on random data, driven by hand; returns the monitor and its warnings."""
    x, y = cr.randn(64, 16), cr.randn(64, 1)
    monitor = GradientMonitor(model)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(steps):
            optimizer.zero_grad()
            loss = nn.MSELoss()(model(x), y)
            loss.backward()
            monitor.record()
            optimizer.step()
            monitor.after_step()
    monitor.close()
    return monitor, [w for w in caught if issubclass(w.category, GradientWarning)]


def _kinds(caught: list) -> list[str]:
    return [str(w.message).split(":")[0] for w in caught]


def test_sigmoid_network_vanishes_and_he_relu_network_does_not():
    monitor, caught = _train(_deep(nn.Sigmoid))
    assert _kinds(caught) == ["vanishing gradients"]
    message = str(caught[0].message)
    assert "'0'" in message and "'40'" in message and "kaiming" in message
    first = monitor.history[0]
    assert first.grad_norm["0"] < 1e-3 * first.grad_norm["40"]

    monitor, caught = _train(_deep(nn.ReLU, he=True))
    assert "vanishing" not in monitor.warned and "exploding" not in monitor.warned
    assert not [k for k in _kinds(caught) if "gradients" in k]
    for record in monitor.history:
        assert record.grad_norm["0"] > 1e-3 * record.grad_norm["40"]


def test_very_negative_biases_are_flagged_as_dead_units():
    model = _deep(nn.ReLU, depth=4, he=True)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.constant_(module.bias, -10.0)
    monitor, caught = _train(model, steps=2)
    assert "dead units" in _kinds(caught)
    assert monitor.history[0].dead_fraction["1"] == 1.0
    assert "'1'" in monitor.warned["dead"] and "LeakyReLU" in monitor.warned["dead"]


def _huge(scale: float) -> nn.Sequential:
    model = _deep(nn.ReLU, depth=4)
    with cr.no_grad():
        for param in model.parameters():
            param *= scale
    return model


def test_growing_gradients_are_flagged_as_exploding():
    monitor, _ = _train(_huge(3.0), steps=3, lr=0.1)
    assert "exploding" in monitor.warned and "grew" in monitor.warned["exploding"]
    totals = [np.sqrt(sum(v * v for v in r.grad_norm.values())) for r in monitor.history[:2]]
    assert totals[1] > 100 * totals[0]


def test_non_finite_gradients_are_flagged_once_per_kind():
    with np.errstate(over="ignore", invalid="ignore"):
        monitor, caught = _train(_huge(10.0), steps=6, lr=0.1)
    assert "not finite" in monitor.warned["exploding"]
    assert not np.isfinite(monitor.history[-1].grad_norm["0"])
    kinds = _kinds(caught)
    assert kinds.count("exploding gradients") == 1
    assert len(kinds) == len(set(kinds))  # every kind at most once over six bad steps


def test_statistics_match_pytorch_on_the_same_weights():
    model = nn.Sequential(
        nn.Linear(5, 6), nn.Sigmoid(), nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 8), nn.ReLU(),
        nn.Linear(8, 1),
    )  # fmt: skip
    with cr.no_grad():
        model[0].weight *= 4.0  # push some sigmoid units into saturation
        model[2].weight *= 15.0  # and some tanh units
    twin = torch.nn.Sequential(
        torch.nn.Linear(5, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 6), torch.nn.Tanh(),
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1),
    )  # fmt: skip
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    x, y = cr.randn(32, 5) * 3, cr.randn(32, 1)

    monitor = GradientMonitor(model)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    nn.MSELoss()(model(x), y).backward()
    record = monitor.record()
    optimizer.step()
    monitor.after_step()

    seen = {}
    for index in (1, 3, 5):
        twin[index].register_forward_hook(
            lambda m, a, out, i=index: seen.__setitem__(i, out.detach().numpy())
        )
    before = {i: twin[i].weight.detach().clone() for i in (0, 2, 4, 6)}
    torch_optimizer = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    torch.nn.functional.mse_loss(twin(torch.tensor(x.numpy())), torch.tensor(y.numpy())).backward()
    grads = {i: twin[i].weight.grad.norm().item() for i in (0, 2, 4, 6)}
    torch_optimizer.step()

    for i in (0, 2, 4, 6):
        assert record.grad_norm[str(i)] == pytest.approx(grads[i], rel=1e-5)
        change = (twin[i].weight.detach() - before[i]).norm() / before[i].norm()
        assert record.update_ratio[str(i)] == pytest.approx(change.item(), rel=1e-4)
        assert record.weight_norm[str(i)] == pytest.approx(before[i].norm().item(), rel=1e-6)
    sigmoid_saturated = (((seen[1] > 0.99) | (seen[1] < 0.01)).mean(axis=0) > 0.5).mean()
    tanh_saturated = ((np.abs(seen[3]) > 0.99).mean(axis=0) > 0.5).mean()
    dead = (seen[5] == 0).all(axis=0).mean()
    assert 0 < sigmoid_saturated < 1 and tanh_saturated > 0  # the check is not vacuous
    assert record.saturated_fraction == {
        "1": pytest.approx(sigmoid_saturated),
        "3": pytest.approx(tanh_saturated),
    }
    assert record.dead_fraction == {"5": pytest.approx(dead)}


def test_one_activation_module_used_twice_is_recorded_per_call():
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(3, 4), nn.Linear(4, 2)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.b(self.act(self.a(x))))

    model = Shared()
    monitor = GradientMonitor(model)
    model(cr.randn(5, 3)).sum().backward()
    record = monitor.record()
    assert set(record.dead_fraction) == {"act", "act[1]"}
    assert monitor.layers == ["a", "b"]


def test_validation_forwards_without_grad_do_not_replace_the_step_statistics():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    monitor = GradientMonitor(model)
    model(cr.randn(6, 3)).sum().backward()
    with cr.no_grad():
        model(-100 * cr.ones(6, 3))  # would kill every unit if it were counted
    record = monitor.record()
    assert record.dead_fraction["1"] < 1.0
    # Statistics belong to one forward pass: a second record without a forward has none.
    assert monitor.record().dead_fraction == {}


def test_callback_hooks_in_the_documented_order():
    model = _deep(nn.Sigmoid, depth=6)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor()
    monitor.set_state(TrainingState(model, optimizer, nn.MSELoss()))
    x, y = cr.randn(16, 16), cr.randn(16, 1)
    monitor.on_train_begin({})
    with pytest.warns(GradientWarning, match="vanishing gradients"):
        for step in range(3):
            monitor.on_batch_begin(step, {})
            optimizer.zero_grad()
            nn.MSELoss()(model(x), y).backward()
            monitor.on_backward_end(step, {})
            optimizer.step()
            monitor.on_batch_end(step, {})
    monitor.on_train_end({})
    assert [r.step for r in monitor.history] == [0, 1, 2]
    assert all(len(r.update_ratio) == 7 and len(r.saturated_fraction) == 6 for r in monitor.history)
    # on_train_end removed the hooks: a later forward records no activations.
    model(x).sum().backward()
    assert monitor.record().saturated_fraction == {}


def test_as_a_fit_callback():
    from chainrule.train import fit

    model = _deep(nn.Sigmoid, depth=20)
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    x, y = cr.randn(48, 16), cr.randn(48, 1)
    monitor = GradientMonitor()
    with pytest.warns(GradientWarning, match="vanishing gradients"):
        fit(model, nn.MSELoss(), optimizer, (x, y), epochs=2, batch_size=16, callbacks=[monitor],
            progress=False)  # fmt: skip
    assert [r.step for r in monitor.history] == list(range(6))
    assert all(len(r.update_ratio) == 21 for r in monitor.history)


def test_summary_and_plot(tmp_path):
    from matplotlib import image  # a test dependency

    monitor, _ = _train(_deep(nn.Sigmoid, depth=20), steps=4)
    text = monitor.summary()
    assert "4 steps" in text and "vanishing gradients" in text
    names = [line.split()[0] for line in text.splitlines()[3:24]]
    assert names == [str(i) for i in range(0, 41, 2)]
    path = monitor.plot(tmp_path / "gradients.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = image.imread(path).shape[:2]
    assert (width, height) == (1210, 495)
    assert [p.name for p in tmp_path.iterdir()] == ["gradients.png"]  # no temporary left


def test_misuse_is_a_clear_error():
    model = nn.Sequential(nn.Linear(3, 1))
    monitor = GradientMonitor(model)
    with pytest.raises(RuntimeError, match=r"call record\(\)"):
        monitor.after_step()
    with pytest.raises(ValueError, match="no step recorded"):
        monitor.plot("unused.png")
    with pytest.raises(ValueError, match="dead_fraction"):
        GradientMonitor(model, dead_fraction=1.5)
    with pytest.raises(ValueError, match="no module with a weight"):
        GradientMonitor(nn.Sequential(nn.ReLU()))
    with pytest.raises(TypeError, match="must be a Module"):
        GradientMonitor("model")
    assert GradientMonitor().summary() == "GradientMonitor: no step recorded yet"
