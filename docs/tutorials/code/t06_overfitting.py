"""Tutorial 6: overfitting, and three ways to regularise: weight decay, dropout, early stopping.

An MLP far larger than its 50 noisy training points learns them by heart: the training loss
falls towards 0 while the validation loss, after a minimum, climbs. The same network is then
trained with weight decay (an L2 penalty), with dropout, and with early stopping, and each is
scored on a fresh test sample that neither training nor early stopping has seen.

Run: python docs/tutorials/code/t06_overfitting.py [--out DIR]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

# --8<-- [start:setup]
import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import moons
from chainrule.train import EarlyStopping, evaluate, fit, predict

# 250 noisy points: 50 to train on, 200 to watch (validation). The test points come from
# another seed: new noise around the same two half circles.
train_set, val_set = moons(n=250, noise=0.3, test_fraction=0.8, seed=0)
_, test_set = moons(n=1000, noise=0.3, test_fraction=0.9, seed=1)
x, y = train_set.tensors  # x (50, 2) float32, y (50,) int64
x_val, y_val = val_set.tensors  # (200, 2), (200,)
x_test, y_test = test_set.tensors  # (900, 2), (900,)

HIDDEN, EPOCHS, LR = 64, 300, 2e-3


def make_mlp(dropout: float = 0.0) -> nn.Sequential:
    """2 → 64 → 64 → 2 with ReLU: about 4,500 parameters for 50 points.

    With ``dropout`` > 0, an ``nn.Dropout(dropout)`` follows each hidden ReLU.
    """
    layers: list[nn.Module] = [nn.Linear(2, HIDDEN), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Linear(HIDDEN, HIDDEN), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(HIDDEN, 2))
    return nn.Sequential(*layers)


# --8<-- [end:setup]


# --8<-- [start:train]
def train(
    name: str,
    model: nn.Module,
    make_optimizer: Callable[..., optim.Optimizer],
    callbacks: tuple = (),
) -> dict:
    """Full-batch training for up to EPOCHS epochs; the validation loss is logged each epoch."""
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        make_optimizer(model.parameters()),
        (x, y),
        epochs=EPOCHS,
        val_data=(x_val, y_val),
        batch_size=len(x),  # one step per epoch on all 50 points
        callbacks=callbacks,
        progress=False,
        seed=0,
    )
    test = evaluate(model, (x_test, y_test), metrics=["accuracy"], loss_fn=nn.CrossEntropyLoss())
    # How sure the model is when it is wrong: the probability it gives its (wrong) answer.
    probabilities = softmax(predict(model, x_test))
    wrong = probabilities.argmax(axis=1) != y_test.numpy()
    test["confidence_when_wrong"] = float(probabilities[wrong].max(axis=1).mean())
    best = int(np.argmin(history["val_loss"]))
    print(
        f"  {name:22} {len(history):6d} {history['loss'][-1]:8.4f} "
        f"{history['val_loss'][-1]:8.3f} {history['val_loss'][best]:6.3f} @{best:<4d}"
        f"{test['loss']:8.3f} {test['accuracy']:8.3f} {test['confidence_when_wrong']:10.3f}"
    )
    return {"model": model, "history": history, "test": test, "best_epoch": best}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits, shifted by each row's maximum so exp cannot overflow."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def header() -> None:
    print(
        f"  {'method':22} {'epochs':>6} {'train':>8} {'val':>8} {'min val @epoch':>15}"
        f"{'test':>7} {'test acc':>9} {'sure when wrong':>16}"
    )


# --8<-- [end:train]


# --8<-- [start:overfit]
def overfit() -> dict:
    count = sum(p.numel() for p in make_mlp().parameters())
    print(f"{len(x)} training points, {count} parameters, Adam with lr {LR}, full batch")
    print("cross-entropy at the last epoch run (train, val) and on the test points:")
    header()
    cr.manual_seed(0)
    return train("no regularisation", make_mlp(), lambda params: optim.Adam(params, lr=LR))


# --8<-- [end:overfit]


# --8<-- [start:regularise]
def regularise() -> dict[str, dict]:
    runs = {}
    # Weight decay: Adam's weight_decay adds λ·w to each gradient, the gradient of the L2
    # penalty (λ/2)·‖w‖² added to the loss, so large weights cost something.
    cr.manual_seed(0)
    runs["weight decay λ = 0.01"] = train(
        "weight decay λ = 0.01",
        make_mlp(),
        lambda params: optim.Adam(params, lr=LR, weight_decay=0.01),
    )
    # Dropout: each step, each hidden unit is zeroed with probability 0.5 (the rest are scaled
    # by 2); in eval mode, which evaluate() and the validation pass use, nothing is dropped.
    cr.manual_seed(0)
    runs["dropout p = 0.5"] = train(
        "dropout p = 0.5", make_mlp(dropout=0.5), lambda params: optim.Adam(params, lr=LR)
    )
    # Early stopping: stop once val_loss has not improved for 30 epochs, and put back the
    # weights of its best epoch.
    cr.manual_seed(0)
    stopper = EarlyStopping(monitor="val_loss", patience=30, restore_best=True)
    runs["early stopping"] = train(
        "early stopping",
        make_mlp(),
        lambda params: optim.Adam(params, lr=LR),
        callbacks=(stopper,),
    )
    runs["early stopping"]["restored_epoch"] = stopper.best_epoch
    print(
        f"  early stopping ended at epoch {stopper.stopped_epoch}, restored epoch "
        f"{stopper.best_epoch}"
    )
    return runs


# --8<-- [end:regularise]


# --8<-- [start:plots]
def plot_curves(runs: dict[str, dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, sharey=True)
    for ax, (name, run) in zip(axes.flat, runs.items()):
        history = run["history"]
        ax.plot(history["loss"], color="tab:blue", label="training loss")
        ax.plot(history["val_loss"], color="tab:orange", label="validation loss")
        epoch = run.get("restored_epoch", run["best_epoch"])
        label = "weights restored" if "restored_epoch" in run else "lowest validation loss"
        ax.axvline(epoch, color="grey", linestyle=":", label=label)
        ax.set_title(f"{name}: test loss {run['test']['loss']:.3f}")
        ax.set_yscale("log")
        ax.set_xlim(0, EPOCHS)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left")
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("cross-entropy (log scale)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_boundaries(runs: dict[str, dict], path: Path) -> None:
    import matplotlib.pyplot as plt

    low, high = x.numpy().min(axis=0) - 0.3, x.numpy().max(axis=0) + 0.3
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 160)
    )
    points = np.stack([grid_x.ravel(), grid_y.ravel()], 1).astype(np.float32)
    fig, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.6), sharey=True)
    for ax, (name, run) in zip(axes, runs.items()):
        p1 = softmax(predict(run["model"], points))[:, 1]  # P(class 1) at each grid point
        ax.contourf(grid_x, grid_y, p1.reshape(grid_x.shape), levels=20, cmap="RdBu_r", alpha=0.6)
        ax.contour(grid_x, grid_y, p1.reshape(grid_x.shape), levels=[0.5], colors="k")
        ax.scatter(*x.numpy().T, c=y.numpy(), cmap="RdBu_r", edgecolors="k", s=25)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "colour: P(class 1), blue 0 to red 1; black line: P = 0.5; dots: the 50 training points",
        fontsize=10,
    )
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
    runs = {"no regularisation": overfit()}
    runs.update(regularise())
    plot_curves(runs, out / "t06_overfitting_curves.png")
    plot_boundaries(runs, out / "t06_overfitting_boundaries.png")
    print(f"\npictures written to {out}")


if __name__ == "__main__":
    main()
