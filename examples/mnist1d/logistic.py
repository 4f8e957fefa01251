"""MNIST-1D paper check: logistic regression, Linear(40, 10) on the raw signal.

The paper's table gives 32% test accuracy: a linear model cannot undo the random translations
and shears of the digit templates.

Run: python examples/mnist1d/logistic.py [--seeds 0 1 2] [--steps 6000]
     [--framework chainrule|torch|both]
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from paper_setup import Run, run_script

PAPER_ACCURACY = 32.0


def build_model(lib: ModuleType) -> Any:
    """Linear(40, 10), built from ``lib`` (chainrule or torch) with its default initialisation."""
    return lib.nn.Linear(40, 10)


def main(argv: Sequence[str] | None = None, verbose: bool = True) -> dict[str, list[Run]]:
    return run_script("logistic", build_model, PAPER_ACCURACY, argv, verbose)


if __name__ == "__main__":
    main()
