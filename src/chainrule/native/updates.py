"""The optimisers' updates as loops: Adam's (and AdamW's) in one pass over each parameter.

Adam's NumPy form (optim/adam.py) makes a dozen passes over arrays the size of the parameter
(the two moments, the square root, the denominator, the step) and allocates the temporaries;
the loop reads and writes each element of the parameter and of the two moments once, in the
same order of arithmetic, each Python number rounded to the arrays' dtype where NumPy rounds
it and each operation rounded once: the same numbers, bit for bit. Eager mode's Adam runs it
where numba is enabled (see :func:`chainrule.optim.adam.Adam`); the compiled step's update
kernel too.
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
) -> bool:
    """One Adam update in place, in Adam._update's order of arithmetic: each Python number
    rounded to the arrays' dtype where NumPy would round it, each operation rounded once.
    False, with nothing done, unless the four arrays have one shape (the caller checks that
    they are C-contiguous)."""
    shape = param.shape
    if grad.shape != shape or exp_avg.shape != shape or exp_avg_sq.shape != shape:
        return False
    kind = param.dtype.type
    b1, one_minus_b1 = kind(beta1), kind(1 - beta1)
    b2, one_minus_b2 = kind(beta2), kind(1 - beta2)
    wd, keep = kind(weight_decay), kind(decay)
    c2, small, size = kind(correction2), kind(eps), kind(step_size)
    p, g = param.reshape(-1), grad.reshape(-1)
    m, v = exp_avg.reshape(-1), exp_avg_sq.reshape(-1)
    for i in range(p.size):
        gradient = g[i]
        if decoupled:
            p[i] = p[i] * keep
        elif weight_decay != 0.0:
            gradient = gradient + wd * p[i]
        m[i] = m[i] * b1 + one_minus_b1 * gradient
        v[i] = v[i] * b2 + one_minus_b2 * gradient * gradient
        denominator = numpy.sqrt(v[i]) / c2 + small
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
    lr, (beta1, beta2) = group["lr"], group["betas"]
    dtype = param.dtype
    if not (
        type(param) is numpy.ndarray
        and type(grad) is numpy.ndarray
        and type(exp_avg) is numpy.ndarray
        and type(exp_avg_sq) is numpy.ndarray
        and dtype in _FLOATS
        and grad.dtype == dtype == exp_avg.dtype == exp_avg_sq.dtype
        and param.flags.c_contiguous
        and grad.flags.c_contiguous
        and exp_avg.flags.c_contiguous
        and exp_avg_sq.flags.c_contiguous
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
        )
    )


_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))
