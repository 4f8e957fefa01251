"""Tutorial 3 runs and prints what its pages say: the CNN is as accurate as the MLP with fewer
than half its parameters and holds up better on shifted digits, and the convolution's backward
written in NumPy (full correlation with the flipped kernel, input correlated with δ) equals
autodiff."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "code" / "t03_mlp_to_cnn.py"


def run_tutorial(out: Path) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def model_line(printed: str, name: str) -> tuple[int, float, float]:
    found = re.search(
        rf"{name}: ([\d,]+) parameters, test accuracy (\d\.\d+), test loss (\d\.\d+)", printed
    )
    assert found, f"no {name} line in the output"
    return int(found.group(1).replace(",", "")), float(found.group(2)), float(found.group(3))


def test_tutorial_3_mlp_to_cnn(tmp_path: Path) -> None:
    printed = run_tutorial(tmp_path)

    # Parameter counts from the layer sizes: weights plus biases.
    mlp_expected = (64 * 64 + 64) + (64 * 10 + 10)
    cnn_expected = (8 * 1 * 3 * 3 + 8) + (16 * 8 * 3 * 3 + 16) + (64 * 10 + 10)
    mlp_params, mlp_accuracy, mlp_loss = model_line(printed, "MLP")
    cnn_params, cnn_accuracy, cnn_loss = model_line(printed, "CNN")
    assert (mlp_params, cnn_params) == (mlp_expected, cnn_expected)
    assert f"Total params: {cnn_expected:,}" in printed  # the summary table agrees

    # Both learn the digits; the CNN is as accurate with fewer than half the parameters.
    assert mlp_accuracy > 0.93 and cnn_accuracy > 0.93
    assert cnn_accuracy >= mlp_accuracy - 0.01
    assert mlp_loss < 0.3 and cnn_loss < 0.3

    # A one-pixel shift hurts both, the MLP clearly more.
    shifted = re.search(r"MLP accuracy (\d\.\d+), CNN accuracy (\d\.\d+)", printed)
    mlp_shifted, cnn_shifted = float(shifted.group(1)), float(shifted.group(2))
    assert mlp_shifted < mlp_accuracy - 0.2 and cnn_shifted < cnn_accuracy - 0.1
    assert cnn_shifted > mlp_shifted + 0.05

    # The NumPy backward of the convolution, max-pool and ReLU equals autodiff.
    differences = re.findall(r"largest difference from autodiff (\S+)", printed)
    assert len(differences) == 4
    assert all(float(value) < 1e-6 for value in differences)
    assert "(32, 8, 4, 4)" in printed and "(16, 8, 3, 3)" in printed

    # The trace's explanation of the second Conv2d checks BP3 and BP4.
    explanation = printed.split("Layer 2 of 3: '3' Conv2d", 1)[1]
    assert explanation.count("✓ matches autodiff") == 2
    assert "✗" not in printed

    for name in ("t03_mlp_to_cnn_loss.png", "t03_mlp_to_cnn_filters.png"):
        assert (tmp_path / name).stat().st_size > 10_000
