"""Tutorial 1 (docs/tutorials/code/t01_xor_by_hand.py) runs, and prints what its pages quote.

The script runs once per module (about 5 s). Its claims are checked three ways: against what it
prints about itself (hand computation against autograd), against `chainrule explain` (the same
network, the same loss), and against PyTorch, which recomputes δ² and ∂C/∂W² from the same
initial weights.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "tutorials" / "code" / "t01_xor_by_hand.py"
PICTURES = ("t01_xor_by_hand_loss.png", "t01_xor_by_hand_surface.png")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("t01")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, out


def number_after(text: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*([-+0-9.e]+)", text)
    assert match, f"{label!r} not printed"
    return float(match.group(1))


def list_after(text: str, label: str) -> np.ndarray:
    match = re.search(re.escape(label) + r"\s*(\[.*\])", text)
    assert match, f"{label!r} not printed"
    return np.array(eval(match.group(1)), dtype=float)  # a list literal the script printed


def test_hand_and_autograd_agree(run: tuple[str, Path]) -> None:
    stdout, _ = run
    block = stdout.split("(max |difference|)")[1].split("after one step")[0]
    rows = dict(line.split() for line in block.strip().splitlines())
    assert set(rows) == {"cost", "delta2", "delta1", "grad_W2", "grad_b2", "grad_W1", "grad_b1"}
    # float64 both ways: only rounding may separate them.
    assert all(float(v) < 1e-12 for v in rows.values()), rows
    assert number_after(stdout, "by hand against optimizer.step(): max |difference|") < 1e-12
    assert number_after(stdout, "δ recorded by trace against δ by hand: max |difference|") < 1e-12


def test_one_step_lowers_the_cost(run: tuple[str, Path]) -> None:
    stdout, _ = run
    match = re.search(r"C = ([0-9.]+) -> ([0-9.]+)", stdout)
    assert match
    before, after = float(match.group(1)), float(match.group(2))
    assert after < before


def test_explain_checks_every_equation(run: tuple[str, Path]) -> None:
    stdout, _ = run
    # BP1, BP3, BP4 for the output layer; BP2, BP3, BP4 for the hidden one.
    for name in ("(BP1)", "(BP2)", "(BP3)", "(BP4)"):
        assert name in stdout
    assert stdout.count("✓ matches autodiff") == 6


def test_same_network_as_chainrule_explain(run: tuple[str, Path]) -> None:
    stdout, _ = run
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from chainrule.cli import main; sys.exit(main())"]
        + ["explain"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    explain_loss = number_after(done.stdout, "loss (MSELoss) =")
    tutorial_loss = number_after(stdout, "by hand: C =")
    assert abs(explain_loss - tutorial_loss) < 1e-6  # explain runs in float32


def test_deltas_match_pytorch(run: tuple[str, Path]) -> None:
    import torch

    stdout, _ = run
    cr.manual_seed(0)  # the script's make_network(seed=0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).double()
    initial = [p.detach().numpy() for p in model.parameters()]
    W1, b1, W2, b2 = (torch.tensor(value, requires_grad=True) for value in initial)
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]], dtype=torch.float64)
    z1 = x @ W1.T + b1
    z2 = torch.sigmoid(z1) @ W2.T + b2
    z1.retain_grad()
    z2.retain_grad()
    torch.nn.functional.mse_loss(torch.sigmoid(z2), y).backward()
    # The script prints δ and ∂C/∂W² rounded to 5 decimals.
    np.testing.assert_allclose(list_after(stdout, "δ² ="), z2.grad.numpy().ravel(), atol=6e-6)
    np.testing.assert_allclose(list_after(stdout, "δ¹ ="), z1.grad.numpy(), atol=6e-6)
    np.testing.assert_allclose(list_after(stdout, "∂C/∂W² ="), W2.grad.numpy(), atol=6e-6)


def test_training_solves_xor_from_seed_0_not_seed_2(run: tuple[str, Path]) -> None:
    stdout, _ = run
    seed0 = stdout.split("seed 0: loss")[1].split("seed 2: loss")[0]
    seed2 = stdout.split("seed 2: loss")[1]
    assert "solved: True" in seed0
    assert number_after(seed0, "->") < 1e-3
    outputs = list_after(seed0, "(1,1):")
    assert np.all((outputs > 0.5) == np.array([False, True, True, False]))
    # Seed 2 stops on the plateau at 0.125, as the page says.
    assert "solved: False" in seed2
    assert abs(number_after(seed2, "->") - 0.125) < 0.01


def test_pictures_written(run: tuple[str, Path]) -> None:
    _, out = run
    for name in PICTURES:
        path = out / name
        assert path.is_file() and path.stat().st_size > 10_000, name
