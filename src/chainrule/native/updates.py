"""The optimisers' updates as loops: Adam's (and AdamW's), SGD's and RMSprop's, each in one
pass over a parameter.

Their NumPy forms (optim/adam.py, sgd.py, rmsprop.py) make several passes over arrays the size
of the parameter (Adam's a dozen: the two moments, the square root, the denominator, the step;
SGD with momentum's four; RMSprop's eight) and allocate the temporaries; a loop reads and
writes each element of the parameter and of its state once, in the same order of arithmetic,
each Python number rounded to the arrays' dtype where NumPy rounds it and each operation
rounded once: the same numbers, bit for bit. Eager mode's optimisers run them where numba is
enabled (:func:`chainrule.native.suits_update` says for which parameters); the compiled step's
Adam kernel too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule.native import jit


def _adam_update(
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    beta1: float,
    beta2: float,
    weight_decay: float,
    decoupled: bool,
    decay: float,
    correction2: float,
    eps: float,
    step_size: float,
    amsgrad: bool,
    max_exp_avg_sq: Any,
) -> bool:
    """One Adam update in place, in Adam._update's order of arithmetic: each Python number
    rounded to the arrays' dtype where NumPy would round it, each operation rounded once;
    with ``amsgrad`` the denominator from v_max ← max(v_max, v) (NumPy's maximum: nan wins).
    False, with nothing done, unless the arrays have one shape (the caller checks that they
    are C-contiguous)."""
    shape = param.shape
    if grad.shape != shape or exp_avg.shape != shape or exp_avg_sq.shape != shape:
        return False
    if max_exp_avg_sq.shape != shape:
        return False
    kind = param.dtype.type
    b1, one_minus_b1 = kind(beta1), kind(1 - beta1)
    b2, one_minus_b2 = kind(beta2), kind(1 - beta2)
    wd, keep = kind(weight_decay), kind(decay)
    c2, small, size = kind(correction2), kind(eps), kind(step_size)
    p, g = param.reshape(-1), grad.reshape(-1)
    m, v = exp_avg.reshape(-1), exp_avg_sq.reshape(-1)
    largest = max_exp_avg_sq.reshape(-1)
    for i in range(p.size):
        gradient = g[i]
        if decoupled:
            p[i] = p[i] * keep
        elif weight_decay != 0.0:
            gradient = gradient + wd * p[i]
        m[i] = m[i] * b1 + one_minus_b1 * gradient
        v[i] = v[i] * b2 + one_minus_b2 * gradient * gradient
        second = v[i]
        if amsgrad:
            second = numpy.maximum(largest[i], second)
            largest[i] = second
        denominator = numpy.sqrt(second) / c2 + small
        p[i] = p[i] - size * m[i] / denominator
    return True


adam = jit(_adam_update, cache=True)


def adam_update(param: Any, grad: Any, state: dict, group: dict, step: float) -> bool:
    """Adam's update of one parameter (``param`` its array, ``grad`` the gradient as Adam uses
    it, ``state`` its moments, ``group`` its options, ``step`` the count after this one) by
    the loop, where the arrays suit it: NumPy float32 or float64 of one dtype, C-contiguous,
    the gradient apart from the parameter, and a plain-number learning rate. False, with
    nothing done, otherwise."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    amsgrad = bool(group["amsgrad"])
    largest = state["max_exp_avg_sq"] if amsgrad else exp_avg_sq  # a placeholder without
    lr, (beta1, beta2) = group["lr"], group["betas"]
    dtype = param.dtype
    if not (
        type(param) is numpy.ndarray
        and type(grad) is numpy.ndarray
        and type(exp_avg) is numpy.ndarray
        and type(exp_avg_sq) is numpy.ndarray
        and type(largest) is numpy.ndarray
        and dtype in _FLOATS
        and grad.dtype == dtype == exp_avg.dtype == exp_avg_sq.dtype == largest.dtype
        and param.flags.c_contiguous
        and grad.flags.c_contiguous
        and exp_avg.flags.c_contiguous
        and exp_avg_sq.flags.c_contiguous
        and largest.flags.c_contiguous
        and type(lr) in (float, int)
        and not numpy.may_share_memory(param, grad)
    ):
        return False
    weight_decay = group["weight_decay"]
    return bool(
        adam(
            param,
            grad,
            exp_avg,
            exp_avg_sq,
            beta1,
            beta2,
            weight_decay,
            bool(weight_decay and group["decoupled_weight_decay"]),
            1 - lr * weight_decay,
            math.sqrt(1 - beta2**step),
            group["eps"],
            lr / (1 - beta1**step),
            amsgrad,
            largest,
        )
    )


def _gradient_as_used(
    value: Any, weight: Any, maximize: bool, weight_decay: float, decay: Any
) -> Any:
    """SGD's and RMSprop's gradient element as their updates use it: negated with
    ``maximize``, then plus λθ (``decay`` is λ in the arrays' dtype) with L2 weight decay."""
    if maximize:
        value = -value
    if weight_decay != 0.0:
        value = value + decay * weight
    return value


_as_used = jit(_gradient_as_used, cache=True)


def _sgd_update(
    param: Any,
    grad: Any,
    buffer: Any,
    first: bool,
    momentum: float,
    keep_new: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    lr: float,
) -> None:
    """One SGD update of the flat arrays in place, in SGD._update's order of arithmetic:
    g ← −g if maximize; g ← g + λθ; with momentum b ← g on the first step, else
    b ← b·μ + (1 − dampening)·g (``keep_new``), and g ← g + μ·b (Nesterov) or b; θ ← θ + (−lr)·g.
    ``buffer`` is not touched without momentum."""
    kind = param.dtype.type
    mu, fresh, decay, rate = kind(momentum), kind(keep_new), kind(weight_decay), kind(-lr)
    for i in range(param.size):
        gradient = _as_used(grad[i], param[i], maximize, weight_decay, decay)
        if momentum != 0.0:
            velocity = gradient if first else buffer[i] * mu + fresh * gradient
            buffer[i] = velocity
            gradient = gradient + mu * velocity if nesterov else velocity
        param[i] = param[i] + rate * gradient


def _rmsprop_update(
    param: Any,
    grad: Any,
    square_avg: Any,
    grad_avg: Any,
    buffer: Any,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
    lr: float,
) -> None:
    """One RMSprop update of the flat arrays in place, in RMSprop._update's order of
    arithmetic: v ← v·α + ((1 − α)·g)·g; with ``centered`` m ← m·α + (1 − α)·g and
    d = √(v − m·m), else d = √v; d ← d + eps; with momentum b ← b·μ + g/d and θ ← θ − lr·b,
    else θ ← θ − (lr·g)/d. ``grad_avg`` and ``buffer`` are touched only where used."""
    kind = param.dtype.type
    a, fresh, small = kind(alpha), kind(1 - alpha), kind(eps)
    decay, mu, rate = kind(weight_decay), kind(momentum), kind(lr)
    for i in range(param.size):
        gradient = _as_used(grad[i], param[i], maximize, weight_decay, decay)
        second = square_avg[i] * a + fresh * gradient * gradient
        square_avg[i] = second
        if centered:
            first = grad_avg[i] * a + fresh * gradient
            grad_avg[i] = first
            denominator = numpy.sqrt(second - first * first)
        else:
            denominator = numpy.sqrt(second)
        denominator = denominator + small
        if momentum > 0.0:
            velocity = buffer[i] * mu + gradient / denominator
            buffer[i] = velocity
            param[i] = param[i] - rate * velocity
        else:
            param[i] = param[i] - rate * gradient / denominator


sgd, rmsprop = jit(_sgd_update, cache=True), jit(_rmsprop_update, cache=True)


def sgd_update(param: Any, grad: Any, state: dict, group: dict) -> bool:
    """SGD's update of one parameter (``param`` its array, ``grad`` its gradient, ``state``
    its state, ``group`` its options) by the loop, where the arrays suit it (as for
    :func:`adam_update`); the momentum buffer made on the first step as the NumPy form makes
    it. False, with nothing done, otherwise."""
    momentum, buffer = group["momentum"], state.get("momentum_buffer")
    if not _suit(param, grad, () if buffer is None else (buffer,), group["lr"]):
        return False
    first = bool(momentum) and buffer is None
    if first:
        buffer = state["momentum_buffer"] = numpy.empty_like(param)
    sgd(
        param.reshape(-1),
        grad.reshape(-1),
        grad.reshape(-1) if buffer is None else buffer.reshape(-1),
        first,
        momentum,
        1 - group["dampening"],
        group["weight_decay"],
        group["nesterov"],
        group["maximize"],
        group["lr"],
    )
    return True


def rmsprop_update(param: Any, grad: Any, state: dict, group: dict) -> bool:
    """RMSprop's update of one parameter by the loop, where the arrays suit it (as for
    :func:`adam_update`; ``state`` holds ``square_avg``), the averages and buffer it needs
    made as the NumPy form makes them. False, with nothing done, otherwise."""
    centered, momentum = group["centered"], group["momentum"]
    kept = [state[name] for name in ("square_avg", "grad_avg", "momentum_buffer") if name in state]
    if not _suit(param, grad, kept, group["lr"]):
        return False
    square_avg = state["square_avg"]
    grad_avg = buffer = square_avg  # placeholders the loop leaves alone
    if centered:
        grad_avg = state.get("grad_avg")
        if grad_avg is None:
            grad_avg = state["grad_avg"] = numpy.zeros_like(param)
    if momentum > 0:
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = state["momentum_buffer"] = numpy.zeros_like(param)
    rmsprop(
        param.reshape(-1),
        grad.reshape(-1),
        square_avg.reshape(-1),
        grad_avg.reshape(-1),
        buffer.reshape(-1),
        group["alpha"],
        group["eps"],
        group["weight_decay"],
        momentum,
        centered,
        group["maximize"],
        group["lr"],
    )
    return True


def _suit(param: Any, grad: Any, state: Any, lr: Any) -> bool:
    """Whether the loops take these arrays: NumPy float32 or float64 arrays of one dtype and
    shape, C-contiguous, the gradient apart from the parameter, and a plain-number learning
    rate."""
    dtype, shape = param.dtype, param.shape
    return (
        type(param) is numpy.ndarray
        and type(grad) is numpy.ndarray
        and dtype in _FLOATS
        and grad.dtype == dtype
        and grad.shape == shape
        and param.flags.c_contiguous
        and grad.flags.c_contiguous
        and all(
            type(array) is numpy.ndarray
            and array.dtype == dtype
            and array.shape == shape
            and array.flags.c_contiguous
            for array in state
        )
        and type(lr) in (float, int)
        and not numpy.may_share_memory(param, grad)
    )


_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))
