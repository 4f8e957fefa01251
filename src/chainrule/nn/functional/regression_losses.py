"""More losses: Huber, binary cross-entropy on probabilities and on logits; checks around the
fused operations of ``ops.extra_loss``."""

from __future__ import annotations

import warnings
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.nn.functional.loss import _check_reduction, _warn_if_broadcast
from chainrule.ops import extra_loss
from chainrule.tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "huber_loss"]


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated size_average/reduce pair, translated to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(
        "size_average and reduce are deprecated; use reduction='mean', 'sum' or 'none'",
        DeprecationWarning,
        stacklevel=3,
    )
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _array(value: Any, dtype: Any) -> Any:
    """A weight as a constant array of the input's dtype (None stays None)."""
    if value is None:
        return None
    data = value.array if isinstance(value, Tensor) else backend.as_array(value)
    return data.astype(dtype, copy=False)


def _check_weight(weight: Any, shape: tuple, name: str, where: str) -> None:
    if weight is None:
        return
    try:
        broadcast = backend.xp.broadcast_shapes(weight.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise OpError(
            f"{where}: {name} of shape {tuple(weight.shape)} does not broadcast to the input's "
            f"shape {tuple(shape)}"
        )


def _check_same_shape(input: Tensor, target: Any, where: str) -> None:  # noqa: A002
    shape = tuple(getattr(target, "shape", ()))
    if shape != input.shape:
        raise ValueError(f"{where}: target shape {shape} must equal the input shape {input.shape}")


def huber_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ); times ``weight`` (the input's shape)
    if given; averaged, summed, or per element. Quadratic near the target, linear beyond:
    outliers pull with a bounded gradient ±δ."""
    where = "huber_loss"
    _check_reduction(reduction, where)
    if delta <= 0:
        raise ValueError(f"{where}: delta must be positive, got {delta}")
    _warn_if_broadcast(input, target, where)
    weight_data = _array(weight, input.dtype)
    if weight_data is not None and tuple(weight_data.shape) != input.shape:
        raise OpError(
            f"{where}: weight of shape {tuple(weight_data.shape)} must have the input's shape "
            f"{input.shape}"
        )
    return extra_loss.HuberError.apply(input, target, weight_data, reduction=reduction, delta=delta)


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
    ``weight`` broadcasts to the input's shape."""
    where = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, where)
    _check_same_shape(input, target, where)
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
    weight_data = _array(weight, input.dtype)
    _check_weight(weight_data, input.shape, "weight", where)
    return extra_loss.BinaryCrossEntropy.apply(input, target, weight_data, reduction=reduction)


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
    ``weight`` w broadcasts to the input's shape. The gradient is w(σ(x)(p y + 1 − y) − p y)."""
    where = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, where)
    _check_same_shape(input, target, where)
    weight_data = _array(weight, input.dtype)
    pos_weight_data = _array(pos_weight, input.dtype)
    _check_weight(weight_data, input.shape, "weight", where)
    _check_weight(pos_weight_data, input.shape, "pos_weight", where)
    return extra_loss.BinaryCrossEntropyWithLogits.apply(
        input, target, weight_data, pos_weight_data, reduction=reduction
    )
