"""Dropout with ``inplace=True``: the input itself is overwritten and returned, in the graph,
with PyTorch's refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

LAYERS = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]
# 64 samples × channels: all kept or all dropped has a chance of 2⁻⁶³, so both values appear.
SHAPES = {"Dropout1d": (4, 16, 3), "Dropout3d": (4, 16, 2, 2, 2)}


@pytest.mark.parametrize("name", LAYERS)
def test_the_input_is_overwritten_and_returned_as_torch(name: str) -> None:
    shape = SHAPES.get(name, (4, 16, 2, 2))
    for m in (torch, cr):
        x = m.ones(*shape)
        y = getattr(m.nn, name)(0.5, inplace=True)(x)
        assert y is x
        values = np.unique(x.numpy())
        assert len(values) == 2, values  # dropped and kept values, written into x itself


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_is_in_place_as_a_function_but_not_as_a_layer_as_torch(name: str) -> None:
    layer = {"alpha_dropout": "AlphaDropout", "feature_alpha_dropout": "FeatureAlphaDropout"}
    for m in (torch, cr):
        x = m.ones(4, 16, 2, 2)
        assert getattr(m.nn.functional, name)(x, 0.5, True, inplace=True) is x
        assert len(np.unique(x.numpy())) == 2
        # PyTorch's layers do not pass their inplace flag on: the input stays as it was.
        x = m.ones(4, 16, 2, 2)
        assert getattr(m.nn, layer[name])(0.5, inplace=True)(x) is not x
        assert np.unique(x.numpy()).tolist() == [1.0]


def test_the_gradient_flows_through_the_written_tensor() -> None:
    cr.manual_seed(3)
    w = cr.ones(50, requires_grad=True)
    h = w * 2.0
    out = cr.nn.functional.dropout(h, 0.4, True, inplace=True)
    assert out is h
    out.sum().backward()
    kept = h.detach().numpy() != 0
    np.testing.assert_allclose(w.grad.numpy(), np.where(kept, 2.0 / 0.6, 0.0), rtol=1e-6)


def test_a_leaf_that_requires_grad_is_refused_as_torch() -> None:
    for m in (torch, cr):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            m.nn.functional.dropout(m.ones(3, requires_grad=True), 0.5, True, inplace=True)


def test_eval_mode_returns_the_input_untouched() -> None:
    x = cr.ones(4)
    assert cr.nn.Dropout(0.5, inplace=True).eval()(x) is x
    assert x.tolist() == [1.0] * 4
