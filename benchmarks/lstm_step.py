"""Time one LSTM training step (forward, loss, backward, SGD update): chainrule vs PyTorch.

The model of the issue: an LSTM with input 32 and hidden 128 over 50 steps, batch 32, and a
Linear head on the last hidden state h_T, trained by SGD. The step is written once, as a
PyTorch user writes it (``lib.nn.LSTM``, ``lib.nn.Linear``, a loss module, ``lib.optim.SGD``),
and runs on both libraries from the same float32 weights and batches.

As in train_step.py, blocks of steps are timed alternately (A B A B ...) with a short pause
between them, because BLAS threads keep spinning for a moment after a call and would slow
whichever library runs next. The ratio is chainrule's time over PyTorch's, per block.

    python benchmarks/lstm_step.py              # both configurations
    python benchmarks/lstm_step.py --quick bf-ce

Figures from this script are not to be reported without a solo check: two BLAS thread pools
in one process distort each other. ``python benchmarks/solo.py --configs lstm,lstm-tm`` times
each library alone in its own process (and a NumPy step by hand).

OpenBLAS picks its kernels by OPENBLAS_CORETYPE; where the environment pins an older core
type, ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/lstm_step.py`` lets it
choose for the machine (PyTorch uses MKL either way).
"""

from __future__ import annotations

import argparse
import functools
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from workload_lstm import (
    BATCH,
    HIDDEN,
    INPUT,
    STEPS,
    VARIANTS,
    build_model,
    lstm_setup,
    step_function,
)

import chainrule as cr

torch.set_num_threads(2)

CONFIGS = VARIANTS


def configuration(name: str) -> dict[str, Callable[[], Any]]:
    """The step of both libraries on one variant (workload_lstm.py), from the same weights."""
    weights, x, y = lstm_setup(name)
    layout, loss = name.removeprefix("gru-").split("-")
    batch_first = layout == "bf"
    steps = {}
    for lib in (cr, torch):
        step = step_function(lib, build_model(lib, weights, batch_first), loss)
        tx, ty = lib.from_numpy(x), lib.from_numpy(y)
        steps[lib.__name__] = functools.partial(step, tx, ty)
    return steps


def loss_difference(steps_by_lib: dict[str, Callable[[], Any]]) -> float:
    """The relative difference of the two libraries' losses over three steps: the same code
    on the same weights and batch must agree (to float32 rounding)."""
    worst = 0.0
    for _ in range(3):
        ours, theirs = (steps_by_lib[lib]().item() for lib in ("chainrule", "torch"))
        worst = max(worst, abs(ours - theirs) / abs(theirs))
    return worst


def time_block(step: Callable[[], Any], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def compare(name: str, blocks: int, steps: int) -> dict[str, dict[str, float]]:
    """Median time per step of each library and the per-block ratios to PyTorch."""
    steps_by_lib = configuration(name)
    difference = loss_difference(steps_by_lib)
    if difference > 1e-4:
        raise AssertionError(f"{name}: the losses differ by {difference:.1e} (relative)")
    print(f"  losses of the first three steps agree to {difference:.1e} (relative)")
    for _ in range(2):  # warm-up: allocations, BLAS thread start, caches
        for step in steps_by_lib.values():
            time_block(step, steps // 2 + 1)
    times: dict[str, list[float]] = {lib: [] for lib in steps_by_lib}
    for _ in range(blocks):
        for lib, step in steps_by_lib.items():
            time.sleep(0.05)
            times[lib].append(time_block(step, steps))
    results = {}
    for lib, measured in times.items():
        ratios = [a / b for a, b in zip(measured, times["torch"])]
        results[lib] = {
            "median": statistics.median(measured),
            "ratio_min": min(ratios),
            "ratio_median": statistics.median(ratios),
            "ratio_max": max(ratios),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 timed blocks instead of 15")
    parser.add_argument("configs", nargs="*", help=f"some of {', '.join(CONFIGS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; choose from {list(CONFIGS)}")
    blocks = 5 if args.quick else 15
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"chainrule {cr.__version__}"
    )
    print("IN-PROCESS figures: not to be reported without a solo check (benchmarks/solo.py)")
    print(
        f"LSTM input {INPUT}, hidden {HIDDEN}, {STEPS} steps, batch {BATCH}, Linear head on h_T, "
        "SGD; per-step median; ratio = chainrule / PyTorch per block, min / median / max"
    )
    for name in args.configs or list(CONFIGS):
        print(f"\n{name}: {CONFIGS[name]}")
        for lib, r in compare(name, blocks, steps=20).items():
            print(
                f"  {lib:10} {r['median'] * 1e3:8.2f} ms   ratio "
                f"{r['ratio_min']:.3f} / {r['ratio_median']:.3f} / {r['ratio_max']:.3f}"
            )


if __name__ == "__main__":
    main()
