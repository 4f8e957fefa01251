"""The README as a new user meets it: each Python block runs when pasted alone (a fresh
namespace, in a scratch directory, warnings as errors), the first example fits in 15 lines,
its links lead to files that exist, and its test command is the one CI runs."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.S | re.M)


def test_the_readme_has_a_short_first_example() -> None:
    assert BLOCKS, "the README has no python block"
    assert len(BLOCKS[0].strip().splitlines()) <= 15


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_a_readme_block_runs_alone(number: int, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            exec(compile(BLOCKS[number], f"README.md python block {number}", "exec"), namespace)
    except Exception as error:  # pragma: no cover - the message is the point
        pytest.fail(f"README python block {number} failed when pasted alone: {error!r}")


def test_the_first_example_learns_xor(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(BLOCKS[0], "README.md python block 0", "exec"), namespace)
    outputs = namespace["model"](namespace["x"]).detach().numpy().ravel()
    assert (outputs.round() == [0, 1, 1, 0]).all()


def test_the_readme_links_lead_to_files_that_exist() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", TEXT)
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/guide/") for link in local)
    for link in local:
        assert (ROOT / link).is_file(), f"README links to {link}, which does not exist"


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    command = ci[-1].strip()
    assert "pytest" in command
    assert command in TEXT, f"the README should show CI's test command {command!r}"
    assert 'pip install -e ".[dev]"' in TEXT
