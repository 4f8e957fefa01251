"""Adagrad against torch.optim.Adagrad: trajectories and state for every option, two param
groups, state_dict round trips, bad hyper-parameters, and convergence on a parabola and on the
Rosenbrock function."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

from .trajectories import advance, run, start, to_numpy

CONFIGS: dict[str, Any] = {
    "default": {},
    "lr": {"lr": 0.1},
    "lr_decay": {"lr": 0.1, "lr_decay": 0.05},
    "weight_decay": {"lr": 0.1, "weight_decay": 0.3},
    "initial_accumulator_value": {"lr": 0.1, "initial_accumulator_value": 0.5},
    "eps": {"lr": 0.1, "eps": 0.1},
    "maximize": {"lr": 0.05, "maximize": True},
    "all": {
        "lr": 0.2,
        "lr_decay": 0.01,
        "weight_decay": 0.05,
        "initial_accumulator_value": 0.1,
        "eps": 1e-6,
        "maximize": True,
    },
    "two_groups": lambda p: (
        [{"params": p[:2], "lr_decay": 0.1}, {"params": p[2:], "lr": 0.5, "eps": 1e-3}],
        {"lr": 0.1, "initial_accumulator_value": 0.2},
    ),
}
KEYS = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")


@pytest.mark.parametrize("config", list(CONFIGS))
def test_twenty_steps_match_torch(config: str) -> None:
    ours, optimizer, params = run(cr, "Adagrad", CONFIGS[config])
    theirs, reference, tensors = run(torch, "Adagrad", CONFIGS[config])
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, err_msg=f"parameter {i}")
    assert not np.allclose(ours[0], start()[0], atol=1e-3), "the parameters moved"
    for group, expected in zip(optimizer.param_groups, reference.param_groups):
        for key in KEYS:
            assert group[key] == expected[key], key
    for p, t in zip(params, tensors):
        state, expected = optimizer.state[p], reference.state[t]
        assert set(state) == set(expected) == {"step", "sum"}
        assert state["step"] == expected["step"].item() == 20
        np.testing.assert_allclose(state["sum"], to_numpy(expected["sum"]), rtol=1e-8)


def test_float32_parameters_match_torch_and_stay_float32() -> None:
    options = {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}
    initial = start("float32")
    ours, optimizer, params = run(cr, "Adagrad", options, initial=[a.copy() for a in initial])
    theirs, _, _ = run(torch, "Adagrad", options, initial=initial)
    for a, b, p in zip(ours, theirs, params):
        assert a.dtype == np.float32 and p.dtype == cr.float32
        assert optimizer.state[p]["sum"].dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_state_exists_from_construction_as_in_torch() -> None:
    params = [cr.nn.Parameter(cr.tensor(a)) for a in start()]
    tensors = [torch.nn.Parameter(torch.tensor(a)) for a in start()]
    ours = cr.optim.Adagrad(params, initial_accumulator_value=0.25)
    theirs = torch.optim.Adagrad(tensors, initial_accumulator_value=0.25)
    saved, expected = ours.state_dict(), theirs.state_dict()
    assert sorted(saved["state"]) == sorted(expected["state"]) == [0, 1, 2]
    for position, state in expected["state"].items():
        assert saved["state"][position]["step"] == state["step"].item() == 0
        np.testing.assert_array_equal(saved["state"][position]["sum"], to_numpy(state["sum"]))
    # A group added later gets its state at once too, filled with its own value.
    extra = cr.nn.Parameter(cr.zeros(2, dtype=cr.float64))
    ours.add_param_group({"params": [extra], "initial_accumulator_value": 1.5})
    np.testing.assert_array_equal(ours.state[extra]["sum"], [1.5, 1.5])


# ---- state_dict ----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["all", "two_groups"])
def test_state_dict_round_trip_continues_identically(config: str) -> None:
    options = CONFIGS[config]
    uninterrupted, _, _ = run(cr, "Adagrad", options, steps=20)

    halfway, optimizer, params = run(cr, "Adagrad", options, steps=10)
    saved = optimizer.state_dict()
    frozen = copy.deepcopy(saved)
    advance(cr, optimizer, params, range(10, 13))  # the original goes on: the save must not
    for position, state in frozen["state"].items():
        np.testing.assert_array_equal(saved["state"][position]["sum"], state["sum"])
        assert saved["state"][position]["step"] == state["step"] == 10

    fresh = [cr.nn.Parameter(cr.tensor(a.copy())) for a in halfway]
    groups, kwargs = options(fresh) if callable(options) else (fresh, options)
    restored = cr.optim.Adagrad(groups, **{**kwargs, "lr": 1.0})
    restored.load_state_dict(saved)
    advance(cr, restored, fresh, range(10, 20))
    for a, p in zip(uninterrupted, fresh):
        np.testing.assert_array_equal(to_numpy(p), a)


# ---- behaviour -------------------------------------------------------------------------------


def test_the_step_shrinks_with_lr_decay() -> None:
    """With a constant gradient g, step t moves by lr/(1 + (t − 1)·lr_decay)·g/√(t·g²)."""
    w = cr.nn.Parameter(cr.zeros(1, dtype=cr.float64))
    optimizer = cr.optim.Adagrad([w], lr=0.5, lr_decay=0.25, eps=0.0)
    moves = []
    for _ in range(4):
        before = float(to_numpy(w)[0])
        w.grad = cr.tensor([2.0], dtype=cr.float64)
        optimizer.step()
        moves.append(before - float(to_numpy(w)[0]))
    t = np.arange(1, 5)
    np.testing.assert_allclose(moves, 0.5 / (1 + (t - 1) * 0.25) / np.sqrt(t), rtol=1e-12)


def test_a_parameter_without_a_gradient_is_untouched() -> None:
    a = cr.nn.Parameter(cr.ones(2, dtype=cr.float64))
    b = cr.nn.Parameter(cr.ones(2, dtype=cr.float64))
    optimizer = cr.optim.Adagrad([a, b], lr=0.5, weight_decay=0.1)
    a.grad = cr.tensor([1.0, -2.0], dtype=cr.float64)
    optimizer.step()
    assert not np.array_equal(to_numpy(a), [1.0, 1.0])
    np.testing.assert_array_equal(to_numpy(b), [1.0, 1.0])
    assert optimizer.state[b]["step"] == 0 and optimizer.state[a]["step"] == 1


def test_updates_are_in_place() -> None:
    model = cr.nn.Linear(3, 2)
    data = [p.array for p in model.parameters()]
    optimizer = cr.optim.Adagrad(model.parameters(), lr_decay=0.1, weight_decay=0.1)
    model(cr.randn(4, 3)).sum().backward()
    optimizer.step()
    assert all(p.array is d for p, d in zip(model.parameters(), data))
    assert all(p.is_leaf and p.grad_fn is None for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -0.01}, "lr"),
        ({"lr": float("inf")}, "lr"),
        ({"lr_decay": -0.1}, "lr_decay"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
        ({"initial_accumulator_value": float("nan")}, "initial_accumulator_value"),
        ({"eps": -1e-10}, "eps"),
    ],
)
def test_bad_options_are_value_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=f"Adagrad: {match}"):
        cr.optim.Adagrad([cr.nn.Parameter(cr.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match=match):  # ... also in a group of its own
        cr.optim.Adagrad([{"params": [cr.nn.Parameter(cr.zeros(2))], **kwargs}])


# ---- convergence (optax's sanity checks) ---------------------------------------------------------


def test_minimises_a_parabola() -> None:
    target = np.array([1.0, -2.0, 3.0])
    x = cr.nn.Parameter(cr.zeros(3, dtype=cr.float64))
    optimizer = cr.optim.Adagrad([x], lr=0.5)
    goal = cr.tensor(target)
    for _ in range(500):
        optimizer.zero_grad()
        ((x - goal) ** 2).sum().backward()
        optimizer.step()
    np.testing.assert_allclose(to_numpy(x), target, atol=1e-9)  # measured: within 3e-15


def test_minimises_the_rosenbrock_function() -> None:
    """f(x, y) = (1 − x)² + 100 (y − x²)², from (−1, 1) to the minimum (1, 1)."""
    xy = cr.nn.Parameter(cr.tensor([-1.0, 1.0], dtype=cr.float64))
    optimizer = cr.optim.Adagrad([xy], lr=0.5)
    for _ in range(5000):
        optimizer.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        optimizer.step()
    # Measured: within 7.8e-3 of (1, 1) and f = 1.5e-5; the steps shrink as 1/√t, so Adagrad
    # crawls along the valley's floor.
    np.testing.assert_allclose(to_numpy(xy), [1.0, 1.0], atol=2e-2)
    assert loss.item() < 1e-4


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_a_zero_learning_rate_is_accepted_and_freezes_the_weights(name: str) -> None:
    # PyTorch rejects only negative rates; lr=0 is a legitimate frozen group.
    torch_w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    getattr(torch.optim, name)([torch_w], lr=0.0)
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    optimizer = getattr(cr.optim, name)([w], lr=0.0)
    (w * w).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, -2.0])
