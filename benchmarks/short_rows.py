"""Reductions along short rows: NumPy's own against chainrule/ops/short_rows.py, and the
operations that use them, before and after.

    python benchmarks/short_rows.py                        # the reductions, NumPy alone
    python benchmarks/short_rows.py --ops --before /tmp/base/src --after src --rounds 5

The first form times, for (N, C) arrays of float32 and float64, NumPy's row maximum
(``max(axis=1)``) against the transposed copy's (``row_max``) and NumPy's row sum against
the product with ones (``row_sums``), best of 5 blocks, and prints the ratios. The second
times cross-entropy, log-softmax and softmax of (N, 10) float32 logits, forward and backward,
in a process per source tree (``--before`` and ``--after``, each a folder holding the
``chainrule`` package), rounds alternating, and prints each tree's median time and the ratio
after / before per round as min / **median** / max.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import timeit

import numpy as np

SHAPES = [(64, 10), (128, 10), (1024, 10), (8192, 10), (256, 3), (1024, 24), (1024, 64)]
OPS = [("cross_entropy", 128), ("cross_entropy", 1024), ("log_softmax", 1024), ("softmax", 1024)]


def _best(fn, seconds: float = 2e-3) -> float:
    """Microseconds per call, best of 5 blocks of about ``seconds`` each."""
    per_call = timeit.timeit(fn, number=5) / 5
    number = max(10, int(seconds / max(per_call, 1e-7)))
    return min(timeit.timeit(fn, number=number) / number for _ in range(5)) * 1e6


def reductions() -> None:
    from chainrule.ops.short_rows import row_max, row_sums

    rng = np.random.default_rng(0)
    print("| shape | dtype | max NumPy | row_max | ratio | sum NumPy | row_sums | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape in SHAPES:
        for dtype in (np.float32, np.float64):
            rows = rng.standard_normal(shape).astype(dtype)
            a = _best(lambda rows=rows: rows.max(axis=1, keepdims=True))
            b = _best(lambda rows=rows: row_max(rows))
            c = _best(lambda rows=rows: np.add.reduce(rows, axis=1, keepdims=True))
            d = _best(lambda rows=rows: row_sums(rows))
            print(
                f"| {shape[0]}×{shape[1]} | {np.dtype(dtype).name} | {a:.2f} µs | {b:.2f} µs | "
                f"{b / a:.2f} | {c:.2f} µs | {d:.2f} µs | {d / c:.2f} |"
            )


def one_process() -> dict:
    """Microseconds per forward and backward of each of :data:`OPS` in this process."""
    import chainrule as cr

    rng = np.random.default_rng(0)
    times = {}
    for name, batch in OPS:
        z = cr.tensor(rng.standard_normal((batch, 10)).astype(np.float32), requires_grad=True)
        target = cr.tensor(rng.integers(0, 10, batch))
        upstream = cr.tensor(rng.standard_normal((batch, 10)).astype(np.float32))
        if name == "cross_entropy":

            def step(z=z, target=target):
                cr.nn.functional.cross_entropy(z, target).backward()
        else:

            def step(z=z, name=name, upstream=upstream):
                getattr(cr.nn.functional, name)(z, dim=1).backward(upstream)

        for _ in range(200):
            step()
        times[f"{name} {batch}×10"] = _best(step, 5e-3)
    return times


def operations(before: str, after: str, rounds: int) -> None:
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for round_ in range(rounds):
        order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
        for which in order:
            env = {**os.environ, "PYTHONPATH": before if which == "before" else after}
            out = subprocess.run(
                [sys.executable, __file__, "--one-process"],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[which].append(json.loads(out))
    print("| operation (forward and backward) | before | after | after / before |")
    print("| --- | --- | --- | --- |")
    for key in runs["after"][0]:
        b = [run[key] for run in runs["before"]]
        a = [run[key] for run in runs["after"]]
        ratios = sorted(x / y for x, y in zip(a, b))
        print(
            f"| {key} | {statistics.median(b):.1f} µs | {statistics.median(a):.1f} µs | "
            f"{ratios[0]:.2f} / **{statistics.median(ratios):.2f}** / {ratios[-1]:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", action="store_true", help="time the operations, before/after")
    parser.add_argument("--before", help="source folder of the tree before (with --ops)")
    parser.add_argument("--after", default="src", help="source folder of the tree after")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_process:
        print(json.dumps(one_process()))
    elif args.ops:
        if not args.before:
            parser.error("--ops needs --before, the source folder to compare against")
        operations(os.path.abspath(args.before), os.path.abspath(args.after), args.rounds)
    else:
        reductions()


if __name__ == "__main__":
    main()
