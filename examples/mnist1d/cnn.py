"""MNIST-1D paper check: the paper's three-layer 1-D CNN.

x (N, 40) viewed as (N, 1, 40) → Conv1d(1, 25, k 5, stride 2, pad 1) → (N, 25, 19) → ReLU →
Conv1d(25, 25, k 3, s 2, p 1) → (N, 25, 10) → ReLU → Conv1d(25, 25, k 3, s 2, p 1) →
(N, 25, 5) → ReLU → flatten (N, 125) → Linear(125, 10). The paper's table gives 94% test
accuracy (its authors' reruns of the notebook: about 92.5%): shared convolution weights see a
digit wherever the translation put it.

Run: python examples/mnist1d/cnn.py [--seeds 0 1 2] [--steps 6000]
     [--framework chainrule|torch|both]
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from paper_setup import Run, run_script

PAPER_ACCURACY = 94.0


def build_model(lib: ModuleType) -> Any:
    """The CNN, built from ``lib`` (chainrule or torch)."""
    nn = lib.nn

    class ConvNet(nn.Module):
        def __init__(self, channels: int = 25) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.linear = nn.Linear(5 * channels, 10)

        def forward(self, x: Any) -> Any:
            h = x.view(x.shape[0], 1, x.shape[-1])
            h = lib.relu(self.conv1(h))
            h = lib.relu(self.conv2(h))
            h = lib.relu(self.conv3(h))
            return self.linear(h.reshape(h.shape[0], -1))

    return ConvNet()


def main(argv: Sequence[str] | None = None, verbose: bool = True) -> dict[str, list[Run]]:
    return run_script("cnn", build_model, PAPER_ACCURACY, argv, verbose)


if __name__ == "__main__":
    main()
