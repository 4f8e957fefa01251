"""Element-wise selection, ``where(mask, a, b)``, at the speed of arithmetic on NumPy floats.

NumPy's ``where`` branches on every element: on a mask without long runs (an activation's
sign pattern) it took 3.6 ns an element on this project's machines, ten times an element-wise
product. For float arrays of one dtype and shape (or one such array and a number), with a mask
that broadcasts to that shape, the selection is done on the bits instead: the mask widened to
words of all ones or all zeros, then b ^ ((a ^ b) & mask). The result is the same bit for bit
(nan payloads, −0 and ±∞ included); every other case (operands that broadcast, strided
operands, mixed dtypes, tensors recording a graph, CuPy) goes to ``where`` itself.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend
from chainrule.tensor import Tensor

# Integer words of each float width: the bits of a float array reinterpreted in place.
_WORDS = {2: numpy.int16, 4: numpy.int32, 8: numpy.int64}


def _bits(value: Any, dtype: Any, shape: tuple) -> Any:
    """``value`` (a C-ordered array of ``shape`` and ``dtype``, a 0-d array of ``dtype`` or a
    Python number) as integer words, or None where it is none of them."""
    words = _WORDS[dtype.itemsize]
    if type(value) is numpy.ndarray:
        whole = value.shape == shape and value.flags.c_contiguous
        if value.dtype is dtype and (whole or not value.ndim):  # 0-d: a number, broadcast
            return value.view(words)
        return None
    if type(value) is int or type(value) is float:  # weak, as in where: the array's dtype
        return numpy.asarray(value, dtype=dtype).view(words)
    return None


def _result_shape(mask: Any, a: Any, b: Any) -> tuple | None:
    """The shape of ``where(mask, a, b)`` where the selection on the bits can make it: that of
    the array operand (both, if both are arrays, have it), the mask broadcasting to it."""
    shape = a.shape if type(a) is numpy.ndarray and a.ndim else getattr(b, "shape", None)
    if not shape or mask.ndim > len(shape):
        return None
    for m, n in zip(mask.shape[::-1], shape[::-1]):
        if m != n and m != 1:
            return None
    return shape


def where(mask: Any, a: Any, b: Any) -> Any:
    """``where(mask, a, b)``: a where ``mask`` is true, b elsewhere; shapes broadcast.

    A float result of an array operand's shape (arrays of one float dtype and that shape, or
    one such array and a number; the mask broadcasting to it) is selected on the bits, the
    same values as ``where``'s, faster. A mask of one value copies the operand it picks.
    """
    xp = backend.xp
    if type(mask) is numpy.ndarray and xp is numpy and mask.dtype == numpy.bool_:
        dtype = a.dtype if type(a) is numpy.ndarray else getattr(b, "dtype", None)
        shape = _result_shape(mask, a, b) if dtype is not None else None
        if shape is not None and dtype.kind == "f" and dtype.itemsize in _WORDS:
            a_bits = _bits(a, dtype, shape)
            b_bits = _bits(b, dtype, shape) if a_bits is not None else None
            if b_bits is not None:
                return _select_bits(mask, a_bits, b_bits, shape).view(dtype)
    return xp.where(mask, a, b)


def _select_bits(mask: Any, a_bits: Any, b_bits: Any, shape: tuple) -> Any:
    """b ^ ((a ^ b) & mask) on integer words: a new array of ``shape``."""
    chosen = numpy.count_nonzero(mask)  # a few µs: masks such as z > 20 are often uniform
    if chosen == 0 or chosen == mask.size:
        out = numpy.empty(shape, b_bits.dtype)
        out[...] = a_bits if chosen else b_bits
        return out
    # true -> all ones, false -> all zeros, in one pass (the bools read as bytes)
    ones = numpy.negative(mask.view(numpy.uint8), dtype=b_bits.dtype)
    out = numpy.bitwise_xor(a_bits, b_bits)  # of ``shape``: one of the two is an array
    numpy.bitwise_and(out, ones, out=out)
    numpy.bitwise_xor(out, b_bits, out=out)
    return out


def kept_where(mask: Any, grad: Any) -> Any:
    """``grad`` where ``mask`` is true, +0 elsewhere, even where ``grad`` is nan or infinite:
    PyTorch's selection in the backward of the flat-in-places activations (a product with the
    mask would let nan through and give −0 for a negative gradient). A tensor ``grad`` (a
    backward recording a graph) takes a differentiable ``where``: the same values, and a
    derivative of 1 where kept, 0 elsewhere."""
    xp = backend.xp
    if isinstance(grad, Tensor):
        return xp.where(mask, grad, 0)
    grad = xp.asarray(grad)
    words = _WORDS.get(grad.dtype.itemsize)
    # 0-d: a ufunc gives a scalar there, which cannot be written in place below.
    if grad.dtype.kind != "f" or words is None or grad.shape != xp.shape(mask) or not grad.ndim:
        return xp.where(mask, grad, xp.zeros((), grad.dtype))
    # The zeros need no xor: the widened mask and-ed with the gradient's bits, two passes.
    bits = xp.negative(xp.asarray(mask).view(xp.uint8), dtype=words)
    xp.bitwise_and(bits, grad.view(words), out=bits)
    return bits.view(grad.dtype)
