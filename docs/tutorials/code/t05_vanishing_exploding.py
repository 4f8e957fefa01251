"""Tutorial 5: vanishing and exploding gradients, seen with GradientMonitor and fixed.

A deep sigmoid MLP on two spirals: the monitor shows ‖∂C/∂W‖ falling by orders of magnitude
from the last layer to the first. Then the fixes, each trained the same way: Xavier
initialisation, BatchNorm1d, tanh with Xavier, ReLU with He; and a ReLU network started from too
large weights, whose gradients explode unless clipped.

Run: python docs/tutorials/code/t05_vanishing_exploding.py [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Callable
from pathlib import Path

# --8<-- [start:setup]
import chainrule as cr
from chainrule import nn, optim
from chainrule.data import spirals
from chainrule.inspect import GradientMonitor, GradientWarning

DEPTH, WIDTH = 10, 32  # ten hidden layers of 32 units
train_set, test_set = spirals(n=400, classes=2, noise=0.1, seed=0)
x, y = train_set.tensors  # x (320, 2) float32, y (320,) int64
x_test, y_test = test_set.tensors  # x_test (80, 2), y_test (80,)


def make_mlp(
    activation: type[nn.Module],
    init: Callable[[cr.Tensor], object] | None = None,
    batch_norm: bool = False,
) -> nn.Sequential:
    """DEPTH hidden layers Linear → [BatchNorm1d] → activation, then Linear(WIDTH, 2).

    ``init`` fills each hidden Linear's weight (its bias is set to 0); None keeps the
    default initialisation, U(−1/√fan_in, 1/√fan_in) as in PyTorch.
    """
    layers: list[nn.Module] = []
    fan_in = 2
    for _ in range(DEPTH):
        linear = nn.Linear(fan_in, WIDTH)
        if init is not None:
            init(linear.weight)
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if batch_norm:
            layers.append(nn.BatchNorm1d(WIDTH))
        layers.append(activation())
        fan_in = WIDTH
    layers.append(nn.Linear(WIDTH, 2))
    return nn.Sequential(*layers)


# --8<-- [end:setup]


# --8<-- [start:train]
def train(model: nn.Module, steps: int = 300, lr: float = 0.05, clip: float | None = None) -> dict:
    """Full-batch SGD with momentum, the monitor recording every step.

    Returns the model, the monitor, the loss per step, the warnings the monitor issued and
    the test accuracy.
    """
    monitor = GradientMonitor(model)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GradientWarning)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            monitor.record()  # ‖∂C/∂W‖ per layer, before any clipping
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
            optimizer.step()
            monitor.after_step()
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                break  # the weights are NaN from here on: nothing more to learn
    monitor.close()
    model.eval()  # BatchNorm1d uses its running statistics from here
    with cr.no_grad():
        accuracy = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientWarning)]
    return {
        "model": model,
        "monitor": monitor,
        "losses": losses,
        "warnings": messages,
        "accuracy": accuracy,
    }


def linear_norms(model: nn.Module, monitor: GradientMonitor, step: int) -> list[float]:
    """‖∂C/∂W‖ of the Linear layers (not BatchNorm's γ) at ``step``, first layer first."""
    modules = dict(model.named_modules())
    names = [name for name in monitor.layers if isinstance(modules[name], nn.Linear)]
    return [monitor.history[step].grad_norm[name] for name in names]


# --8<-- [end:train]


# --8<-- [start:vanishing]
def show_vanishing() -> dict:
    cr.manual_seed(0)
    model = make_mlp(nn.Sigmoid)
    run = train(model)
    norms = linear_norms(model, run["monitor"], step=0)
    print("deep sigmoid MLP, default initialisation")
    print("  ‖∂C/∂W‖ at step 0, layer 1 (input side) to 11 (output):")
    print("  " + " ".join(f"{norm:.1e}" for norm in norms))
    print(f"  first/last ratio at step 0: {norms[0] / norms[-1]:.1e}")
    for message in run["warnings"]:
        print(f"  GradientWarning: {message.split('; ')[0]}")
    print(f"  after 300 steps: loss {run['losses'][-1]:.3f}, test accuracy {run['accuracy']:.3f}")
    return run


# --8<-- [end:vanishing]


# --8<-- [start:fixes]
def he(weight: cr.Tensor) -> object:
    return nn.init.kaiming_normal_(weight, nonlinearity="relu")  # Var(W) = 2 / fan_in


def xavier(weight: cr.Tensor) -> object:
    return nn.init.xavier_normal_(weight)  # Var(W) = 2 / (fan_in + fan_out)


def xavier_tanh(weight: cr.Tensor) -> object:
    return nn.init.xavier_normal_(weight, gain=nn.init.calculate_gain("tanh"))  # gain 5/3


VARIANTS = {
    "sigmoid, default init": lambda: make_mlp(nn.Sigmoid),
    "sigmoid, Xavier init": lambda: make_mlp(nn.Sigmoid, xavier),
    "sigmoid + BatchNorm1d": lambda: make_mlp(nn.Sigmoid, batch_norm=True),
    "tanh, Xavier init": lambda: make_mlp(nn.Tanh, xavier_tanh),
    "ReLU, He init": lambda: make_mlp(nn.ReLU, he),
}


def compare_fixes(baseline: dict) -> dict[str, dict]:
    results = {}
    print("\nthe same training (300 steps of SGD, lr 0.05, momentum 0.9) for each network")
    print(f"  {'network':24} {'first/last':>10} {'loss':>7} {'test acc':>8}  warnings")
    for name, build in VARIANTS.items():
        if name == "sigmoid, default init":
            run = baseline  # trained above, from the same seed
        else:
            cr.manual_seed(0)
            run = train(build())
        model = run["model"]
        norms = linear_norms(model, run["monitor"], step=0)
        run["ratio"] = norms[0] / norms[-1]
        kinds = sorted(run["monitor"].warned) or ["none"]
        print(
            f"  {name:24} {run['ratio']:10.1e} {run['losses'][-1]:7.3g} "
            f"{run['accuracy']:8.3f}  {', '.join(kinds)}"
        )
        results[name] = run
    return results


# --8<-- [end:fixes]


# --8<-- [start:exploding]
def too_large(weight: cr.Tensor) -> object:
    # Twice He's standard deviation: every layer doubles the signal forward and δ backward.
    return nn.init.normal_(weight, 0.0, 2 * math.sqrt(2.0 / weight.shape[1]))


def show_exploding() -> dict[str, dict]:
    results = {}
    print("\nReLU MLP started from weights twice He's size, SGD lr 0.01")
    for clip in (None, 1.0):
        cr.manual_seed(0)
        model = make_mlp(nn.ReLU, too_large)
        run = train(model, lr=0.01, clip=clip)
        history = run["monitor"].history
        totals = [math.sqrt(sum(n * n for n in r.grad_norm.values())) for r in history]
        run["totals"] = totals
        label = "no clipping" if clip is None else f"clip_grad_norm_(max_norm={clip})"
        print(f"  {label}:")
        print("    total ‖∂C/∂W‖ at steps 0-3: " + " ".join(f"{t:.2e}" for t in totals[:4]))
        print(
            f"    steps run: {len(run['losses'])}, last loss {run['losses'][-1]:.3g}, "
            f"test accuracy {run['accuracy']:.3f}"
        )
        for message in run["warnings"]:
            print(f"    GradientWarning: {message.split('; ')[0]}")
        results[label] = run
    return results


# --8<-- [end:exploding]


# --8<-- [start:plots]
def plot_layer_norms(fixes: dict[str, dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    styles = ["o-", "s--", "^-", "v-", "D-"]
    for ax, step in zip(axes, (0, 299)):
        for (name, run), style in zip(fixes.items(), styles):
            norms = linear_norms(run["model"], run["monitor"], step)
            ax.plot(range(1, len(norms) + 1), norms, style, label=name, markersize=5)
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_title(f"‖∂C/∂W‖ per layer at step {step}")
        ax.set_xticks(range(1, DEPTH + 2))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("gradient norm (log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_exploding(runs: dict[str, dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    for (label, run), style in zip(runs.items(), ("r-o", "b-")):
        finite = [t if math.isfinite(t) else math.nan for t in run["totals"]]
        axes[0].plot(finite, style, label=label, markersize=4)
        axes[1].plot(run["losses"], style, label=label, markersize=4)
    axes[0].set_title("total ‖∂C/∂W‖ per step, before clipping")
    axes[1].set_title("training loss per step")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --8<-- [end:plots]


def main() -> None:
    default_out = Path(__file__).resolve().parents[3] / "docs" / "images"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=default_out, help="folder for the PNGs")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    baseline = show_vanishing()
    baseline["monitor"].plot(out / "t05_vanishing_exploding_monitor.png")
    fixes = compare_fixes(baseline)
    plot_layer_norms(fixes, out / "t05_vanishing_exploding_layers.png")
    exploding = show_exploding()
    plot_exploding(exploding, out / "t05_vanishing_exploding_clipping.png")
    print(f"\npictures written to {out}")


if __name__ == "__main__":
    main()
