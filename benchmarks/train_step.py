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
import platform
import statistics
import time
from typing import Callable

import numpy as np
import torch

import chainrule as cr

torch.set_num_threads(2)


# ---- the configurations ----------------------------------------------------------------------


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return x, y


def mlp_shapes(sizes: list[int], seed: int) -> list[np.ndarray]:
    """Weights (in, out) and biases (out,) with PyTorch's default uniform initialisation."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def chainrule_step(
    params: list[cr.Tensor], x: cr.Tensor, y: cr.Tensor, hidden: str, loss: str, lr: float
) -> Callable[[], None]:
    """A step written with tensors only, as a PyTorch user would without nn.Module."""
    rows = cr.arange(x.shape[0])

    def step() -> None:
        a = x
        for i in range(0, len(params), 2):
            z = a @ params[i] + params[i + 1]
            if i < len(params) - 2:
                a = z.sigmoid() if hidden == "sigmoid" else z.relu()
            else:  # the output layer: sigmoid for MSE, raw logits for cross-entropy
                a = z.sigmoid() if loss == "mse" else z
        if loss == "mse":
            cost = ((a - y) ** 2).mean()
        else:
            cost = -a.log_softmax(1)[rows, y].mean()
        cost.backward()
        with cr.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None

    return step


def torch_step(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, hidden: str, loss: str, lr: float
) -> Callable[[], None]:
    """Idiomatic PyTorch eager: nn.Linear layers, a built-in loss, torch.optim.SGD."""
    layers = []
    for i in range(0, len(params), 2):
        linear = torch.nn.Linear(*params[i].shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[i].T.copy()))
            linear.bias.copy_(torch.from_numpy(params[i + 1]))
        layers.append(linear)
        last = i == len(params) - 2
        if not last:
            layers.append(torch.nn.Sigmoid() if hidden == "sigmoid" else torch.nn.ReLU())
        elif loss == "mse":
            layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.MSELoss() if loss == "mse" else torch.nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        cost = loss_fn(model(tx), ty)
        cost.backward()
        optimizer.step()

    return step


def configuration(name: str) -> tuple[Callable[[], None], Callable[[], None], int]:
    """The two step functions of a configuration and how many steps make one timed block."""
    if name == "xor":
        x, y = xor_data()
        params = mlp_shapes([2, 2, 1], seed=0)
        ours = chainrule_step(
            [cr.tensor(p, requires_grad=True) for p in params],
            cr.tensor(x), cr.tensor(y), "sigmoid", "mse", 0.5,
        )
        return ours, torch_step(params, x, y, "sigmoid", "mse", 0.5), 400
    if name == "mlp":
        rng = np.random.default_rng(1)
        x = rng.standard_normal((128, 784)).astype(np.float32)
        y = rng.integers(0, 10, 128)
        params = mlp_shapes([784, 512, 512, 10], seed=0)
        ours = chainrule_step(
            [cr.tensor(p, requires_grad=True) for p in params],
            cr.tensor(x), cr.tensor(y), "relu", "ce", 0.01,
        )
        return ours, torch_step(params, x, y, "relu", "ce", 0.01), 20
    if name == "add":
        a = cr.randn(4, 4, requires_grad=True)
        b = cr.randn(4, 4, requires_grad=True)
        ta = torch.randn(4, 4, requires_grad=True)
        tb = torch.randn(4, 4, requires_grad=True)
        gradient = cr.ones(4, 4)
        tgradient = torch.ones(4, 4)

        def ours() -> None:
            (a + b).backward(gradient)

        def theirs() -> None:
            (ta + tb).backward(tgradient)

        return ours, theirs, 2000
    raise ValueError(f"unknown configuration {name!r}")


# ---- timing ----------------------------------------------------------------------------------


def time_block(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def compare(name: str, blocks: int) -> dict[str, float]:
    ours, theirs, steps = configuration(name)
    for _ in range(3):  # warm-up: allocations, BLAS thread start, caches
        time_block(ours, steps // 4 + 1)
        time_block(theirs, steps // 4 + 1)
    ours_times, theirs_times = [], []
    for _ in range(blocks):
        time.sleep(0.05)
        ours_times.append(time_block(ours, steps))
        time.sleep(0.05)
        theirs_times.append(time_block(theirs, steps))
    ratios = [a / b for a, b in zip(ours_times, theirs_times)]
    return {
        "ours": statistics.median(ours_times),
        "theirs": statistics.median(theirs_times),
        "ratio_min": min(ratios),
        "ratio_median": statistics.median(ratios),
        "ratio_max": max(ratios),
    }


LABELS = {
    "xor": "XOR 2-2-1 sigmoid, MSE, batch 4",
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
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}, "
          f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"chainrule {cr.__version__}")
    print(f"{'configuration':48} {'chainrule':>11} {'PyTorch':>11}   ratio min / median / max")
    for name in args.configs:
        r = compare(name, blocks)
        print(
            f"{LABELS[name]:48} {r['ours'] * 1e6:9.1f}us {r['theirs'] * 1e6:9.1f}us   "
            f"{r['ratio_min']:.3f} / {r['ratio_median']:.3f} / {r['ratio_max']:.3f}"
        )


if __name__ == "__main__":
    main()
