"""Checks made before the first training step: data against the model and the loss.

A mistake in the data (NaN, a label outside the class range, the wrong number of features, an
empty data set) should fail at once with a message naming the data set, the row and the layer,
not as a shape error deep inside a matmul after minutes of training.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor
from chainrule.train.inputs import check_finite, tensor_columns


def _array(value: Any) -> numpy.ndarray:
    return backend.to_numpy(value.data) if isinstance(value, Tensor) else numpy.asarray(value)


def _first_layer(model: Any) -> tuple[str, Any] | None:
    """The first module (in registration order) that has a weight: (path, module)."""
    for name, module in model.named_modules():
        if getattr(module, "weight", None) is not None and not module._modules:
            return name, module
    return None


def check_features(model: Any, inputs: list[Any], name: str, where: str) -> None:
    """ValueError when the model's first Linear/Conv layer cannot take ``inputs[0]``."""
    found = _first_layer(model)
    if found is None or not inputs:
        return
    path, layer = found
    shape = tuple(inputs[0].shape)
    kind = type(layer).__name__
    expected = getattr(layer, "in_features", None)
    if expected is not None and kind == "Linear" and shape and shape[-1] != expected:
        raise ValueError(
            f"{where}: the model's first layer {path!r} ({kind}) takes {expected} features, "
            f"but {name}'s inputs have {shape[-1]} (batch shape {shape})"
        )
    channels = getattr(layer, "in_channels", None)
    if channels is not None and len(shape) >= 2 and shape[1] != channels:
        raise ValueError(
            f"{where}: the model's first layer {path!r} ({kind}) takes {channels} input "
            f"channels, but {name}'s inputs have {shape[1]} (batch shape {shape}, channels "
            "come second)"
        )


def probe(model: Any, inputs: list[Any], name: str, where: str) -> numpy.ndarray:
    """One forward pass on a batch in eval mode without a graph; errors name the data set."""
    check_features(model, inputs, name, where)
    was_training = model.training
    model.eval()  # a probe must not move BatchNorm's running statistics
    try:
        with no_grad():
            output = model(*inputs)
    except Exception as error:
        shapes = ", ".join(str(tuple(x.shape)) for x in inputs)
        raise ValueError(
            f"{where}: the model cannot run on {name}'s inputs of shape {shapes}: {error}"
        ) from error
    finally:
        model.train(was_training)
    if not isinstance(output, Tensor):
        raise TypeError(f"{where}: the model must return one Tensor, got {type(output).__name__}")
    return _array(output)


def check_targets(
    loss_fn: Any,
    output: numpy.ndarray,
    targets: numpy.ndarray,
    name: str,
    where: str,
    whole: bool,
) -> None:
    """Targets that the loss cannot take: labels out of range, mismatched shapes, BCE ranges.

    ``output`` is the model's output on one batch; ``targets`` are the whole data set's targets
    (``whole``) or one batch's.
    """
    kind = type(loss_fn).__name__
    rows = "row" if whole else "batch row"
    if kind in ("CrossEntropyLoss", "NLLLoss") and targets.dtype.kind in "iu":
        classes = output.shape[1] if output.ndim >= 2 else output.shape[0]
        ignore = getattr(loss_fn, "ignore_index", -100)
        flat = targets.reshape(len(targets), -1)
        bad = ((flat < 0) | (flat >= classes)) & (flat != ignore)
        if bad.any():
            row = int(numpy.argmax(bad.any(axis=1)))
            value = flat[row][bad[row]][0]
            raise ValueError(
                f"{where}: {name} has the label {value} at {rows} {row}, outside the model's "
                f"{classes} classes (outputs of shape {(None, *output.shape[1:])}); labels "
                f"must be 0..{classes - 1}"
            )
        return
    elementwise = ("MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss")
    if kind in elementwise and tuple(targets.shape[1:]) != tuple(output.shape[1:]):
        raise ValueError(
            f"{where}: {kind} needs targets shaped like the model's outputs: outputs are "
            f"{(None, *output.shape[1:])} per batch, {name}'s targets are "
            f"{(None, *targets.shape[1:])}"
            + (" (reshape y to (N, 1))" if targets.ndim == 1 and output.ndim == 2 else "")
        )
    if kind in ("BCELoss", "BCEWithLogitsLoss"):
        bad = (targets < 0) | (targets > 1)
        if bad.any():
            row = int(numpy.argmax(bad.reshape(len(targets), -1).any(axis=1)))
            raise ValueError(
                f"{where}: {kind} needs targets in [0, 1]; {name} has "
                f"{targets.reshape(len(targets), -1)[row].max()} at {rows} {row}"
            )


def preflight(model: Any, loss_fn: Any, loader: Any, name: str, where: str) -> None:
    """All checks for one data set: finite values, features, targets against the loss."""
    columns = tensor_columns(loader.dataset)
    if columns is not None:
        check_finite(columns, name, where)
    first = next(iter(loader))
    batch = list(first) if isinstance(first, (tuple, list)) else [first]
    if len(batch) < 2:
        raise ValueError(
            f"{where}: {name} must give (inputs..., targets) per sample; its batches have "
            f"{len(batch)} item(s)"
        )
    if columns is None:
        check_finite([_array(item) for item in batch], f"{name} (first batch)", where)
    output = probe(model, batch[:-1], name, where)
    if loss_fn is not None:
        targets = columns[-1] if columns is not None else _array(batch[-1])
        check_targets(loss_fn, output, targets, name, where, whole=columns is not None)
