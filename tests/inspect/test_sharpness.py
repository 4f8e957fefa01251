"""inspect.sharpness: λ_max of the loss Hessian by power iteration, checked against exact
Hessians (closed form, and PyTorch's torch.autograd.functional.hessian in float64), and the
claim it supports: gradient descent on a quadratic diverges once η > 2/λ_max."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.inspect import SharpnessResult, sharpness
from chainrule.inspect.curvature import stable_lr

# ---- a quadratic loss ½ wᵀAw, whose Hessian is A ------------------------------------------------


class Point(nn.Module):
    """A model that is its own parameter w; its input is ignored."""

    def __init__(self, start: np.ndarray) -> None:
        super().__init__()
        self.w = nn.Parameter(cr.tensor(start))

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.w


def quadratic(eigenvalues: list[float], seed: int = 0) -> tuple[np.ndarray, object]:
    """A = Q diag(eigenvalues) Qᵀ with a random rotation Q, and the loss ½ wᵀAw."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    a = q @ np.diag(eigenvalues) @ q.T
    a_tensor = cr.tensor(a)

    def loss(w: cr.Tensor, _target: object) -> cr.Tensor:
        return 0.5 * (w * (a_tensor @ w)).sum()

    return a, loss


NO_DATA = (cr.zeros(1), cr.zeros(1))


@pytest.mark.parametrize(
    "eigenvalues",
    [[4.0, 1.0, 0.5, -0.2], [2.0, -0.5, 0.0], [0.3, -6.0, 1.5, 0.1], [-1.0, -4.0]],
    ids=["positive dominant", "mixed", "negative dominant", "all negative"],
)
def test_lambda_max_of_a_quadratic_is_its_largest_eigenvalue(eigenvalues: list[float]) -> None:
    a, loss = quadratic(eigenvalues)
    model = Point(np.ones(len(eigenvalues)))
    result = sharpness(model, NO_DATA, loss, iterations=500, tol=1e-12)
    assert result.converged
    assert result.lambda_max == pytest.approx(max(eigenvalues), abs=1e-6)
    dominant = max(eigenvalues, key=abs)
    assert result.dominant == pytest.approx(dominant, abs=1e-6)
    expected_lr = 2 / max(eigenvalues) if max(eigenvalues) > 0 else math.inf
    assert result.max_stable_lr == pytest.approx(expected_lr)
    assert result.parameters == len(eigenvalues)
    np.testing.assert_allclose(np.linalg.eigvalsh(a).max(), max(eigenvalues), atol=1e-12)


def test_a_tight_budget_is_reported_as_not_converged() -> None:
    _, loss = quadratic([1.0, 0.99, 0.98, 0.5])
    result = sharpness(Point(np.ones(4)), NO_DATA, loss, iterations=2, tol=1e-12)
    assert not result.converged and result.iterations == 2
    assert "NOT converged" in str(result)


def test_a_loss_without_curvature_has_no_learning_rate_limit() -> None:
    def linear_loss(w: cr.Tensor, _target: object) -> cr.Tensor:
        return (w * cr.tensor([1.0, -2.0])).sum()

    result = sharpness(Point(np.ones(2)), NO_DATA, linear_loss)
    assert result.lambda_max == 0 and result.max_stable_lr == math.inf
    assert "No direction curves upwards" in str(result)


# ---- gradient descent on a quadratic diverges once η > 2/λ_max -----------------------------------


@pytest.mark.parametrize("factor, diverges", [(0.9, False), (1.1, True)])
def test_sgd_on_a_quadratic_diverges_exactly_past_two_over_lambda_max(
    factor: float, diverges: bool
) -> None:
    _, loss = quadratic([5.0, 2.0, 0.7, 0.1], seed=3)
    model = Point(np.ones(4))
    measured = sharpness(model, NO_DATA, loss, iterations=200, tol=1e-10)
    optimizer = optim.SGD(model.parameters(), lr=factor * measured.max_stable_lr)
    losses = []
    for _ in range(300):
        optimizer.zero_grad()
        value = loss(model(None), None)
        value.backward()
        optimizer.step()
        losses.append(value.item())
    if diverges:
        assert losses[-1] > 1e6 * losses[0]
    else:
        assert losses[-1] < 1e-3 * losses[0]


@pytest.mark.parametrize(
    "options",
    [{"momentum": 0.9}, {"momentum": 0.5, "dampening": 0.3}, {"momentum": 0.8, "nesterov": True}],
    ids=["heavy ball", "dampened", "nesterov"],
)
@pytest.mark.parametrize("factor, diverges", [(0.95, False), (1.05, True)])
def test_the_stable_lr_of_sgd_with_momentum_is_where_it_starts_to_diverge(
    options: dict, factor: float, diverges: bool
) -> None:
    _, loss = quadratic([3.0, 1.0, 0.5], seed=1)
    model = Point(np.ones(3))
    lambda_max = sharpness(model, NO_DATA, loss, iterations=200, tol=1e-10).lambda_max
    probe = optim.SGD(model.parameters(), lr=1.0, **options)
    lr = factor * stable_lr(probe, lambda_max)
    optimizer = optim.SGD(model.parameters(), lr=lr, **options)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run may overflow
        for _ in range(2000):
            optimizer.zero_grad()
            value = loss(model(None), None)
            value.backward()
            optimizer.step()
        final = loss(model(None), None).item()
    if diverges:  # overflowing to inf or nan counts
        assert not final < 1e3
    else:
        assert final < 1e-3


def test_weight_decay_adds_to_the_curvature_and_adam_has_no_such_bound() -> None:
    model = Point(np.ones(2))
    plain = optim.SGD(model.parameters(), lr=1.0, weight_decay=0.5)
    assert stable_lr(plain, 1.5) == pytest.approx(2 / 2.0)
    assert stable_lr(optim.Adam(model.parameters()), 1.5) is None
    assert stable_lr(optim.SGD(model.parameters(), lr=1.0), -1.0) == math.inf


# ---- a small MLP against PyTorch's exact Hessian -------------------------------------------------


def mlp() -> nn.Sequential:
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()).double()


def torch_lambda_max(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> float:
    """The largest eigenvalue of the loss Hessian, from the full Hessian built by PyTorch."""
    weights = [torch.tensor(p.detach().numpy()) for p in model.parameters()]
    shapes = [w.shape for w in weights]
    xt, yt = torch.tensor(x), torch.tensor(y)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        pieces, start = [], 0
        for shape in shapes:
            size = math.prod(shape)
            pieces.append(flat[start : start + size].reshape(shape))
            start += size
        w1, b1, w2, b2 = pieces
        out = torch.sigmoid(torch.tanh(xt @ w1.T + b1) @ w2.T + b2)
        return torch.nn.functional.mse_loss(out, yt)

    flat = torch.cat([w.reshape(-1) for w in weights])
    hessian = torch.autograd.functional.hessian(loss, flat)
    return float(torch.linalg.eigvalsh(hessian).max())


def data(samples: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.standard_normal((samples, 3)), rng.random((samples, 2))


def test_lambda_max_of_an_mlp_matches_the_eigenvalues_of_pytorchs_hessian() -> None:
    model = mlp()
    x, y = data()
    exact = torch_lambda_max(model, x, y)
    result = sharpness(model, (cr.tensor(x), cr.tensor(y)), nn.MSELoss(), iterations=300, tol=1e-10)
    assert result.converged
    assert result.lambda_max == pytest.approx(exact, rel=1e-6)
    assert result.parameters == 3 * 4 + 4 + 4 * 2 + 2
    # The default budget is a quick estimate, already close.
    quick = sharpness(model, (cr.tensor(x), cr.tensor(y)), nn.MSELoss())
    assert quick.lambda_max == pytest.approx(exact, rel=1e-2)
    assert f"{quick.lambda_max:.4g}" in str(quick) and "2/λ_max" in str(quick)


def test_batches_of_a_dataloader_average_to_the_hessian_of_the_whole_set() -> None:
    model = mlp()
    x, y = data(12)
    exact = torch_lambda_max(model, x, y)
    loader = DataLoader(TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=4, shuffle=True)
    result = sharpness(model, loader, nn.MSELoss(), iterations=300, tol=1e-10)
    assert result.lambda_max == pytest.approx(exact, rel=1e-6)
    # A list of (x, y) batches of unequal sizes is weighted by size.
    batches = [(cr.tensor(x[:8]), cr.tensor(y[:8])), (cr.tensor(x[8:]), cr.tensor(y[8:]))]
    uneven = sharpness(model, batches, nn.MSELoss(), iterations=300, tol=1e-10)
    assert uneven.lambda_max == pytest.approx(exact, rel=1e-6)


def test_measuring_leaves_weights_grads_buffers_and_random_state_alone() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Dropout(0.3))
    model = nn.Sequential(*model, nn.Linear(4, 2)).double()
    x, y = (cr.tensor(a) for a in data())
    nn.MSELoss()(model(x), y).backward()
    weights = [p.detach().numpy().copy() for p in model.parameters()]
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    buffers = {name: b.numpy().copy() for name, b in model.named_buffers()}
    cr.manual_seed(5)
    expected_draw = cr.rand(3).numpy()
    cr.manual_seed(5)
    result = sharpness(model, (x, y), nn.MSELoss())
    assert math.isfinite(result.lambda_max)
    np.testing.assert_array_equal(cr.rand(3).numpy(), expected_draw)
    for before, p in zip(weights, model.parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), before)
    for before, p in zip(grads, model.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), before)
    for name, b in model.named_buffers():
        np.testing.assert_array_equal(b.numpy(), buffers[name])


def test_frozen_parameters_are_left_out() -> None:
    model = mlp()
    for p in model[0].parameters():
        p.requires_grad_(False)
    x, y = data()
    result = sharpness(model, (cr.tensor(x), cr.tensor(y)), nn.MSELoss())
    assert result.parameters == 4 * 2 + 2


def test_bad_arguments_are_named() -> None:
    model = mlp()
    x, y = (cr.tensor(a) for a in data())
    with pytest.raises(ValueError, match="sharpness: data must be a batch"):
        sharpness(model, 3.0, nn.MSELoss())
    with pytest.raises(ValueError, match="sharpness: loss_fn must return a scalar"):
        sharpness(model, (x, y), nn.MSELoss(reduction="none"))
    with pytest.raises(ValueError, match="iterations must be a positive int"):
        sharpness(model, (x, y), nn.MSELoss(), iterations=0)
    with pytest.raises(TypeError, match="model must be a Module"):
        sharpness(lambda t: t, (x, y), nn.MSELoss())
    assert isinstance(sharpness(model, (x, y), nn.MSELoss()), SharpnessResult)
