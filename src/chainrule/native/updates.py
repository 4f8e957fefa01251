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
