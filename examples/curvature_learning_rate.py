"""Which learning rate? The curvature of the loss answers: η < 2/λ_max, shown on the XOR net.

The seed articles' network (2 inputs, 2 sigmoid hidden units, 1 sigmoid output, mean squared
error on the four XOR points, seed 0 as in ``chainrule explain``) is trained by full-batch
gradient descent from the same initial weights at several learning rates, chosen as multiples
of 2/λ_max, where λ_max is the largest eigenvalue of the loss's Hessian at those weights
(:func:`chainrule.inspect.sharpness`, power iteration on Hessian-vector products).

Why 2/λ_max: near the weights, the loss is a quadratic, and along the eigenvector of λ_max one
step of gradient descent multiplies the distance to the bottom by (1 − ηλ_max). Below 2/λ_max
that factor is smaller than 1 in size and the step goes downhill; above, it overshoots to the
other side, further up than it started, and on a true quadratic it would diverge.

A network is not a quadratic: its curvature changes as its weights move. λ_max is measured
at the start, where all runs begin, because that is where it decides the first steps; the
GradientMonitor (``sharpness_every``) then measures it again along each run. Above 2/λ_max the
loss rises in the first steps, as the quadratic predicts, but instead of diverging the network
is thrown into a flatter region, where λ_max < 2/η: training goes on "at the edge of
stability" (Cohen et al., 2021). Far enough above, it does not recover in time.

    python examples/curvature_learning_rate.py [--steps 1000] [--out PATH.png]

The picture needs matplotlib (``pip install "chainrule[plot]"``); without it the numbers are
still printed.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import chainrule as cr
from chainrule import nn, optim
from chainrule.demos.xor import INPUTS, TARGETS
from chainrule.inspect import GradientMonitor, GradientWarning, sharpness
from chainrule.optional import require

# Learning rates as multiples of 2/λ_max at the start: two below, two above.
FACTORS = (0.5, 0.9, 1.5, 3.0)
DEFAULT_OUT = Path(__file__).resolve().parent / "images" / "curvature_learning_rate.png"


def xor_net(seed: int = 0) -> nn.Sequential:
    """The 2-2-1 sigmoid network of ``chainrule explain``, with PyTorch's default init."""
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())


def train(lr: float, steps: int, every: int, seed: int = 0) -> dict:
    """Full-batch gradient descent at ``lr``; the loss at every step and λ_max every ``every``."""
    x, y = cr.tensor(INPUTS), cr.tensor(TARGETS)
    model, loss_fn = xor_net(seed), nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    monitor = GradientMonitor(
        model, sharpness_every=every, loss_fn=loss_fn, optimizer=optimizer, sharpness_data=(x, y)
    )
    losses = []
    with warnings.catch_warnings():
        # The edge-of-stability warning is expected above 2/λ_max: it is read from monitor.warned.
        warnings.simplefilter("ignore", GradientWarning)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            monitor.record()
            optimizer.step()
            losses.append(loss.item())
    monitor.close()
    with cr.no_grad():
        losses.append(loss_fn(model(x), y).item())  # after the last step
    measured = [r for r in monitor.history if r.lambda_max is not None]
    past_edge = [r.step for r in measured if r.lr > r.stable_lr]
    return {
        "lr": lr,
        "losses": losses,
        "sharpness": [(r.step, r.lambda_max) for r in measured],
        "past_edge": past_edge[0] if past_edge else None,
    }


def plot(runs: dict[float, dict], start: float, out: Path) -> Path:
    """Three panels in one PNG: the first steps' losses, the whole runs' losses, and λ_max
    along each run against its edge 2/η."""
    purpose = "the picture of examples/curvature_learning_rate.py"
    figure_module = require("matplotlib.figure", purpose)
    backend_agg = require("matplotlib.backends.backend_agg", purpose)
    figure = figure_module.Figure(figsize=(16, 5), layout="constrained")
    backend_agg.FigureCanvasAgg(figure)
    first_axis, loss_axis, sharp_axis = figure.subplots(1, 3)
    colours = ["#1b7837", "#7fbf7b", "#e08214", "#b2182b"]
    first = 20
    for colour, (factor, run) in zip(colours, runs.items(), strict=True):
        label = f"η = {factor:g} × 2/λ_max = {run['lr']:.3g}"
        losses = run["losses"]
        first_axis.plot(
            range(first + 1), losses[: first + 1], color=colour, marker=".", label=label
        )
        loss_axis.plot(range(1, len(losses) + 1), losses, color=colour, label=label)
        steps, values = zip(*run["sharpness"], strict=True)
        sharp_axis.plot([s + 1 for s in steps], values, color=colour, marker=".", markersize=4)
        sharp_axis.axhline(2 / run["lr"], color=colour, linestyle="--", linewidth=1.2)
    first_axis.axhline(losses[0], color="0.5", linestyle=":", label="the loss at the start")
    first_axis.set(xlabel="gradient-descent step", ylabel="MSE loss", xlim=(0, first))
    first_axis.set_title(f"the first {first} steps: above 2/λ_max the loss rises")
    first_axis.legend(fontsize=9)
    loss_axis.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="MSE loss")
    loss_axis.set_title("the whole runs: all learn XOR in the end")
    loss_axis.legend(fontsize=9, loc="lower left")
    sharp_axis.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="λ_max", ylim=(1e-4, 1))
    sharp_axis.set_title("λ_max along each run (dots); dashed: its edge 2/η")
    figure.suptitle(
        "The XOR 2-2-1 sigmoid net, full-batch gradient descent from the same weights, where "
        f"λ_max = {start:.3g}, so 2/λ_max = {2 / start:.4g}",
        fontsize=13,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    return out


def main(argv: list[str] | None = None) -> dict:
    """Measure λ_max, train at each multiple of 2/λ_max, print and draw; returns the runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000)")
    parser.add_argument("--every", type=int, default=10, help="steps between λ_max measurements")
    parser.add_argument("--seed", type=int, default=0, help="initial weights (default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)

    x, y = cr.tensor(INPUTS), cr.tensor(TARGETS)
    start = sharpness(xor_net(args.seed), (x, y), nn.MSELoss(), iterations=100, tol=1e-6)
    print("At the initial weights, where every run starts:")
    print(start)
    print()
    runs = {
        factor: train(factor * start.max_stable_lr, args.steps, args.every, args.seed)
        for factor in FACTORS
    }
    last = args.steps
    print("Loss after 0, 1, 10 and all steps, λ_max at the end, and the first measured step")
    print("where λ_max > 2/η (GradientMonitor's edge-of-stability warning):")
    print(f"{'η / (2/λ_max)':>14} {'η':>6} {'step 0':>7} {'step 1':>7} {'step 10':>7}", end="")
    print(f" {f'step {last}':>10} {'λ_max at end':>12} {'2/η':>6}  past the edge at")
    for factor, run in runs.items():
        losses, edge = run["losses"], run["past_edge"]
        print(
            f"{factor:>14g} {run['lr']:>6.3g} {losses[0]:>7.4f} {losses[1]:>7.4f} "
            f"{losses[min(10, last)]:>7.4f} {losses[last]:>10.2e} {run['sharpness'][-1][1]:>12.3g} "
            f"{2 / run['lr']:>6.3g}  {'never' if edge is None else f'step {edge}'}"
        )
    print()
    print(
        "Below 2/λ_max the loss falls from the first step; above it, the first steps overshoot\n"
        "along the sharpest direction and the loss rises, as on a quadratic. But a network's\n"
        "curvature moves with its weights. Above the edge, the network is thrown to flatter\n"
        "weights, where λ_max < 2/η, and learns from there. Below it, λ_max grows while the\n"
        "network learns (progressive sharpening) until it nears or passes 2/η, then falls as\n"
        "the outputs saturate: training runs at the edge of stability (Cohen et al., 2021)."
    )
    try:
        written = plot(runs, start.lambda_max, args.out)
    except ImportError as error:
        print(f"no picture: {error}", file=sys.stderr)
    else:
        print(f"wrote {written}")
    return {"start": start, "runs": runs}


if __name__ == "__main__":
    main()
