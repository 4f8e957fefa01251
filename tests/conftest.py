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


@pytest.fixture
def native_switch():
    """Restores chainrule.native's switch after a test that sets it."""
    from chainrule import native

    before = native.enabled()
    yield
    native.enable(before)


@pytest.fixture(params=["native", "numpy"])
def native_mode(request: pytest.FixtureRequest):
    """Runs a test twice: with chainrule.native's numba loops where they apply, and with every
    operation in its NumPy form. The first case is skipped, with its reason, where numba is
    not installed."""
    from chainrule import native

    before = native.enabled()
    if request.param == "native" and not native.available():
        pytest.skip("numba is not installed: the NumPy form runs in the other case")
    native.enable(request.param == "native")
    try:
        yield request.param
    finally:
        native.enable(before)
