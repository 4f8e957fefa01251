"""More losses as fused operations: Huber, binary cross-entropy on probabilities and on logits.

Fused for the same reasons as :mod:`chainrule.ops.loss`: one node each, and for the logits form
a gradient σ(x) − y that never passes through log σ(x), which underflows.

``weight`` (and ``pos_weight``) arrive as arrays already broadcast-compatible with the input;
they are constants here, as in PyTorch, where they receive no gradient.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.loss import _reduce

# PyTorch clamps log(p) at −100 so that p = 0 gives a large finite loss, not inf. Any value whose
# log is below −100 works as the floor inside the log; e^{−101} is representable in float32.
_LOG_FLOOR = -100.0
_TINY = math.exp(-101.0)
# ... and the gradient (x − y) / (x (1 − x)) divides by at least this: PyTorch's 1e-12 as a
# float32 constant (9.99999996e-13), which shows at 4e-9 relative where x is 0 or 1.
_GRAD_EPSILON = float(numpy.float32(1e-12))


def _mean_scale(reduction: str, size: int) -> float:
    return 1 / size if reduction == "mean" and size else 1.0


def _weighted(values: Any, weight: Any) -> Any:
    return values if weight is None else values * weight


def _split_grad(node: Function, grad_x: Any, grad_y: Any) -> tuple:
    """Gradients for (input, target), summed back over broadcast axes; None where unused."""
    shape_x, shape_y = node.shapes
    return (
        None if grad_x is None else unbroadcast(grad_x, shape_x),
        None if grad_y is None else unbroadcast(grad_y, shape_y),
    )


class HuberError(Function):
    """∂/∂x huber_δ(x − y) = clip(x − y, −δ, δ), ∂/∂y = −clip(x − y, −δ, δ)  (÷N for the mean)

    huber_δ(d) = ½d² where |d| < δ, else δ(|d| − ½δ): squared near 0, linear (slope δ) beyond.
    """

    def forward(self, x: Any, y: Any, weight: Any, reduction: str, delta: float) -> Any:
        xp = backend.xp
        x, y = dtypes.promote(x, y)
        self.shapes, self.reduction, self.delta = (x.shape, shape_of(y)), reduction, delta
        diff = x - y
        size = xp.abs(diff)
        # c(|d| − ½c) with c = min(|d|, δ) is ½d² below δ and δ(|d| − ½δ) above: no ``where``,
        # which costs 35× an addition on an unpredictable mask.
        clipped = xp.minimum(size, delta)
        loss = clipped * (size - 0.5 * clipped)
        self.saved = (diff, weight)
        return _reduce(_weighted(loss, weight), reduction, loss.size)

    def backward(self, grad: Any) -> tuple:
        diff, weight = self.saved
        slope = backend.xp.clip(diff, -self.delta, self.delta)
        grad_x = _weighted(slope, weight) * (grad * _mean_scale(self.reduction, diff.size))
        need_x, need_y = self.needs_input_grad[:2]
        return (*_split_grad(self, grad_x if need_x else None, -grad_x if need_y else None), None)


def _clamped_logs(x: Any) -> tuple[Any, Any]:
    """log x and log(1 − x), each at least −100 (PyTorch's clamp), without log(0) warnings."""
    xp = backend.xp
    log_x = xp.maximum(xp.log(xp.maximum(x, _TINY)), _LOG_FLOOR)
    log_rest = xp.maximum(xp.log(xp.maximum(1 - x, _TINY)), _LOG_FLOOR)
    return log_x, log_rest


class BinaryCrossEntropy(Function):
    """∂/∂x −w(y log x + (1 − y) log(1 − x)) = w(x − y) / max(x(1 − x), 10⁻¹²),
    ∂/∂y = w(log(1 − x) − log x) = −w logit(x)  (the loss's logs clamped at −100; ÷N for the
    mean)

    The target's gradient is that of the exact loss, as in PyTorch: ±inf where x is 0 or 1,
    where the clamped loss is flat.
    """

    def forward(self, x: Any, y: Any, weight: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        self.shapes, self.reduction = (x.shape, shape_of(y)), reduction
        log_x, log_rest = _clamped_logs(x)
        loss = -(y * log_x + (1 - y) * log_rest)
        self.saved = (x, y, weight)
        return _reduce(_weighted(loss, weight), reduction, loss.size)

    def backward(self, grad: Any) -> tuple:
        x, y, weight = self.saved
        xp = backend.xp
        scale = grad * _mean_scale(self.reduction, x.size)
        need_x, need_y = self.needs_input_grad[:2]
        grad_x = grad_y = None
        if need_x:
            grad_x = (x - y) / xp.maximum(x * (1 - x), _GRAD_EPSILON)
            grad_x = _weighted(grad_x, weight) * scale
        if need_y:
            grad_y = _weighted(-xp.log(x / (1 - x)), weight) * scale
        return (*_split_grad(self, grad_x, grad_y), None)


def log_sigmoids(x: Any) -> tuple[Any, Any]:
    """log σ(x) and log σ(−x) = min(±x, 0) − log(1 + e^{−|x|}): no overflow, and each keeps
    its relative accuracy where it is tiny (unlike log σ(x) − x)."""
    xp = backend.xp
    shared = xp.log1p(xp.exp(-xp.abs(x)))
    return xp.minimum(x, 0) - shared, xp.minimum(-x, 0) - shared


class BinaryCrossEntropyWithLogits(Function):
    """∂/∂x −w(p y log σ(x) + (1 − y) log σ(−x)) = w((1 − y) σ(x) − p y σ(−x)),
    ∂/∂y = −w(p log σ(x) − log σ(−x))  (p: pos_weight, 1 without; ÷N for the mean)"""

    def forward(self, x: Any, y: Any, weight: Any, pos_weight: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        self.shapes, self.reduction = (x.shape, shape_of(y)), reduction
        log_p, log_q = log_sigmoids(x)
        positive = y if pos_weight is None else pos_weight * y
        loss = -(positive * log_p + (1 - y) * log_q)
        self.saved = (y, log_p, log_q, weight, pos_weight)
        return _reduce(_weighted(loss, weight), reduction, loss.size)

    def backward(self, grad: Any) -> tuple:
        y, log_p, log_q, weight, pos_weight = self.saved
        xp = backend.xp
        scale = grad * _mean_scale(self.reduction, log_p.size)
        need_x, need_y = self.needs_input_grad[:2]
        grad_x = grad_y = None
        if need_x:
            # (1 − y) σ(x) − p y σ(−x) rather than σ(x)(p y + 1 − y) − p y: no cancellation
            # when σ(x) → 1.
            positive = y if pos_weight is None else pos_weight * y
            grad_x = (1 - y) * xp.exp(log_p) - positive * xp.exp(log_q)
            grad_x = _weighted(grad_x, weight) * scale
        if need_y:
            p_log_p = log_p if pos_weight is None else pos_weight * log_p
            grad_y = _weighted(log_q - p_log_p, weight) * scale
        return (*_split_grad(self, grad_x, grad_y), None, None)
