"""Time one training step on a GPU: chainrule on CuPy, or PyTorch on CUDA, alone in this process.

The configurations are the CPU harness's (workloads.py): the MLP 784-512-512-10, the CNN and
the LSTM, with the same weights and batch. The model and the batch are moved to "cuda" once;
each timed block runs ``steps`` steps and then waits for the GPU (synchronize), so that queued
work is counted. The result is one JSON line: the first step's loss, then the per-step seconds
of each block with their median, min and max, and the GPU's name.

    python benchmarks/gpu_step.py mlp784 chainrule
    python benchmarks/gpu_step.py cnn torch --blocks 9

Run each library in its own process, on an otherwise idle GPU. ``--emulate`` runs chainrule's
step on the CPU emulator of CuPy instead: a check that the script works without a GPU, whose
times mean nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workload_cnn
import workload_lstm
import workload_mlp

CONFIGS = {"mlp784": 20, "cnn": 10, "lstm": 10}  # steps per timed block


def _library(impl: str, emulate: bool) -> tuple[Any, Callable[[], None], str]:
    """The library, its synchronize, and the GPU's name."""
    if impl == "chainrule":
        import chainrule as lib

        if emulate:
            lib.cuda.emulate()
        elif not lib.cuda.is_available():
            raise SystemExit('gpu_step: no GPU for chainrule: pip install "chainrule[gpu]"')
        return lib, lib.cuda.synchronize, lib.cuda.get_device_name()
    if impl == "torch":
        import torch as lib

        if not lib.cuda.is_available():
            raise SystemExit("gpu_step: PyTorch sees no CUDA GPU (a CPU build of torch?)")
        return lib, lib.cuda.synchronize, lib.cuda.get_device_name()
    raise SystemExit(f"gpu_step: unknown implementation {impl!r}; choose chainrule or torch")


def build(config: str, lib: Any) -> Callable[[], Any]:
    """The step of ``config`` with ``lib``, model and batch on "cuda"."""
    if config == "mlp784":
        setup, _ = workload_mlp.mlp_setup("mlp")
        return workload_mlp.module_step(lib, *setup, device="cuda")
    if config == "cnn":
        weights, x, y = workload_cnn.cnn_setup()
        model = workload_cnn.build_model(lib, weights).to("cuda")
        step = workload_cnn.step_function(lib, model)
    elif config == "lstm":
        weights, x, y = workload_lstm.lstm_setup("bf-ce")
        model = workload_lstm.build_model(lib, weights, True).to("cuda")
        step = workload_lstm.step_function(lib, model, "ce")
    else:
        raise SystemExit(f"gpu_step: unknown configuration {config!r}; choose {list(CONFIGS)}")
    tx, ty = lib.from_numpy(x).to("cuda"), lib.from_numpy(y).to("cuda")
    return lambda: step(tx, ty)


def measure(config: str, impl: str, blocks: int, emulate: bool) -> dict:
    lib, synchronize, name = _library(impl, emulate)
    step = build(config, lib)
    first = float(step().item())
    synchronize()
    steps = CONFIGS[config] if not emulate else 2
    for _ in range(steps):  # warm-up: CuPy compiles each kernel on its first call
        step()
    synchronize()
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize()
        times.append((time.perf_counter() - start) / steps)
    return {
        "config": config,
        "impl": impl,
        "gpu": name,
        "first_loss": first,
        "seconds": times,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "emulated": emulate,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", choices=sorted(CONFIGS))
    parser.add_argument("impl", choices=["chainrule", "torch"])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--emulate", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.config, args.impl, args.blocks, args.emulate)))


if __name__ == "__main__":
    main()
