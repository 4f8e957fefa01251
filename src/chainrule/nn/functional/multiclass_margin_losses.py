"""Margin losses over C classes: the score of each right class should exceed every wrong one's
by a margin (``multi_margin_loss`` for one class per sample, ``multilabel_margin_loss`` for a
set of classes), or each class is a separate logistic decision (``multilabel_soft_margin_loss``).

They are compositions of gather, relu, where and logsigmoid, so that their first and second
derivatives come from those operations. The hinges use relu: PyTorch's kernels count a term
only where it is strictly positive, so at the kink its gradient is 0, which is relu's.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.creation import as_tensor
from chainrule.nn.functional.loss_arguments import check_reduction, check_tensor, legacy_reduction
from chainrule.nn.functional.smooth_activations import logsigmoid
from chainrule.nn.input_checks import InputDtypeError, InputShapeError
from chainrule.ops import elementwise, movement
from chainrule.ops import reduce as reductions
from chainrule.ops.indexing import gather
from chainrule.ops.rectifiers import relu
from chainrule.tensor import Tensor

__all__ = ["multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss"]


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return reductions.mean(loss)
    return reductions.sum(loss) if reduction == "sum" else loss


def _as_matrix(input: Tensor, where: str) -> Tensor:  # noqa: A002
    """``input`` as (N, C): a vector is one sample, a scalar one sample of one class."""
    if input.ndim > 2 or (input.ndim >= 1 and input.shape[-1] == 0):
        raise InputShapeError(
            f"{where}: Expected non-empty vector or matrix with optional 0-dim batch size, but "
            f"got: {list(input.shape)}"
        )
    if input.ndim == 2:
        return input
    return movement.reshape(input, (1, input.shape[0] if input.ndim else 1))


# PyTorch's C++ names of the dtypes, which its message about a target's dtype uses.
_SCALAR_TYPES = {
    "float16": "Half",
    "bfloat16": "BFloat16",
    "float32": "Float",
    "float64": "Double",
    "int8": "Char",
    "uint8": "Byte",
    "int16": "Short",
    "int32": "Int",
    "bool": "Bool",
}


def _class_indices(target: Any, where: str) -> numpy.ndarray:
    """The target's class indices on the host, refused unless int64 as PyTorch does."""
    check_tensor(target, "target", 2, where)
    host = backend.to_numpy(target.array)
    if host.dtype != numpy.int64:
        found = _SCALAR_TYPES.get(target.dtype.name, target.dtype.name)
        raise InputDtypeError(f"{where}: expected scalar type Long but found {found}")
    return host


def _on_device_of(input: Tensor, array: numpy.ndarray) -> Tensor:  # noqa: A002
    return as_tensor(backend.transfer(array, backend.module_of(input.array)))


def multi_margin_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Σ_{j ≠ y} w_y max(0, margin − x_y + x_j)ᵖ / C per sample, for scores x of shape (N, C)
    (or (C,), one sample), class indices y of shape (N,) (or (), int64), p 1 or 2 and an
    optional per-class weight (C,). Unreduced, the loss has the target's shape.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(F.multi_margin_loss(x, cr.tensor([3])).item(), 4)  # (0.3 + 0.4 + 0.6) / 4
    0.325

    ```
    """
    where = "multi_margin_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_reduction(reduction, where)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    labels = _class_indices(target, where)
    scores = _as_matrix(input, where)
    frames, classes = scores.shape
    if labels.ndim > 1 or labels.size != frames:
        raise InputShapeError(
            f"{where}: target tensor should be 1-D with size equal to the number of input "
            f"samples (batch size). Expected target size [{frames}], but got "
            f"{list(labels.shape)}. Input has shape {list(input.shape)}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise InputShapeError(f"{where}: target out of range")
    rows = labels.reshape(frames, 1)
    right = gather(scores, 1, _on_device_of(input, rows))
    hinge = relu(margin - right + scores)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        if weight.numel() != classes:
            raise InputShapeError(
                f"{where}: inconsistent weight size, expected {classes} but got "
                f"{list(weight.shape)}"
            )
        if weight.requires_grad and is_grad_enabled():
            raise RuntimeError(
                f"The function '{where}' is not differentiable with respect to argument "
                "'weight'. This input cannot have requires_grad True."
            )
        per_class = backend.transfer(backend.to_numpy(weight.array).reshape(classes), numpy)
        hinge = hinge * _on_device_of(input, per_class[rows].astype(input.array.dtype))
    # The right class's own term would be max(0, margin)ᵖ: it is not part of the loss.
    own = _on_device_of(input, numpy.arange(classes) == rows)
    per_sample = reductions.sum(elementwise.where(own, 0.0, hinge), 1) / classes
    if reduction == "none":
        return movement.reshape(per_sample, labels.shape)
    return _reduced(per_sample, reduction)


def multilabel_margin_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Σ_{y ∈ Y} Σ_{j ∉ Y} max(0, 1 − x_y + x_j) / C per sample: every target class's score
    should exceed every other class's by 1. ``input`` is (N, C) or (C,); ``target`` (int64,
    the same shape) lists the target classes Y first, then −1 (what follows is ignored).
    Unreduced, the loss has shape (N,), or () for one sample.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> y = cr.tensor([[3, 0, -1, 1]])  # classes 3 and 0
    >>> round(F.multilabel_margin_loss(x, y).item(), 4)  # (0.4+0.6 + 1.1+1.3) / 4
    0.85

    ```
    """
    where = "multilabel_margin_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_reduction(reduction, where)
    labels = _class_indices(target, where)
    scores = _as_matrix(input, where)
    frames, classes = scores.shape
    if input.ndim <= 1:
        fits = labels.ndim <= 1 and labels.size == classes
    else:
        fits = labels.shape == (frames, classes)
    if not fits:
        raise InputShapeError(
            f"{where}: inconsistent target size: {list(labels.shape)} for input of size: "
            f"{list(input.shape)}"
        )
    labels = labels.reshape(frames, classes)
    if labels.size and (labels.min() < -1 or labels.max() >= classes):
        raise InputShapeError(f"{where}: argument #2 'target' is out of range")
    listed = numpy.cumprod(labels >= 0, axis=1).astype(bool)  # before the first −1
    is_target = numpy.zeros((frames, classes), dtype=bool)
    rows, positions = numpy.nonzero(listed)
    is_target[rows, labels[rows, positions]] = True
    # One pass per position in the lists (few, usually) rather than an (N, C, C) array; a
    # class listed twice counts twice, as in PyTorch.
    # Zeros that depend on the scores (with gradient 0), for a batch with no listed class.
    everywhere = _on_device_of(input, numpy.ones((frames, 1), dtype=bool))
    total = reductions.sum(elementwise.where(everywhere, 0.0, scores), 1)
    for k in range(int(listed.sum(axis=1).max(initial=0))):
        column = numpy.where(listed[:, k : k + 1], labels[:, k : k + 1], 0)
        right = gather(scores, 1, _on_device_of(input, column))
        counted = _on_device_of(input, listed[:, k : k + 1] & ~is_target)
        hinge = elementwise.where(counted, relu(1.0 - right + scores), 0.0)
        total = total + reductions.sum(hinge, 1)
    per_sample = total / classes
    if reduction == "none":
        return per_sample if input.ndim == 2 else movement.reshape(per_sample, ())
    return _reduced(per_sample, reduction)


def multilabel_soft_margin_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """−Σ_c w_c (y_c log σ(x_c) + (1 − y_c) log σ(−x_c)) / C over the last dimension: one
    logistic loss per class for scores x (…, C) and labels y in [0, 1] (same shape, or
    broadcasting), with an optional weight that broadcasts to it. Unreduced, the loss has
    x's shape without its last dimension.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, y = cr.tensor([[0.0, 0.0]]), cr.tensor([[1.0, 0.0]])
    >>> round(F.multilabel_soft_margin_loss(x, y).item(), 4)  # log 2
    0.6931

    ```
    """
    where = "multilabel_soft_margin_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_tensor(target, "target", 2, where, constant=True)
    check_reduction(reduction, where)
    if input.ndim == 0:
        raise IndexError(f"{where}: Dimension specified as -1 but tensor has no dimensions")
    y = target if isinstance(target, Tensor) else as_tensor(target)
    loss = -(y * logsigmoid(input) + (1 - y) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    per_sample = reductions.sum(loss, loss.ndim - 1) / input.shape[-1]
    return _reduced(per_sample, reduction)
