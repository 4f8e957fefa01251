"""Dropout (F.dropout and the module): the statistics of the mask, its scaling, reproducibility
from chainrule.manual_seed, eval identity and the gradient mask/(1 − p)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention
from chainrule.ops.dropout import Dropout, draw_mask


def to_numpy(t: Any) -> np.ndarray:
    return np.asarray(t.detach().data)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_keep_rate_and_scaling(p: float) -> None:
    size = 200_000
    x = cr.ones(size)
    out = to_numpy(F.dropout(x, p))
    kept = out != 0
    # The kept fraction is binomial: 5 standard deviations is a bound that a correct
    # implementation breaks once in ~3 million runs (and the seed is fixed).
    sigma = math.sqrt(p * (1 - p) / size)
    assert abs(kept.mean() - (1 - p)) < 5 * sigma
    np.testing.assert_allclose(out[kept], np.float32(1 / (1 - p)), rtol=1e-6)
    # The scaling keeps the expectation: the mean of the output is 1 up to the same noise.
    assert abs(out.mean() - 1) < 5 * sigma / (1 - p)
    assert out.dtype == np.float32


def test_units_are_dropped_independently() -> None:
    out = to_numpy(F.dropout(cr.ones(400, 500), 0.5)) != 0
    # Neighbours along either axis agree half of the time if the mask has no structure.
    for agreement in ((out[:, 1:] == out[:, :-1]).mean(), (out[1:] == out[:-1]).mean()):
        assert abs(agreement - 0.5) < 0.01


def test_the_gradient_is_the_mask_over_one_minus_p() -> None:
    p = 0.3
    rng = np.random.default_rng(0)
    x_data = rng.uniform(0.5, 2.0, (50, 40))
    x = cr.tensor(x_data, requires_grad=True)
    out = F.dropout(x, p)
    mask = to_numpy(out) / x_data  # 0 or 1/(1 − p) per element
    assert set(np.unique(np.round(mask, 12))) == {0.0, round(1 / (1 - p), 12)}
    upstream = rng.standard_normal(x.shape)
    out.backward(cr.tensor(upstream))
    np.testing.assert_allclose(to_numpy(x.grad), upstream * mask, rtol=1e-14)


def test_reproducible_from_manual_seed() -> None:
    x = cr.randn(30, 20)
    cr.manual_seed(123)
    first = to_numpy(F.dropout(x, 0.4))
    second = to_numpy(F.dropout(x, 0.4))
    cr.manual_seed(123)
    again = to_numpy(F.dropout(x, 0.4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first != 0, second != 0)
    cr.manual_seed(123)
    layer = cr.nn.Dropout(0.4)
    np.testing.assert_array_equal(to_numpy(layer(x)), first)


def test_eval_mode_and_training_false_are_the_identity() -> None:
    x = cr.randn(6, 5, requires_grad=True)
    layer = cr.nn.Dropout(0.9)
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, 0.9, training=False) is x
    layer.train()
    assert (to_numpy(layer(x)) == 0).mean() > 0.5


def test_p_zero_and_p_one() -> None:
    x = cr.randn(8, 3, requires_grad=True)
    np.testing.assert_array_equal(to_numpy(F.dropout(x, 0.0)), to_numpy(x))
    out = F.dropout(x, 1.0)
    np.testing.assert_array_equal(to_numpy(out), np.zeros((8, 3), dtype=np.float32))
    out.sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), np.zeros((8, 3), dtype=np.float32))
    # Same edge behaviour as torch.
    assert torch.nn.functional.dropout(torch.ones(4), 1.0).sum().item() == 0


def test_the_operation_is_a_pure_function_of_input_and_mask() -> None:
    rng = np.random.default_rng(3)
    mask = (rng.random((4, 5)) > 0.5) * 2.0
    x = cr.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    first, second = Dropout.apply(x, mask), Dropout.apply(x, mask)
    np.testing.assert_array_equal(to_numpy(first), to_numpy(second))
    np.testing.assert_array_equal(to_numpy(first), to_numpy(x) * mask)
    assert cr.gradcheck(lambda t: Dropout.apply(t, mask), [x])
    drawn = draw_mask((1000,), 0.25, cr.float64)
    assert drawn.dtype == np.float64
    assert set(np.unique(drawn)) == {0.0, 1 / 0.75}


def test_bad_probabilities_and_repr() -> None:
    for bad in (-0.1, 1.5, "half", None):
        with pytest.raises(ValueError, match="probability"):
            F.dropout(cr.ones(3), bad)
        with pytest.raises(ValueError, match="Dropout"):
            cr.nn.Dropout(bad)
    assert repr(cr.nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    assert list(cr.nn.Dropout().state_dict()) == []
