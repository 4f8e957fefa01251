"""Every Python block of the guide pages (docs/guide/*.md) runs when pasted alone: each in a
fresh namespace, in a scratch directory, warnings as errors. The command-line walk-through of
the training guide runs as written, on the files its Python block writes."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.S | re.M)


def blocks(page: Path, language: str) -> list[str]:
    """The fenced blocks of ``page`` in ``language``, in order."""
    text = page.read_text(encoding="utf-8")
    return [body for lang, body in FENCE.findall(text) if lang == language]


PYTHON = [
    pytest.param(page, number, block, id=f"{page.stem}-{number}")
    for page in PAGES
    for number, block in enumerate(blocks(page, "python"))
]


def run_block(block: str, name: str) -> dict:
    """Run ``block`` in a namespace of its own; a warning fails it, as an example should not
    show a new user one."""
    namespace: dict = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(block, name, "exec"), namespace)
    return namespace


def test_the_guide_has_its_pages_and_examples() -> None:
    names = {page.stem for page in PAGES}
    assert {"pytorch", "training", "inspecting", "higher-order", "features", "layout"} <= names
    assert len(PYTHON) >= 10


@pytest.mark.parametrize(("page", "number", "block"), PYTHON)
def test_a_guide_block_runs_alone(page: Path, number: int, block: str, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        run_block(block, f"{page.name} python block {number}")
    except Exception as error:  # pragma: no cover - the message is the point
        pytest.fail(f"{page.name} python block {number} failed when run alone: {error!r}")


def test_the_guide_pictures_exist() -> None:
    for page in PAGES:
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).resolve().is_file(), f"{page.name}: {target}"


def test_the_command_line_walk_through_runs_as_written(tmp_path, monkeypatch) -> None:
    """The training guide's block that writes my.csv, new.csv and run.toml, then each
    ``chainrule`` line of the first shell block after it, in order, in the same folder."""
    page = GUIDE / "training.md"
    text = page.read_text(encoding="utf-8")
    fences = FENCE.findall(text)
    writer = next(
        i for i, (lang, body) in enumerate(fences) if "my.csv" in body and lang == "python"
    )
    shell = next(body for lang, body in fences[writer + 1 :] if lang == "bash")
    monkeypatch.chdir(tmp_path)
    run_block(fences[writer][1], "training.md: the block that writes my.csv")
    commands = [line.split("#")[0].strip() for line in shell.splitlines()]
    commands = [line for line in commands if line.startswith("chainrule ")]
    assert len(commands) >= 5
    for line in commands:
        words = shlex.split(line)[1:]
        done = subprocess.run(
            [sys.executable, "-m", "chainrule.cli", *words, *(["--no-progress"] * is_train(words))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    for name in ("price.safetensors", "predictions.csv", "price.onnx"):
        assert (tmp_path / name).is_file(), name
    predictions = (tmp_path / "predictions.csv").read_text().splitlines()
    assert predictions[0] == "price" and len(predictions) == 6


def is_train(words: list[str]) -> bool:
    """A `chainrule train` run, whose progress bar the test leaves out of its output."""
    return words[0] == "train" and "--no-progress" not in words
