"""Shared test fixtures: every test starts from the same seeds and with gradients enabled."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(autouse=True)
def _seeded() -> None:
    cr.manual_seed(0)
    np.random.seed(0)
    assert cr.is_grad_enabled()
