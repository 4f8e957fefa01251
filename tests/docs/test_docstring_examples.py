"""Every ``>>>`` example in chainrule's docstrings runs and prints what the docstring says.

One test per module of ``src/chainrule`` whose source holds an example: the module is imported
by its dotted name and its docstrings (module, classes, functions, methods) are run with the
standard library's doctest, as ``python -m doctest`` would, with NORMALIZE_WHITESPACE and
ELLIPSIS. Examples marked ``# doctest: +SKIP`` (they write files or need a download) are not run.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import chainrule

PACKAGE_ROOT = Path(chainrule.__file__).resolve().parent
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        if path.name == "__main__.py":  # running it would start the command line
            continue
        if ">>>" in path.read_text(encoding="utf-8"):
            names.append(_module_name(path))
    return names


MODULES = _modules_with_examples()


def test_the_walk_finds_the_package_examples() -> None:
    # A walk that found nothing (a moved package, a wrong root) would make every test vanish.
    assert len(MODULES) >= 50
    assert "chainrule.ops.cumulative" in MODULES
    assert "chainrule.optim.adam" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    # The module's '>>>' lines were found as examples: run, or marked +SKIP.
    examples = [example for test in tests for example in test.examples]
    assert examples, f"{name}: '>>>' in the source but doctest found no example"
    skipped = sum(bool(example.options.get(doctest.SKIP)) for example in examples)
    assert result.attempted + skipped == len(examples)
