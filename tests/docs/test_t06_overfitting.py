"""Tutorial 6 (docs/tutorials/code/t06_overfitting.py) runs and prints what its pages quote.

The script runs once per module (about 5 s). Its claims are checked against its own table (the
unregularised network overfits; each regulariser lowers the test loss; early stopping restores
the epoch of the lowest validation loss) and against PyTorch, which trains the unregularised
network from the same initial weights with its own Adam and finds the same losses.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "tutorials" / "code" / "t06_overfitting.py"
PICTURES = ("curves", "boundaries")
METHODS = ("no regularisation", "weight decay λ = 0.01", "dropout p = 0.5", "early stopping")
NUMBER = r"\s+([0-9.]+)"
ROW = re.compile(
    r"^  (?P<name>.+?)\s+(?P<epochs>\d+)" + NUMBER * 3 + r" @(\d+)" + NUMBER * 3 + "$",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("t06")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, out


@pytest.fixture(scope="module")
def rows(run: tuple[str, Path]) -> dict[str, dict]:
    found = {}
    for match in ROW.finditer(run[0]):
        values = match.groups()[2:]
        found[match["name"]] = {
            "epochs": int(match["epochs"]),
            "train": float(values[0]),
            "val": float(values[1]),
            "min_val": float(values[2]),
            "best_epoch": int(values[3]),
            "test": float(values[4]),
            "acc": float(values[5]),
            "sure_when_wrong": float(values[6]),
        }
    assert tuple(found) == METHODS
    return found


def test_pictures_written(run: tuple[str, Path]) -> None:
    _, out = run
    for name in PICTURES:
        path = out / f"t06_overfitting_{name}.png"
        assert path.exists() and path.stat().st_size > 10_000, path


def test_unregularised_network_overfits(rows: dict[str, dict]) -> None:
    plain = rows["no regularisation"]
    assert plain["epochs"] == 300
    assert plain["train"] < 0.01
    assert plain["val"] > 1.5 * plain["min_val"]  # the validation loss turned up
    assert plain["best_epoch"] < 100
    assert plain["sure_when_wrong"] > 0.85


def test_regularisers_lower_the_test_loss(rows: dict[str, dict]) -> None:
    plain = rows["no regularisation"]
    for name in METHODS[1:]:
        assert rows[name]["test"] < 0.7 * plain["test"], name
        assert rows[name]["sure_when_wrong"] < plain["sure_when_wrong"], name
        # Accuracy hardly moves: what overfitting spoils here is the confidence.
        assert abs(rows[name]["acc"] - plain["acc"]) < 0.05, name
    decay = rows["weight decay λ = 0.01"]
    assert decay["val"] < 1.1 * decay["min_val"]  # no turn upwards
    assert decay["train"] > 10 * plain["train"]


def test_early_stopping_restores_the_best_epoch(run: tuple[str, Path], rows: dict) -> None:
    stopped = rows["early stopping"]
    plain = rows["no regularisation"]
    # Same data, same initial weights: the run is the unregularised one until it stops.
    assert stopped["best_epoch"] == plain["best_epoch"]
    assert stopped["min_val"] == plain["min_val"]
    assert stopped["epochs"] == plain["best_epoch"] + 30 + 1  # patience 30, epochs from 0
    ended = re.search(r"ended at epoch (\d+), restored epoch (\d+)", run[0])
    assert int(ended[1]) == stopped["epochs"] - 1
    assert int(ended[2]) == plain["best_epoch"]


def test_overfitting_run_matches_pytorch(rows: dict[str, dict]) -> None:
    """PyTorch's Adam, full batch from the same initial weights, reaches the same training loss
    at the last epoch and the same validation loss after it."""
    import torch

    spec = importlib.util.spec_from_file_location("t06_tutorial", SCRIPT)
    tutorial = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tutorial)
    cr.manual_seed(0)
    model = tutorial.make_mlp()
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, tutorial.HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(tutorial.HIDDEN, tutorial.HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Linear(tutorial.HIDDEN, 2),
    )
    with torch.no_grad():
        for name, tensor in reference.state_dict().items():
            tensor.copy_(torch.from_numpy(model.state_dict()[name].numpy().copy()))
    x, y = (torch.from_numpy(t.numpy().copy()) for t in (tutorial.x, tutorial.y))
    x_val, y_val = (torch.from_numpy(t.numpy().copy()) for t in (tutorial.x_val, tutorial.y_val))
    optimizer = torch.optim.Adam(reference.parameters(), lr=tutorial.LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(tutorial.EPOCHS):
        optimizer.zero_grad()
        loss = loss_fn(reference(x), y)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        val_loss = float(loss_fn(reference(x_val), y_val))
    plain = rows["no regularisation"]
    np.testing.assert_allclose(plain["train"], loss.item(), rtol=0.05)
    np.testing.assert_allclose(plain["val"], val_loss, rtol=0.01)
