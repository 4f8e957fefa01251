"""Shared test fixtures: every test starts from the same seeds and with gradients enabled."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seeded() -> None:
    cr.manual_seed(0)
    np.random.seed(0)
    # PyTorch's generator too, where a test module imported torch: a test that compares with
    # torch's random draws must not pass or fail by which tests ran before it.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(0)
    assert cr.is_grad_enabled()
