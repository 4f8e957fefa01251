"""Time one full training step (forward, loss, backward, SGD update): chainrule vs PyTorch.

Both run in this one process on the same float32 weights and batches. Blocks of steps are
timed alternately (A B A B ...) with a pause between them, because BLAS threads keep spinning
for a moment after a call and would slow whichever library runs next. Figures are per step;
the ratio is chainrule's median over PyTorch's median (below 1: chainrule is faster).

    python benchmarks/train_step.py            # all configurations
    python benchmarks/train_step.py --quick    # fewer repetitions

Figures from this script are NOT to be reported. Two libraries in one process share the cores
through two BLAS thread pools and distort each other: on an Intel Xeon, PyTorch's
784-512-512-10 step took 4.77 ms here and 2.05 ms alone. Report figures from
benchmarks/solo.py, which times each implementation in its own process;
``python benchmarks/solo.py --compare-in-process xor`` shows this script's figures beside the
solo ones for one configuration.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from workload_mlp import build_model, mlp_setup, module_step, numpy_step, tensor_step
from workloads import threads

import chainrule as cr


def torch_module() -> Any:
    """PyTorch, imported only by the runs that time it, on as many threads as solo.py gives
    it (workloads.threads: the cores this process may use, or --threads)."""
    import torch

    torch.set_num_threads(threads())
    return torch


# ---- the configurations ----------------------------------------------------------------------
# The steps written once for any library (and by hand in NumPy) are in workload_mlp.py, which
# imports neither library, so that solo_step.py can time each alone.


def train_step(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, hidden: str, loss: str, lr: float
) -> Callable[[], Any]:
    """The same model, loss and optimiser, the step run by chainrule.train.TrainStep."""
    model, loss_fn = build_model(cr, params, hidden, loss)
    step = cr.train.TrainStep(model, loss_fn, cr.optim.SGD(model.parameters(), lr=lr))
    tx, ty = cr.from_numpy(x), cr.from_numpy(y)
    return lambda: step(tx, ty)


def compiled_step(
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    hidden: str,
    loss: str,
    lr: float,
    kernels: bool = False,
) -> Callable[[], Any]:
    """The same model, loss and optimiser, the idiomatic step under chainrule.compile: eager on
    its first two calls (the warm-up), a replay of their array operations after (with
    ``kernels``, through numba's kernels)."""
    model, loss_fn = build_model(cr, params, hidden, loss)
    optimizer = cr.optim.SGD(model.parameters(), lr=lr)

    @cr.compile(kernels=kernels)
    def step(tx: Any, ty: Any) -> Any:
        optimizer.zero_grad(set_to_none=True)
        cost = loss_fn(model(tx), ty)
        cost.backward()
        optimizer.step()
        return cost

    tx, ty = cr.from_numpy(x), cr.from_numpy(y)
    return lambda: step(tx, ty)


def configuration(name: str, only: str | None = None) -> tuple[dict[str, Callable[[], None]], int]:
    """The step functions of a configuration, by implementation, and the steps in one block.

    ``only`` builds that one implementation alone, so that a process timing it never imports
    the other library (see solo_step.py).
    """
    if name == "add":
        return _add_steps(only), 2000
    setup, steps = mlp_setup(name)
    builders = {
        "chainrule": lambda: module_step(cr, *setup),
        "torch": lambda: module_step(torch_module(), *setup),
        "chainrule_trainstep": lambda: train_step(*setup),
        "chainrule_compiled": lambda: compiled_step(*setup),
        "chainrule_kernels": lambda: compiled_step(*setup, kernels=True),
        "chainrule_tensors": lambda: tensor_step(cr, *setup),
        "torch_tensors": lambda: tensor_step(torch_module(), *setup),
        "numpy": lambda: numpy_step(*setup),
    }
    if only is not None:
        if only not in builders:
            raise ValueError(f"unknown implementation {only!r}; choose from {list(builders)}")
        builders = {only: builders[only]}
    return {impl: build() for impl, build in builders.items()}, steps


def _add_steps(only: str | None) -> dict[str, Callable[[], None]]:
    steps = {}
    if only in (None, "chainrule"):
        a = cr.randn(4, 4, requires_grad=True)
        b = cr.randn(4, 4, requires_grad=True)
        gradient = cr.ones(4, 4)
        steps["chainrule"] = lambda: (a + b).backward(gradient)
    if only in (None, "torch"):
        torch = torch_module()
        ta = torch.randn(4, 4, requires_grad=True)
        tb = torch.randn(4, 4, requires_grad=True)
        tgradient = torch.ones(4, 4)
        steps["torch"] = lambda: (ta + tb).backward(tgradient)
    return steps


# ---- timing ----------------------------------------------------------------------------------


def time_block(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def compare(name: str, blocks: int, steps: int | None = None) -> dict[str, dict[str, float]]:
    """Median time per step of every implementation, and its ratios to PyTorch per block
    (``steps`` per block overrides the configuration's)."""
    steps_by_impl, default_steps = configuration(name)
    steps = steps or default_steps
    for _ in range(3):  # warm-up: allocations, BLAS thread start, caches
        for step in steps_by_impl.values():
            time_block(step, steps // 4 + 1)
    times: dict[str, list[float]] = {impl: [] for impl in steps_by_impl}
    for _ in range(blocks):
        for impl, step in steps_by_impl.items():
            time.sleep(0.05)
            times[impl].append(time_block(step, steps))
    results = {}
    for impl, measured in times.items():
        ratios = [a / b for a, b in zip(measured, times["torch"])]
        results[impl] = {
            "median": statistics.median(measured),
            "ratio_min": min(ratios),
            "ratio_median": statistics.median(ratios),
            "ratio_max": max(ratios),
        }
    return results


LABELS = {
    "xor": "XOR 2-2-1 sigmoid, MSE, batch 4",
    "digits": "64-128-10 ReLU, cross-entropy, batch 64",
    "mlp": "784-512-512-10 ReLU, cross-entropy, batch 128",
    "add": "one 4x4 add, forward + backward",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 timed blocks instead of 15")
    parser.add_argument("configs", nargs="*", help=f"some of {', '.join(LABELS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.configs) - set(LABELS)
    if unknown:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; choose from {list(LABELS)}")
    args.configs = args.configs or list(LABELS)
    blocks = 5 if args.quick else 15
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch_module().__version__}, "
        f"chainrule {cr.__version__}"
    )
    print(
        "IN-PROCESS figures: not to be reported without a solo check "
        "(benchmarks/solo.py --compare-in-process CONFIG)"
    )
    print("per-step median; ratio = implementation / PyTorch eager (nn.Linear, optim.SGD),")
    print("per block, min / median / max")
    names = {
        "chainrule": "chainrule (nn, optim)",
        "torch": "PyTorch eager (nn, optim)",
        "chainrule_trainstep": "chainrule TrainStep",
        "chainrule_compiled": "chainrule.compile",
        "chainrule_kernels": "chainrule.compile(kernels=True)",
        "chainrule_tensors": "chainrule, tensor code",
        "torch_tensors": "PyTorch, tensor code",
        "numpy": "hand-written NumPy (floor)",
    }
    plain = {"chainrule": "chainrule", "torch": "PyTorch"}
    for name in args.configs:
        print(f"\n{LABELS[name]}")
        for impl, r in compare(name, blocks).items():
            label = names[impl] if name != "add" else plain[impl]
            print(
                f"  {label:28} {r['median'] * 1e6:9.1f} us   ratio "
                f"{r['ratio_min']:.3f} / {r['ratio_median']:.3f} / {r['ratio_max']:.3f}"
            )


if __name__ == "__main__":
    main()
