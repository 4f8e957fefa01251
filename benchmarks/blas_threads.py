"""Which matrix products run faster on one BLAS thread than on all of them.

For a fully connected layer of each size (batch B, inputs I, outputs O), the three products of
a training step in the layouts ``ops/linalg.py`` uses: the forward x Wᵀ (W stored (O, I)),
the input gradient G W and the weight gradient Gᵀ x. Each is timed on one thread and on the
process's BLAS threads (best of 5 blocks), in this process only: NumPy alone, no other
library. The last column says what ``chainrule.blas_threads.one_thread`` chooses for the size
m·k·n = B·I·O, so that a row where one thread is slower inside the band (or faster outside
it) shows a bound to move.

    python benchmarks/blas_threads.py                # the sizes around the band
    python benchmarks/blas_threads.py --json out.json
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

from chainrule import blas_threads

BATCHES = (32, 64, 128, 256)
WIDTHS = (64, 128, 256, 512)


def best_time(run: Callable[[], Any], size: int) -> float:
    """Seconds per call: the best of 5 blocks, each long enough to last about 10 ms."""
    return best_per_call(run, max(20, int(2e8 / max(size, 1))), warmup=10)


def measure(threads: int) -> list[dict[str, Any]]:
    """One row per layer shape and product within 4× of the band's bounds."""
    _, set_threads = blas_threads.controls()
    rng = np.random.default_rng(0)
    rows = []
    for batch in BATCHES:
        for inputs in WIDTHS:
            for outputs in WIDTHS:
                size = batch * inputs * outputs
                low, high = blas_threads.SPLIT_ABOVE, blas_threads.ONE_THREAD_UP_TO
                if not low < size <= 4 * high:
                    continue
                x = rng.standard_normal((batch, inputs)).astype(np.float32)
                w = rng.standard_normal((outputs, inputs)).astype(np.float32)
                g = rng.standard_normal((batch, outputs)).astype(np.float32)
                products = {"x Wᵀ": (x, w.T), "G W": (g, w), "Gᵀ x": (g.T, x)}
                for name, (left, right) in products.items():

                    def run(left: Any = left, right: Any = right) -> Any:
                        return np.dot(left, right)

                    set_threads(1)
                    one = best_time(run, size)
                    set_threads(threads)
                    many = best_time(run, size)
                    rows.append(
                        {
                            "batch": batch,
                            "inputs": inputs,
                            "outputs": outputs,
                            "product": name,
                            "size": size,
                            "one_thread_us": one * 1e6,
                            "threads_us": many * 1e6,
                            "chosen": "one" if blas_threads.one_thread(size) else "all",
                        }
                    )
                    print(_line(rows[-1]), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    ratio = row["one_thread_us"] / row["threads_us"]
    return (
        f"| {row['batch']}×{row['inputs']}→{row['outputs']} | {row['product']} | {row['size']} | "
        f"{row['one_thread_us']:.1f} µs | {row['threads_us']:.1f} µs | {ratio:.2f} | "
        f"{row['chosen']} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the rows and the machine here")
    args = parser.parse_args(argv)
    if args.json and not args.json.parent.is_dir():  # before minutes of measuring, not after
        raise SystemExit(f"--json {args.json}: the folder {args.json.parent} does not exist")
    found = blas_threads.controls()
    if found is None:
        raise SystemExit("NumPy's BLAS here is not an OpenBLAS found beside it: nothing to measure")
    threads = found[0]()
    if threads < 2:
        raise SystemExit(f"NumPy's BLAS runs {threads} thread here: nothing to compare")
    print(
        f"one thread against {threads}; m·k·n in ({blas_threads.SPLIT_ABOVE}, "
        f"{blas_threads.ONE_THREAD_UP_TO}] runs on one"
    )
    print("| layer (B×I→O) | product | m·k·n | one thread | all threads | one / all | chosen |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = measure(threads)
    if args.json:
        record = {"machine": describe(("numpy",)), "threads": threads, "rows": rows}
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
