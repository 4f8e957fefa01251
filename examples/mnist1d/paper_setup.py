"""The training setup of the MNIST-1D paper (Greydanus & Kobak, "Scaling down deep learning with
MNIST-1D"), shared by the four model scripts beside this file.

The paper's notebook (``notebooks/train.py`` of its repository): the default data (4,000
training and 1,000 test signals of length 40, data seed 42), Adam with lr 1e-2, cross-entropy,
batches of 100 taken in order without shuffling (step k trains on samples [(100·k) mod 4000,
+100)), and the test accuracy read once, after the last step. Nothing here looks at the test
set before training ends.

One training loop serves both libraries: ``lib`` is the ``chainrule`` or the ``torch`` module,
and every call below has the same name and meaning in both, so the two runs differ only in the
library underneath (and in the random numbers of the initialisation: each draws PyTorch's
default initialisation from its own generator, seeded by ``--seeds``).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

import chainrule
from chainrule.data.mnist1d import mnist1d
from chainrule.optional import require

LEARNING_RATE = 1e-2
BATCH_SIZE = 100
STEPS = 6000
FRAMEWORKS = ("chainrule", "torch")

ModelBuilder = Callable[[ModuleType], Any]


@dataclass
class Run:
    """One training run: test accuracy in percent, training seconds, first and last batch loss."""

    framework: str
    seed: int
    accuracy: float
    seconds: float
    first_loss: float
    last_loss: float


@functools.cache
def paper_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The paper's default MNIST-1D as NumPy arrays: x (4000, 40), y (4000,), x_test, y_test."""
    train, test = mnist1d()
    return tuple(t.numpy() for t in (*train.tensors, *test.tensors))


def library(framework: str) -> ModuleType:
    return chainrule if framework == "chainrule" else require("torch", "the PyTorch comparison")


def fit(lib: ModuleType, model: Any, steps: int) -> tuple[list[float], float]:
    """Train ``model`` in place on the paper's batches; return every step's loss and the seconds.

    Step k trains on training samples [(100·k) mod 4000, +100) with Adam (lr 1e-2) on the
    cross-entropy of the logits (100, 10).
    """
    x_train, y_train = (lib.from_numpy(a) for a in paper_data()[:2])
    optimizer = lib.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = lib.nn.CrossEntropyLoss()
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        first = (step * BATCH_SIZE) % len(x_train)
        x, y = x_train[first : first + BATCH_SIZE], y_train[first : first + BATCH_SIZE]
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, time.perf_counter() - start


def test_accuracy(lib: ModuleType, model: Any) -> float:
    """Percentage of the 1,000 test signals whose largest logit is their label."""
    x_test, y_test = (lib.from_numpy(a) for a in paper_data()[2:])
    with lib.no_grad():
        predictions = model(x_test).argmax(-1)
    return 100 * (predictions == y_test).float().mean().item()


def train(lib: ModuleType, build_model: ModelBuilder, seed: int, steps: int) -> Run:
    """Initialise the model from ``seed``, train it ``steps`` steps, return its test accuracy."""
    lib.manual_seed(seed)
    model = build_model(lib)
    losses, seconds = fit(lib, model, steps)
    accuracy = test_accuracy(lib, model)
    return Run(lib.__name__, seed, accuracy, seconds, losses[0], losses[-1])


def parse_args(model_name: str, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=f"Train the MNIST-1D paper's {model_name} and report its test accuracy."
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--framework", choices=[*FRAMEWORKS, "both"], default="chainrule")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    return args


def run_script(
    model_name: str,
    build_model: ModelBuilder,
    paper_accuracy: float,
    argv: Sequence[str] | None = None,
    verbose: bool = True,
) -> dict[str, list[Run]]:
    """Parse the command line, train every requested framework on every seed, report.

    Returns the runs by framework name, e.g. ``{"chainrule": [Run, Run, Run]}``.
    """
    args = parse_args(model_name, argv)
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    runs = {}
    for framework in frameworks:
        lib = library(framework)
        runs[framework] = []
        for seed in args.seeds:
            run = train(lib, build_model, seed, args.steps)
            runs[framework].append(run)
            if verbose:
                print(
                    f"{model_name} {framework:9} seed {seed}: test accuracy "
                    f"{run.accuracy:5.1f}%  ({run.seconds:7.2f} s, loss {run.first_loss:.3f} "
                    f"→ {run.last_loss:.2e})"
                )
    if verbose:
        report(model_name, paper_accuracy, args.steps, runs)
    return runs


def report(model_name: str, paper_accuracy: float, steps: int, runs: dict[str, list[Run]]) -> None:
    for framework, framework_runs in runs.items():
        accuracy = statistics.mean(run.accuracy for run in framework_runs)
        seconds = statistics.median(run.seconds for run in framework_runs)
        print(
            f"{model_name} {framework:9} mean test accuracy {accuracy:5.1f}% over "
            f"{len(framework_runs)} seed(s) (paper: {paper_accuracy:.0f}%), "
            f"median training time {seconds:.2f} s for {steps} steps"
        )
    if len(runs) == 2:
        ratio = statistics.median(r.seconds for r in runs["chainrule"]) / statistics.median(
            r.seconds for r in runs["torch"]
        )
        print(f"{model_name} time chainrule / torch: {ratio:.2f}")
