"""The examples of issue 15, run briefly: the learning rate against curvature on the XOR net, and
the physics-informed network that learns sin x from u'' + u = 0."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

import chainrule as cr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_picture(path: Path, err: str) -> None:
    """The PNG is written where matplotlib is installed; elsewhere the example says why not."""
    if HAS_MATPLOTLIB:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "no picture" in err and "matplotlib" in err


def test_curvature_example_rises_above_two_over_lambda_max_and_falls_below(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    example = load("curvature_learning_rate")
    out = tmp_path / "curvature.png"
    result = example.main(["--steps", "30", "--every", "10", "--out", str(out)])
    printed = capsys.readouterr()
    start, runs = result["start"], result["runs"]
    assert start.converged and start.max_stable_lr == pytest.approx(2 / start.lambda_max)
    for factor, run in runs.items():
        assert run["lr"] == pytest.approx(factor * start.max_stable_lr)
        losses = run["losses"]
        assert len(losses) == 31 and [s for s, _ in run["sharpness"]] == [0, 10, 20]
        assert run["sharpness"][0][1] == pytest.approx(start.lambda_max, rel=1e-2)
        if factor < 1:  # the first step goes downhill, and nothing is past the edge at the start
            assert losses[1] < losses[0]
            assert run["past_edge"] != 0
        else:  # the first step overshoots, and the monitor saw it at once
            assert losses[1] > losses[0]
            assert run["past_edge"] == 0
    assert f"2/λ_max = {start.max_stable_lr:.4g}" in printed.out
    assert "edge of stability" in printed.out
    check_picture(out, printed.err)


def test_physics_informed_derivatives_are_those_of_pytorch() -> None:
    example = load("physics_informed_ode")
    model = example.network(hidden=8)
    points = np.linspace(0, 2 * math.pi, 7)[:, None]
    u, du, d2u = example.derivatives(model, cr.tensor(points, requires_grad=True))
    weights = [torch.tensor(p.detach().numpy()) for p in model.parameters()]
    w1, b1, w2, b2, w3, b3 = weights
    x = torch.tensor(points, requires_grad=True)
    u_t = torch.tanh(torch.tanh(x @ w1.T + b1) @ w2.T + b2) @ w3.T + b3
    (du_t,) = torch.autograd.grad(u_t.sum(), x, create_graph=True)
    (d2u_t,) = torch.autograd.grad(du_t.sum(), x)
    for ours, theirs in ((u, u_t), (du, du_t), (d2u, d2u_t)):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10)
    # The weight gradient of the residual loss goes through d²u/dx²: a third derivative.
    origin = cr.zeros(1, 1, dtype=cr.float64, requires_grad=True)
    example.residual_loss(model, cr.tensor(points, requires_grad=True), origin).backward()
    x0 = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    params = [w.requires_grad_() for w in weights]

    def torch_u(inputs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(torch.tanh(inputs @ w1.T + b1) @ w2.T + b2) @ w3.T + b3

    def torch_derivatives(inputs: torch.Tensor) -> tuple:
        value = torch_u(inputs)
        (first,) = torch.autograd.grad(value.sum(), inputs, create_graph=True)
        (second,) = torch.autograd.grad(first.sum(), inputs, create_graph=True)
        return value, first, second

    u_t, _, d2u_t = torch_derivatives(torch.tensor(points, requires_grad=True))
    u0, du0, _ = torch_derivatives(x0)
    loss = ((d2u_t + u_t) ** 2).mean() + (u0**2).sum() + ((du0 - 1) ** 2).sum()
    loss.backward()
    for ours, theirs in zip(model.parameters(), params, strict=True):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_physics_informed_example_learns_sin_from_the_equation(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    example = load("physics_informed_ode")
    out = tmp_path / "pinn.png"
    result = example.main(["--steps", "300", "--lbfgs", "3", "--out", str(out)])
    printed = capsys.readouterr()
    error, loss = result["history"]["error"], result["history"]["loss"]
    assert error[0] > 0.5  # the untrained network is far from sin x
    assert error[-1] < 0.05 and error[-1] < error[0] / 20
    assert loss[-1] < loss[0] / 100
    assert "max |u - sin x| on [0, 2π]" in printed.out
    check_picture(out, printed.err)
