"""Losses: checks and target handling around the fused loss operations of ``ops.loss``."""

from __future__ import annotations

import warnings
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.ops import loss, movement
from chainrule.tensor import Tensor

__all__ = ["cross_entropy", "l1_loss", "mse_loss", "nll_loss"]


def _check_reduction(reduction: str, where: str) -> None:
    if reduction not in loss.REDUCTIONS:
        raise ValueError(
            f"{where}: reduction must be one of {', '.join(loss.REDUCTIONS)}, got {reduction!r}"
        )


def _warn_if_broadcast(input: Tensor, target: Any, where: str) -> None:  # noqa: A002
    shape = getattr(target, "shape", ())
    if tuple(shape) != input.shape:
        warnings.warn(
            f"{where}: target shape {tuple(shape)} differs from input shape {input.shape}; "
            "they will be broadcast, which is rarely what a loss should do",
            stacklevel=3,
        )


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """The squared error (x − y)², averaged (``mean``), summed, or per element (``none``)."""
    _check_reduction(reduction, "mse_loss")
    _warn_if_broadcast(input, target, "mse_loss")
    return loss.SquaredError.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """The absolute error |x − y|, averaged (``mean``), summed, or per element (``none``)."""
    _check_reduction(reduction, "l1_loss")
    _warn_if_broadcast(input, target, "l1_loss")
    return loss.AbsoluteError.apply(input, target, reduction=reduction)


def cross_entropy(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """−Σ_c y_c log softmax(x)_c from logits x of shape (N, C), (C,) or (N, C, d1, ...).

    ``target`` holds class indices (shape (N,) or (N, d1, ...), integers) or class
    probabilities (x's shape, floats). Optional per-class ``weight`` (C,), ``ignore_index``
    for index targets, ``label_smoothing`` ε mixing the target with the uniform distribution.
    The gradient is the fused softmax(x) − target.
    """
    return _log_likelihood(
        input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy"
    )


def nll_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """−x[target] (weighted) from log-probabilities x of shape (N, C) or (N, C, d1, ...)."""
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
    _check_reduction(reduction, where)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing}")
    target_data = target.array if isinstance(target, Tensor) else backend.as_array(target)
    weight_data = (
        None
        if weight is None
        else (weight.array if isinstance(weight, Tensor) else backend.as_array(weight))
    )
    unbatched = input.ndim == 1
    x = movement.unsqueeze(input, 0) if unbatched else input
    if unbatched:
        if target_data.dtype.kind != "f" and target_data.shape not in ((), (1,)):
            raise OpError(
                f"{where}: for input of shape {input.shape} the class-index target must be one "
                f"class, of shape () or (1,), got {tuple(target_data.shape)}"
            )
        target_data = target_data[None] if target_data.dtype.kind == "f" else target_data.reshape(1)
    if x.ndim < 2:
        raise OpError(f"{where}: input must have shape (N, C) or (C,), got {input.shape}")
    num_classes = x.shape[1]
    if weight_data is not None and weight_data.shape != (num_classes,):
        raise OpError(
            f"{where}: weight must have shape ({num_classes},) for {num_classes} classes, got "
            f"{weight_data.shape}"
        )
    spatial = x.shape[2:]
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
