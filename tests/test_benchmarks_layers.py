"""benchmarks/layers.py runs end to end in a short mode, each library in its own process.

Nothing here asserts a time. The child processes must import one library each and compute the
same gradients (the harness compares Σ|∂C/∂x| with PyTorch's and stops on a difference), and
the table must name the machine, the commit and every implementation's ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "layers.py"
LAYERS = "batchnorm2d,layernorm,embedding,cross-entropy-10,leaky-relu,square"


def _run(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_child_times_its_library_alone_and_reports_a_check() -> None:
    found = json.loads(_run("--child", "chainrule", "--layers", LAYERS))
    assert set(found["seconds"]) == set(found["checks"]) == set(LAYERS.split(","))
    assert all(0 < seconds < 1 for seconds in found["seconds"].values())
    assert all(check > 0 for check in found["checks"].values())


def test_the_table_compares_every_implementation_with_pytorch() -> None:
    text = _run("--layers", "layernorm,embedding", "--rounds", "1")
    assert "Commit " in text and "PyTorch" in text and "cores" in text
    rows = [line for line in text.splitlines() if line.startswith("| LayerNorm")]
    assert len(rows) == 1 and rows[0].count("**") == 4  # two ratios: chainrule, NumPy form


def test_unknown_layers_are_refused() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--layers", "batchnorm9d"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "unknown layers ['batchnorm9d']" in done.stderr
