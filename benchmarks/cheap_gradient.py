"""The cheap-gradient principle, measured: backward time against forward time, layer by layer.

Runs ``chainrule.inspect.profile`` on an MLP (784-512-512-10, batch 128) and a small CNN
(two 3×3 convolutions on 1×28×28, batch 64) and prints its tables: per layer the forward and
backward time (median of the repeats), the FLOPs, and backward/forward.

    python benchmarks/cheap_gradient.py [--repeat 21]
"""

from __future__ import annotations

import argparse

import chainrule as cr
from chainrule import nn
from chainrule.inspect import profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    cr.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )
    x, y = cr.randn(128, 784), cr.randint(0, 10, (128,))
    print("MLP 784-512-512-10, batch 128")
    print(profile(mlp, x, y, nn.CrossEntropyLoss(), repeat=args.repeat))
    cnn = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )  # fmt: skip
    x, y = cr.randn(64, 1, 28, 28), cr.randint(0, 10, (64,))
    print("\nCNN conv3x3(16)-pool-conv3x3(32)-pool-linear, batch 64")
    print(profile(cnn, x, y, nn.CrossEntropyLoss(), repeat=args.repeat))


if __name__ == "__main__":
    main()
