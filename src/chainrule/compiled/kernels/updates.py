"""The optimisers' updates as kernels: plain SGD's θ ← θ − lr·g and Adam's (and AdamW's),
one call per parameter.

A replay calls ``optimizer.step()`` again (compiled/program.py); for :class:`~chainrule.optim.SGD`
it calls :func:`sgd_step` instead, and for Adam and AdamW :func:`adam_step`, which do what that
step does (gradients paused, NumPy's warnings silenced, the parameters' versions bumped) with
the same roundings in the same order, so the numbers are eager mode's bit for bit. The options
the kernels leave out (SGD's momentum, weight decay and ``maximize``; Adam's ``maximize``; a
parameter's first step, which makes its state) run the optimiser's own code.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import fp_errors
from chainrule.autograd.grad_mode import pause_grad, restore_mode
from chainrule.autograd.versions import note_parameter_writes
from chainrule.compiled.kernels import jit
from chainrule.native.updates import adam_update
from chainrule.optim.optimizer import add_scaled_


def _add_scaled(target: Any, alpha: float, values: Any) -> bool:
    """target += alpha · values, in place, with alpha rounded to their dtype first, as NumPy
    rounds a Python number it multiplies by; False, with nothing done, unless both arrays have
    one shape (the caller checks that they are C-contiguous and of one dtype)."""
    if target.shape != values.shape:
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
            # Inline checks: this runs per parameter per step, and the update
            # was the largest part of XOR's compiled step (5.6 of 12.2 µs).
            and target.flags.c_contiguous
            and grad.flags.c_contiguous
            and _add_scaled_jit(target, alpha, grad)
        ):
            add_scaled_(target, alpha, grad)  # SGD's own arithmetic


ndarray = numpy.ndarray
_FLOAT32, _FLOAT64 = numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)


def adam_step(optimizer: Any) -> None:
    """``optimizer.step()`` of an Adam or AdamW optimiser, through the kernel where it applies
    (not for ``maximize``, nor a parameter's first step, which makes its state)."""
    token, quiet = pause_grad(), fp_errors.enter()
    try:
        for group in optimizer.param_groups:
            if (
                group["maximize"]
                or type(group["lr"]) not in (float, int)
                or not all(optimizer.state.get(p) for p in group["params"] if p._grad is not None)
            ):
                optimizer._update(group)
            else:
                _adam_group(optimizer, group)
            note_parameter_writes(group["params"], optimizer._step_name)
    finally:
        fp_errors.leave(quiet)
        restore_mode(token)


def _adam_group(optimizer: Any, group: dict) -> None:
    for p in group["params"]:
        grad_tensor = p._grad
        if grad_tensor is None:
            continue
        state = optimizer.state[p]
        state["step"] += 1
        if not adam_update(p.array, grad_tensor.array, state, group, state["step"]):
            state["step"] -= 1  # Adam's own update counts the step again
            optimizer._update({**group, "params": [p]})
