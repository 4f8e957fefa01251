"""Powers, ``square``, ``reciprocal`` and ``sqrt`` against the arithmetic they stand for.

Each operation runs on 2000 float32 values in [0.5, 2] that require grad, forward alone (the
graph recorded, as in training) and forward with backward (``op(x).backward(g)`` with a random
upstream gradient, then ``x.grad = None``). Every library, and every chainrule source tree,
is timed alone in its own process; the processes alternate, round after round, so that a
drift of the shared machine falls on all of them. Figures are, in µs per call, the median over
the rounds of each process's best block: on a shared machine the other users' work only ever
adds time, so the best block is the steadiest figure of the operation's own cost.

    python benchmarks/elementwise_powers.py                      # chainrule (src) and torch
    python benchmarks/elementwise_powers.py --before /tmp/base/src --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIZE = 2000
CALLS_PER_BLOCK = 400
BLOCKS = 7

# name -> the operation, written the same for chainrule and torch
OPS = {
    "x ** 3": lambda x: x**3,
    "x * x * x": lambda x: x * x * x,
    "x ** 2": lambda x: x**2,
    "x.square()": lambda x: x.square(),
    "x * x": lambda x: x * x,
    "x.reciprocal()": lambda x: x.reciprocal(),
    "1 / x": lambda x: 1 / x,
    "x ** -1": lambda x: x**-1,
    "x.sqrt()": lambda x: x.sqrt(),
    "x ** 0.5": lambda x: x**0.5,
    "x.rsqrt()": lambda x: x.rsqrt(),
}


def _best_block(call: Any) -> float:
    """The least seconds per call over BLOCKS timed blocks, after a warm-up block."""
    for _ in range(CALLS_PER_BLOCK):
        call()
    times = []
    for _ in range(BLOCKS):
        start = time.perf_counter()
        for _ in range(CALLS_PER_BLOCK):
            call()
        times.append((time.perf_counter() - start) / CALLS_PER_BLOCK)
    return min(times)


def child(impl: str) -> None:
    """Time every operation in ``impl`` (chainrule or torch) and print one JSON line."""
    import numpy as np

    lib: Any
    if impl == "torch":
        import torch as lib
    else:
        import chainrule as lib
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.uniform(0.5, 2.0, SIZE).astype(np.float32), requires_grad=True)
    g = lib.tensor(rng.standard_normal(SIZE).astype(np.float32))
    result = {}
    for name, op in OPS.items():

        def step(op: Any = op) -> None:
            op(x).backward(g)
            x.grad = None

        result[name] = {"forward": _best_block(lambda op=op: op(x)), "step": _best_block(step)}
    print(json.dumps(result))


def run(impl: str, tree: str | None) -> dict:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(Path(tree).resolve())
    out = subprocess.run(
        [sys.executable, __file__, "--child", impl],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the src folder of a chainrule tree to compare with")
    parser.add_argument("--after", default="src", help="the src folder of the chainrule tree")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    runs: dict[str, tuple[str, str | None]] = {}
    if args.before:
        runs["before"] = ("chainrule", args.before)
    runs["chainrule"] = ("chainrule", args.after)
    if not args.no_torch:
        runs["torch"] = ("torch", None)
    figures: dict[str, list[dict]] = {label: [] for label in runs}
    for _ in range(args.rounds):
        for label, (impl, tree) in runs.items():
            time.sleep(0.2)  # let the previous process's threads go quiet
            figures[label].append(run(impl, tree))
    print(f"cpu: {_cpu_model()}; {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"{SIZE} float32 values, µs per call, median of {args.rounds} processes each")
    header = "".join(f"{label + ' ' + part:>20}" for label in runs for part in ("fwd", "fwd+bwd"))
    print(f"{'operation':16}{header}")
    for name in OPS:
        cells = ""
        for label in runs:
            for part in ("forward", "step"):
                median = statistics.median(r[name][part] for r in figures[label])
                cells += f"{median * 1e6:20.2f}"
        print(f"{name:16}{cells}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
