"""Time chainrule's CNN training step alone in its process, compare two source trees, and show
where the step's time goes.

The network is cnn_step.py's (batch 64 of 1×28×28, Conv2d 1→16 3×3 p1, ReLU, MaxPool2d 2,
Conv2d 16→32 3×3 p1, ReLU, MaxPool2d 2, Flatten, Linear 1568→10, cross-entropy, SGD), built
from seeded float32 weights. PyTorch is never imported here, so no second BLAS thread pool
runs beside NumPy's.

    python benchmarks/cnn_pieces.py step --blocks 9          # one JSON line: per-step times
    python benchmarks/cnn_pieces.py compare --before /tmp/base/src --after src --rounds 5
    python benchmarks/cnn_pieces.py profile                  # cProfile of 50 steps, by op

``compare`` runs ``step`` in alternating processes (before, after, before, ...), each tree
imported through PYTHONPATH, and reports the medians and the per-round ratio after/before.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BATCH, STEPS_PER_BLOCK, LR = 64, 10, 0.01


def build_step() -> Callable[[], object]:
    """chainrule's step on seeded weights and a seeded batch, as a PyTorch user writes it."""
    import chainrule as cr

    nn = cr.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )
    rng = np.random.default_rng(0)
    weights = {}
    for name, value in model.state_dict().items():
        bound = 1 / np.sqrt(np.prod(value.shape[1:]) if value.ndim > 1 else 16)
        weights[name] = rng.uniform(-bound, bound, value.shape).astype(np.float32)
    model.load_state_dict({name: cr.from_numpy(value) for name, value in weights.items()})
    optimizer = cr.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    images = cr.from_numpy(rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32))
    labels = cr.from_numpy(rng.integers(0, 10, BATCH))

    def step() -> object:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


def time_block(step: Callable[[], object], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def measure(blocks: int) -> dict:
    step = build_step()
    for _ in range(3):  # allocations, BLAS thread start, caches
        time_block(step, STEPS_PER_BLOCK)
    times = []
    for _ in range(blocks):
        time.sleep(0.02)
        times.append(time_block(step, STEPS_PER_BLOCK))
    first_loss = float(build_step()().item())
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "loss": first_loss,
        "blocks": times,
    }


def solo(tree: str, blocks: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    out = subprocess.run(
        [sys.executable, __file__, "step", "--blocks", str(blocks)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(before: str, after: str, rounds: int, blocks: int) -> None:
    medians: dict[str, list[float]] = {"before": [], "after": []}
    fastest: dict[str, list[float]] = {"before": [], "after": []}
    losses = {}
    for _ in range(rounds):
        for label, tree in (("before", before), ("after", after)):
            result = solo(tree, blocks)
            medians[label].append(result["median"])
            fastest[label].append(result["min"])
            losses[label] = result["loss"]
    ratios = [a / b for a, b in zip(medians["after"], medians["before"])]
    for label, values in medians.items():
        shown = ", ".join(f"{v * 1e3:.2f}" for v in values)
        print(
            f"  {label:6} median {statistics.median(values) * 1e3:6.2f} ms, fastest block "
            f"{min(fastest[label]) * 1e3:6.2f} ms  (process medians {shown})"
        )
    print(
        f"  ratio after/before {min(ratios):.3f} / {statistics.median(ratios):.3f} / "
        f"{max(ratios):.3f} (min / median / max); first losses {losses}"
    )


def profile(steps: int) -> None:
    step = build_step()
    time_block(step, STEPS_PER_BLOCK)
    profiler = cProfile.Profile()
    profiler.enable()
    time_block(step, steps)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["step", "compare", "profile"])
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks per process")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (compare)")
    parser.add_argument("--before", help="the src folder of the old tree (compare)")
    parser.add_argument("--after", default="src", help="the src folder of the new tree")
    args = parser.parse_args()
    if args.mode == "step":
        print(json.dumps(measure(args.blocks)))
    elif args.mode == "compare":
        if not args.before:
            parser.error("compare needs --before")
        compare(args.before, args.after, args.rounds, args.blocks)
    else:
        profile(50)


if __name__ == "__main__":
    main()
