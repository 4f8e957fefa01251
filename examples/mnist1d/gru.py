"""MNIST-1D paper check: the paper's bidirectional GRU.

x (N, 40) viewed as a sequence (N, 40, 1) → GRU(input 1, hidden 6, bidirectional,
batch_first) from a zero state → outputs (N, 40, 12) flattened to (N, 480) → Linear(480, 10).
The paper's table gives 91% test accuracy (its authors' reruns of the notebook: 89-91%).

Run: python examples/mnist1d/gru.py [--seeds 0 1 2] [--steps 6000]
     [--framework chainrule|torch|both]
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from paper_setup import Run, run_script

PAPER_ACCURACY = 91.0


def build_model(lib: ModuleType) -> Any:
    """The bidirectional GRU classifier, built from ``lib`` (chainrule or torch)."""
    nn = lib.nn

    class BidirectionalGRU(nn.Module):
        def __init__(self, hidden: int = 6, time_steps: int = 40) -> None:
            super().__init__()
            self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
            self.linear = nn.Linear(2 * hidden * time_steps, 10)

        def forward(self, x: Any) -> Any:
            # No initial state: both libraries start from zeros, as the notebook's 0·randn does.
            outputs, _ = self.gru(x.view(x.shape[0], x.shape[1], 1))
            return self.linear(outputs.reshape(outputs.shape[0], -1))

    return BidirectionalGRU()


def main(argv: Sequence[str] | None = None, verbose: bool = True) -> dict[str, list[Run]]:
    return run_script("gru", build_model, PAPER_ACCURACY, argv, verbose)


if __name__ == "__main__":
    main()
