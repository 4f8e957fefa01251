"""Adadelta against torch.optim.Adadelta: trajectories and state for every option (float64
over 20 steps, float32 over 50), two param groups, state_dict, bad hyper-parameters, and
convergence on a parabola."""

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
    to_numpy,
)

CONFIGS: dict[str, Any] = {
    "default": {},
    "lr_rho": {"lr": 0.5, "rho": 0.7},
    "eps": {"eps": 1e-3},
    "weight_decay": {"lr": 2.0, "weight_decay": 0.2},
    "maximize": {"lr": 3.0, "maximize": True, "eps": 1e-4},
    "rho_one": {"rho": 1.0, "eps": 1e-2},  # the averages never move: a fixed √eps/√eps step
    "two_groups": lambda p: (
        [{"params": p[:2], "rho": 0.5}, {"params": p[2:], "lr": 4.0, "weight_decay": 0.1}],
        {"lr": 2.0, "eps": 1e-4},
    ),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_twenty_steps_match_torch_in_float64(config: str) -> None:
    assert_trajectory_matches_torch("Adadelta", CONFIGS[config], 20, "float64", 1e-10, 1e-13)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fifty_steps_match_torch_in_float32(config: str) -> None:
    # Measured: within 1e-6 of PyTorch after 50 steps, a few float32 roundings.
    assert_trajectory_matches_torch("Adadelta", CONFIGS[config], 50, "float32", 1e-5, 4e-6)


@pytest.mark.parametrize("config", ["weight_decay", "two_groups"])
def test_state_dict_round_trip_continues_identically(config: str) -> None:
    assert_state_dict_round_trip("Adadelta", CONFIGS[config])


def test_the_first_step_is_about_the_square_root_of_eps_over_that_of_one_minus_rho() -> None:
    """v = (1 − ρ)·g² and u = 0 on step 1, so Δ = √eps·g / √((1 − ρ)·g² + eps)."""
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0], dtype=cr.float64))
    optimizer = cr.optim.Adadelta([w])
    (w * w).sum().backward()
    optimizer.step()
    g = np.array([2.0, -4.0])
    expected = np.array([1.0, -2.0]) - np.sqrt(1e-6) * g / np.sqrt(0.1 * g * g + 1e-6)
    np.testing.assert_allclose(to_numpy(w), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1.0}, "lr"),
        ({"rho": -0.1}, "rho"),
        ({"rho": 1.5}, "rho"),
        ({"eps": -1e-6}, "eps"),
        ({"weight_decay": -0.1}, "weight_decay"),
        ({"weight_decay": float("nan")}, "weight_decay"),
    ],
)
def test_bad_options_are_value_errors(kwargs: dict, match: str) -> None:
    assert_bad_options_refused("Adadelta", kwargs, match)


def test_minimises_a_parabola() -> None:
    x = descend_parabola("Adadelta", {"lr": 1.0, "rho": 0.9, "eps": 1e-4}, steps=1500)
    np.testing.assert_allclose(x, [1.0, -2.0, 3.0], atol=1e-3)
