"""Adam and AdamW against torch.optim: trajectories and state for every option, two param
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

CONFIGS: dict[str, tuple[str, Any]] = {
    "adam_default": ("Adam", {}),
    "adam_lr": ("Adam", {"lr": 0.05}),
    "adam_betas": ("Adam", {"lr": 0.02, "betas": (0.5, 0.9)}),
    "adam_beta1_zero": ("Adam", {"lr": 0.02, "betas": (0.0, 0.99)}),
    "adam_eps": ("Adam", {"lr": 0.02, "eps": 0.1}),
    "adam_weight_decay": ("Adam", {"lr": 0.02, "weight_decay": 0.3}),
    "adam_amsgrad": ("Adam", {"lr": 0.05, "amsgrad": True, "betas": (0.8, 0.9)}),
    "adam_maximize": ("Adam", {"lr": 0.02, "maximize": True}),
    "adam_all": (
        "Adam",
        {"lr": 0.03, "betas": (0.7, 0.95), "eps": 1e-3, "weight_decay": 0.1, "amsgrad": True},
    ),
    "adam_all_maximize": (
        "Adam",
        {"lr": 0.03, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    ),
    "adam_decoupled": ("Adam", {"lr": 0.05, "weight_decay": 0.2, "decoupled_weight_decay": True}),
    "adam_two_groups": (
        "Adam",
        lambda p: (
            [{"params": p[:2], "amsgrad": True}, {"params": p[2:], "lr": 0.1, "betas": (0.5, 0.6)}],
            {"lr": 0.01, "weight_decay": 0.05},
        ),
    ),
    "adamw_default": ("AdamW", {}),
    "adamw_weight_decay": ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}),
    "adamw_maximize": ("AdamW", {"lr": 0.02, "maximize": True, "betas": (0.6, 0.99)}),
    "adamw_no_decay": ("AdamW", {"lr": 0.02, "weight_decay": 0.0}),
    "adamw_two_groups": (
        "AdamW",
        lambda p: (
            [{"params": [p[0]], "weight_decay": 0.0}, {"params": p[1:], "lr": 0.1, "eps": 1e-2}],
            {"lr": 0.02, "weight_decay": 0.5, "amsgrad": True},
        ),
    ),
}
KEYS = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay")


@pytest.mark.parametrize("config", list(CONFIGS))
def test_twenty_steps_match_torch(config: str) -> None:
    name, options = CONFIGS[config]
    ours, optimizer, params = run(cr, name, options)
    theirs, reference, tensors = run(torch, name, options)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12, err_msg=f"parameter {i}")
    assert not np.allclose(ours[0], start()[0], atol=1e-3), "the parameters moved"
    for group, expected in zip(optimizer.param_groups, reference.param_groups):
        for key in KEYS:
            assert group[key] == expected[key], key
    # The per-parameter state, under PyTorch's names.
    for p, t in zip(params, tensors):
        state, expected = optimizer.state[p], reference.state[t]
        assert set(state) == set(expected)
        assert state["step"] == expected["step"].item() == 20
        for key in set(state) - {"step"}:
            np.testing.assert_allclose(state[key], to_numpy(expected[key]), rtol=1e-8, err_msg=key)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_float32_parameters_match_torch_and_stay_float32(name: str) -> None:
    options = {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}
    initial = start("float32")
    ours, optimizer, params = run(cr, name, options, initial=[a.copy() for a in initial])
    theirs, _, _ = run(torch, name, options, initial=initial)
    for a, b, p in zip(ours, theirs, params):
        assert a.dtype == np.float32 and p.dtype == cr.float32
        assert optimizer.state[p]["exp_avg_sq"].dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_model_trained_from_the_same_weights_matches_torch() -> None:
    """Gradients from each library's own autodiff: a small network, fixed data, 20 steps."""
    torch.manual_seed(0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)
    ).double()
    model = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2)).double()
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    ours = cr.optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    theirs = torch.optim.AdamW(reference.parameters(), lr=0.01, amsgrad=True)
    for _ in range(20):
        ours.zero_grad()
        theirs.zero_grad()
        cr.nn.functional.mse_loss(model(cr.tensor(x)), cr.tensor(y)).backward()
        torch.nn.functional.mse_loss(reference(torch.tensor(x)), torch.tensor(y)).backward()
        ours.step()
        theirs.step()
    for (name, p), t in zip(model.named_parameters(), reference.parameters()):
        np.testing.assert_allclose(to_numpy(p), to_numpy(t), rtol=1e-6, atol=1e-12, err_msg=name)


# ---- state_dict ----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["adam_all", "adam_two_groups", "adamw_two_groups"])
def test_state_dict_round_trip_continues_identically(config: str) -> None:
    name, options = CONFIGS[config]
    uninterrupted, _, _ = run(cr, name, options, steps=20)

    halfway, optimizer, params = run(cr, name, options, steps=10)
    saved = optimizer.state_dict()
    frozen = copy.deepcopy(saved)
    advance(cr, optimizer, params, range(10, 13))  # the original goes on: the save must not
    for position, state in frozen["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(saved["state"][position][key], value)

    fresh = [cr.nn.Parameter(cr.tensor(a.copy())) for a in halfway]
    groups, kwargs = options(fresh) if callable(options) else (fresh, options)
    restored = getattr(cr.optim, name)(groups, **{**kwargs, "lr": 1.0})
    restored.load_state_dict(saved)
    advance(cr, restored, fresh, range(10, 20))
    for a, p in zip(uninterrupted, fresh):
        np.testing.assert_array_equal(to_numpy(p), a)


def test_state_dict_layout_matches_torch() -> None:
    name, options = CONFIGS["adam_two_groups"]
    _, optimizer, _ = run(cr, name, options, steps=3)
    _, reference, _ = run(torch, name, options, steps=3)
    ours, theirs = optimizer.state_dict(), reference.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 2]
    for position, state in theirs["state"].items():
        assert set(ours["state"][position]) == set(state)
        np.testing.assert_allclose(
            ours["state"][position]["exp_avg"], to_numpy(state["exp_avg"]), rtol=1e-10
        )
    for group, expected in zip(ours["param_groups"], theirs["param_groups"]):
        assert group["params"] == expected["params"]
        assert {k: group[k] for k in KEYS} == {k: expected[k] for k in KEYS}


def test_adamw_stays_decoupled_when_loading_an_adam_state() -> None:
    _, adam, _ = run(cr, "Adam", {"lr": 0.01, "weight_decay": 0.1}, steps=2)
    adamw = cr.optim.AdamW([cr.nn.Parameter(cr.tensor(a)) for a in start()])
    adamw.load_state_dict(adam.state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True
    assert adamw.param_groups[0]["weight_decay"] == 0.1


# ---- behaviour -------------------------------------------------------------------------------


def test_the_first_step_moves_every_entry_by_about_lr() -> None:
    """m̂ = g and v̂ = g² on step 1, so the step is lr·g/(|g| + eps) ≈ lr·sign(g)."""
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0, 0.5], dtype=cr.float64))
    optimizer = cr.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(to_numpy(w), [0.9, -1.9, 0.4], rtol=1e-7)


def test_a_parameter_without_a_gradient_is_untouched() -> None:
    a = cr.nn.Parameter(cr.ones(2, dtype=cr.float64))
    b = cr.nn.Parameter(cr.ones(2, dtype=cr.float64))
    optimizer = cr.optim.AdamW([a, b], lr=0.5, weight_decay=0.1)
    a.grad = cr.tensor([1.0, -2.0], dtype=cr.float64)
    optimizer.step()
    assert not np.array_equal(to_numpy(a), [1.0, 1.0])
    np.testing.assert_array_equal(to_numpy(b), [1.0, 1.0])  # not even decayed
    assert b not in optimizer.state and a in optimizer.state


def test_updates_are_in_place() -> None:
    model = cr.nn.Linear(3, 2)
    data = [p.array for p in model.parameters()]
    optimizer = cr.optim.Adam(model.parameters(), lr=0.1, amsgrad=True, weight_decay=0.1)
    model(cr.randn(4, 3)).sum().backward()
    optimizer.step()
    assert all(p.array is d for p, d in zip(model.parameters(), data))
    assert all(p.is_leaf and p.grad_fn is None for p in model.parameters())


BAD_OPTIONS = [
    ({"lr": -1e-3}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"lr": float("inf")}, "lr"),
    ({"betas": (1.0, 0.999)}, r"betas\[0\]"),
    ({"betas": (0.9, -0.1)}, r"betas\[1\]"),
    ({"betas": (0.9, float("nan"))}, r"betas\[1\]"),
    ({"betas": (0.9,)}, "betas must be a pair"),
    ({"betas": 0.9}, "betas must be a pair"),
    ({"eps": -1e-8}, "eps"),
    ({"eps": float("nan")}, "eps"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"weight_decay": float("inf")}, "weight_decay"),
]


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize(("kwargs", "match"), BAD_OPTIONS)
def test_bad_options_are_value_errors(name: str, kwargs: dict, match: str) -> None:
    optimizer = getattr(cr.optim, name)
    with pytest.raises(ValueError, match=f"{name}: {match}"):
        optimizer([cr.nn.Parameter(cr.zeros(2))], **kwargs)
    with pytest.raises(ValueError, match=match):  # ... also in a group of its own
        optimizer([{"params": [cr.nn.Parameter(cr.zeros(2))], **kwargs}])


# ---- convergence (optax's sanity checks) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {"weight_decay": 1e-4})],
)
def test_minimises_a_parabola(name: str, options: dict) -> None:
    target = np.array([1.0, -2.0, 3.0])
    x = cr.nn.Parameter(cr.zeros(3, dtype=cr.float64))
    optimizer = getattr(cr.optim, name)([x], lr=0.1, **options)
    goal = cr.tensor(target)
    for _ in range(500):
        optimizer.zero_grad()
        ((x - goal) ** 2).sum().backward()
        optimizer.step()
    # Measured after 500 steps: within 1e-11 (Adam, AMSGrad) and 1.2e-4 (AdamW, whose decay
    # pulls the optimum toward 0).
    np.testing.assert_allclose(to_numpy(x), target, atol=1e-3)


@pytest.mark.parametrize(
    ("name", "options"),
    [("Adam", {}), ("Adam", {"amsgrad": True}), ("AdamW", {"weight_decay": 1e-4})],
)
def test_minimises_the_rosenbrock_function(name: str, options: dict) -> None:
    """f(x, y) = (1 − x)² + 100 (y − x²)², from (−1, 1) to the minimum (1, 1)."""
    xy = cr.nn.Parameter(cr.tensor([-1.0, 1.0], dtype=cr.float64))
    optimizer = getattr(cr.optim, name)([xy], lr=0.02, **options)
    for _ in range(2000):
        optimizer.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        optimizer.step()
    # Measured after 2000 steps: within 5e-8 of (1, 1) (Adam), 7e-10 (AMSGrad), 1.3e-4 (AdamW,
    # whose decay shifts the minimum); f below 5e-9 in all three.
    np.testing.assert_allclose(to_numpy(xy), [1.0, 1.0], atol=1e-3)
    assert loss.item() < 1e-6
