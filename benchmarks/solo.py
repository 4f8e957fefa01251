"""Time every implementation of every configuration, each alone in its own process.

Two BLAS thread pools in one process distort each other's figures (on an Intel Xeon, PyTorch's
784-512-512-10 step took 4.77 ms beside chainrule and 2.05 ms alone), so each run here is a
fresh process (solo_step.py) that imports only the library it times and builds the step from
the same seeded weights and batch. Runs go in rounds: in each round every configuration's
implementations run one after another (chainrule, torch, numpy, ...; reversed every other
round), and a ratio to PyTorch eager is taken per round, so that a drift of a shared machine
falls on both sides. Each process warms up, then times ``--blocks`` blocks of steps.

Reported per implementation: min / median / max of the per-step time over every timed block;
per ratio: min / median / max over the rounds. The result file also holds the machine (CPU,
cores, each library's BLAS and threads), the load average at start and end, the git commit,
the exact command, the first loss of every implementation (they must agree: same weights and
batch), the peak memory of a training step (``--memory``) and the import times (``--imports``).

    python benchmarks/solo.py --out results.json --markdown              # everything
    python benchmarks/solo.py --configs xor,digits --rounds 3 --blocks 5    # a short look
    python benchmarks/solo.py --configs mlp784 --impls chainrule,chainrule_compiled,torch
    python benchmarks/solo.py --render results.json                      # table of a run

Configurations: xor, digits, mlp784, mlp784-adam, mlp784-momentum and
mlp784-rmsprop (eager only), cnn, lstm, gru, lstm-tm, and
the operations pow2, square, mul2, pow3, mul3, reciprocal, div, sqrt; groups: steps, ops, all.
Implementations: chainrule (eager; with chainrule.native's numba loops where numba is
installed), chainrule_numpy (eager, the loops off), chainrule_compiled, chainrule_kernels,
torch, numpy (by hand), floor (the step's matrix products alone, for mlp784 and the LSTMs; run
with numpy), and any other chainrule_* step that train_step.py builds (chainrule_trainstep,
chainrule_tensors, ...).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import machine
import report
from workloads import ALIASES, GROUPS, WORKLOADS, library

HERE = Path(__file__).resolve().parent
LIBRARIES = ("numpy", "chainrule", "torch")


def child(args: list[str], env: dict[str, str], timeout: float = 900) -> dict[str, Any]:
    """Run solo_step.py with ``args`` and return its JSON line (or the error)."""
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / "solo_step.py"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"still running after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit status {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def implementations(config: str, impls: list[str]) -> list[str]:
    """The implementations to run for ``config``: the floor (the step's matrix products
    alone) joins numpy on the configurations that have one (mlp784, lstm, lstm-tm)."""
    has_floor = bool(WORKLOADS[config].floor)
    chosen = [impl for impl in impls if impl != "floor" or has_floor]
    if has_floor and "numpy" in impls and "floor" not in chosen:
        chosen.append("floor")
    return chosen


def run_rounds(
    configs: list[str], impls: list[str], args: argparse.Namespace, env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """Every (configuration, implementation) once per round, each in its own process."""
    runs: dict[str, dict[str, Any]] = {c: {"runs": {}, "unavailable": {}} for c in configs}
    timing = ["--blocks", str(args.blocks), "--warmup", str(args.warmup)]
    if args.steps:
        timing += ["--steps", str(args.steps)]
    for round_index in range(args.rounds):
        for config in configs:
            order = implementations(config, impls)
            if round_index % 2:
                order = order[::-1]
            entry = runs[config]
            for impl in order:
                if impl in entry["unavailable"]:
                    continue
                result = child([config, impl, *timing], env)
                if "unavailable" in result or "error" in result:
                    entry["unavailable"][impl] = result.get("unavailable") or result["error"]
                    _progress(f"round {round_index + 1}: {config} {impl}: not run ({result})")
                    continue
                result["round"] = round_index
                entry["runs"].setdefault(impl, []).append(result)
                _progress(
                    f"round {round_index + 1}/{args.rounds}: {config:10} {impl:20} "
                    f"{report.duration(result['median'])}"
                )
    return runs


def summarise(config: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Per implementation min / median / max over every block, and per-round ratios."""
    runs = entry["runs"]
    out: dict[str, Any] = {
        "label": WORKLOADS[config].label,
        "kind": WORKLOADS[config].kind,
        "target": WORKLOADS[config].target,
        "floor": WORKLOADS[config].floor,
        "floor_target": WORKLOADS[config].floor_target,
        "unavailable": entry["unavailable"],
        "impls": {},
        "ratios_to_torch": {},
    }
    for impl, results in runs.items():
        blocks = [t for r in results for t in r["blocks"]]
        first = results[0]
        out["impls"][impl] = {
            "min": min(blocks),
            "median": statistics.median(blocks),
            "max": max(blocks),
            "process_medians": [r["median"] for r in results],
            "first_values": [r["first_value"] for r in results],
            "steps_per_block": first["steps_per_block"],
            "blocks_per_process": len(first["blocks"]),
            "processes": len(results),
            **{k: first[k] for k in ("flops", "threadpools", "torch_threads") if k in first},
        }
    if "torch" in runs:
        for impl in runs:
            if impl != "torch":
                out["ratios_to_torch"][impl] = per_round(runs[impl], runs["torch"])
    if "floor" in runs:
        out["ratios_to_floor"] = {
            impl: per_round(runs[impl], runs["floor"])
            for impl in runs
            if library(impl) in ("chainrule", "torch")
        }
    out["check"] = first_values_agree(runs)
    return out


def per_round(numerator: list[dict], denominator: list[dict]) -> dict[str, Any]:
    """The ratio of process medians in each round both ran, and its min / median / max."""
    by_round = {r["round"]: r["median"] for r in denominator}
    ratios = [r["median"] / by_round[r["round"]] for r in numerator if r["round"] in by_round]
    if not ratios:
        return {"per_round": []}
    return {
        "per_round": ratios,
        "min": min(ratios),
        "median": statistics.median(ratios),
        "max": max(ratios),
    }


def first_values_agree(runs: dict[str, list[dict]], tolerance: float = 1e-4) -> dict[str, Any]:
    """Whether every implementation that returns its loss gave the same first loss: the
    proof that all started from the same weights and batch."""
    values = {
        impl: results[0]["first_value"]
        for impl, results in runs.items()
        if results[0]["first_value"] is not None
    }
    if len(values) < 2:
        return {"values": values, "agree": None}
    reference = next(iter(values.values()))
    agree = all(abs(v - reference) <= tolerance * max(1.0, abs(reference)) for v in values.values())
    return {"values": values, "agree": agree}


def equivalents(results: dict[str, Any]) -> None:
    """For each operation with an equivalent (``x ** 3`` and ``x * x * x``): the per-round
    ratio of their times, per library, stored under the operation."""
    for config, entry in results.items():
        equivalent = WORKLOADS[config].equivalent
        if equivalent is None or equivalent not in results:
            continue
        entry["ratios_to_equivalent"] = {
            impl: per_round(entry["_runs"][impl], results[equivalent]["_runs"][impl])
            for impl in entry["_runs"]
            if impl in results[equivalent]["_runs"]
        }


def measure_memory(configs: list[str], impls: list[str], env: dict[str, str]) -> dict:
    """Peak resident set (and NumPy's allocations, through tracemalloc) of a training step."""
    import workload_mlp

    out: dict[str, Any] = {}
    for config in configs:
        entry: dict[str, Any] = {}
        detail = WORKLOADS[config].detail
        if WORKLOADS[config].kind == "mlp":
            entry["kept_bytes"] = workload_mlp.kept_bytes(detail)
        for impl in impls:
            if impl == "floor":
                continue
            facts = child([config, impl, "--memory", "rss"], env)
            if library(impl) != "torch" and "error" not in facts and "unavailable" not in facts:
                facts.update(child([config, impl, "--memory", "traced"], env))
            entry[impl] = facts
            _progress(f"memory: {config} {impl}: {facts}")
        out[config] = entry
    return out


def measure_imports(libraries: tuple[str, ...], repeats: int, env: dict[str, str]) -> dict:
    """Wall time of ``python -c "import X"`` (min and median of ``repeats``) for each of
    ``libraries``, the interpreter's own start (``-c pass``), and what ``-X importtime``
    says of each package (import_time).

    Timed with compiled bytecode cached, as an installed package has it (pip compiles it at
    install): one untimed import first, with ``PYTHONDONTWRITEBYTECODE`` lifted. Where that
    variable is set (as on the machines of this project), a source checkout would otherwise
    be compiled on every import: chainrule measured 0.23 s so, against 0.11 s cached, while
    PyTorch's installed bytecode was cached all along."""
    env = {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}
    out: dict[str, Any] = {"bytecode": "cached (one untimed import first)"}
    for name, code in (("python", "pass"), *((lib, f"import {lib}") for lib in libraries)):
        subprocess.run([sys.executable, "-c", code], env=env, check=True)  # writes the cache
        walls = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
            walls.append(time.perf_counter() - start)
        out[name] = {"wall_min": min(walls), "wall_median": statistics.median(walls)}
        if name != "python":
            out[name].update(import_time(name, env, repeats))
        _progress(f"import {name}: {report.duration(min(walls))}")
    return out


def import_time(name: str, env: dict[str, str], repeats: int) -> dict[str, Any]:
    """``-X importtime`` for ``import name``, the run with the smallest cumulative time of
    the package out of ``repeats``: that time, the package's own slowest modules (self
    time) and the other top-level packages it pulled in (cumulative time)."""
    best: dict[str, Any] = {}
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {name}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        rows = []
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
            if match:
                rows.append((match.group(3), int(match.group(1)) / 1e6, int(match.group(2)) / 1e6))
        cumulative = next((c for module, _, c in rows if module == name), None)
        if cumulative is None or cumulative >= best.get("importtime_cumulative", 1e9):
            continue
        own = [row for row in rows if row[0] == name or row[0].startswith(name + ".")]
        others = [row for row in rows if "." not in row[0] and row[0] != name]
        best = {
            "importtime_cumulative": cumulative,
            "slowest_own": [[m, s] for m, s, _ in sorted(own, key=lambda r: -r[1])[:10]],
            "heaviest_dependencies": [
                [m, c] for m, _, c in sorted(others, key=lambda r: -r[2])[:5]
            ],
        }
    return best


def in_process(config: str, blocks: int, steps: int | None, env: dict[str, str]) -> dict:
    """train_step.py's in-process comparison of ``config`` (every implementation in one
    process, alternating blocks), run in a fresh process."""
    name = WORKLOADS[config].detail
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import train_step; "
        f"print(json.dumps(train_step.compare({name!r}, {blocks}, {steps})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": " | ".join(done.stderr.strip().splitlines()[-3:])}
    return json.loads(done.stdout.strip().splitlines()[-1])


def expand(configs: str) -> list[str]:
    names: list[str] = []
    for name in configs.split(","):
        name = ALIASES.get(name.strip(), name.strip())
        for member in GROUPS.get(name, [name]):
            if member not in WORKLOADS:
                raise SystemExit(
                    f"unknown configuration {member!r}; choose from {sorted(WORKLOADS)} "
                    f"or a group {sorted(GROUPS)}"
                )
            if member not in names:
                names.append(member)
    return names


def child_environment(threads: int | None) -> dict[str, str]:
    """This environment, with every library's thread count pinned where ``threads`` is set."""
    env = dict(os.environ)
    if threads:
        for var in ("CHAINRULE_BENCH_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
        env["MKL_NUM_THREADS"] = str(threads)
    return env


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", default="all", help="comma-separated (default: all)")
    parser.add_argument("--impls", default="chainrule,torch,numpy", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=5, help="processes per implementation")
    parser.add_argument("--blocks", type=int, default=15, help="timed blocks per process")
    parser.add_argument("--steps", type=int, help="steps per block (default: the config's)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds (0.5)")
    parser.add_argument("--threads", type=int, help="pin every library to this many threads")
    parser.add_argument(
        "--memory",
        default="mlp784",
        help="configurations whose step memory to measure (default mlp784; 'none' to skip)",
    )
    parser.add_argument(
        "--imports", type=int, default=5, help="import-time repeats (default 5; 0 to skip)"
    )
    parser.add_argument("--compare-in-process", metavar="CONFIG", help="xor, digits or mlp784")
    parser.add_argument("--out", type=Path, help="write every figure as JSON here")
    parser.add_argument("--markdown", action="store_true", help="print tables for BENCHMARKS.md")
    parser.add_argument("--render", type=Path, help="print the tables of a saved result file")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.blocks < 1:
        parser.error("--rounds and --blocks must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.render:
        print(report.markdown(json.loads(args.render.read_text())))
        return
    configs = expand(args.configs)
    compare = args.compare_in_process and ALIASES.get(
        args.compare_in_process, args.compare_in_process
    )
    if compare:
        if WORKLOADS.get(compare) is None or WORKLOADS[compare].kind != "mlp":
            raise SystemExit("--compare-in-process takes xor, digits or mlp784")
        if compare not in configs:
            configs.append(compare)
    impls = [impl.strip() for impl in args.impls.split(",") if impl.strip()]
    env = child_environment(args.threads)
    started = time.time()
    record: dict[str, Any] = {
        "command": shlex.join(["python", *(sys.argv if argv is None else [__file__, *argv])]),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_start": os.getloadavg(),
        "settings": {
            "configs": configs,
            "impls": impls,
            "rounds": args.rounds,
            "blocks": args.blocks,
            "steps": args.steps,
            "warmup": args.warmup,
            "threads": args.threads,
        },
    }
    libraries = tuple(lib for lib in LIBRARIES if lib == "numpy" or lib in map(library, impls))
    record["machine"] = machine.describe(libraries, env)
    raw = run_rounds(configs, impls, args, env)
    results = {}
    for config, entry in raw.items():
        results[config] = summarise(config, entry)
        results[config]["_runs"] = entry["runs"]
    equivalents(results)
    for entry in results.values():
        entry["runs"] = entry.pop("_runs")
    record["results"] = results
    memory = [] if args.memory == "none" else expand(args.memory)
    if memory:
        record["memory"] = measure_memory(memory, [i for i in impls if i != "floor"], env)
    if args.imports:
        record["imports"] = measure_imports(libraries, args.imports, env)
    if compare:
        record["in_process"] = {
            "config": compare,
            "figures": in_process(compare, args.blocks, args.steps, env),
        }
    record["load_end"] = os.getloadavg()
    record["seconds"] = time.time() - started
    if args.out:
        args.out.write_text(json.dumps(record, indent=1))
    print(report.markdown(record) if args.markdown else report.text(record))


if __name__ == "__main__":
    main()
