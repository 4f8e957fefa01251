"""Tutorial 5 (docs/tutorials/code/t05_vanishing_exploding.py) runs and prints what its pages
quote.

The script runs once per module (about 15 s). Its claims are checked against its own table
(the sigmoid networks vanish and learn nothing, the fixed ones do not and learn the spirals;
without clipping the gradient explodes to NaN, with it training succeeds) and against PyTorch,
which recomputes ‖∂C/∂W‖ of every layer of the deep sigmoid network from the same weights.
"""

import importlib.util
import itertools
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "tutorials" / "code" / "t05_vanishing_exploding.py"
PICTURES = ("monitor", "layers", "clipping")
ROW = re.compile(
    r"^  (?P<name>[\w ,+]+?)\s+(?P<ratio>[0-9.e+-]+)\s+(?P<loss>[0-9.e+-]+)\s+"
    r"(?P<acc>[0-9.]+)\s+(?P<warnings>[a-z, ]+)$",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("t05")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, out


def table(text: str) -> dict[str, dict]:
    section = text.split("for each network")[1].split("ReLU MLP started")[0]
    rows = {}
    for match in ROW.finditer(section):
        rows[match["name"]] = {
            "ratio": float(match["ratio"]),
            "loss": float(match["loss"]),
            "acc": float(match["acc"]),
            "warnings": match["warnings"].split(", "),
        }
    return rows


def test_pictures_written(run: tuple[str, Path]) -> None:
    _, out = run
    for name in PICTURES:
        path = out / f"t05_vanishing_exploding_{name}.png"
        assert path.exists() and path.stat().st_size > 10_000, path


def test_sigmoid_network_vanishes(run: tuple[str, Path]) -> None:
    text, _ = run
    norms_line = text.splitlines()[2].split()
    norms = [float(value) for value in norms_line]
    assert len(norms) == 11
    # The norm grows from every layer to the next one towards the output, by about 7 (the page
    # derives 0.25 · 0.58 ≈ 1/7 per layer).
    assert all(a < b for a, b in itertools.pairwise(norms))
    per_layer = (norms[-1] / norms[0]) ** (1 / 10)
    assert 5 < per_layer < 10
    assert "GradientWarning: vanishing gradients" in text.split("for each network")[0]
    assert "loss 0.693" in text  # ln 2: the network answers 50 % for every point


def test_fixes_table(run: tuple[str, Path]) -> None:
    rows = table(run[0])
    assert set(rows) == {
        "sigmoid, default init",
        "sigmoid, Xavier init",
        "sigmoid + BatchNorm1d",
        "tanh, Xavier init",
        "ReLU, He init",
    }
    for name in ("sigmoid, default init", "sigmoid, Xavier init"):
        row = rows[name]
        assert row["ratio"] < 1e-6 and "vanishing" in row["warnings"]
        assert abs(row["loss"] - math.log(2)) < 0.01 and row["acc"] < 0.7
    # Xavier helps the sigmoid a little, not enough.
    assert rows["sigmoid, Xavier init"]["ratio"] > rows["sigmoid, default init"]["ratio"]
    for name in ("sigmoid + BatchNorm1d", "tanh, Xavier init", "ReLU, He init"):
        row = rows[name]
        assert row["ratio"] > 1e-2 and row["warnings"] == ["none"]
        assert row["loss"] < 0.05 and row["acc"] > 0.9


def test_clipping_stops_the_explosion(run: tuple[str, Path]) -> None:
    text = run[0].split("ReLU MLP started")[1]
    unclipped, clipped = text.split("clip_grad_norm_(max_norm=1.0):")
    totals = unclipped.split("steps 0-3:")[1].splitlines()[0].split()
    assert float(totals[0]) > 100 and float(totals[2]) > 1e3 * float(totals[0])
    assert "nan" in totals
    assert "exploding gradients" in unclipped
    assert int(re.search(r"steps run: (\d+)", unclipped)[1]) < 300
    assert int(re.search(r"steps run: (\d+)", clipped)[1]) == 300
    assert float(re.search(r"test accuracy ([0-9.]+)", clipped)[1]) > 0.9
    assert float(re.search(r"last loss ([0-9.e+-]+)", clipped)[1]) < 1e-2


def load_tutorial() -> object:
    spec = importlib.util.spec_from_file_location("t05_tutorial", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_monitor_norms_match_pytorch(run: tuple[str, Path]) -> None:
    """The per-layer norms the page quotes are the true gradients: PyTorch, in float64, from the
    same initial weights, finds the same ‖∂C/∂W‖ for all eleven layers."""
    import torch

    printed = [float(value) for value in run[0].splitlines()[2].split()]
    tutorial = load_tutorial()
    cr.manual_seed(0)
    model = tutorial.make_mlp(nn.Sigmoid)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    x = torch.tensor(tutorial.x.numpy(), dtype=torch.float64)
    y = torch.tensor(tutorial.y.numpy())
    weights = [torch.tensor(m.weight.detach().numpy(), dtype=torch.float64) for m in linears]
    biases = [torch.tensor(m.bias.detach().numpy(), dtype=torch.float64) for m in linears]
    for tensor in weights:
        tensor.requires_grad_(True)
    a = x
    for index, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        a = torch.sigmoid(z) if index < len(weights) - 1 else z
    torch.nn.functional.cross_entropy(a, y).backward()
    expected = [float(w.grad.norm()) for w in weights]
    np.testing.assert_allclose(printed, expected, rtol=0.06)  # printed with 2 digits
