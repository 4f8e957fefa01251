"""The optimiser's update as a kernel: plain SGD's θ ← θ − lr·g, one call per parameter.

A replay calls ``optimizer.step()`` again (compiled/program.py); for :class:`~chainrule.optim.SGD`
it calls :func:`sgd_step` instead, which does what that step does (gradients paused, NumPy's
warnings silenced, the parameters' versions bumped) with the same roundings: lr·g rounded to the
parameter's dtype, then added. A group with momentum, weight decay or ``maximize`` is updated
by SGD's own code, so every option keeps its eager numbers.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import fp_errors
from chainrule.autograd.grad_mode import pause_grad, restore_mode
from chainrule.autograd.versions import note_parameter_writes
from chainrule.compiled.kernels import jit
from chainrule.optim.optimizer import add_scaled_


def _add_scaled(target: Any, alpha: float, values: Any) -> bool:
    """target += alpha · values, in place, with alpha rounded to their dtype first, as NumPy
    rounds a Python number it multiplies by; False, with nothing done, unless both arrays are
    C-contiguous of one shape (the caller checks the dtypes)."""
    if (
        target.shape != values.shape
        or not target.flags.c_contiguous
        or not values.flags.c_contiguous
    ):
        return False
    flat, v = target.reshape(-1), values.reshape(-1)
    scale = target.dtype.type(alpha)
    for i in range(flat.size):
        flat[i] += scale * v[i]
    return True


_add_scaled_jit = jit(_add_scaled)


def sgd_step(optimizer: Any) -> None:
    """``optimizer.step()`` of an SGD optimiser, through the kernel where it applies."""
    token, quiet = pause_grad(), fp_errors.enter()
    try:
        for group in optimizer.param_groups:
            lr = group["lr"]
            if (
                group["momentum"]
                or group["weight_decay"]
                or group["maximize"]
                or type(lr) not in (float, int)
            ):
                optimizer._update(group)
            else:
                _plain(group["params"], -lr)
            note_parameter_writes(group["params"], optimizer._step_name)
    finally:
        fp_errors.leave(quiet)
        restore_mode(token)


def _plain(params: list, alpha: float) -> None:
    for p in params:
        grad_tensor = p._grad
        if grad_tensor is None:
            continue
        target, grad = p.array, grad_tensor.array
        if not (
            type(target) is ndarray
            and type(grad) is ndarray
            and grad is not target
            # Memory of the gradient's own: NumPy's (no base) or numba's (a kernel's output,
            # whose base is numba's record of it), not a view into the parameter.
            and (
                (base := grad.base) is None
                or (type(base) is not ndarray and base is not target.base)
            )
            and (target.dtype is _FLOAT32 or target.dtype is _FLOAT64)
            and grad.dtype is target.dtype
            and _add_scaled_jit(target, alpha, grad)
        ):
            add_scaled_(target, alpha, grad)  # SGD's own arithmetic


ndarray = numpy.ndarray
_FLOAT32, _FLOAT64 = numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)
