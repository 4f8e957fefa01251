"""``model = chainrule.compile(model)``, PyTorch's habit, keeps a model that trains."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim


def test_compiling_a_module_returns_it_and_training_goes_on() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    compiled = cr.compile(model)
    assert compiled is model
    optimizer = optim.SGD(compiled.parameters(), lr=0.1)
    x, y = cr.randn(32, 3), cr.randn(32, 1)
    losses = []
    for _ in range(6):  # past the calls where a replayed forward would have lost its graph
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(compiled(x), y)
        assert loss.requires_grad
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert np.isfinite(losses).all()


def test_the_decorator_form_with_options_still_compiles_a_step() -> None:
    model = nn.Linear(2, 1)

    @cr.compile(cache_size=2)
    def predict(x: cr.Tensor) -> cr.Tensor:
        return model(x)

    assert predict.cache_size == 2
    assert predict(cr.ones(4, 2)).shape == (4, 1)
