"""PNG figures of a training run: loss curves, 2-D decision boundaries, confusion matrices.

matplotlib is an optional extra (``pip install "chainrule[plot]"``), imported on first use.
Figures are drawn on a ``matplotlib.figure.Figure`` with its own Agg canvas, never through
``pyplot``, so nothing global changes (no backend switch, no open-figure registry) and plotting
works in threads and on machines without a display. Every PNG is written atomically: a failure
part-way leaves the previous file as it was. Each function returns the ``Path`` it wrote.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import backend, dtypes, metrics
from chainrule.autograd.grad_mode import no_grad
from chainrule.files import atomic_write
from chainrule.optional import require
from chainrule.tensor import Tensor

DPI = 100
"""Pixels per inch of every PNG: a figure w inches wide is ``w * DPI`` pixels wide."""

_NOT_METRICS = ("lr", "time")  # per-epoch figures that are not scores
_REGION_TINT = 0.35  # share of the class colour in its region; the rest is white


def _figure(width: float, height: float) -> Any:
    """A Figure with its own Agg canvas (no pyplot, no global backend)."""
    figure = require("matplotlib.figure", "chainrule.plot")
    agg = require("matplotlib.backends.backend_agg", "chainrule.plot")
    fig = figure.Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    agg.FigureCanvasAgg(fig)
    return fig


def _write(fig: Any, path: str | os.PathLike[str]) -> Path:
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=DPI)
    return Path(path)


def _numpy(values: Any) -> np.ndarray:
    if isinstance(values, Tensor):
        return backend.to_numpy(values.array)
    return np.asarray(values)


# ---- loss curves ----------------------------------------------------------------------------


def _series(history: Any) -> dict[str, np.ndarray]:
    """The history's columns as float arrays (None becomes NaN, a gap in the line)."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(
            "loss_curve: history must be a History (with a .history mapping) or a mapping of "
            f"names to per-epoch values, got {type(history).__name__}"
        )
    series = {}
    for name, values in logs.items():
        try:
            column = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"loss_curve: history[{name!r}] must be a list of numbers, one per epoch"
            ) from None
        if column.ndim != 1:
            raise ValueError(f"loss_curve: history[{name!r}] must be 1-D, got {column.shape}")
        if column.size:
            series[str(name)] = column
    if not series:
        raise ValueError("loss_curve: the history is empty (no epoch recorded)")
    return series


def _panels(series: Mapping[str, np.ndarray]) -> list[str]:
    """Panel names: 'loss' first, then each metric once (its val_ twin shares the panel)."""
    names = []
    for key in series:
        name = key[4:] if key.startswith("val_") else key
        if name not in names and name not in _NOT_METRICS:
            names.append(name)
    return sorted(names, key=lambda name: name != "loss")


def _spans_decades(values: list[np.ndarray], decades: float = 2.0) -> bool:
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    return finite.size > 1 and finite.min() > 0 and finite.max() / finite.min() > 10**decades


def _draw_series(axes: Any, series: Mapping[str, np.ndarray], keys: list[str]) -> None:
    for key, colour in zip(keys, ("C0", "C1")):
        if key in series:
            values = series[key]
            epochs = np.arange(1, values.size + 1)
            marker = "o" if values.size <= 30 else None
            label = "validation" if key.startswith("val_") else "training"
            axes.plot(epochs, values, color=colour, marker=marker, markersize=4, label=label)
    if _spans_decades([series[key] for key in keys if key in series]):
        axes.set_yscale("log")
    axes.grid(alpha=0.3)


def loss_curve(history: Any, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Plot a training history to a PNG at ``path``, one value per epoch against epoch 1..n.

    ``history`` is a ``chainrule.train.History`` (or any object with a ``.history`` mapping,
    as Keras's) or the mapping itself: ``{"loss": [...], "val_loss": [...], "accuracy": [...],
    "val_accuracy": [...], "lr": [...], "time": [...]}``. Panels, stacked with a shared epoch
    axis: the training and validation loss (log scale when they span more than two decades),
    then one per metric with its ``val_`` twin, then the learning rate in a small panel (log
    scale beyond one decade). ``time`` is not drawn. The figure is 8 inches (800 px) wide.
    """
    series = _series(history)
    panels = _panels(series)
    if not panels:
        raise ValueError(
            f"loss_curve: the history has no loss or metric to plot, only {list(series)}"
        )
    heights = [3.0 if name == "loss" else 2.2 for name in panels]
    if "lr" in series:
        heights.append(1.3)
    fig = _figure(8.0, sum(heights) + (0.4 if title else 0.0))
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    axes = [fig.add_subplot(grid[0])]
    axes += [fig.add_subplot(grid[i], sharex=axes[0]) for i in range(1, len(heights))]
    for ax, name in zip(axes, panels):
        _draw_series(ax, series, [name, f"val_{name}"])
        ax.set_ylabel(name)
        ax.legend(loc="best", fontsize="small")
    if "lr" in series:
        lr = series["lr"]
        axes[-1].plot(np.arange(1, lr.size + 1), lr, color="C2", drawstyle="steps-mid")
        if _spans_decades([lr], decades=1.0):
            axes[-1].set_yscale("log")
        axes[-1].set_ylabel("lr")
        axes[-1].grid(alpha=0.3)
    ticker = require("matplotlib.ticker", "chainrule.plot")
    axes[-1].xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes[-1].set_xlabel("epoch")
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    if title:
        fig.suptitle(title)
    return _write(fig, path)


# ---- decision boundary ----------------------------------------------------------------------


def _class_colours(n_classes: int) -> np.ndarray:
    """(n_classes, 3) RGB: tab10, tab20 for more classes, evenly spaced hues beyond that."""
    colormaps = require("matplotlib", "chainrule.plot").colormaps
    if n_classes <= 10:
        return np.asarray(colormaps["tab10"].colors)[:n_classes]
    if n_classes <= 20:
        return np.asarray(colormaps["tab20"].colors)[:n_classes]
    return colormaps["turbo"](np.linspace(0.05, 0.95, n_classes))[:, :3]


def region_colours(n_classes: int) -> np.ndarray:
    """(n_classes, 3) RGB of the class regions of :func:`decision_boundary`: each class's
    point colour blended with white, so that points stand out on their own region."""
    return _REGION_TINT * _class_colours(n_classes) + (1.0 - _REGION_TINT)


def _predicted_classes(model: Any, grid: np.ndarray) -> np.ndarray:
    """Class index per grid row from one batched, gradient-free call in evaluation mode."""
    training = getattr(model, "training", False)
    if training:
        model.eval()  # dropout and batch statistics would blur the boundary
    try:
        with no_grad():
            outputs = model(Tensor(grid))
    finally:
        if training:
            model.train()
    scores = _numpy(outputs)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != len(grid):
        raise ValueError(
            f"decision_boundary: the model must return (M,) or (M, C) outputs for M = "
            f"{len(grid)} grid points, got shape {scores.shape}"
        )
    if scores.shape[1] > 1:
        return scores.argmax(axis=1)
    probabilities = scores.min() >= 0.0 and scores.max() <= 1.0
    return (scores[:, 0] > (0.5 if probabilities else 0.0)).astype(np.int64)


def _point_classes(y: Any, n: int) -> np.ndarray:
    labels = _numpy(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (n,):
        raise ValueError(
            f"decision_boundary: y must have shape ({n},) or ({n}, 1) to match x, "
            f"got {labels.shape}"
        )
    if labels.dtype.kind not in "biuf" or np.any(labels != np.round(labels)) or np.any(labels < 0):
        raise ValueError(
            "decision_boundary: y must hold class indices 0, 1, 2, ... (or 0/1 floats), "
            "the index of the model output that should win"
        )
    return labels.astype(np.int64)


def decision_boundary(
    model: Any,
    x: Any,
    y: Any,
    path: str | os.PathLike[str],
    resolution: int = 200,
    title: str | None = None,
) -> Path:
    """Plot the class regions of a 2-D classifier and its data to a PNG at ``path``.

    ``x``: (N, 2) points; ``y``: (N,) class indices or (N, 1) 0/1 floats. The model is run
    once on a ``resolution`` x ``resolution`` grid covering the points (plus a 10% margin), in
    evaluation mode (restored afterwards) under ``no_grad``. The predicted class is the argmax
    of (M, C) outputs with C > 1; a single output (M,) or (M, 1) is class 1 where it exceeds
    0.5 if every output lies in [0, 1] (probabilities, e.g. after a sigmoid) and 0 otherwise
    (logits). Regions use :func:`region_colours`; points the class colours. 6 x 5 inches.
    """
    points = _numpy(x)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(
            f"decision_boundary: x must have shape (N, 2) with N > 0 (two input features), "
            f"got {points.shape}"
        )
    classes = _point_classes(y, len(points))
    if not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"decision_boundary: resolution must be an int >= 2, got {resolution}")
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.where(high > low, 0.1 * (high - low), 0.5)
    low, high = low - margin, high + margin
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    dtype = points.dtype if points.dtype.kind == "f" else dtypes.get_default_dtype()
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(dtype)
    regions = _predicted_classes(model, grid).reshape(resolution, resolution)

    n_classes = int(max(regions.max(), classes.max())) + 1
    fig = _figure(6.0, 5.0)
    ax = fig.add_subplot()
    extent = (low[0], high[0], low[1], high[1])
    ax.imshow(
        region_colours(n_classes)[regions],
        origin="lower",
        extent=extent,
        aspect="auto",
        interpolation="nearest",
    )
    colours = _class_colours(n_classes)
    size = 30 if len(points) <= 500 else 10
    for label in np.unique(classes):
        chosen = points[classes == label]
        ax.scatter(
            chosen[:, 0],
            chosen[:, 1],
            s=size,
            color=colours[label],
            edgecolors="black",
            linewidths=0.5,
            label=f"class {label}",
        )
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("x[:, 0]")
    ax.set_ylabel("x[:, 1]")
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    if title:
        ax.set_title(title)
    return _write(fig, path)


# ---- confusion matrix -----------------------------------------------------------------------


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    path: str | os.PathLike[str],
    labels: Any = None,
    normalize: str | None = None,
    title: str | None = None,
) -> Path:
    """Plot :func:`chainrule.metrics.confusion_matrix` as a heat map to a PNG at ``path``:
    rows are true labels, columns predicted ones, each cell shows its count (or share, with
    ``normalize='true'|'pred'|'all'``). Cells hold no numbers beyond 30 classes.
    """
    matrix = metrics.confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    if labels is None:  # the sorted union, as the matrix has it
        labels = np.unique(np.concatenate([_numpy(y_true).ravel(), _numpy(y_pred).ravel()]))
        if labels.dtype.kind == "f":  # integral floats (checked by metrics): show 1, not 1.0
            labels = labels.astype(np.int64)
    names = [str(label) for label in np.asarray(labels).tolist()]
    n = len(names)
    side = float(np.clip(2.5 + 0.45 * n, 4.0, 14.0))
    fig = _figure(side + 1.2, side + (0.3 if title else 0.0))
    ax = fig.add_subplot()
    top = float(matrix.max()) or 1.0
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=top, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8)
    rotate = n > 8 or max(len(name) for name in names) > 4
    ax.set_xticks(np.arange(n), labels=names)
    if rotate:
        ax.tick_params(axis="x", labelrotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    ax.set_yticks(np.arange(n), labels=names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if n <= 30:
        text = "{:d}" if matrix.dtype.kind == "i" else "{:.2f}"
        fontsize = float(np.clip(120.0 / n, 6.0, 12.0))
        for (row, column), value in np.ndenumerate(matrix):
            colour = "white" if value > top / 2 else "black"
            ax.text(
                column,
                row,
                text.format(value),
                ha="center",
                va="center",
                color=colour,
                fontsize=fontsize,
            )
    if title:
        ax.set_title(title)
    return _write(fig, path)


# ---- gradients through time -----------------------------------------------------------------


def gradient_through_time(
    layers: Mapping[str, Any], path: str | os.PathLike[str], title: str | None = None
) -> Path:
    """Plot ‖δh_t‖ = ‖∂C/∂h_t‖ against the time step t for recurrent layers, to a PNG.

    ``layers`` maps a label to a traced recurrent layer: a record from
    ``chainrule.inspect.trace(...).layer(name)`` (anything with ``time_norms()``). Each layer
    is one line of ‖δh_t‖ on a log scale, an LSTM's ‖δc_t‖ a dashed line of the same colour:
    where the loss reads only the last step, the lines fall towards t = 0 as fast as the
    gradient vanishes through time. The figure is 8 inches (800 px) wide.
    """
    if not layers:
        raise ValueError("gradient_through_time: no layers to plot")
    fig = _figure(8.0, 4.0)
    axes = fig.add_subplot()
    for colour, (label, record) in enumerate(layers.items()):
        if not hasattr(record, "time_norms"):
            raise TypeError(
                f"gradient_through_time: {label!r} is a {type(record).__name__}, not a traced "
                "recurrent layer (take one from trace(...).layer(name))"
            )
        norms = record.time_norms()
        steps = np.arange(len(norms["δh"]))
        axes.plot(steps, norms["δh"], color=f"C{colour}", label=f"{label}: ‖δh_t‖")
        if "δc" in norms:
            axes.plot(
                steps, norms["δc"], color=f"C{colour}", linestyle="--", label=f"{label}: ‖δc_t‖"
            )
    axes.set_yscale("log")
    axes.set_xlabel("time step t")
    axes.set_ylabel("gradient norm (log scale)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(loc="best", fontsize="small")
    axes.set_title(title or "backpropagation through time: ‖∂C/∂h_t‖ per step")
    return _write(fig, path)
