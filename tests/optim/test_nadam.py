"""NAdam against torch.optim.NAdam: trajectories and state (the running product of momenta
included) for every option, float64 over 20 steps and float32 over 50, two param groups,
state_dict, bad hyper-parameters, and convergence on a parabola and on the Rosenbrock
function."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

from .trajectories import (
    assert_bad_options_refused,
    assert_state_dict_round_trip,
    assert_trajectory_matches_torch,
    descend_parabola,
    descend_rosenbrock,
    to_numpy,
)

CONFIGS: dict[str, Any] = {
    "default": {},
    "lr": {"lr": 0.05},
    "betas": {"lr": 0.05, "betas": (0.3, 0.9)},
    "momentum_decay": {"lr": 0.05, "momentum_decay": 0.05},
    "no_momentum_decay": {"lr": 0.05, "momentum_decay": 0.0},  # μ_t = β1/2 throughout
    "eps": {"lr": 0.05, "eps": 0.1},
    "weight_decay": {"lr": 0.05, "weight_decay": 0.2},
    "decoupled": {"lr": 0.05, "weight_decay": 0.2, "decoupled_weight_decay": True},
    "maximize": {"lr": 0.05, "maximize": True, "weight_decay": 0.1},
    "two_groups": lambda p: (
        [
            {"params": p[:2], "momentum_decay": 0.01},
            {"params": p[2:], "lr": 0.1, "decoupled_weight_decay": True},
        ],
        {"lr": 0.02, "weight_decay": 0.05},
    ),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_twenty_steps_match_torch_in_float64(config: str) -> None:
    assert_trajectory_matches_torch("NAdam", CONFIGS[config], 20, "float64", 1e-10, 1e-13)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fifty_steps_match_torch_in_float32(config: str) -> None:
    # Measured: within 3e-7 of PyTorch after 50 steps, a few float32 roundings.
    assert_trajectory_matches_torch("NAdam", CONFIGS[config], 50, "float32", 1e-5, 4e-6)


def test_the_product_of_momenta_is_kept_in_the_default_dtype_as_in_torch() -> None:
    """Π is rounded to float32 at each step, as PyTorch's 0-d float32 state is; float64
    under a float64 default dtype."""
    optimizer, reference = assert_trajectory_matches_torch(
        "NAdam", {"lr": 0.05}, 20, "float64", 1e-12, 1e-14
    )
    state = next(iter(optimizer.state.values()))
    assert np.asarray(state["mu_product"]).dtype == np.float32
    expected = next(iter(reference.state.values()))["mu_product"].item()
    assert float(state["mu_product"]) == expected


@pytest.mark.parametrize("config", ["decoupled", "two_groups"])
def test_state_dict_round_trip_continues_identically(config: str) -> None:
    assert_state_dict_round_trip("NAdam", CONFIGS[config])


def test_the_first_step_adds_a_gradient_step_and_a_look_ahead_momentum_step() -> None:
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
    optimizer = cr.optim.NAdam([w], lr=0.1)
    (w * w).sum().backward()
    optimizer.step()
    mu = 0.9 * (1 - 0.5 * 0.96**0.004)
    mu_next = 0.9 * (1 - 0.5 * 0.96**0.008)
    mu_product = float(np.float32(mu))
    # m = 0.1·g, D = |g| + eps: the two terms are along sign(g).
    step = 0.1 * (1 - mu) / (1 - mu_product) + 0.1 * mu_next / (1 - mu_product * mu_next) * 0.1
    np.testing.assert_allclose(to_numpy(w), [1.0 - step, -2.0 + step], rtol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1e-3}, "lr"),
        ({"betas": (1.0, 0.999)}, r"betas\[0\]"),
        ({"betas": (0.9, 1.0)}, r"betas\[1\]"),
        ({"eps": -1e-8}, "eps"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"momentum_decay": -0.1}, "momentum_decay"),
    ],
)
def test_bad_options_are_value_errors(kwargs: dict, match: str) -> None:
    assert_bad_options_refused("NAdam", kwargs, match)


def test_minimises_a_parabola() -> None:
    # Measured: within 2e-15 after 500 steps.
    x = descend_parabola("NAdam", {"lr": 0.1}, steps=500)
    np.testing.assert_allclose(x, [1.0, -2.0, 3.0], atol=1e-6)


def test_minimises_the_rosenbrock_function() -> None:
    """f(x, y) = (1 − x)² + 100 (y − x²)², from (−1, 1) to the minimum (1, 1)."""
    # Measured: within 5e-3 of (1, 1) and f ≈ 5e-6 after 3000 steps.
    xy, loss = descend_rosenbrock("NAdam", {"lr": 0.01}, steps=3000)
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=2e-2)
    assert loss < 1e-4
