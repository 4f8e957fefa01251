"""Tutorial 2 (docs/tutorials/code/t02_seed_programs.py) runs, and prints what its pages quote.

The script runs once per module (about 7 s of CPU). Each article's mistake must show itself
(the error raised, the shape made, the steps counted), and each working version must do what
the page says: learn, fit the least-squares line, or fail where the page says it fails.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "tutorials" / "code" / "t02_seed_programs.py"
PICTURES = ("t02_seed_programs_regression.png", "t02_seed_programs_xor.png")
ARTICLES = ("000", "001", "002", "003", "004")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """The script's output cut into one part per article, and the picture folder."""
    out = tmp_path_factory.mktemp("t02")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parts = re.split(r"=== article (\d{3}):", done.stdout)
    sections = dict(zip(parts[1::2], parts[2::2]))
    assert tuple(sections) == ARTICLES
    return sections, out


def numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", text)]


def line_with(text: str, start: str) -> str:
    lines = [line for line in text.splitlines() if line.strip().startswith(start)]
    assert lines, f"no line starting with {start!r}"
    return lines[-1]


def test_000_step_count_and_gradient(run: tuple[dict[str, str], Path]) -> None:
    text = run[0]["000"]
    assert "really runs: 1124250" in text
    assert sum(range(1500)) == 1124250
    assert numbers(line_with(text, "article's d_weights2"))[-1] < 1e-6
    predictions = np.array(numbers(line_with(text, "predictions")))
    assert np.all(np.abs(predictions - [0, 1, 1, 0]) < 0.1)


def test_001_shape_error_and_outer_product(run: tuple[dict[str, str], Path]) -> None:
    text = run[0]["001"]
    assert "ValueError: shapes (1,) and (2,) not aligned" in text
    autodiff = numbers(line_with(text, "autodiff's ∂L/∂W"))
    outer = numbers(line_with(text, "dy xᵀ"))
    np.testing.assert_allclose(autodiff, outer, atol=1e-4)
    assert abs(numbers(line_with(text, "prediction for x"))[0] - 3.0) < 1e-4


def test_002_hstack_error_and_the_two_runs(run: tuple[dict[str, str], Path]) -> None:
    text = run[0]["002"]
    assert "np.hstack((W2, b2)): ValueError" in text
    article, fixed = text.split("fixed: lr = 2.0")
    assert "learned XOR: False" in article
    # Stuck near the loss of answering 0.5 everywhere, 0.125.
    assert abs(numbers(line_with(article, "final loss"))[0] - 0.125) < 0.002
    assert "learned XOR: True" in fixed
    assert numbers(line_with(fixed, "final loss"))[0] < 0.01


def test_003_broadcast_and_least_squares(run: tuple[dict[str, str], Path]) -> None:
    text = run[0]["003"]
    assert "has shape (100, 1)" in text
    low, high = numbers(line_with(text, "and its 'prediction'"))[-2:]
    assert high - low > 1.0  # 100 different answers, far apart
    origin = numbers(line_with(text, "least squares: through the origin"))[0]
    slope, intercept = numbers(line_with(text, "with intercept"))
    runs = [numbers(line) for line in text.splitlines() if "final loss" in line]
    article, no_bias, with_bias = runs  # [loss, w, b, prediction at 1] each
    assert article[1] < origin - 0.05  # the article's settings stop short
    assert abs(no_bias[1] - origin) < 1e-3
    assert abs(with_bias[1] - slope) < 1e-3 and abs(with_bias[2] - intercept) < 1e-3
    assert abs(slope - 3.0) < 0.3 and abs(intercept - 0.5) < 0.2


def test_004_bias_free_network_fails_at_one_one(run: tuple[dict[str, str], Path]) -> None:
    text = run[0]["004"]
    assert "whatever W1 is: [[0.5, 0.5]]" in text
    no_bias, with_bias = text.split("with_bias: lr = 1")
    assert "[ True  True  True False]" in no_bias
    assert "[ True  True  True  True]" in with_bias
    first_answer = numbers(line_with(no_bias, "predictions"))[0]
    formula = numbers(line_with(with_bias, "σ(0.5 (w₁ + w₂))"))[-1]
    assert abs(first_answer - formula) < 1e-4


def test_pictures_written(run: tuple[dict[str, str], Path]) -> None:
    _, out = run
    for name in PICTURES:
        path = out / name
        assert path.is_file() and path.stat().st_size > 10_000, name
