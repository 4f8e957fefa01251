"""PyTorch programs that run on chainrule with only their imports changed.

Each file in ``tests/programs/`` is an ordinary PyTorch script in the everyday style of
tutorials and courses. It runs twice, each time alone in its own process: once as written, with
PyTorch, and once with its import lines rewritten from ``torch`` to ``chainrule`` (nothing else
in the text changes; the rewritten program never imports torch). Both runs start from the same
weights, which the PyTorch run writes to a file the program names ``PROGRAM_WEIGHTS`` and the
chainrule run reads back; the data come from NumPy with a fixed seed. The last line a program
prints is its final loss, and the two must agree to 1e-5 relative.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAMS = sorted((Path(__file__).parent / "programs").glob("*.py"))
LAST_LOSS = re.compile(r"final loss ([-+0-9.eEinfa]+)\s*$")

# `import torch` → `import chainrule as torch`; `import torch.nn as nn` → `import chainrule.nn
# as nn`; `from torch.utils.data import X` → `from chainrule.utils.data import X`.
_BARE_IMPORT = re.compile(r"^(\s*)import torch\s*$")
_MODULE_IMPORT = re.compile(r"^(\s*)(import|from) torch(\.[\w.]+)?(\s+(as|import)\s)")


def swap_imports(source: str) -> str:
    """The program with every import of torch turned into the same import of chainrule."""
    lines = []
    for line in source.splitlines(keepends=True):
        bare = _BARE_IMPORT.match(line)
        if bare:
            line = f"{bare.group(1)}import chainrule as torch\n"
        else:
            line = _MODULE_IMPORT.sub(
                lambda m: f"{m.group(1)}{m.group(2)} chainrule{m.group(3) or ''}{m.group(4)}", line
            )
        lines.append(line)
    return "".join(lines)


# The chainrule run cannot import torch at all, even by accident: the module is blocked.
_WITHOUT_TORCH = (
    "import sys, runpy; sys.modules['torch'] = None; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)


def run(
    source: str, workdir: Path, weights: Path, name: str, block_torch: bool = False
) -> tuple[float, str]:
    script = workdir / name
    script.write_text(source)
    env = {**os.environ, "PROGRAM_WEIGHTS": str(weights)}
    runner = ["-c", _WITHOUT_TORCH] if block_torch else []
    done = subprocess.run(
        [sys.executable, *runner, str(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{name} failed:\n{output[-4000:]}"
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    found = LAST_LOSS.search(last)
    assert found, f"{name}: the last line should be 'final loss <number>', got {last!r}"
    return float(found.group(1)), output


def test_the_import_swap_changes_only_import_lines() -> None:
    source = (
        "import torch\nimport torch.nn as nn\nfrom torch import optim\n"
        "from torch.utils.data import DataLoader\nx = torch.zeros(2)  # torch stays torch here\n"
    )
    assert swap_imports(source) == (
        "import chainrule as torch\nimport chainrule.nn as nn\nfrom chainrule import optim\n"
        "from chainrule.utils.data import DataLoader\n"
        "x = torch.zeros(2)  # torch stays torch here\n"
    )


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_gives_pytorchs_final_loss(program: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed: the PyTorch run is the reference")
    source = program.read_text()
    swapped = swap_imports(source)
    assert "import torch" not in swapped and "from torch" not in swapped
    weights = tmp_path / "initial_weights.npz"
    expected, _ = run(source, tmp_path, weights, "with_torch.py")
    actual, output = run(swapped, tmp_path, weights, "with_chainrule.py", block_torch=True)
    assert actual == pytest.approx(expected, rel=1e-5), output[-2000:]


def test_there_are_enough_programs() -> None:
    assert len(PROGRAMS) >= 15
