"""Where copying x to column order speeds up a layer's forward product x·Wᵀ.

For each layer shape (batch B, inputs I, outputs O) with B·I·O at most 2²¹, the forward
product as ``blas_threads.dot(x, W.T)`` (x and W row-major) against the same product with x
copied to Fortran order first (the copy timed too), in this process only: NumPy alone, no
other library. The last column says what ``chainrule.blas_layout.copies_input`` chooses for the
shape, so that a row where the copy loses inside the rule (or wins outside it) shows a bound
to move. The rule applies on OpenBLAS's SkylakeX kernels only; the header says which kernels
this machine's OpenBLAS runs.

    python benchmarks/blas_layout.py
    python benchmarks/blas_layout.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe
from timing import best_per_call

from chainrule import blas_layout, blas_threads

SIZES = (16, 32, 64, 128, 256, 512)


def best_time(run: Callable[[], Any], size: int) -> float:
    """Seconds per call: the best of 5 blocks, each long enough to last about 10 ms."""
    return best_per_call(run, max(20, int(1e8 / max(size, 1000))))


def measure() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = []
    for batch in SIZES[:-1]:
        for inputs in SIZES:
            for outputs in SIZES:
                size = batch * inputs * outputs
                if size > 1 << 21:
                    continue
                x = rng.standard_normal((batch, inputs)).astype(np.float32)
                w = rng.standard_normal((outputs, inputs)).astype(np.float32)
                plain = best_time(lambda x=x, w=w: blas_threads.dot(x, w.T), size)
                copied = best_time(
                    lambda x=x, w=w: blas_threads.dot(np.asfortranarray(x), w.T), size
                )
                rows.append(
                    {
                        "batch": batch,
                        "inputs": inputs,
                        "outputs": outputs,
                        "plain_s": plain,
                        "copied_s": copied,
                        "copies": blas_layout.copies_input(batch, inputs, outputs),
                    }
                )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| B×I→O | x·Wᵀ | x copied, then x·Wᵀ | copied / plain | rule |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['batch']}×{row['inputs']}→{row['outputs']} | {row['plain_s'] * 1e6:.1f} µs "
            f"| {row['copied_s'] * 1e6:.1f} µs | {row['copied_s'] / row['plain_s']:.2f} "
            f"| {'copy' if row['copies'] else 'plain'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows and the machine here")
    args = parser.parse_args()
    if args.json is not None and not args.json.parent.is_dir():
        parser.error(f"--json: folder {args.json.parent} does not exist")
    rows = measure()
    core = blas_threads.core_name()
    print(f"OpenBLAS kernels: {core} (the rule applies on {', '.join(blas_layout.FAST_CORES)})")
    print(table(rows))
    taken = [r["copied_s"] / r["plain_s"] for r in rows if r["copies"]]
    others = [r["copied_s"] / r["plain_s"] for r in rows if not r["copies"]]
    if taken:
        print(
            f"\nInside the rule: {len(taken)} shapes, copied / plain {min(taken):.2f} to ", end=""
        )
        print(f"{max(taken):.2f}; outside it: {min(others):.2f} to {max(others):.2f}.")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"machine": describe(("numpy",)), "core": core, "rows": rows})
        )


if __name__ == "__main__":
    main()
