"""Tutorial 7: choosing the learning rate.

Three answers to "which learning rate?", on one small classifier (three interleaved spirals,
an MLP 2-64-64-3 with ReLU, cross-entropy):

1. schedules: one starting rate, changed along training by StepLR, ExponentialLR,
   CosineAnnealingLR or OneCycleLR, against a constant rate;
2. the range test (``chainrule.train.lr_find``): train briefly while the rate grows, and read
   the rate where the loss falls fastest;
3. curvature (``chainrule.inspect.sharpness``): gradient descent is stable for η < 2/λ_max,
   where λ_max is the largest eigenvalue of the loss's Hessian.

    python docs/tutorials/code/t07_learning_rate.py [--out DIR]

Everything is seeded: the numbers it prints are the same on every run on one machine (the last
digits may differ between machines with another BLAS).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, spirals
from chainrule.inspect import sharpness
from chainrule.optim import lr_scheduler
from chainrule.train import lr_find

ROOT = Path(__file__).resolve().parents[3]
COLOURS = {
    "constant": "0.45",
    "StepLR": "#1f77b4",
    "ExponentialLR": "#9467bd",
    "CosineAnnealingLR": "#2ca02c",
    "OneCycleLR": "#d62728",
}

# --8<-- [start:setup]
train_data, test_data = spirals(n=1000, classes=3, noise=0.3)  # 800 to train, 200 to test
EPOCHS, BATCH = 20, 32
STEPS_PER_EPOCH = -(-len(train_data) // BATCH)  # 25 batches, the last one short
TOTAL_STEPS = EPOCHS * STEPS_PER_EPOCH  # 500 optimiser steps in a run
LR = 0.1  # the starting rate of every schedule (OneCycleLR chooses its own start)


def new_model(seed: int = 0) -> nn.Sequential:
    """The same initial weights for a given seed, whatever the schedule."""
    cr.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3)
    )


# --8<-- [end:setup]

# --8<-- [start:schedules]
# Every scheduler here is stepped once per batch, so every length is counted in batches.
SCHEDULES = {
    "constant": lambda optimizer: None,
    # ×0.2 after 8 epochs and again after 16.
    "StepLR": lambda optimizer: lr_scheduler.StepLR(
        optimizer, step_size=8 * STEPS_PER_EPOCH, gamma=0.2
    ),
    # ×γ every step, with γ chosen so that the rate ends at 1% of its start.
    "ExponentialLR": lambda optimizer: lr_scheduler.ExponentialLR(
        optimizer, gamma=0.01 ** (1 / TOTAL_STEPS)
    ),
    # Half a cosine, from LR down to 0.
    "CosineAnnealingLR": lambda optimizer: lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=TOTAL_STEPS
    ),
    # Up from 0.3/25 to 0.3 in the first 30% of the steps, then down to almost 0; the momentum
    # moves the other way, between 0.95 and 0.85.
    "OneCycleLR": lambda optimizer: lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.3, total_steps=TOTAL_STEPS
    ),
}


def train(schedule: str, seed: int = 0) -> dict:
    """SGD with momentum 0.9 under one schedule: the rate and the loss at every step."""
    model, loss_fn = new_model(seed), nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scheduler = SCHEDULES[schedule](optimizer)
    loader = DataLoader(
        train_data, batch_size=BATCH, shuffle=True, generator=cr.Generator().manual_seed(seed)
    )
    rates, losses = [], []
    for _ in range(EPOCHS):
        for x, y in loader:
            rates.append(optimizer.param_groups[0]["lr"])  # the rate this step uses
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()  # after optimizer.step(), as in PyTorch
            losses.append(loss.item())
    x_all, y_all = train_data.tensors
    x_test, y_test = test_data.tensors
    with cr.no_grad():
        final = loss_fn(model(x_all), y_all).item()  # on all 800 points, after the last step
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {"rates": rates, "losses": losses, "final": final, "accuracy": accuracy}


# --8<-- [end:schedules]


# --8<-- [start:compare]
def compare_schedules() -> dict[str, dict]:
    """Train under every schedule; print the final losses, also averaged over three seeds."""
    print(f"1. Schedules, SGD with momentum 0.9, {EPOCHS} epochs of {STEPS_PER_EPOCH} batches")
    runs = {name: train(name) for name in SCHEDULES}
    print(f"{'schedule':>18} {'last lr':>9} {'final loss':>11} {'test acc':>9}", end="")
    print(f" {'final loss, mean of seeds 0-2':>30}")
    for name, run in runs.items():
        finals = [run["final"]] + [train(name, seed)["final"] for seed in (1, 2)]
        print(f"{name:>18} {run['rates'][-1]:>9.2e} {run['final']:>11.4f}", end="")
        print(f" {run['accuracy']:>9.3f} {numpy.mean(finals):>30.4f}")
    return runs


# --8<-- [end:compare]


def moving_average(values: list[float], width: int) -> numpy.ndarray:
    """The mean of the last ``width`` values at each step (fewer at the start)."""
    sums = numpy.cumsum(numpy.insert(numpy.asarray(values, dtype=float), 0, 0.0))
    ends = numpy.arange(1, len(values) + 1)
    starts = numpy.maximum(ends - width, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def plot_schedules(runs: dict[str, dict], path: Path) -> None:
    """Two panels: the rate at every step, and the loss at every step (a moving average)."""
    figure = Figure(figsize=(12, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    rate_axis, loss_axis = figure.subplots(1, 2)
    for name, run in runs.items():
        steps = numpy.arange(1, len(run["rates"]) + 1)
        rate_axis.plot(steps, run["rates"], color=COLOURS[name], linewidth=2, label=name)
        loss_axis.plot(
            steps,
            moving_average(run["losses"], STEPS_PER_EPOCH),
            color=COLOURS[name],
            linewidth=1.6,
            label=f"{name}: {run['final']:.3f}",
        )
    rate_axis.set(xlabel="optimiser step (25 per epoch)", ylabel="learning rate", yscale="log")
    rate_axis.set_title("the learning rate at every step")
    rate_axis.legend(fontsize=9)
    loss_axis.set(xlabel="optimiser step (25 per epoch)", ylabel="cross-entropy", yscale="log")
    loss_axis.set_title("batch loss, mean of the last 25 batches")
    loss_axis.legend(title="schedule: loss on all 800 at the end", fontsize=9)
    for axis in (rate_axis, loss_axis):
        axis.grid(True, which="both", alpha=0.3)
    figure.savefig(path, dpi=100)


# --8<-- [start:range_test]
def range_test(out: Path) -> float:
    """The range test for SGD with momentum 0.9, the optimiser of the schedules above."""
    model, loss_fn = new_model(), nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    result = lr_find(model, loss_fn, optimizer, train_data, start_lr=1e-4, end_lr=10, steps=100)
    print(result.explain())
    result.plot(out / "t07_learning_rate_range_test.png", title="Range test: SGD, momentum 0.9")
    return result.suggestion


def check_suggestion(suggestion: float) -> None:
    """Train at a constant rate: the suggestion, ten times less and ten times more."""
    for factor in (0.1, 1.0, 10.0):
        model, loss_fn = new_model(), nn.CrossEntropyLoss()
        optimizer = optim.SGD(model.parameters(), lr=factor * suggestion, momentum=0.9)
        loader = DataLoader(
            train_data, batch_size=BATCH, shuffle=True, generator=cr.Generator().manual_seed(0)
        )
        for _ in range(EPOCHS):
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
        with cr.no_grad():
            final = loss_fn(model(train_data.tensors[0]), train_data.tensors[1]).item()
        print(
            f"  constant lr = {factor:>4g} × suggestion = {factor * suggestion:.3g}: "
            f"loss on all 800 after {EPOCHS} epochs {final:.4f}"
        )


# --8<-- [end:range_test]


# --8<-- [start:quadratic]
def quadratic_demo() -> tuple[dict[float, list[float]], float, float]:
    """Linear regression: its MSE is a quadratic, with the same Hessian everywhere."""
    generator = numpy.random.default_rng(0)
    features = generator.standard_normal((200, 3)) * numpy.array([3.0, 1.0, 0.3])
    targets = features @ numpy.array([1.0, -2.0, 0.5]) + 0.1 * generator.standard_normal(200)
    x = cr.tensor(features, dtype=cr.float32)
    y = cr.tensor(targets[:, None], dtype=cr.float32)

    def new_linear() -> nn.Linear:
        cr.manual_seed(0)
        return nn.Linear(3, 1)

    found = sharpness(new_linear(), (x, y), nn.MSELoss(), iterations=200, tol=1e-7)
    # The Hessian of mean((Xw + b − y)²) is 2/N · [X 1]ᵀ[X 1]: its eigenvalues, exactly.
    design = numpy.hstack([features, numpy.ones((200, 1))])
    exact = numpy.linalg.eigvalsh(2 / 200 * design.T @ design).max()
    losses = {}
    for factor in (0.5, 0.9, 1.1):
        model, loss_fn = new_linear(), nn.MSELoss()
        optimizer = optim.SGD(model.parameters(), lr=factor * found.max_stable_lr)
        history = []  # the loss after 0, 1, ..., 40 steps of full-batch gradient descent
        for step in range(41):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            history.append(loss.item())
            if step < 40:
                loss.backward()
                optimizer.step()
        losses[factor] = history
    return losses, found.lambda_max, float(exact)


# --8<-- [end:quadratic]


# --8<-- [start:network]
def network_demo(out: Path) -> tuple[float, dict[float, list[float]]]:
    """The spiral MLP: λ_max at its initial weights, then full-batch gradient descent at
    multiples of 2/λ_max, and λ_max again where each run ends."""
    loss_fn = nn.CrossEntropyLoss()
    model = new_model()
    # Plain SGD (no momentum), the optimiser that 2/λ_max is about.
    result = lr_find(
        model,
        loss_fn,
        optim.SGD(model.parameters(), lr=LR),
        train_data,
        start_lr=1e-4,
        end_lr=10,
        steps=100,
        sharpness=True,
    )
    print(result.explain())
    result.plot(
        out / "t07_learning_rate_range_curvature.png", title="Range test and 2/λ_max: plain SGD"
    )
    edge = result.max_stable_lr
    x, y = train_data.tensors
    losses = {}
    for factor in (0.5, 1.5, 3.0):
        model = new_model()
        optimizer = optim.SGD(model.parameters(), lr=factor * edge)
        history = []  # the loss after 0, 1, ..., 150 steps
        for step in range(151):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            history.append(loss.item())
            if step < 150:
                loss.backward()
                optimizer.step()
        losses[factor] = history
        after = sharpness(model, (x, y), loss_fn, iterations=100, tol=1e-4)
        print(
            f"  η = {factor:g} × 2/λ_max = {factor * edge:.3g}: loss after 0, 1, 2, 3 steps "
            f"{history[0]:.3f} {history[1]:.3f} {history[2]:.3f} {history[3]:.3f}, after "
            f"150 steps {history[150]:.3f}; there λ_max = {after.lambda_max:.3g}, 2/η = "
            f"{2 / (factor * edge):.3g}"
        )
    return result.sharpness, losses


# --8<-- [end:network]


def plot_curvature(
    quadratic: dict[float, list[float]], network: dict[float, list[float]], path: Path
) -> None:
    """Two panels: gradient descent on the quadratic and on the network, η in units of 2/λ_max."""
    figure = Figure(figsize=(12, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    shades = {0.5: "#1b7837", 0.9: "#7fbf7b", 1.1: "#e08214", 1.5: "#e08214", 3.0: "#b2182b"}
    for factor, history in quadratic.items():
        left.plot(
            range(len(history)),
            history,
            color=shades[factor],
            marker=".",
            label=f"η = {factor:g} × 2/λ_max",
        )
    left.set(xlabel="gradient-descent steps taken", ylabel="MSE", yscale="log")
    left.set_title("linear regression: a quadratic, λ_max the same everywhere")
    for factor, history in network.items():
        right.plot(
            range(len(history)),
            history,
            color=shades[factor],
            label=f"η = {factor:g} × 2/λ_max (at the start)",
        )
    right.axhline(numpy.log(3), color="0.5", linestyle=":", label="ln 3: a uniform guess")
    right.set(
        xlabel="gradient-descent steps taken (full batch)", ylabel="cross-entropy", ylim=(0, 3.6)
    )
    right.set_title("the spiral MLP: λ_max moves as the weights do")
    for axis in (left, right):
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=9)
    figure.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tutorial 7: choosing the learning rate.")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "images",
        help="folder for the pictures (default: docs/images)",
    )
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)

    runs = compare_schedules()
    plot_schedules(runs, out / "t07_learning_rate_schedules.png")

    print("\n2. The range test")
    suggestion = range_test(out)
    check_suggestion(suggestion)

    print("\n3. Curvature: the quadratic")
    quadratic, measured, exact = quadratic_demo()
    print(f"  λ_max by power iteration {measured:.5g}, by eigvalsh of 2/N·[X 1]ᵀ[X 1] {exact:.5g}")
    for factor, history in quadratic.items():
        # Far from the start only the slowest direction is left (or, above 2/λ_max, the
        # sharpest): the loss changes by a constant factor per step.
        rate = (history[40] / history[30]) ** (1 / 10)
        print(
            f"  η = {factor:g} × 2/λ_max: MSE after 0, 10, 40 steps {history[0]:.4g} "
            f"{history[10]:.4g} {history[40]:.4g}; per step in the last 10: ×{rate:.4f}"
        )
    print(f"  (1 − η·λ_max)² for η = 1.1 × 2/λ_max: {(1 - 2.2) ** 2:.4f}")

    print("\n4. Curvature: the network")
    start, network = network_demo(out)
    plot_curvature(quadratic, network, out / "t07_learning_rate_curvature.png")
    print(f"\nwrote 4 pictures to {out} (λ_max at the start: {start:.4g})")


if __name__ == "__main__":
    main()
