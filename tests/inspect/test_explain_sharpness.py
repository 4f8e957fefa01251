"""``chainrule explain`` prints the curvature λ_max of the XOR net's loss and 2/λ_max, checked
against the largest eigenvalue of PyTorch's exact Hessian at the same weights."""

from __future__ import annotations

import math
import re

import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.cli import main
from chainrule.inspect import curvature

XOR_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
XOR_Y = [[0.0], [1.0], [1.0], [0.0]]


def exact_lambda_max(seed: int, hidden: int) -> float:
    """λ_max of the MSE Hessian of the seeded 2-hidden-1 sigmoid net, from PyTorch (float64)."""
    cr.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, hidden), nn.Sigmoid(), nn.Linear(hidden, 1), nn.Sigmoid())
    weights = [torch.tensor(p.detach().numpy(), dtype=torch.float64) for p in net.parameters()]
    shapes = [w.shape for w in weights]
    x, y = torch.tensor(XOR_X, dtype=torch.float64), torch.tensor(XOR_Y, dtype=torch.float64)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        pieces, start = [], 0
        for shape in shapes:
            pieces.append(flat[start : start + math.prod(shape)].reshape(shape))
            start += math.prod(shape)
        w1, b1, w2, b2 = pieces
        out = torch.sigmoid(torch.sigmoid(x @ w1.T + b1) @ w2.T + b2)
        return torch.nn.functional.mse_loss(out, y)

    flat = torch.cat([w.reshape(-1) for w in weights])
    return float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss, flat)).max())


@pytest.mark.parametrize("seed, hidden", [(0, 2), (1, 3)])
def test_explain_prints_lambda_max_and_the_largest_stable_learning_rate(
    seed: int, hidden: int, capsys: pytest.CaptureFixture
) -> None:
    code = main(["explain", "--seed", str(seed), "--hidden", str(hidden)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Curvature of the loss at these weights" in out
    lambda_max = float(re.search(r"λ_max = ([-0-9.e+]+): the largest eigenvalue", out).group(1))
    stable = float(re.search(r"stable for η < 2/λ_max = ([0-9.e+]+):", out).group(1))
    exact = exact_lambda_max(seed, hidden)
    assert lambda_max == pytest.approx(exact, rel=2e-3)
    assert stable == pytest.approx(2 / exact, rel=2e-3)
    parameters = 2 * hidden + hidden + hidden + 1
    assert f"over {parameters} parameters" in out
    # The curvature comes before the closing line, which the other explain tests rely on.
    assert out.index("Curvature") < out.index("checked equations match autodiff")
    assert out.rstrip().endswith("checked equations match autodiff")


def test_a_model_without_second_derivatives_is_still_explained(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("create_graph: SomeOp does not support differentiating its derivative")

    monkeypatch.setattr(curvature, "sharpness", refuse)
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert "not available for this model: create_graph: SomeOp does not support" in out
    assert out.rstrip().endswith("all 6 checked equations match autodiff")
