"""Data-parallel training through MPI: samples per second with 1 and 2 ranks, and what the
gradient averaging costs.

The MLP 784-512-512-10 of the other benchmarks (ReLU, cross-entropy, SGD, float32), wrapped in
chainrule.distributed.DistributedDataParallel, trains on synthetic data with a batch of 128
per rank (weak scaling: R ranks take R·128 samples per step). Each configuration runs under
``mpiexec -n RANKS``, every process pinned to THREADS BLAS threads; after a warm-up, each
repetition times a block of steps between two barriers. Reported per configuration, as
median / min / max over the repetitions:

* samples/s: R·128·steps / the block's time (all ranks together);
* the step time;
* the allreduce share: time inside ``MPI_Allreduce`` (the gradient buckets only) / block time;
* the averaging share: the whole end-of-backward callback (pack, Allreduce, divide, unpack).

A second measurement times ``Allreduce`` alone on buffers of several sizes, up to the model's
gradients, for the scaling estimate in docs/guide/distributed.md.

    python benchmarks/distributed.py [--configs 1x1,2x1,1x2] [--rounds 3] [--repeats 5]
                                     [--steps 20] [--out results.json]

``RxT`` is R ranks of T threads each. Each round launches every configuration once, in an
order reversed every other round; the speed-up over 1x1 is taken per round. The worker mode
(``--worker``) is what mpiexec runs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BATCH = 128  # samples per rank per step
SIZES = [784, 512, 512, 10]


# ---- the worker: one rank ------------------------------------------------------------------------


class TimedComm:
    """A communicator that adds up the seconds spent in its Allreduce calls."""

    def __init__(self, comm: Any) -> None:
        self.comm, self.seconds, self.calls = comm, 0.0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.comm, name)

    def Allreduce(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - MPI's name
        started = time.perf_counter()
        try:
            return self.comm.Allreduce(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def worker(steps: int, repeats: int, warmup: int) -> None:
    import numpy

    import chainrule as cr
    import chainrule.distributed as dist
    from chainrule import nn, optim
    from chainrule.distributed import process_group

    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    cr.manual_seed(0)
    layers: list[Any] = []
    for fan_in, fan_out in itertools.pairwise(SIZES):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = dist.DistributedDataParallel(nn.Sequential(*layers[:-1]))
    group = process_group._group
    timed = TimedComm(group.comm)
    group.comm = timed
    averaging = [0.0]
    average = model.average_gradients

    def timed_average() -> None:
        started = time.perf_counter()
        average()
        averaging[0] += time.perf_counter() - started

    model.average_gradients = timed_average  # what the output's hook queues from now on
    rng = numpy.random.default_rng(1 + rank)  # each rank its own synthetic shard
    x = cr.tensor(rng.standard_normal((BATCH, SIZES[0])).astype(numpy.float32))
    y = cr.tensor(rng.integers(0, SIZES[-1], BATCH))
    loss_fn, optimizer = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01)

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    blocks = []
    for _ in range(repeats):
        dist.barrier()
        timed.seconds, averaging[0] = 0.0, 0.0
        started = time.perf_counter()
        for _ in range(steps):
            step()
        dist.barrier()
        elapsed = time.perf_counter() - started
        blocks.append({"seconds": elapsed, "allreduce": timed.seconds, "averaging": averaging[0]})
    parameters = sum(p.numel() for p in model.parameters())
    sizes = [1024, 64 * 1024, parameters]
    alone = {n: allreduce_alone(group, n) for n in sizes} if world > 1 else {}
    if rank == 0:
        print(
            json.dumps(
                {
                    "world": world,
                    "parameters": parameters,
                    "buckets": len(model._grad_buckets),
                    "blocks": blocks,
                    "allreduce_alone": alone,
                }
            )
        )


def allreduce_alone(group: Any, count: int, calls: int = 30) -> float:
    """Median seconds of one Allreduce of ``count`` float32 values (after 3 warm-up calls)."""
    import numpy

    buffer = numpy.ones(count, dtype=numpy.float32)
    times = []
    for i in range(calls + 3):
        group.comm.Barrier()
        started = time.perf_counter()
        group.comm.Allreduce(group.mpi.IN_PLACE, buffer, op=group.mpi.SUM)
        if i >= 3:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


# ---- the driver ----------------------------------------------------------------------------------


def mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    return "mpiexec"


def run_config(ranks: int, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    """One launch of ``mpiexec -n ranks``, each process pinned to ``threads`` BLAS threads."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = [mpiexec(), "-n", str(ranks), sys.executable, __file__, "--worker"]
    command += ["--steps", str(args.steps), "--repeats", str(args.repeats)]
    command += ["--warmup", str(args.warmup)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["threads"] = threads
    return result


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(results: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    """One configuration's figures over the blocks of all its rounds."""
    world = results[0]["world"]
    blocks = [block for result in results for block in result["blocks"]]
    first = results[0]
    return {
        "ranks": world,
        "threads": first["threads"],
        "samples_per_s": spread([world * BATCH * steps / b["seconds"] for b in blocks]),
        "step_ms": spread([1e3 * b["seconds"] / steps for b in blocks]),
        "allreduce_share": spread([b["allreduce"] / b["seconds"] for b in blocks]),
        "averaging_share": spread([b["averaging"] / b["seconds"] for b in blocks]),
        "parameters": first["parameters"],
        "buckets": first["buckets"],
        "allreduce_alone_s": first["allreduce_alone"],
        "blocks": blocks,
    }


def speedups(rounds: list[dict[str, dict]], steps: int) -> dict[str, dict[str, float]]:
    """Each configuration's samples/s over 1x1's, per round (medians of the round's blocks),
    then median / min / max over the rounds: a load that comes and goes hits a whole round."""

    def rate(result: dict[str, Any]) -> float:
        seconds = statistics.median(b["seconds"] for b in result["blocks"])
        return result["world"] * BATCH * steps / seconds

    ratios: dict[str, list[float]] = {}
    for results in rounds:
        if "1x1" in results:
            for config, result in results.items():
                ratios.setdefault(config, []).append(rate(result) / rate(results["1x1"]))
    return {config: spread(values) for config, values in ratios.items()}


def markdown(rows: dict[str, dict[str, Any]], ratios: dict[str, dict], caption: str) -> str:
    def three(figure: dict[str, float], scale: float = 1, digits: int = 0) -> str:
        return " / ".join(f"{scale * figure[k]:.{digits}f}" for k in ("median", "min", "max"))

    lines = [
        caption,
        "",
        "| ranks × threads | samples/s | over 1 × 1 | step (ms) | allreduce share (%) "
        "| averaging share (%) |",
        "|---|---|---|---|---|---|",
    ]
    for config, row in rows.items():
        ratio = three(ratios[config], digits=2) if config in ratios else "—"
        lines.append(
            f"| {row['ranks']} × {row['threads']} | {three(row['samples_per_s'])} | {ratio} | "
            f"{three(row['step_ms'], digits=2)} | {three(row['allreduce_share'], 100, 1)} | "
            f"{three(row['averaging_share'], 100, 1)} |"
        )
    for row in rows.values():
        if row["allreduce_alone_s"]:
            sizes = ", ".join(
                f"{int(n) * 4 / 1024:.0f} KiB: {1e6 * s:.0f} µs"
                for n, s in row["allreduce_alone_s"].items()
            )
            lines += ["", f"Allreduce alone ({row['ranks']} ranks, float32, median): {sizes}."]
            break
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="1x1,2x1,1x2", help="RANKSxTHREADS, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="launches of every configuration")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per launch")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--out", type=Path, help="write every figure as JSON here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.steps, args.repeats, args.warmup)
        return
    sys.path.insert(0, str(HERE))
    from machine import cpu, git

    configs = args.configs.split(",")
    load_start = os.getloadavg()
    rounds = []
    for number in range(args.rounds):  # every configuration once per round, order alternating
        order = configs if number % 2 == 0 else configs[::-1]
        results = {}
        for config in order:
            ranks, threads = (int(part) for part in config.split("x"))
            results[config] = run_config(ranks, threads, args)
        rounds.append(results)
    load_end = os.getloadavg()
    rows = {c: summarise([r[c] for r in rounds], args.steps) for c in configs}
    ratios = speedups(rounds, args.steps)
    facts = cpu()
    cores = len(os.sched_getaffinity(0))
    caption = (
        f"CPU: {facts['model']} ({facts['vendor']}), {cores} cores available; load average "
        f"{load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end. Batch {BATCH} per "
        f"rank, float32, SGD; {args.rounds} rounds of {args.repeats} blocks of {args.steps} "
        "steps; median / min / max over the blocks (the ratio: over the rounds)."
    )
    print(markdown(rows, ratios, caption))
    if args.out is not None:
        record = {
            "cpu": facts,
            "cores": cores,
            "load_average": {"start": load_start, "end": load_end},
            "git": git(),
            "command": sys.argv,
            "rows": rows,
            "speedups": ratios,
        }
        args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
