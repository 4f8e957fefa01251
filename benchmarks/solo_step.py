"""Time one implementation of one configuration, alone in this process.

Two libraries in one process share the machine's cores through two BLAS thread pools, and
each distorts the other's figures; here only the library of the implementation asked for is
imported (see workloads.py). The result is one JSON line: the value of the first step (the
loss, where the step returns one, so that the driver can check every implementation started
from the same weights and batch), then per-step seconds of every timed block and their
median, min and max, and the threads the library ran on.

    python benchmarks/solo_step.py xor chainrule
    python benchmarks/solo_step.py digits torch --blocks 21
    python benchmarks/solo_step.py mlp784 chainrule --memory rss

``--memory rss`` reports the resident set instead of times: after the model is built, and
its peak through the first steps and through later ones (Linux: the peak is reset through
/proc/self/clear_refs). ``--memory traced`` reports, with tracemalloc, the most bytes of
Python and NumPy allocations alive at once during a later step, counting every allocation
made since the model was built (NumPy-based implementations only: PyTorch's allocator is
invisible to tracemalloc).

solo.py runs this script for every implementation and configuration and summarises;
before_after.py runs it in alternating processes to compare two source trees.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads import ALIASES, WORKLOADS, UnavailableError, build, library


def time_block(step: Callable[[], Any], steps: int) -> float:
    """Seconds per step over ``steps`` consecutive steps."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def measure(
    config: str, impl: str, blocks: int, steps: int | None = None, warmup: float = 0.5
) -> dict:
    """Per-step seconds of ``blocks`` timed blocks of ``impl`` on ``config``, after at least
    3 steps and ``warmup`` seconds of warm-up (allocations, BLAS threads, caches)."""
    start = time.perf_counter()
    step, facts = build(config, impl)
    built = time.perf_counter()
    first = _as_float(step())  # for a compiled step, this call records
    first_step = time.perf_counter() - built
    steps = steps or WORKLOADS[ALIASES.get(config, config)].steps
    warm, warm_start = 0, time.perf_counter()
    while warm < 3 or time.perf_counter() - warm_start < warmup:
        step()
        warm += 1
    times = []
    for _ in range(blocks):
        time.sleep(0.02)
        times.append(time_block(step, steps))
    return {
        "config": config,
        "impl": impl,
        "first_value": first,
        "build_seconds": built - start,
        "first_step_seconds": first_step,
        "warmup_steps": warm,
        "steps_per_block": steps,
        "median": statistics.median(times) if times else None,
        "min": min(times, default=None),
        "max": max(times, default=None),
        "blocks": times,
        **facts,
        **runtime(impl),
    }


def memory_rss(config: str, impl: str, steps: int = 5) -> dict:
    """Resident set after building, and its peak growth through the first ``steps`` steps
    and through ``steps`` later ones, in bytes (Linux: read from /proc/self/status)."""
    if not Path("/proc/self/status").exists():
        raise UnavailableError("the resident set is read from Linux's /proc/self/status")
    step, _ = build(config, impl)
    gc.collect()
    built = _status("VmRSS")
    first = _peak_growth(step, steps)
    later = _peak_growth(step, steps)
    return {
        "config": config,
        "impl": impl,
        "mode": "rss",
        "rss_built": built,
        "peak_growth_first_steps": first,
        "peak_growth_later_steps": later,
        "peak_reset": Path("/proc/self/clear_refs").exists(),
    }


def memory_traced(config: str, impl: str, steps: int = 5) -> dict:
    """tracemalloc's peak during step ``steps + 1``, counting every allocation since the
    model was built (gradients and work arrays kept between steps included), in bytes.

    The steady state of training: ``steps`` is past a compiled step's two recordings, and the
    cycle collector runs before the measured step, so that what the recordings left for it
    (their graphs) does not count as memory a step keeps. What numba allocated while it
    compiled kernels (its compiler's Python objects) and the modules imported during the steps
    (found by the frames of each allocation; ``compiler``) are counted apart and taken out of
    both figures: they are kept for the process, whatever the network's size, and hold no
    array of the step."""
    if library(impl) == "torch":
        raise UnavailableError("tracemalloc does not see PyTorch's allocator")
    step, _ = build(config, impl)
    gc.collect()
    tracemalloc.start(64)  # frames enough to see numba's below the step
    for _ in range(steps):
        step()
    gc.collect()
    kept, _ = tracemalloc.get_traced_memory()
    compiler = _compiler_bytes(tracemalloc.take_snapshot())
    tracemalloc.reset_peak()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "config": config,
        "impl": impl,
        "mode": "traced",
        "kept_between_steps": kept - compiler,
        "peak_during_step": peak - compiler,
        "compiler": compiler,
    }


def _compiler_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes still allocated whose allocation ran through numba, llvmlite or an import."""
    marks = (f"{os.sep}numba{os.sep}", f"{os.sep}llvmlite{os.sep}", "<frozen importlib")
    return sum(
        trace.size
        for trace in snapshot.traces
        if any(mark in frame.filename for frame in trace.traceback for mark in marks)
    )


def runtime(impl: str) -> dict:
    """The library's version and the threads it runs on, read in this process."""
    lib = library(impl)
    # The proof that this process timed one library alone.
    imported = [name for name in ("chainrule", "torch") if name in sys.modules]
    facts: dict[str, Any] = {"library": lib, "imported": imported}
    if lib == "torch":
        import torch

        facts["version"] = torch.__version__
        facts["torch_threads"] = torch.get_num_threads()
    elif lib == "chainrule":
        import chainrule

        facts["version"] = chainrule.__version__
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return facts
    facts["threadpools"] = [
        {key: pool.get(key) for key in ("internal_api", "version", "num_threads", "architecture")}
        for pool in threadpool_info()
    ]
    return facts


def _peak_growth(step: Callable[[], Any], steps: int) -> int | None:
    """The peak resident set during ``steps`` steps, less the resident set before them."""
    before = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return None
    for _ in range(steps):
        step()
    return _status("VmHWM") - before


def _status(field: str) -> int:
    """A memory field of /proc/self/status, in bytes."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) * 1024


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", choices=sorted([*WORKLOADS, *ALIASES]))
    parser.add_argument("impl", help="chainrule, torch, numpy, floor, chainrule_compiled, ...")
    parser.add_argument("--blocks", type=int, default=15, help="timed blocks (default 15)")
    parser.add_argument("--steps", type=int, help="steps per block (default: the config's)")
    parser.add_argument("--warmup", type=float, default=0.5, help="warm-up seconds (0.5)")
    parser.add_argument("--memory", choices=["rss", "traced"], help="measure memory instead")
    args = parser.parse_args()
    try:
        if args.memory == "rss":
            result = memory_rss(args.config, args.impl)
        elif args.memory == "traced":
            result = memory_traced(args.config, args.impl)
        else:
            result = measure(args.config, args.impl, args.blocks, args.steps, args.warmup)
    except UnavailableError as reason:
        result = {"config": args.config, "impl": args.impl, "unavailable": str(reason)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
