"""Kernels of the two losses of most training steps: the mean (or summed) squared error, and
cross-entropy of logits against class indices, forward and backward each in one pass
(ops/regression_losses.py's SquaredError, ops/classification_losses.py's
ClassIndexLogLikelihood)."""

from __future__ import annotations

from typing import Any

import numpy
from numpy import empty, exp, log

from chainrule.compiled.kernels import Declined, Kernel, builds, float_arrays, fresh_node, jit
from chainrule.ops.classification_losses import ClassIndexLogLikelihood
from chainrule.ops.regression_losses import SquaredError


def _squared_error_forward(x: Any, y: Any, divisor: Any, diff: Any, out: Any) -> None:
    """d = x − y and Σd² / divisor (into the 0-d ``out``), summed in the loop's order."""
    flat, a, b = diff.reshape(-1), x.ravel(), y.ravel()
    total = x.dtype.type(0)
    for i in range(flat.size):
        value = a[i] - b[i]
        flat[i] = value
        total += value * value
    out[()] = total / divisor


def _squared_error_backward(grad: Any, diff: Any, scale: float, negate: bool, result: Any) -> None:
    """∂C/∂x = d · (g · scale) (or its negative, ∂C/∂y), with g · scale computed in double
    precision and rounded once to d's dtype, as NumPy multiplies an array by a Python number."""
    flat, d = result.reshape(-1), diff.reshape(-1)
    factor = diff.dtype.type(numpy.float64(grad[()]) * scale)
    for i in range(flat.size):
        flat[i] = -(d[i] * factor) if negate else d[i] * factor


# Named one by one: numba calls a global function directly, one taken from a tuple through a
# pointer.
_squared_forward_loop = jit(_squared_error_forward)
_squared_backward_loop = jit(_squared_error_backward)
_squared = (_squared_forward_loop, _squared_backward_loop)


def _squared_fused_forward(x: Any, y: Any, divisor: Any) -> tuple:
    diff, out = empty(x.shape, x.dtype), empty((), x.dtype)
    _squared_forward_loop(x, y, divisor, diff, out)
    return out, (diff,)


def _squared_fused_backward(
    grad: Any, saved: tuple, scale: float, need_x: bool, need_y: bool
) -> tuple:
    (diff,) = saved
    # No gradient: an empty array of the same number of dimensions (one type either way).
    grad_x = empty(diff.shape, diff.dtype) if need_x else diff[:0].copy()
    grad_y = empty(diff.shape, diff.dtype) if need_y else diff[:0].copy()
    if need_x:
        _squared_backward_loop(grad, diff, scale, False, grad_x)
    if need_y:
        _squared_backward_loop(grad, diff, scale, True, grad_y)
    return grad_x, grad_y


_squared_fused = (jit(_squared_fused_forward), jit(_squared_fused_backward))


@builds(SquaredError)
def squared_error(node: Any, arrays: list, options: dict) -> Kernel | None:
    reduction = options.get("reduction")
    if set(options) != {"reduction"} or reduction not in ("mean", "sum") or len(arrays) != 2:
        return None
    x, y = arrays
    if not float_arrays(arrays, 2) or x.shape != y.shape:
        return None
    shape, dtype = x.shape, x.dtype
    divisor = dtype.type(x.size) if reduction == "mean" else dtype.type(1)
    # ops/regression_losses.py: 2/N for the mean, as a Python number.
    scale = 2 / x.size if reduction == "mean" else 2.0
    forward, backward = _squared
    grads = tuple(position for position, flag in enumerate(node.needs_input_grad) if flag)
    template = node

    def run_forward(x: Any, y: Any, reduction: str) -> tuple:
        if x.shape != shape or y.shape != shape:
            fallback = fresh_node(template)
            return numpy.asarray(fallback.forward(x, y, reduction)), fallback
        diff, out = empty(shape, dtype), empty((), dtype)
        forward(x, y, divisor, diff, out)
        return out, (diff,)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:  # the operation ran itself
            results = saved.backward(grad)
            return tuple(results[position] for position in grads)
        (diff,) = saved
        if grad.shape != ():
            raise RuntimeError(f"backward of SquaredError: gradient of shape {grad.shape}")
        results = []
        for position in grads:
            result = empty(shape, dtype)
            backward(grad, diff, scale, position == 1, result)
            results.append(result)
        return tuple(results)

    need = (0 in grads, 1 in grads)
    return Kernel(
        run_forward, run_backward, grads, (*_squared_fused, (0, 1), (divisor,), (scale, *need))
    )


def _cross_entropy_forward(z: Any, target: Any, weight: Any, log_p: Any, out: Any) -> bool:
    """log softmax(z) (N, C) into ``log_p`` and −Σᵢ weight · log softmax(z)ᵢ,ₜᵢ into the 0-d
    ``out``; False, with nothing computed, when some target is not a class in 0..C−1 (the
    caller then runs the operation itself, which reports it or handles ignored samples)."""
    rows, classes = z.shape
    for r in range(rows):
        if target[r] < 0 or target[r] >= classes:
            return False
    total = z.dtype.type(0)
    for r in range(rows):
        top = z[r, 0]
        for c in range(1, classes):
            value = z[r, c]
            if value > top or value != value:
                top = value
        if top != top:  # a NaN logit: NumPy's max is NaN, and so is the whole row
            for c in range(classes):
                log_p[r, c] = top
        else:
            for c in range(classes):
                log_p[r, c] = z[r, c] - top
        sum_exp = z.dtype.type(0)
        for c in range(classes):
            sum_exp += exp(log_p[r, c])
        log_sum = log(sum_exp)
        for c in range(classes):
            log_p[r, c] -= log_sum
        total += weight * log_p[r, target[r]]
    out[()] = -total
    return True


def _cross_entropy_backward(grad: Any, log_p: Any, target: Any, weight: Any, result: Any) -> None:
    """∂C/∂z = (softmax(z) · w − w · onehot(t)) · g, rounded in that order, as in eager mode."""
    rows, classes = log_p.shape
    g = grad[()]
    zero = log_p.dtype.type(0)
    for r in range(rows):
        for c in range(classes):
            value = exp(log_p[r, c]) * weight
            result[r, c] = (value - (weight if c == target[r] else zero)) * g


_cross_entropy_forward_loop = jit(_cross_entropy_forward)
_cross_entropy_backward_loop = jit(_cross_entropy_backward)
_cross_entropy = (_cross_entropy_forward_loop, _cross_entropy_backward_loop)


def _cross_entropy_fused_forward(z: Any, target: Any, weight: Any) -> tuple:
    log_p, out = empty(z.shape, z.dtype), empty((), z.dtype)
    if not _cross_entropy_forward_loop(z, target, weight, log_p, out):
        raise Declined()
    return out, (log_p, target)


def _cross_entropy_fused_backward(grad: Any, saved: tuple, weight: Any) -> tuple:
    log_p, target = saved
    result = empty(log_p.shape, log_p.dtype)
    _cross_entropy_backward_loop(grad, log_p, target, weight, result)
    return result, empty(0, log_p.dtype)


_cross_entropy_fused = (jit(_cross_entropy_fused_forward), jit(_cross_entropy_fused_backward))


@builds(ClassIndexLogLikelihood)
def cross_entropy(node: Any, arrays: list, options: dict) -> Kernel | None:
    reduction = options.get("reduction")
    if reduction not in ("mean", "sum") or len(arrays) != 2:
        return None
    z, target = arrays
    if (
        not float_arrays(arrays, 1)
        or z.ndim != 2
        or type(target) is not numpy.ndarray
        or target.dtype.kind not in "iu"
        or target.shape != z.shape[:1]
        or not node.needs_input_grad[0]
    ):
        return None
    shape, dtype = z.shape, z.dtype
    one = dtype.type(1)
    # one_hot_coefficients: 1/N for the mean, rounded to z's dtype.
    weight = one / shape[0] if reduction == "mean" else one
    forward, backward = _cross_entropy
    template = node

    def run_forward(z: Any, target: Any, **settings: Any) -> tuple:
        if z.shape == shape and target.shape == shape[:1]:
            log_p, out = empty(shape, dtype), empty((), dtype)
            if forward(z, target, weight, log_p, out):
                return out, (log_p, target)
        # An ignored sample, a class out of range, another shape: the operation itself, which
        # takes the general path (or raises eager mode's error).
        fallback = fresh_node(template)
        return numpy.asarray(fallback.forward(z, target, **settings)), fallback

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:
            return (saved.backward(grad)[0],)
        log_p, target = saved
        result = empty(log_p.shape, log_p.dtype)
        backward(grad, log_p, target, weight, result)
        return (result,)

    fused = (*_cross_entropy_fused, (0, 1), (weight,), (weight,))
    return Kernel(run_forward, run_backward, (0,), fused)
