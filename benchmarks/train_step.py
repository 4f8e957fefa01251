"""Time one full training step (forward, loss, backward, SGD update): chainrule vs PyTorch.

Both run in this one process on the same float32 weights and batches. Blocks of steps are
timed alternately (A B A B ...) with a pause between them, because BLAS threads keep spinning
for a moment after a call and would slow whichever library runs next. Figures are per step;
the ratio is chainrule's median over PyTorch's median (below 1: chainrule is faster).

    python benchmarks/train_step.py            # all configurations
    python benchmarks/train_step.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr


def torch_module() -> Any:
    """PyTorch, imported only by the runs that time it (solo_step.py times one library per
    process), on two threads like NumPy's BLAS here."""
    import torch

    torch.set_num_threads(2)
    return torch


# ---- the configurations ----------------------------------------------------------------------


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return x, y


def mlp_shapes(sizes: list[int], seed: int) -> list[np.ndarray]:
    """Weights (in, out) and biases (out,) with PyTorch's default uniform initialisation."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def tensor_step(
    lib: Any,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    hidden: str,
    loss: str,
    lr: float,
) -> Callable[[], None]:
    """A step written with tensors only, as a PyTorch user would without nn.Module.

    ``lib`` is ``chainrule`` or ``torch``: the same code runs on both, which is the point.
    """
    weights = [lib.tensor(p, requires_grad=True) for p in params]
    tx, ty = lib.tensor(x), lib.tensor(y)
    rows = lib.arange(x.shape[0])

    def step() -> None:
        a = tx
        for i in range(0, len(weights), 2):
            z = a @ weights[i] + weights[i + 1]
            if i < len(weights) - 2:
                a = z.sigmoid() if hidden == "sigmoid" else z.relu()
            else:  # the output layer: sigmoid for MSE, raw logits for cross-entropy
                a = z.sigmoid() if loss == "mse" else z
        if loss == "mse":
            cost = ((a - ty) ** 2).mean()
        else:
            cost = -a.log_softmax(1)[rows, ty].mean()
        cost.backward()
        with lib.no_grad():
            for p in weights:
                p -= lr * p.grad
                p.grad = None

    return step


def build_model(lib: Any, params: list[np.ndarray], hidden: str, loss: str) -> tuple[Any, Any]:
    """nn.Linear layers (weights copied from ``params``) in nn.Sequential, and the loss module."""
    layers = []
    for i in range(0, len(params), 2):
        linear = lib.nn.Linear(*params[i].shape)
        with lib.no_grad():
            linear.weight.copy_(lib.from_numpy(params[i].T.copy()))
            linear.bias.copy_(lib.from_numpy(params[i + 1]))
        layers.append(linear)
        last = i == len(params) - 2
        if not last:
            layers.append(lib.nn.Sigmoid() if hidden == "sigmoid" else lib.nn.ReLU())
        elif loss == "mse":
            layers.append(lib.nn.Sigmoid())
    loss_fn = lib.nn.MSELoss() if loss == "mse" else lib.nn.CrossEntropyLoss()
    return lib.nn.Sequential(*layers), loss_fn


def module_step(
    lib: Any,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    hidden: str,
    loss: str,
    lr: float,
) -> Callable[[], None]:
    """Idiomatic code: nn.Linear layers in nn.Sequential, a loss module, optim.SGD.

    ``lib`` is ``chainrule`` or ``torch``; the code is PyTorch's and runs on both.
    """
    model, loss_fn = build_model(lib, params, hidden, loss)
    optimizer = lib.optim.SGD(model.parameters(), lr=lr)
    tx, ty = lib.from_numpy(x), lib.from_numpy(y)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        cost = loss_fn(model(tx), ty)
        cost.backward()
        optimizer.step()

    return step


def train_step(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, hidden: str, loss: str, lr: float
) -> Callable[[], Any]:
    """The same model, loss and optimiser, the step run by chainrule.train.TrainStep."""
    model, loss_fn = build_model(cr, params, hidden, loss)
    step = cr.train.TrainStep(model, loss_fn, cr.optim.SGD(model.parameters(), lr=lr))
    tx, ty = cr.from_numpy(x), cr.from_numpy(y)
    return lambda: step(tx, ty)


def numpy_step(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, hidden: str, loss: str, lr: float
) -> Callable[[], None]:
    """The floor: the backprop equations written out by hand in NumPy, no autodiff at all."""
    weights = [p.copy() for p in params]
    n = x.shape[0]
    onehot = None
    if loss == "ce":
        onehot = np.zeros((n, params[-1].shape[0]), dtype=np.float32)
        onehot[np.arange(n), y] = 1.0
    ones = np.ones(n, dtype=np.float32)

    def step() -> None:
        activations = [x]
        for i in range(0, len(weights), 2):
            z = activations[-1] @ weights[i] + weights[i + 1]
            last = i == len(weights) - 2
            if hidden == "sigmoid" or (last and loss == "mse"):
                a = 1 / (1 + np.exp(-z))
            elif last:
                a = z
            else:
                a = np.maximum(z, 0)
            activations.append(a)
        out = activations[-1]
        if loss == "mse":
            delta = 2 * (out - y) / out.size * out * (1 - out)  # δᴸ = ∇ₐC ⊙ σ'(zᴸ)
        else:
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            delta = (shifted / shifted.sum(axis=1, keepdims=True) - onehot) / n
        for i in range(len(weights) - 2, -1, -2):
            a_prev = activations[i // 2]
            grad_w, grad_b = a_prev.T @ delta, ones @ delta
            if i > 0:  # δˡ = δˡ⁺¹ Wᵀ ⊙ σ'(zˡ)
                back = delta @ weights[i].T
                delta = back * (a_prev * (1 - a_prev) if hidden == "sigmoid" else a_prev > 0)
            weights[i] -= lr * grad_w
            weights[i + 1] -= lr * grad_b

    return step


def configuration(name: str, only: str | None = None) -> tuple[dict[str, Callable[[], None]], int]:
    """The step functions of a configuration, by implementation, and the steps in one block.

    ``only`` builds that one implementation alone, so that a process timing it never imports
    the other library (see solo_step.py).
    """
    if name == "add":
        return _add_steps(only), 2000
    if name == "xor":
        x, y = xor_data()
        params = mlp_shapes([2, 2, 1], seed=0)
        setup, steps = (params, x, y, "sigmoid", "mse", 0.5), 400
    elif name == "digits":
        rng = np.random.default_rng(2)
        x = rng.standard_normal((64, 64)).astype(np.float32)
        y = rng.integers(0, 10, 64)
        setup, steps = (mlp_shapes([64, 128, 10], seed=0), x, y, "relu", "ce", 0.01), 200
    elif name == "mlp":
        rng = np.random.default_rng(1)
        x = rng.standard_normal((128, 784)).astype(np.float32)
        y = rng.integers(0, 10, 128)
        setup, steps = (mlp_shapes([784, 512, 512, 10], seed=0), x, y, "relu", "ce", 0.01), 20
    else:
        raise ValueError(f"unknown configuration {name!r}")
    builders = {
        "chainrule": lambda: module_step(cr, *setup),
        "torch": lambda: module_step(torch_module(), *setup),
        "chainrule_trainstep": lambda: train_step(*setup),
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


def compare(name: str, blocks: int) -> dict[str, dict[str, float]]:
    """Median time per step of every implementation, and its ratios to PyTorch per block."""
    steps_by_impl, steps = configuration(name)
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
    print("per-step median; ratio = implementation / PyTorch eager (nn.Linear, optim.SGD),")
    print("per block, min / median / max")
    names = {
        "chainrule": "chainrule (nn, optim)",
        "torch": "PyTorch eager (nn, optim)",
        "chainrule_trainstep": "chainrule TrainStep",
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
