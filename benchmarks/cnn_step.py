"""Time one training step of a small CNN (forward, loss, backward, SGD update): chainrule vs
PyTorch eager.

The network is the issue's: batch 64 of 1×28×28 images, Conv2d 1→16 3×3 padding 1, ReLU,
MaxPool2d 2, Conv2d 16→32 3×3 padding 1, ReLU, MaxPool2d 2, Flatten, Linear 32·7·7→10,
CrossEntropyLoss, SGD. One function builds it for both libraries (``lib.nn...``) from the same
float32 weights and batch. Blocks of steps alternate (A B A B ...) with a pause between them,
because BLAS threads keep spinning for a moment after a call and would slow whichever library
runs next. Figures are per step; the ratio is chainrule's time over PyTorch's in the same round.

    python benchmarks/cnn_step.py                     # 15 timed rounds
    python benchmarks/cnn_step.py --quick             # 5 timed rounds
    python benchmarks/cnn_step.py --only chainrule    # one library alone in this process

For OpenBLAS's own choice of kernels on this machine, run it as
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/cnn_step.py``.

Figures from this script are not to be reported without a solo check: two BLAS thread pools
in one process distort each other. ``python benchmarks/solo.py --configs cnn`` times each
library alone in its own process (and a NumPy step by hand).

Both libraries share this process's heap. glibc serves large blocks by mmap until one has been
freed, and each fresh block costs a page fault per 4 KiB page on first touch, so one library's
allocations change the other's time; ``--only`` measures each alone, in separate runs.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from workload_cnn import BATCH, STEPS_PER_BLOCK, build_model, cnn_setup, step_function

import chainrule as cr

torch.set_num_threads(2)


def build_step(lib: Any, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Any:
    """The step as a PyTorch user writes it (workload_cnn.py); ``lib`` is ``chainrule`` or
    ``torch``."""
    step = step_function(lib, build_model(lib, weights))
    images, labels = lib.from_numpy(x), lib.from_numpy(y)
    return lambda: step(images, labels)


def implementations(only: str | None = None) -> dict[str, Callable[[], Any]]:
    weights, x, y = cnn_setup()
    if only is not None:
        return {only: build_step(cr if only == "chainrule" else torch, weights, x, y)}
    steps = {"chainrule": build_step(cr, weights, x, y), "torch": build_step(torch, weights, x, y)}
    # Same weights and data: the first losses must agree, or the comparison means nothing.
    first = {name: float(step().item()) for name, step in steps.items()}
    second = {name: float(step().item()) for name, step in steps.items()}
    for loss in (first, second):
        if abs(loss["chainrule"] - loss["torch"]) > 1e-4 * max(1.0, abs(loss["torch"])):
            raise SystemExit(f"the two steps disagree: losses {loss}")
    return steps


def time_block(step: Callable[[], Any], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def compare(rounds: int, only: str | None = None) -> dict[str, dict[str, float]]:
    steps = implementations(only)
    for _ in range(2):  # warm-up: allocations, BLAS threads, caches
        for step in steps.values():
            time_block(step, STEPS_PER_BLOCK)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            time.sleep(0.05)
            times[name].append(time_block(step, STEPS_PER_BLOCK))
    results = {}
    reference = times.get("torch", next(iter(times.values())))
    for name, measured in times.items():
        ratios = [a / b for a, b in zip(measured, reference)]
        results[name] = {
            "median": statistics.median(measured),
            "ratio_min": min(ratios),
            "ratio_median": statistics.median(ratios),
            "ratio_max": max(ratios),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 timed rounds instead of 15")
    parser.add_argument("--only", choices=["chainrule", "torch"], help="time one library alone")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"chainrule {cr.__version__}"
    )
    print("IN-PROCESS figures: not to be reported without a solo check (benchmarks/solo.py)")
    print(f"CNN step, batch {BATCH} of 1x28x28, {STEPS_PER_BLOCK} steps per block")
    print("per-step median; ratio = implementation / PyTorch eager per round, min / median / max")
    labels = {"chainrule": "chainrule (nn, optim)", "torch": "PyTorch eager (nn, optim)"}
    for name, r in compare(5 if args.quick else 15, args.only).items():
        ratio = f"   ratio {r['ratio_min']:.3f} / {r['ratio_median']:.3f} / {r['ratio_max']:.3f}"
        print(f"  {labels[name]:28} {r['median'] * 1e3:7.2f} ms" + ("" if args.only else ratio))


if __name__ == "__main__":
    main()
