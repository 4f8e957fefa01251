"""Does the per-time-step observer of the fused recurrent layers cost anything when unused?

Times one LSTM (or ``--layer gru`` / ``rnn``) forward and backward (T = 50, B = 32,
I = H = 64, float32, no monitor) in two chainrule source trees, each run in its own process,
alternating before, after, before, ... so that a drift of the shared machine falls on both.
Each process times ``--blocks`` blocks of ``--repeat`` passes and reports the median per pass,
both in wall-clock time and in the CPU time of the process (``--clock cpu``: steadier where
other jobs share the cores; run with OPENBLAS_NUM_THREADS=1 so that one thread does all the
work); the driver prints the medians of those and the after/before ratio per round (min /
median / max).

    mkdir -p /tmp/before && cp -r src /tmp/before/
    git show HEAD:src/chainrule/ops/recurrent.py > /tmp/before/src/chainrule/ops/recurrent.py
    git show HEAD:src/chainrule/inspect/monitor.py > /tmp/before/src/chainrule/inspect/monitor.py
    rm /tmp/before/src/chainrule/inspect/monitor_*.py  # split out of monitor.py by the change
    python benchmarks/recurrent_observer.py --before /tmp/before/src --after src

``--solo`` runs one timing in this process (the tree on PYTHONPATH) and prints it as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

STEPS, BATCH, INPUT, HIDDEN = 50, 32, 64, 64


def solo(blocks: int, repeat: int, layer: str) -> dict:
    import numpy as np

    import chainrule as cr
    from chainrule import nn

    cr.manual_seed(0)
    lstm = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[layer](INPUT, HIDDEN)
    x = cr.tensor(np.random.default_rng(0).standard_normal((STEPS, BATCH, INPUT), np.float32))

    def one_pass() -> None:
        output, _ = lstm(x)
        output.sum().backward()

    for _ in range(repeat):  # warm the array pool and the caches
        one_pass()
    wall, cpu = [], []
    for _ in range(blocks):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            one_pass()
        wall.append((time.perf_counter() - start) / repeat)
        cpu.append((time.process_time() - start_cpu) / repeat)
        time.sleep(0.05)  # let BLAS threads settle between blocks
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu), "tree": cr.__file__}


def run_tree(tree: str, blocks: int, repeat: int, clock: str, layer: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    command = [sys.executable, __file__, "--solo", "--blocks", str(blocks), "--repeat", str(repeat)]
    command += ["--layer", layer]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the run in {tree} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["tree"].startswith(str(Path(tree).resolve())):
        raise RuntimeError(f"imported {result['tree']}, not the tree {tree}")
    return result[clock]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the src folder of the tree before the change")
    parser.add_argument("--after", default="src", help="the src folder of the tree after it")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    parser.add_argument("--blocks", type=int, default=7, help="timed blocks per process")
    parser.add_argument("--repeat", type=int, default=20, help="passes per block")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="what to compare")
    parser.add_argument("--solo", action="store_true", help="time this process's tree only")
    parser.add_argument("--layer", choices=("lstm", "gru", "rnn"), default="lstm")
    args = parser.parse_args()
    if args.solo:
        print(json.dumps(solo(args.blocks, args.repeat, args.layer)))
        return
    if args.before is None:
        parser.error("--before is required unless --solo")
    medians: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for label, tree in (("before", args.before), ("after", args.after)):
            medians[label].append(run_tree(tree, args.blocks, args.repeat, args.clock, args.layer))
    ratios = [a / b for a, b in zip(medians["after"], medians["before"])]
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"{args.layer.upper()} T={STEPS} B={BATCH} I={INPUT} H={HIDDEN} float32, "
        f"forward + backward per pass; {args.clock} time; OPENBLAS_NUM_THREADS={threads}"
    )
    for label, values in medians.items():
        listed = " ".join(f"{v * 1e3:.3f}" for v in values)
        print(f"{label:>6}: median {statistics.median(values) * 1e3:.3f} ms  (runs: {listed})")
    print(
        f"after/before per round: min {min(ratios):.3f}, median {statistics.median(ratios):.3f}, "
        f"max {max(ratios):.3f}"
    )


if __name__ == "__main__":
    main()
