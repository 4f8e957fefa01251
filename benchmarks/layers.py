"""One layer's forward and backward, chainrule against PyTorch, each library alone in its own
process: the layers outside the training steps of solo.py (normalisation, embedding, softmax,
activations, pooling, a Linear over a sequence, a product of a tensor with itself).

    python benchmarks/layers.py                                  # every layer, 3 rounds
    python benchmarks/layers.py --layers batchnorm2d,layernorm --rounds 5
    python benchmarks/layers.py --before /tmp/base/src           # and chainrule at another tree

Each call builds the input from fixed float32 values (a new leaf tensor, as a training step
gets its activations), runs the layer and a backward from a fixed gradient; every
implementation's Σ|∂C/∂x| of one call must agree with PyTorch's (relative 1e-3), or the run
stops. Implementations:
``torch``; ``chainrule`` (eager, numba's loops where installed); ``chainrule_numpy`` (the
loops off, as without numba); with ``--before SRC``, ``chainrule_before``, chainrule imported
from SRC. Each process times blocks of calls after a warm-up and reports the median block;
rounds run the implementations in turn (reversed every other round). The table gives each
implementation's median over rounds and its ratio to PyTorch per round as min / **median** /
max, and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# name -> (description, input shape); the builders are in ``_layer``.
LAYERS = {
    "batchnorm2d": ("BatchNorm2d(16), training", (64, 16, 28, 28)),
    "batchnorm1d": ("BatchNorm1d(512), training", (128, 512)),
    "layernorm": ("LayerNorm(128)", (32, 50, 128)),
    "linear-seq": ("Linear(128, 128) over a sequence", (32, 50, 128)),
    "embedding": ("Embedding(1000, 128), indices (32, 50)", (32, 50)),
    "softmax": ("softmax over the last axis", (32, 50, 128)),
    "log-softmax-10": ("log_softmax over 10 classes", (1024, 10)),
    "cross-entropy-10": ("cross-entropy, 10 classes", (1024, 10)),
    "cross-entropy-1000": ("cross-entropy, 1000 classes", (256, 1000)),
    "gelu": ("GELU (erf)", (128, 512)),
    "sigmoid": ("Sigmoid", (128, 512)),
    "tanh": ("Tanh", (128, 512)),
    "silu": ("SiLU", (128, 512)),
    "leaky-relu": ("LeakyReLU(0.01)", (128, 512)),
    "softplus": ("Softplus", (128, 512)),
    "hardswish": ("Hardswish", (128, 512)),
    "elu": ("ELU", (128, 512)),
    "square": ("x · x", (128, 512)),
    "maxpool2d": ("MaxPool2d(2)", (64, 16, 28, 28)),
    "avgpool2d": ("AvgPool2d(2)", (64, 16, 28, 28)),
}


def _layer(lib: Any, name: str, shape: tuple) -> Callable[[Any], Any]:
    """The layer ``name`` of library ``lib`` as a function of its input tensor."""
    nn, functional = lib.nn, lib.nn.functional
    rng = np.random.default_rng(1)
    if name == "batchnorm2d":
        return nn.BatchNorm2d(shape[1])
    if name == "batchnorm1d":
        return nn.BatchNorm1d(shape[1])
    if name == "layernorm":
        return nn.LayerNorm(shape[-1])
    if name == "linear-seq":  # the same weights in every library
        layer = nn.Linear(shape[-1], shape[-1])
        bound = shape[-1] ** -0.5
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(rng.uniform(-bound, bound, (shape[-1], shape[-1]))))
            layer.bias.copy_(lib.tensor(rng.uniform(-bound, bound, shape[-1])))
        return layer
    if name == "embedding":
        indices = lib.tensor(rng.integers(0, 1000, shape))
        return lambda weight: functional.embedding(indices, weight)
    if name == "softmax":
        return lambda x: functional.softmax(x, dim=-1)
    if name == "log-softmax-10":
        return lambda x: functional.log_softmax(x, dim=-1)
    if name.startswith("cross-entropy"):
        target = lib.tensor(rng.integers(0, shape[1], shape[0]))
        return lambda x: functional.cross_entropy(x, target)
    if name == "gelu":
        return nn.GELU()
    activations = {
        "sigmoid": "Sigmoid",
        "tanh": "Tanh",
        "silu": "SiLU",
        "leaky-relu": "LeakyReLU",
        "softplus": "Softplus",
        "hardswish": "Hardswish",
        "elu": "ELU",
    }
    if name in activations:
        return getattr(nn, activations[name])()
    if name == "square":  # one input used twice: the engine sums two gradients
        return lambda x: x * x
    if name == "maxpool2d":
        return nn.MaxPool2d(2)
    if name == "avgpool2d":
        return nn.AvgPool2d(2)
    raise ValueError(f"unknown layer {name!r}")


def one_process(library: str, names: list[str]) -> dict[str, dict[str, float]]:
    """Seconds per forward and backward of each layer in this process (``seconds``), and the
    sum of |∂C/∂x| of one call (``checks``), which every library must agree on."""
    lib: Any = __import__(library)
    if library == "torch":
        lib.manual_seed(0)
    rng = np.random.default_rng(0)
    found: dict[str, dict[str, float]] = {"seconds": {}, "checks": {}}
    for name in names:
        _, shape = LAYERS[name]
        layer = _layer(lib, name, shape)
        values = rng.standard_normal((1000, 128) if name == "embedding" else shape)
        values = values.astype(np.float32)

        shape_out = tuple(layer(lib.tensor(values)).shape)
        upstream = lib.tensor(rng.standard_normal(shape_out).astype(np.float32))

        def call(layer=layer, values=values, upstream=upstream) -> Any:
            x = lib.tensor(values, requires_grad=True)
            y = layer(x)
            y.backward(upstream)
            return x.grad

        found["checks"][name] = float(call().abs().sum().item())
        for _ in range(2):
            call()
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < 0.3:
            call()
            count += 1
        per_call = (time.perf_counter() - start) / count
        number = max(3, int(0.05 / per_call))
        blocks = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(number):
                call()
            blocks.append((time.perf_counter() - start) / number)
        found["seconds"][name] = statistics.median(blocks)
    return found


def _child(impl: str, names: list[str], before: str | None) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    library = "torch" if impl == "torch" else "chainrule"
    if impl == "chainrule_numpy":
        env["CHAINRULE_NATIVE"] = "0"
    if impl == "chainrule_before":
        env["PYTHONPATH"] = before
    command = [sys.executable, __file__, "--child", library, "--layers", ",".join(names)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="a source folder holding another chainrule package")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.layers.split(",")
    unknown = [name for name in names if name not in LAYERS]
    if unknown:
        parser.error(f"unknown layers {unknown}; choose from {', '.join(LAYERS)}")
    if args.child:
        print(json.dumps(one_process(args.child, names)))
        return
    impls = ["torch", "chainrule", "chainrule_numpy"]
    if args.before:
        impls.append("chainrule_before")
    before = os.path.abspath(args.before) if args.before else None
    runs: dict[str, list[dict]] = {impl: [] for impl in impls}
    checks: dict[str, dict[str, float]] = {}
    load = os.getloadavg()[0]
    for round_ in range(args.rounds):
        for impl in impls if round_ % 2 == 0 else impls[::-1]:
            found = _child(impl, names, before)
            runs[impl].append(found["seconds"])
            checks[impl] = found["checks"]
    for name in names:  # the same computation timed everywhere: equal Σ|∂C/∂x|
        reference = checks["torch"][name]
        for impl in impls:
            if abs(checks[impl][name] - reference) > 1e-3 * abs(reference) + 1e-6:
                raise SystemExit(
                    f"{name}: {impl}'s Σ|∂C/∂x| is {checks[impl][name]!r}, PyTorch's "
                    f"{reference!r}: the implementations do not compute the same thing"
                )
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import machine  # benchmarks/machine.py

    facts = machine.describe(("numpy", "torch"))
    print(machine.summary(facts))
    print(
        f"\nCommit {facts['git']['commit'][:10]}; {args.rounds} rounds, each implementation "
        f"alone in its own process; load average {load:.2f} at start. Command: "
        f"`python benchmarks/layers.py {' '.join(sys.argv[1:])}`\n"
    )
    header = "| layer, forward and backward | input |"
    rule = "| --- | --- |"
    for impl in impls:
        header += f" {impl} |" if impl == "torch" else f" {impl} | / torch |"
        rule += " --- |" if impl == "torch" else " --- | --- |"
    print(header)
    print(rule)
    for name in names:
        description, shape = LAYERS[name]
        line = f"| {description} | {'×'.join(map(str, shape))} |"
        torch_times = [run[name] for run in runs["torch"]]
        for impl in impls:
            times = [run[name] for run in runs[impl]]
            line += f" {statistics.median(times) * 1e6:.0f} µs |"
            if impl != "torch":
                ratios = sorted(a / b for a, b in zip(times, torch_times))
                middle = statistics.median(ratios)
                line += f" {ratios[0]:.2f} / **{middle:.2f}** / {ratios[-1]:.2f} |"
        print(line)


if __name__ == "__main__":
    main()
