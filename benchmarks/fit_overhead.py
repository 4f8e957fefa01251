"""What ``chainrule.train.fit`` costs on top of a hand-written loop, per optimizer step.

Three ways to run the same training, in this one process, alternately:
  * chainrule, a hand-written loop over pre-cut batches (zero_grad, forward, loss, backward, step);
  * chainrule, ``fit`` (DataLoader batching, callbacks, loss bookkeeping, history, checks);
  * PyTorch, the same hand-written loop over pre-cut batches (torch has no ``fit``).
Two workloads: XOR 2-4-1 full batch (one step per epoch: fit's per-epoch work shows) and a
64-64-10 MLP on 1,437 digit-sized random samples in batches of 32 (45 steps per epoch).

    python benchmarks/fit_overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

import chainrule as cr
from chainrule.train import fit

torch.set_num_threads(2)


def workloads() -> dict[str, dict]:
    rng = np.random.default_rng(0)
    xor_x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    xor_y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    digits_x = rng.random((1437, 64), dtype=np.float32)
    digits_y = rng.integers(0, 10, 1437)
    return {
        "xor 2-4-1, full batch": dict(
            x=xor_x, y=xor_y, sizes=[2, 4, 1], batch=4, epochs=500, loss="mse", act="sigmoid"
        ),
        "mlp 64-64-10, batch 32": dict(
            x=digits_x, y=digits_y, sizes=[64, 64, 10], batch=32, epochs=4, loss="ce", act="relu"
        ),
    }


def build(lib, w: dict):
    nn = lib.nn
    act = nn.Sigmoid if w["act"] == "sigmoid" else nn.ReLU
    a, b, c = w["sizes"]
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(a, b), act(), nn.Linear(b, c))
    loss_fn = nn.MSELoss() if w["loss"] == "mse" else nn.CrossEntropyLoss()
    return model, loss_fn, lib.optim.SGD(model.parameters(), lr=0.1)


def hand_loop(lib, w: dict) -> int:
    model, loss_fn, opt = build(lib, w)
    x, y = lib.tensor(w["x"]), lib.tensor(w["y"])
    batches = [(x[i : i + w["batch"]], y[i : i + w["batch"]]) for i in range(0, len(x), w["batch"])]
    steps = 0
    for _ in range(w["epochs"]):
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            loss.item()  # fit reads every loss to report it and to stop on NaN
            steps += 1
    return steps


def with_fit(w: dict) -> int:
    model, loss_fn, opt = build(cr, w)
    history = fit(model, loss_fn, opt, (w["x"], w["y"]), epochs=w["epochs"],
                  batch_size=w["batch"], shuffle=False, progress=False)  # fmt: skip
    return history.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"torch {torch.__version__}, chainrule {cr.__version__}")  # fmt: skip
    for name, w in workloads().items():
        runs = {
            "chainrule loop": lambda w=w: hand_loop(cr, w),
            "chainrule fit": lambda w=w: with_fit(w),
            "torch loop": lambda w=w: hand_loop(torch, w),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.repeats):
            for label, run in runs.items():
                start = time.perf_counter()
                steps = run()
                times[label].append((time.perf_counter() - start) / steps * 1e6)
                time.sleep(0.05)
        print(f"\n{name} ({steps} steps per run, µs per step: min / median / max)")
        torch_median = statistics.median(times["torch loop"])
        for label, values in times.items():
            ratio = statistics.median(values) / torch_median
            print(f"  {label:15s} {min(values):8.1f} {statistics.median(values):8.1f} "
                  f"{max(values):8.1f}   {ratio:.2f}× torch loop")  # fmt: skip


if __name__ == "__main__":
    main()
