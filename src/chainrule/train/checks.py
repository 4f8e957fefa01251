"""Checks made before the first training step: data against the model and the loss.

A mistake in the data (NaN, a label outside the class range, the wrong number of features, an
empty data set) should fail at once with a message naming the data set, the row and the layer,
not as a shape error deep inside a matmul after minutes of training. Whether the inputs fit the
model is found by running the model on one batch (:func:`probe`), not by guessing its input
layer; the checks draw no random numbers, so training after them is the same as without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy

from chainrule import backend, random
from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor
from chainrule.train.inputs import check_finite, tensor_columns, to_device


def _array(value: Any) -> numpy.ndarray:
    return backend.to_numpy(value.array) if isinstance(value, Tensor) else numpy.asarray(value)


@contextlib.contextmanager
def kept_random_state(*generators: Any) -> Iterator[None]:
    """Run the block, then put chainrule's generator and ``generators`` (NumPy Generators, e.g.
    a seeded DataLoader's) back in the state they had before it.

    A check before training must not shift the training run's random stream: a shuffled first
    batch, a dropout mask or a custom forward's draw would otherwise make ``fit`` differ from
    the same loop written by hand.
    """
    kept = [(g, g.bit_generator.state) for g in generators if isinstance(g, numpy.random.Generator)]
    try:
        with random.fork_rng():
            yield
    finally:
        for generator, state in kept:
            generator.bit_generator.state = state


def loader_generators(*loaders: Any) -> list[numpy.random.Generator]:
    """The NumPy generators that ``loaders`` draw their order from, each once: the loader's
    own (``seed=``, ``generator=``) and its samplers'. A loader that shuffles from chainrule's
    global generator adds none: that one is kept by ``chainrule.get_rng_state``."""
    found: dict[int, numpy.random.Generator] = {}
    for loader in loaders:
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        owners = (loader, sampler, batch_sampler, getattr(batch_sampler, "sampler", None))
        for owner in owners:
            generator = getattr(owner, "generator", None)
            if isinstance(generator, numpy.random.Generator):
                found.setdefault(id(generator), generator)
    return list(found.values())


def _shape(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return str(tuple(shape)) if shape is not None else type(value).__name__


def _failing_layer(model: Any, error: BaseException) -> tuple[str, str] | None:
    """(path, type name) of the innermost layer of ``model`` whose code was running when
    ``error`` was raised, found in its traceback; None when it was the model itself or no
    layer of it (e.g. a reshape in the model's own forward)."""
    if not hasattr(model, "named_modules"):
        return None
    paths = {id(module): (path, module) for path, module in model.named_modules() if path}
    found = None
    frame = error.__traceback__
    while frame is not None:  # outermost to innermost: the last layer seen is the innermost
        owner = paths.get(id(frame.tb_frame.f_locals.get("self")))
        if owner is not None:
            found = (owner[0], type(owner[1]).__name__)
        frame = frame.tb_next
    return found


def probe(model: Any, inputs: list[Any], name: str, where: str) -> numpy.ndarray:
    """The model's output on one batch of ``inputs``, computed in eval mode without a graph and
    without drawing from any random generator (the model's mode and the generator's state are
    restored). A model that cannot run raises ValueError naming the data set, the input shapes,
    the layer that raised (where it was one of the model's layers) and the model's own error."""
    was_training = model.training
    model.eval()  # a probe must not move BatchNorm's running statistics
    try:
        with kept_random_state(), no_grad():
            output = model(*inputs)
    except Exception as error:
        shapes = ", ".join(_shape(x) for x in inputs)
        noun = "shape" if len(inputs) == 1 else "shapes"
        layer = _failing_layer(model, error)
        who = "the model" if layer is None else f"its layer {layer[0]!r} ({layer[1]})"
        raise ValueError(
            f"{where}: the model cannot run on {name}'s inputs of {noun} {shapes}: {who} "
            f"raised {type(error).__name__}: {error}"
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


def preflight(
    model: Any, loss_fn: Any, loader: Any, name: str, where: str, device: Any = None
) -> None:
    """All checks for one data set: finite values, features, targets against the loss; the
    model is probed on the first batch moved to ``device`` (None: as it comes)."""
    columns = tensor_columns(loader.dataset)
    if columns is not None:
        check_finite(columns, name, where)
    # Drawing a shuffled first batch must not use up the order of the first epoch.
    with kept_random_state(*loader_generators(loader)):
        first = next(iter(loader))
    batch = list(first) if isinstance(first, (tuple, list)) else [first]
    if len(batch) < 2:
        raise ValueError(
            f"{where}: {name} must give (inputs..., targets) per sample; its batches have "
            f"{len(batch)} item(s)"
        )
    if columns is None:
        check_finite([_array(item) for item in batch], f"{name} (first batch)", where)
    inputs = batch[:-1] if device is None else to_device(batch[:-1], device)
    output = probe(model, inputs, name, where)
    if loss_fn is not None:
        targets = columns[-1] if columns is not None else _array(batch[-1])
        check_targets(loss_fn, output, targets, name, where, whole=columns is not None)
