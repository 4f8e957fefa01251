"""Tutorial 7 (docs/tutorials/code/t07_learning_rate.py) runs, and prints what its pages quote.

The script runs once per module (10 to 20 s). Its claims are checked against its own output
(the ranking of the schedules, the range test's check, the growth factor on the quadratic),
and λ_max of the spiral MLP at its initial weights is recomputed with PyTorch, by power
iteration on PyTorch's Hessian-vector products in float64 from the same weights and data.
"""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.data import spirals

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "tutorials" / "code" / "t07_learning_rate.py"
PICTURES = (
    "t07_learning_rate_schedules.png",
    "t07_learning_rate_range_test.png",
    "t07_learning_rate_range_curvature.png",
    "t07_learning_rate_curvature.png",
)
NUMBER = r"([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("t07")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, out


def numbers_after(text: str, label: str, count: int = 1) -> list[float]:
    match = re.search(re.escape(label) + r"\s*" + r"\s+".join([NUMBER] * count), text)
    assert match, f"{label!r} not printed"
    return [float(v) for v in match.groups()]


def schedule_table(stdout: str) -> dict[str, list[float]]:
    """schedule -> [last lr, final loss, test accuracy, mean final loss over three seeds]."""
    block = stdout.split("mean of seeds 0-2")[1].split("2. The range test")[0]
    rows = [line.split() for line in block.strip().splitlines()]
    return {row[0]: [float(v) for v in row[1:]] for row in rows}


def test_pictures_are_written(run: tuple[str, Path]) -> None:
    _, out = run
    for name in PICTURES:
        assert (out / name).stat().st_size > 10_000, name


def test_schedules_rank_as_the_page_says(run: tuple[str, Path]) -> None:
    table = schedule_table(run[0])
    assert set(table) == {"constant", "StepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR"}
    # The last rate each schedule used, from its formula: step 499 of 500.
    assert table["constant"][0] == pytest.approx(0.1, rel=1e-2)
    assert table["StepLR"][0] == pytest.approx(0.1 * 0.2**2, rel=1e-2)
    assert table["ExponentialLR"][0] == pytest.approx(0.1 * 0.01 ** (499 / 500), rel=1e-2)
    assert table["CosineAnnealingLR"][0] < 1e-5
    means = {name: row[3] for name, row in table.items()}
    assert min(means, key=means.get) == "OneCycleLR"
    assert max(means, key=means.get) == "ExponentialLR"
    assert means["constant"] > max(means["StepLR"], means["CosineAnnealingLR"])
    assert all(row[2] > 0.9 for row in table.values())  # every schedule learns the spirals


def test_range_test_suggestion_trains_best_of_three(run: tuple[str, Path]) -> None:
    stdout = run[0]
    (suggestion,) = numbers_after(stdout, "Range-test suggestion:")
    assert 1e-3 < suggestion < 1.0
    losses = {}
    for factor in ("0.1", "1", "10"):
        match = re.search(rf"lr =\s+{factor} × suggestion = \S+: loss on all 800 after 20 epochs "
                          + NUMBER, stdout)  # fmt: skip
        assert match, factor
        losses[factor] = float(match.group(1))
    assert losses["1"] < losses["0.1"] and losses["1"] < losses["10"]
    assert losses["10"] > 0.5  # barely learns, as the page says


def test_quadratic_follows_the_theory(run: tuple[str, Path]) -> None:
    stdout = run[0]
    (measured,) = numbers_after(stdout, "λ_max by power iteration")
    (exact,) = numbers_after(stdout, "by eigvalsh of 2/N·[X 1]ᵀ[X 1]")
    assert measured == pytest.approx(exact, rel=1e-4)
    for factor, converges in (("0.5", True), ("0.9", True), ("1.1", False)):
        match = re.search(
            rf"η = {factor} × 2/λ_max: MSE after 0, 10, 40 steps {NUMBER} {NUMBER} {NUMBER}; "
            rf"per step in the last 10: ×{NUMBER}",
            stdout,
        )
        assert match, factor
        start, _, end, rate = (float(v) for v in match.groups())
        assert (end < start) == converges
        if not converges:  # the sharpest direction: (1 − ηλ)² = (1 − 2.2)² per step
            assert rate == pytest.approx(1.44, abs=2e-3)


def test_network_curvature_and_its_runs(run: tuple[str, Path]) -> None:
    stdout = run[0]
    (start,) = numbers_after(stdout, "Curvature: λ_max =")
    (edge,) = numbers_after(stdout, "so 2/λ_max =")
    assert edge == pytest.approx(2 / start, rel=1e-2)
    runs = {}
    for factor in ("0.5", "1.5", "3"):
        match = re.search(
            rf"η = {factor} × 2/λ_max = \S+: loss after 0, 1, 2, 3 steps "
            rf"{NUMBER} {NUMBER} {NUMBER} {NUMBER}, after 150 steps {NUMBER}; "
            rf"there λ_max = {NUMBER}, 2/η = {NUMBER}",
            stdout,
        )
        assert match, factor
        runs[factor] = [float(v) for v in match.groups()]
    # 0.5×: falls from the first step, and sharpens past its edge 2/η while it learns.
    low = runs["0.5"]
    assert low[0] > low[1] > low[2] > low[3] and low[4] < 0.3
    assert low[5] > start and low[5] > 0.9 * low[6]
    # 1.5× and 3×: the loss jumps within three steps; 3× ends at a uniform guess, ln 3.
    assert runs["1.5"][3] > runs["1.5"][0]
    assert runs["3"][2] > 2 * runs["3"][0]
    assert runs["3"][4] == pytest.approx(math.log(3), abs=0.01)


def test_lambda_max_agrees_with_pytorch(run: tuple[str, Path]) -> None:
    """λ_max of the spiral MLP at seed 0's weights, by power iteration in PyTorch (float64)."""
    (printed,) = numbers_after(run[0], "Curvature: λ_max =")
    train, _ = spirals(n=1000, classes=3, noise=0.3)
    cr.manual_seed(0)
    ours = nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3)
    )
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 3),
    ).double()  # fmt: skip
    model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = torch.tensor(train.tensors[0].numpy(), dtype=torch.float64)
    y = torch.tensor(train.tensors[1].numpy())
    params = list(model.parameters())
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    generator = torch.Generator().manual_seed(1)
    v = [torch.randn(p.shape, generator=generator, dtype=torch.float64) for p in params]
    estimate = 0.0
    for _ in range(200):
        norm = torch.sqrt(sum((u * u).sum() for u in v))
        v = [u / norm for u in v]
        hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
        estimate = float(sum((a * b).sum() for a, b in zip(hv, v)))
        v = [h.detach() for h in hv]
    assert estimate > 0
    assert printed == pytest.approx(estimate, rel=1e-2)
    assert np.isfinite(printed)
