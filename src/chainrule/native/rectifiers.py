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

from chainrule.native import jit, laid_out_alike
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


# ---- hard swish ----------------------------------------------------------------------------------
#
# Hardswish's NumPy form (ops/rectifiers.py) makes four passes forward (z + 3, the clip, the
# product, the quotient) and six backward; each loop makes one, with the same operations in the
# same order, each rounded once: the same numbers bit for bit, nan's included.


def _hardswish(z: Any, out: Any) -> None:
    """out = z · clip(z + 3, 0, 6) / 6 (1-d arrays of one float dtype)."""
    three, six, zero = out.dtype.type(3), out.dtype.type(6), out.dtype.type(0)
    for i in range(z.size):
        value = z[i]
        t = value + three
        t = zero if t < zero else t  # NumPy's clip: nan stays nan
        t = six if t > six else t
        t = t * value
        out[i] = t / six


def _hardswish_backward(z: Any, grad: Any, out: Any) -> None:
    """out = g·(z/3 + ½) where −3 < z < 3, g where z ≥ 3 (and at nan), +0 where z ≤ −3."""
    three, half, one, zero = (out.dtype.type(3), out.dtype.type(0.5), out.dtype.type(1),
                              out.dtype.type(0))  # fmt: skip
    for i in range(z.size):
        value = z[i]
        slope = value / three
        slope = slope + half
        slope = slope if value < three else one
        slope = slope * grad[i]
        out[i] = zero if value <= -three else slope


_hardswish_loop = jit(_hardswish, cache=True)
_hardswish_backward_loop = jit(_hardswish_backward, cache=True)


def hardswish(z: Any) -> Any:
    """Hardswish of a C-contiguous float32 or float64 NumPy array, as a new array; None where
    the loop does not take z."""
    if type(z) is not ndarray or z.dtype.type not in FLOATS or not z.flags.c_contiguous:
        return None
    out = recycler.empty(z.shape, z.dtype)
    _hardswish_loop(z.reshape(-1), out.reshape(-1))
    return out


def hardswish_backward(z: Any, grad: Any) -> Any:
    """Hardswish's ∂C/∂z for C-contiguous z and grad of one shape and float dtype, as a new
    array; None where the loop does not take them."""
    if (
        type(z) is not ndarray
        or z.dtype.type not in FLOATS
        or not z.flags.c_contiguous
        or not laid_out_alike(z, grad)
    ):
        return None
    out = recycler.empty(z.shape, z.dtype)
    _hardswish_backward_loop(z.reshape(-1), grad.reshape(-1), out.reshape(-1))
    return out
