"""Classic small classification problems trained with :func:`chainrule.train.fit`.

Spirals and moons are 2-D, so what the network learned can be drawn: the demo writes the
decision regions with the test points on top. Digits (scikit-learn's 8×8 images) shows the
confusion matrix instead. Each demo prints the test accuracy and returns its figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy

import chainrule as cr
from chainrule import data, nn, optim
from chainrule.train import evaluate, fit, predict


@dataclass(frozen=True)
class Setup:
    """A classic problem: how to load it and the network and training that solve it."""

    load: Callable[[], tuple[data.TensorDataset, data.TensorDataset]]
    hidden: tuple[int, ...]
    epochs: int
    lr: float
    description: str


CLASSICS = {
    "spirals": Setup(
        lambda: data.spirals(n=600, classes=3), (64, 64), 150, 0.01,
        "three interleaved spiral arms: a network must bend its boundary around each arm",
    ),
    "moons": Setup(
        lambda: data.moons(n=400, noise=0.15), (16, 16), 100, 0.01,
        "two interleaved half circles: the smallest problem no straight line solves",
    ),
    "digits": Setup(
        lambda: data.digits(), (64,), 40, 1e-3,
        "scikit-learn's 1,797 handwritten 8×8 digits, ten classes",
    ),
}  # fmt: skip


def run_classic(
    name: str,
    epochs: int | None = None,
    seed: int = 0,
    plot: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, float]:
    """Train the MLP of classic ``name`` with Adam and cross-entropy; returns the test figures.

    ``plot``: a PNG path for the decision regions (2-D problems) or the confusion matrix.
    """
    setup = CLASSICS[name]
    train, test = setup.load()
    x_train, y_train = train.tensors
    classes = int(y_train.numpy().max()) + 1
    cr.manual_seed(seed)
    layers: list[nn.Module] = []
    width = x_train.shape[1]
    for size in setup.hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    model = nn.Sequential(*layers, nn.Linear(width, classes))
    log(f"{name}: {setup.description}")
    log(f"{len(train)} training and {len(test)} test samples; network {model!r}")
    loss_fn = nn.CrossEntropyLoss()
    history = fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=setup.lr),
        train,
        epochs=epochs or setup.epochs,
        batch_size=32,
        metrics=["accuracy"],
        progress=progress,
        seed=seed,
    )
    figures = evaluate(model, test, ["accuracy", "f1"], loss_fn=loss_fn)
    log(
        f"after {len(history)} epochs: training loss {history['loss'][-1]:.4f}, test loss "
        f"{figures['loss']:.4f}, test accuracy {figures['accuracy']:.3f}, macro F1 "
        f"{figures['f1']:.3f}"
    )
    if plot is not None:
        from chainrule import plot as plots

        x_test, y_test = (t.numpy() for t in test.tensors)
        if x_test.shape[1] == 2:
            path = plots.decision_boundary(model, x_test, y_test, plot, title=f"{name}: test set")
        else:
            predicted = numpy.argmax(predict(model, x_test), axis=1)
            path = plots.confusion_matrix(y_test, predicted, plot, title=f"{name}: test set")
        log(f"wrote {path}")
    return figures
