"""Which of chainrule.native's loops a test's operations called, and the same operation run
with the loops and without them."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import chainrule as cr
from bit_patterns import bits
from chainrule import native


def count_calls(
    monkeypatch: pytest.MonkeyPatch,
    module_name: str,
    names: tuple[str, ...],
    into: list | None = None,
) -> list:
    """The names of the loops of chainrule.native.<module_name> called, in order, while the
    test runs (each loop is wrapped for the test's duration), appended to ``into`` if given."""
    module = importlib.import_module(f"chainrule.native.{module_name}")
    called: list = [] if into is None else into
    for name in names:
        original = getattr(module, name)

        def counted(*args, _name=name, _original=original):
            called.append(_name)
            return _original(*args)

        monkeypatch.setattr(module, name, counted)
    return called


def output_and_gradient(function, values: np.ndarray, grad: np.ndarray, loops: bool) -> list:
    """[y, ∂C/∂x] as arrays for y = function(x) and C = Σ y·grad, with chainrule.native's loops
    on (``loops``) or off."""
    native.enable(loops)
    x = cr.tensor(values, requires_grad=True)
    y = function(x)
    y.backward(cr.tensor(grad))
    return [y.detach().numpy(), x.grad.numpy()]


def assert_same_bits(found: list, expected: list) -> None:
    """Every array of ``found`` holds the bits of its counterpart in ``expected``."""
    for a, b in zip(found, expected, strict=True):
        np.testing.assert_array_equal(bits(a), bits(b))
