"""Full Hessians of a loss with respect to all of a small model's parameters, against PyTorch.

chainrule's Hessian is built the plain way: the gradient g = ∂C/∂θ with ``create_graph=True``,
then one ``autograd.grad`` per element gᵢ gives row i, ∂gᵢ/∂θ. PyTorch's reference is
``torch.autograd.functional.hessian`` of the same loss as a function of the flattened
parameters, from identical float64 weights and data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def _mlp(m: Any) -> Any:
    nn = m.nn
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2))


def _mlp_loss(m: Any, model: Any, data: dict) -> Any:
    return m.nn.functional.mse_loss(model(m.tensor(data["x"])), m.tensor(data["y"]))


def _cnn(m: Any) -> Any:
    """conv (1 → 2 channels, 3×3, padding 1) → ReLU → 2×2 max pool → linear (18 → 3)."""
    nn = m.nn
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 3)
    )


def _cnn_loss(m: Any, model: Any, data: dict) -> Any:
    logits = model(m.tensor(data["x"]))
    return m.nn.functional.cross_entropy(logits, m.tensor(data["labels"]))


def _lstm(m: Any) -> Any:
    """An LSTM (2 → 2) over the sequence, and a linear head (2 → 1) on its last output."""

    class Model(m.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = m.nn.LSTM(2, 2, batch_first=True)
            self.head = m.nn.Linear(2, 1)

        def forward(self, x: Any) -> Any:
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return Model()


def _lstm_loss(m: Any, model: Any, data: dict) -> Any:
    return m.nn.functional.mse_loss(model(m.tensor(data["x"])), m.tensor(data["y"]))


def _data(name: str, rng: np.random.Generator) -> dict:
    if name == "mlp":
        return {"x": rng.standard_normal((5, 3)), "y": rng.standard_normal((5, 2))}
    if name == "cnn":
        return {"x": rng.standard_normal((3, 1, 6, 6)), "labels": np.array([0, 2, 1])}
    return {"x": rng.standard_normal((3, 4, 2)), "y": rng.standard_normal((3, 1))}


MODELS = {
    "mlp": (_mlp, _mlp_loss),
    "cnn": (_cnn, _cnn_loss),
    "lstm": (_lstm, _lstm_loss),
}


def _parameter_values(build: Callable[[Any], Any], rng: np.random.Generator) -> list:
    """Random float64 values for every parameter, scaled so that no unit saturates."""
    return [rng.standard_normal(tuple(p.shape)) * 0.6 for p in build(torch).parameters()]


def chainrule_hessian(build: Callable, loss_fn: Callable, values: list, data: dict) -> np.ndarray:
    """The (P, P) Hessian of the loss in the P flattened parameters: a gradient that records
    a graph, then one backward pass per gradient element."""
    model = build(cr).double()
    params = list(model.parameters())
    with cr.no_grad():
        for p, value in zip(params, values):
            p.copy_(cr.tensor(value))
    loss = loss_fn(cr, model, data)
    grads = cr.autograd.grad(loss, params, create_graph=True)
    g = cr.cat([grad.reshape(-1) for grad in grads])
    rows = []
    for i in range(g.shape[0]):
        unit = np.zeros(g.shape[0])
        unit[i] = 1.0
        row = cr.autograd.grad(g, params, cr.tensor(unit), retain_graph=True, allow_unused=True)
        rows.append(
            np.concatenate(
                [
                    np.zeros(p.numel()) if r is None else r.numpy().reshape(-1)
                    for r, p in zip(row, params)
                ]
            )
        )
    return np.stack(rows)


def torch_hessian(build: Callable, loss_fn: Callable, values: list, data: dict) -> np.ndarray:
    """``torch.autograd.functional.hessian`` of the loss as a function of the flattened
    parameters."""
    model = build(torch).double()
    names = [name for name, _ in model.named_parameters()]
    shapes = [np.shape(v) for v in values]
    sizes = [int(np.prod(s)) for s in shapes]

    def loss_of(theta: torch.Tensor) -> torch.Tensor:
        pieces = torch.split(theta, sizes)
        params = {n: piece.reshape(s) for n, piece, s in zip(names, pieces, shapes)}
        return loss_fn(torch, _Called(model, params), data)

    theta = torch.tensor(np.concatenate([v.reshape(-1) for v in values]))
    return torch.autograd.functional.hessian(loss_of, theta).numpy()


class _Called:
    """A model called with other parameters (``torch.func.functional_call``)."""

    def __init__(self, model: Any, params: dict) -> None:
        self.model, self.params = model, params

    def __call__(self, x: Any) -> Any:
        return torch.func.functional_call(self.model, self.params, (x,))


@pytest.mark.parametrize("name", list(MODELS))
def test_hessian_matches_torch(name: str) -> None:
    build, loss_fn = MODELS[name]
    rng = np.random.default_rng(len(name))
    values = _parameter_values(build, rng)
    data = _data(name, rng)
    ours = chainrule_hessian(build, loss_fn, values, data)
    theirs = torch_hessian(build, loss_fn, values, data)
    assert ours.shape == theirs.shape == (sum(v.size for v in values),) * 2
    assert np.abs(theirs).max() > 1e-3  # a Hessian with something in it
    np.testing.assert_allclose(ours, ours.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-11)
