"""ReLU's backward as one loop: ∂C/∂y where the output is not 0, +0 elsewhere.

The NumPy form (ops/rectifiers.py) selects on the bits in three passes: the mask out ≠ 0, the
mask widened to words of all ones or zeros, and those words and-ed with the gradient's. The loop
reads the output and the gradient once and writes the result once, with the same result bit
for bit: the gradient where the output is not 0 (nan included), +0 elsewhere whatever the
gradient is there (nan, ±inf, −0).
"""

from __future__ import annotations

from typing import Any

from numpy import float32, float64, ndarray

from chainrule.native import jit
from chainrule.ops.work_arrays import recycler

FLOATS = (float32, float64)


def _relu_backward(grad: Any, out: Any, result: Any) -> None:
    """result = grad where out ≠ 0, else +0 (three C-contiguous arrays of one shape)."""
    g, o, r = grad.ravel(), out.ravel(), result.ravel()
    zero = result.dtype.type(0)
    for i in range(r.size):
        r[i] = g[i] if o[i] != zero else zero


_backward = jit(_relu_backward, cache=True)


def relu_backward(grad: Any, out: Any) -> Any:
    """grad where out ≠ 0, +0 elsewhere, as a new array laid out like out; None where the loop
    does not cover the arrays (another type or dtype, a broadcast, two layouts, gaps)."""
    if (
        type(grad) is not ndarray
        or grad.dtype != out.dtype
        or grad.dtype.type not in FLOATS
        or grad.shape != out.shape
    ):
        return None
    if grad.flags.c_contiguous and out.flags.c_contiguous:  # the usual case, checked cheaply
        result = recycler.empty(out.shape, out.dtype)
        _backward(grad, out, result)
        return result
    if grad.strides != out.strides:
        return None
    # The axes from the slowest in memory to the fastest: one C-contiguous view of each array.
    order = sorted(range(out.ndim), key=lambda axis: -abs(out.strides[axis]))
    flat_out = out.transpose(order)
    flat_grad = grad.transpose(order)
    if not (flat_out.flags.c_contiguous and flat_grad.flags.c_contiguous):
        return None
    result = recycler.empty(out.shape, out.dtype, like=out)
    flat_result = result.transpose(order)
    if not flat_result.flags.c_contiguous:
        return None
    _backward(flat_grad, flat_out, flat_result)
    return result
