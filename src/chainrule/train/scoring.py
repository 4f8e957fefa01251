"""Metrics inside ``fit``/``evaluate``: names resolved to functions, outputs turned into labels.

A metric is a name (``"accuracy"``, ``"f1"``, ``"precision"``, ``"recall"``, ``"mse"``,
``"mae"``, ``"r2"``) or a function ``f(y_true, y_pred) -> float`` on NumPy arrays, named by its
``__name__``. Classification metrics get predicted labels: the argmax of (N, C) outputs; for one
output per sample, the output thresholded at 0 when the loss takes logits
(``BCEWithLogitsLoss``) and at 0.5 otherwise. Regression metrics get the raw outputs. Figures
are computed once per epoch over all of its predictions, not averaged over batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

# name -> (metrics function name, keyword arguments, whether it needs labels)
_NAMED = {
    "accuracy": ("accuracy", {}, True),
    "acc": ("accuracy", {}, True),
    "f1": ("f1_score", {"average": "macro"}, True),
    "precision": ("precision", {"average": "macro", "zero_division": 0.0}, True),
    "recall": ("recall", {"average": "macro", "zero_division": 0.0}, True),
    "mse": ("mean_squared_error", {}, False),
    "mae": ("mean_absolute_error", {}, False),
    "r2": ("r2_score", {}, False),
}


class Metric:
    """One metric: its logged name, the function and whether it compares labels."""

    def __init__(self, name: str, function: Callable[..., Any], wants_labels: bool) -> None:
        self.name, self.function, self.wants_labels = name, function, wants_labels

    def __call__(self, y_true: numpy.ndarray, y_pred: numpy.ndarray) -> float:
        return float(self.function(y_true, y_pred))


def resolve(metrics: Sequence[Any], where: str) -> list[Metric]:
    """Metric objects for names and functions; an unknown name is a ValueError listing names."""
    if isinstance(metrics, (str, bytes)) or callable(metrics):
        metrics = [metrics]
    resolved = []
    for metric in metrics:
        if isinstance(metric, str):
            if metric not in _NAMED:
                raise ValueError(
                    f"{where}: unknown metric {metric!r}; the names are "
                    f"{', '.join(sorted(_NAMED))}, or pass a function f(y_true, y_pred)"
                )
            from chainrule import metrics as module

            function_name, options, wants_labels = _NAMED[metric]
            function = getattr(module, function_name)
            resolved.append(
                Metric(metric, lambda t, p, f=function, o=options: f(t, p, **o), wants_labels)
            )
        elif callable(metric):
            name = getattr(metric, "__name__", type(metric).__name__)
            resolved.append(Metric(name, metric, wants_labels=_looks_like_labels(name)))
        else:
            raise TypeError(f"{where}: a metric must be a name or a function, got {metric!r}")
    names = [m.name for m in resolved]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: two metrics share a name: {names}")
    return resolved


def _looks_like_labels(name: str) -> bool:
    regression = ("error", "r2", "mse", "mae", "rmse", "loss")
    return not any(word in name.lower() for word in regression)


def labels_from_outputs(outputs: numpy.ndarray, logits: bool) -> numpy.ndarray:
    """Predicted class labels, shape (N,): argmax over classes, or a threshold for one output."""
    if outputs.ndim >= 2 and outputs.shape[1] > 1:
        return outputs.argmax(axis=1)
    flat = outputs.reshape(len(outputs))
    return (flat > (0.0 if logits else 0.5)).astype(numpy.int64)


def true_labels(targets: numpy.ndarray) -> numpy.ndarray:
    """Targets as labels, shape (N,): class indices as they are; (N, C) one-hot or
    probabilities by argmax; 0/1 floats as ints."""
    if targets.ndim >= 2 and targets.shape[1] > 1:
        return targets.argmax(axis=1)
    flat = targets.reshape(len(targets))
    return flat.astype(numpy.int64) if flat.dtype.kind == "f" else flat


def score(
    metrics: list[Metric], outputs: numpy.ndarray, targets: numpy.ndarray, logits: bool
) -> dict[str, float]:
    """Every metric's value on one epoch's outputs (N, ...) and targets (N, ...)."""
    if not metrics:
        return {}
    labels = predicted = None
    figures = {}
    for metric in metrics:
        if metric.wants_labels:
            if labels is None:
                labels, predicted = true_labels(targets), labels_from_outputs(outputs, logits)
            figures[metric.name] = metric(labels, predicted)
        else:
            figures[metric.name] = metric(
                targets.reshape(len(targets), -1), outputs.reshape(len(outputs), -1)
            )
    return figures
