"""Adamax against torch.optim.Adamax: trajectories and state for every option (float64 over
20 steps, float32 over 50), two param groups, state_dict, bad hyper-parameters, and
convergence on a parabola and on the Rosenbrock function."""

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
    "betas": {"lr": 0.05, "betas": (0.3, 0.9)},  # β1 < ½: the other branch of PyTorch's lerp
    "short_memory": {"lr": 0.05, "betas": (0.9, 0.5)},  # u forgets old gradients fast
    "eps": {"lr": 0.05, "eps": 0.5},
    "weight_decay": {"lr": 0.05, "weight_decay": 0.2},
    "maximize": {"lr": 0.05, "maximize": True, "weight_decay": 0.1},
    "two_groups": lambda p: (
        [{"params": p[:2], "betas": (0.5, 0.8)}, {"params": p[2:], "lr": 0.1, "eps": 1e-2}],
        {"lr": 0.02, "weight_decay": 0.05},
    ),
}


@pytest.mark.parametrize("config", list(CONFIGS))
def test_twenty_steps_match_torch_in_float64(config: str) -> None:
    assert_trajectory_matches_torch("Adamax", CONFIGS[config], 20, "float64", 1e-10, 1e-13)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fifty_steps_match_torch_in_float32(config: str) -> None:
    # Measured: within 1e-7 of PyTorch after 50 steps, a few float32 roundings.
    assert_trajectory_matches_torch("Adamax", CONFIGS[config], 50, "float32", 1e-5, 4e-6)


@pytest.mark.parametrize("config", ["weight_decay", "two_groups"])
def test_state_dict_round_trip_continues_identically(config: str) -> None:
    assert_state_dict_round_trip("Adamax", CONFIGS[config])


def test_the_first_step_moves_every_entry_by_lr() -> None:
    """m/(1 − β1) = g and u = |g| + eps on step 1: the step is lr·g/(|g| + eps)."""
    w = cr.nn.Parameter(cr.tensor([1.0, -2.0, 0.5], dtype=cr.float64))
    optimizer = cr.optim.Adamax([w], lr=0.1)
    (w * w).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(to_numpy(w), [0.9, -1.9, 0.4], rtol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1e-3}, "lr"),
        ({"betas": (1.0, 0.999)}, r"betas\[0\]"),
        ({"betas": (0.9, -0.1)}, r"betas\[1\]"),
        ({"betas": (0.9,)}, "betas must be a pair"),
        ({"eps": -1e-8}, "eps"),
        ({"weight_decay": -0.1}, "weight_decay"),
    ],
)
def test_bad_options_are_value_errors(kwargs: dict, match: str) -> None:
    assert_bad_options_refused("Adamax", kwargs, match)


def test_minimises_a_parabola() -> None:
    # Measured: within 1e-11 after 500 steps.
    x = descend_parabola("Adamax", {"lr": 0.1}, steps=500)
    np.testing.assert_allclose(x, [1.0, -2.0, 3.0], atol=1e-6)


def test_minimises_the_rosenbrock_function() -> None:
    """f(x, y) = (1 − x)² + 100 (y − x²)², from (−1, 1) to the minimum (1, 1)."""
    # Measured: within 3e-9 of (1, 1) after 3000 steps.
    xy, _ = descend_rosenbrock("Adamax", {"lr": 0.02}, steps=3000)
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=1e-6)
