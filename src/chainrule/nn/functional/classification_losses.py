"""Classification losses: how well scores or probabilities x predict a class, a binary label
or a distribution y. Each checks its arguments and shapes PyTorch's targets for a fused
operation of ``ops.classification_losses``.

- over C classes: ``cross_entropy`` (of logits) and ``nll_loss`` (of log-probabilities);
- binary: ``binary_cross_entropy`` (of probabilities), ``binary_cross_entropy_with_logits``
  and ``soft_margin_loss`` (of scores, against labels ±1);
- between distributions: ``kl_div``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.nn.functional.loss_arguments import (
    broadcast_shape,
    check_reduction,
    check_same_shape,
    check_tensor,
    check_weight,
    constant_array,
    legacy_reduction,
)
from chainrule.ops import classification_losses as loss
from chainrule.ops import movement
from chainrule.ops.loss_reduction import REDUCTIONS
from chainrule.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "kl_div",
    "nll_loss",
    "soft_margin_loss",
]


# ---- over C classes ------------------------------------------------------------------------------


def cross_entropy(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """−Σ_c y_c log softmax(x)_c from logits x of shape (N, C), (C,) or (N, C, d1, ...).

    ``target`` holds class indices (shape (N,) or (N, d1, ...), integers) or class
    probabilities (x's shape, floats). Optional per-class ``weight`` (C,), ``ignore_index``
    for index targets, ``label_smoothing`` ε mixing the target with the uniform distribution.
    The gradient is the fused softmax(x) − target.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> logits = cr.tensor([[0.0, 0.0], [0.0, 0.0]])  # (N, C) = (2, 2)
    >>> round(F.cross_entropy(logits, cr.tensor([0, 1])).item(), 4)  # log 2
    0.6931

    ```
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _log_likelihood(
        input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy"
    )


def nll_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """−x[target] (weighted) from log-probabilities x of shape (N, C) or (N, C, d1, ...).

    ``target`` holds class indices (integers) only: unlike ``cross_entropy``, PyTorch's
    nll_loss takes no class probabilities, and a float target is an error.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> log_probs = cr.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    >>> F.nll_loss(log_probs, cr.tensor([1, 0])).item()  # (2 + 3) / 2
    2.5

    ```
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _log_likelihood(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def _log_likelihood(
    input: Tensor,  # noqa: A002
    target: Any,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    from_logits: bool,
    where: str,
) -> Tensor:
    # The checks that name a problem run only when a cheap test fails: this runs every step.
    if (
        from_logits
        and weight is None
        and not label_smoothing
        and ignore_index < 0
        and reduction in ("mean", "sum")
        and type(input) is Tensor
        and type(target) is Tensor
    ):
        out = _from_class_indices(input, target.array, reduction, ignore_index, where)
        if out is not None:
            return out
    if not isinstance(input, Tensor):
        check_tensor(input, "input", 1, where)
    if not isinstance(target, Tensor):
        check_tensor(target, "target", 2, where, constant=True)
    if reduction not in REDUCTIONS:
        check_reduction(reduction, where)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing}")
    target_data = target.array if isinstance(target, Tensor) else backend.as_array(target)
    weight_data = (
        None
        if weight is None
        else (weight.array if isinstance(weight, Tensor) else backend.as_array(weight))
    )
    if not from_logits and target_data.dtype.kind == "f":
        _refuse_probabilities(input, target_data, where)
    unbatched = input.ndim == 1
    x = movement.unsqueeze(input, 0) if unbatched else input
    if unbatched:
        if target_data.dtype.kind != "f" and target_data.shape not in ((), (1,)):
            raise OpError(
                f"{where}: for input of shape {input.shape} the class-index target must be one "
                f"class, of shape () or (1,), got {tuple(target_data.shape)}"
            )
        target_data = target_data[None] if target_data.dtype.kind == "f" else target_data.reshape(1)
    shape = x.array.shape  # the plain tuple: cheaper than Tensor.shape's Size, every step
    if len(shape) < 2:
        raise OpError(f"{where}: input must have shape (N, C) or (C,), got {input.shape}")
    num_classes = shape[1]
    if weight_data is not None and weight_data.shape != (num_classes,):
        raise OpError(
            f"{where}: weight must have shape ({num_classes},) for {num_classes} classes, got "
            f"{weight_data.shape}"
        )
    spatial = shape[2:]
    if spatial:  # (N, C, d1, ...) -> (N·d1·..., C): every position is a sample
        order = (0, *range(2, x.ndim), 1)
        x = movement.permute(x, order).reshape(-1, num_classes)
    dtype = x.dtype
    probabilities = target_data.dtype.kind == "f"
    if probabilities:
        if target_data.shape != tuple(input.shape if not unbatched else (1, *input.shape)):
            raise OpError(
                f"{where}: probability targets must have the input's shape {input.shape}, got "
                f"{target.shape}"
            )
        if spatial:
            target_data = backend.xp.moveaxis(target_data, 1, -1).reshape(-1, num_classes)
        probability_target: Any = target_data
        if isinstance(target, Tensor) and target.requires_grad:
            # The loss is linear in the target: its gradient flows through the coefficients.
            probability_target = movement.unsqueeze(target, 0) if unbatched else target
            if spatial:
                probability_target = movement.permute(probability_target, order)
                probability_target = probability_target.reshape(-1, num_classes)
            probability_target = probability_target.to(dtype)
        coefficients = loss.probability_coefficients(
            probability_target, dtype, weight_data, label_smoothing, reduction
        )
    else:
        expected = (input.shape[0], *spatial) if not unbatched else (1,)
        if target_data.shape != expected:
            raise OpError(
                f"{where}: class-index targets must have shape {expected} for input of shape "
                f"{input.shape}, got {tuple(target_data.shape)}"
            )
        coefficients = loss.class_coefficients(
            target_data.reshape(-1),
            num_classes,
            dtype,
            weight_data,
            ignore_index,
            label_smoothing,
            reduction,
            where,
        )
    # A mean over no samples (an empty batch, or every target ignored) is nan, as in PyTorch.
    empty_mean = reduction == "mean" and (
        x.shape[0] == 0 if probabilities else not (target_data != ignore_index).any()
    )
    out = loss.WeightedLogLikelihood.apply(
        x,
        coefficients,
        reduction=reduction,
        from_logits=from_logits,
        empty_mean=empty_mean,
        target=None if probabilities else target_data.reshape(-1),
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    if reduction == "none":
        # A tensor of its own as PyTorch's, not a view of the per-sample row nothing else sees.
        shape = input.shape[:1] + spatial if not unbatched else ()
        out = movement.Reshape.untracked_apply(out, shape=shape)
    return out


def _from_class_indices(
    input: Tensor,  # noqa: A002
    target: Any,
    reduction: str,
    ignore_index: int,
    where: str,
) -> Tensor | None:
    """Cross-entropy of float logits (N, C) against integer class indices (N,), by the shortest
    path: the call of every classifier's training step, one operation that makes its
    coefficients from the targets (so that a compiled step replays it). None for any other
    shapes or dtypes, which the general path then checks and shapes."""
    shape = input.array.shape
    if (
        len(shape) != 2
        or target.shape != shape[:1]
        or input.array.dtype.kind != "f"
        or target.dtype.kind not in "iu"
        or not target.shape[0]
    ):
        return None
    return loss.ClassIndexLogLikelihood.apply(
        input, target, reduction=reduction, ignore_index=ignore_index, where=where
    )


def _refuse_probabilities(input: Tensor, target: Any, where: str) -> None:  # noqa: A002
    """nll_loss's float targets: PyTorch refuses them, with one message for a target of the
    input's shape (class probabilities) and one for a float vector of class indices."""
    if target.ndim > 1 or (target.shape == input.shape and input.ndim > 1):
        raise RuntimeError(
            f"{where}: 0D or 1D target tensor expected, multi-target not supported: a float "
            f"target of shape {target.shape} for input of shape {input.shape} looks like class "
            "probabilities, which nll_loss does not take (cross_entropy does, from logits)"
        )
    name = _SCALAR_TYPE_NAMES.get(target.dtype.name, target.dtype.name)
    raise RuntimeError(
        f"{where}: expected target dtype to be Long or Byte, but got {name}: class indices "
        "must be integers (use target.long())"
    )


# PyTorch's names of the float dtypes, as its messages spell them.
_SCALAR_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double"}


# ---- binary ------------------------------------------------------------------------------------


def binary_cross_entropy(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """−w (y log x + (1 − y) log(1 − x)) for probabilities x and targets y in [0, 1] of one
    shape; the logs are clamped at −100 as in PyTorch, so x = 0 or 1 gives a finite loss.
    ``weight`` broadcasts to the input's shape.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> p, y = cr.tensor([0.5, 0.5]), cr.tensor([1.0, 0.0])
    >>> round(F.binary_cross_entropy(p, y).item(), 4)  # log 2
    0.6931

    ```
    """
    where = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_tensor(target, "target", 2, where, constant=True)
    check_reduction(reduction, where)
    check_same_shape(input, target, where)
    for name, value in (("input", input), ("target", target)):
        data = value.array if isinstance(value, Tensor) else backend.as_array(value)
        # Written so that NaN fails too.
        if data.size and not ((data >= 0) & (data <= 1)).all():
            bad = data[~((data >= 0) & (data <= 1))].reshape(-1)[0]
            raise ValueError(
                f"{where}: every element of {name} must be a probability in [0, 1], found "
                f"{float(bad)}"
                + (
                    " (apply sigmoid first, or use binary_cross_entropy_with_logits)"
                    if name == "input"
                    else ""
                )
            )
    weight_data = constant_array(weight, input.dtype)
    check_weight(weight_data, input.shape, "weight", where)
    return loss.BinaryCrossEntropy.apply(input, target, weight_data, reduction=reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """−w (p y log σ(x) + (1 − y) log(1 − σ(x))) from logits x, computed with a stable
    log σ; ``pos_weight`` p (broadcast along the last, class dimension) weighs positives,
    ``weight`` w broadcasts to the input's shape. The gradient is w(σ(x)(p y + 1 − y) − p y).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, y = cr.tensor([0.0, 0.0]), cr.tensor([1.0, 0.0])
    >>> round(F.binary_cross_entropy_with_logits(x, y).item(), 4)  # σ(0) = ½: log 2
    0.6931

    ```
    """
    where = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_tensor(target, "target", 2, where, constant=True)
    check_reduction(reduction, where)
    check_same_shape(input, target, where)
    weight_data = constant_array(weight, input.dtype)
    pos_weight_data = constant_array(pos_weight, input.dtype)
    check_weight(weight_data, input.shape, "weight", where)
    check_weight(pos_weight_data, input.shape, "pos_weight", where)
    return loss.BinaryCrossEntropyWithLogits.apply(
        input, target, weight_data, pos_weight_data, reduction=reduction
    )


def soft_margin_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """log(1 + e^{−y x}): the logistic loss of scores x against labels y = ±1 (which broadcast
    to x's shape), computed as −log σ(y x) so that it never overflows.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([0.0, 0.0])
    >>> round(F.soft_margin_loss(x, cr.tensor([1.0, -1.0])).item(), 4)  # log 2
    0.6931

    ```
    """
    where = "soft_margin_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_tensor(target, "target", 2, where, constant=True)
    check_reduction(reduction, where)
    broadcast_shape([input.shape, getattr(target, "shape", ())], ["input", "target"], where)
    if isinstance(target, Tensor) and target.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"The function '{where}' is not differentiable with respect to argument 'target'. "
            "This input cannot have requires_grad True (as in PyTorch): detach() it"
        )
    return loss.SoftMargin.apply(input, target, reduction=reduction)


# ---- between distributions -----------------------------------------------------------------------

_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(
    input: Tensor,  # noqa: A002
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """The Kullback-Leibler divergence Σ t (log t − x) of log-probabilities x (the model's)
    from the target distribution t (probabilities, or log-probabilities with ``log_target``),
    element by element; 0 log 0 counts as 0. Input and target broadcast together.

    ``batchmean`` divides the sum by the batch size (the first axis), which is KL(t ‖ p) per
    sample; ``mean`` divides it by the number of elements, as PyTorch does, and warns, as
    PyTorch does, that this is not the divergence per sample.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> t = cr.tensor([0.5, 0.5])
    >>> F.kl_div(t.log(), t, reduction='sum').item()  # identical distributions
    0.0
    >>> round(F.kl_div(cr.tensor([0.25, 0.75]).log(), t, reduction='sum').item(), 4)
    0.1438

    ```
    """
    where = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_tensor(target, "target", 2, where, constant=True)
    check_reduction(reduction, where, _KL_REDUCTIONS)
    shape = broadcast_shape([input.shape, getattr(target, "shape", ())], ["input", "target"], where)
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the summed divergence by the number of elements, "
            "batch size times classes; reduction='batchmean' divides it by the batch size "
            "only, which is the divergence per sample (PyTorch plans 'mean' to mean that)",
            UserWarning,
            stacklevel=2,
        )
    divisor = 1.0  # batchmean of a 0-d input: no batch axis, the sum
    if reduction == "mean":
        divisor = float(math.prod(shape))
    elif reduction == "batchmean" and input.ndim:
        divisor = float(input.shape[0])
    mean_or_not = "mean" if reduction in ("mean", "batchmean") else reduction
    return loss.KLDivergence.apply(
        input, target, reduction=mean_or_not, log_target=log_target, divisor=divisor
    )
