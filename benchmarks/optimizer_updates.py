"""Time one optimiser step over the 784-512-512-10 network's parameters (535,818 float32
elements in six arrays), with chainrule.native's loops and without, each in its own process.

    python benchmarks/optimizer_updates.py                     # every optimiser, 3 rounds
    python benchmarks/optimizer_updates.py --optimizers momentum,rmsprop --rounds 5

Each process times blocks of 100 steps on fixed gradients after a warm-up and reports the
median block; rounds alternate the two modes. The table gives the medians of the rounds and
the ratio loops / NumPy form per round as min / median / max. Plain SGD takes its loop only
once numba is loaded (it is not here), so its two columns time the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

OPTIMIZERS = {
    "sgd": ("SGD", {"lr": 0.01}),
    "momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "nesterov": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "adam": ("Adam", {}),
}
SHAPES = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]


def one_process(name: str) -> dict:
    """Seconds per step of optimiser ``name`` in this process (the mode is its environment's)."""
    import time

    import numpy as np

    import chainrule as cr

    rng = np.random.default_rng(0)
    params = []
    for shape in SHAPES:
        value = rng.standard_normal(shape).astype(np.float32) * 0.01
        params.append(cr.nn.Parameter(cr.from_numpy(value)))
    for p in params:
        p.grad = cr.from_numpy(rng.standard_normal(p.shape).astype(np.float32) * 0.01)
    class_name, options = OPTIMIZERS[name]
    optimizer = getattr(cr.optim, class_name)(params, **options)
    for _ in range(20):
        optimizer.step()
    blocks = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(100):
            optimizer.step()
        blocks.append((time.perf_counter() - start) / 100)
    return {"seconds": statistics.median(blocks), "numba": "numba" in sys.modules}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process(args.child)))
        return
    names = args.optimizers.split(",")
    unknown = [name for name in names if name not in OPTIMIZERS]
    if unknown:
        parser.error(f"unknown optimisers {unknown}; choose from {list(OPTIMIZERS)}")
    print("| optimiser | loops | NumPy form | loops / NumPy form, min / median / max |")
    print("| --- | --- | --- | --- |")
    for name in names:
        times: dict[str, list[float]] = {"1": [], "0": []}
        for _ in range(args.rounds):
            for flag in ("1", "0"):
                env = {**os.environ, "CHAINRULE_NATIVE": flag}
                command = [sys.executable, __file__, "--child", name]
                found = json.loads(
                    subprocess.run(
                        command, env=env, capture_output=True, text=True, check=True
                    ).stdout
                )
                times[flag].append(found["seconds"])
        ratios = sorted(a / b for a, b in zip(times["1"], times["0"]))
        loops, numpy_form = statistics.median(times["1"]), statistics.median(times["0"])
        print(
            f"| {name} | {loops * 1e6:.0f} µs | {numpy_form * 1e6:.0f} µs | "
            f"{ratios[0]:.2f} / **{statistics.median(ratios):.2f}** / {ratios[-1]:.2f} |"
        )


if __name__ == "__main__":
    main()
