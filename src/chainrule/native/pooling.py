"""2-D max pooling over 2×2 windows side by side (stride 2, no padding or dilation, windows that
tile the input: the usual halving of a CNN's feature maps), as two loops.

The NumPy form (ops/max_pooling.py) makes a window's maximum as whole-array maxima over strided
slices, and its backward finds again, offset by offset, which element held each maximum (a
comparison and a mask per offset). Here the forward keeps, beside each maximum, the offset that
held it (one byte), and the backward writes each window's gradient there and zero at its other
offsets, each element once.

The loops run along the axis that is contiguous in memory: the batch axis in the batch-last
layout of chainrule's convolutions, or the channels in a channels-last one. An input whose
fastest axis is one of the pooled ones (plain NCHW) is not covered
(ops/max_pooling.py's ``loop_order`` is None).

The maxima and gradients are the NumPy form's, with two differences in the sign of a zero,
both as PyTorch has it: a window that holds both −0 and +0 keeps its first maximum in row-major
order (its last NaN where it holds one), where NumPy's maximum of equal values keeps the later
one; and the gradient is +0 at a window's other elements, where the NumPy form's product of a
mask and a negative gradient gives −0.
"""

from __future__ import annotations

from typing import Any

from numpy import dtype as as_dtype
from numpy import uint8

from chainrule.native import jit
from chainrule.ops.work_arrays import recycler


def _pool_forward(x: Any, out: Any, held: Any) -> None:
    """out[p, i, j, q] = max of the 2×2 window x[p, 2i : 2i+2, 2j : 2j+2, q] and held[...] the
    row-major offset (0 to 3) of that maximum (x (P, H, W, Q), out and held (P, H/2, W/2, Q))."""
    for p in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                # Each offset's row of the windows, and the scan of a window in registers: the
                # compiler vectorises this loop over q, and none that kept the running maxima
                # in memory or looped over a window of any size (thirty times slower).
                first, second = x[p, 2 * i, 2 * j], x[p, 2 * i, 2 * j + 1]
                third, fourth = x[p, 2 * i + 1, 2 * j], x[p, 2 * i + 1, 2 * j + 1]
                best_row, where_row = out[p, i, j], held[p, i, j]
                for q in range(out.shape[3]):
                    best, where = first[q], 0
                    value = second[q]
                    if value > best or value != value:  # a NaN holds on to the window
                        best, where = value, 1
                    value = third[q]
                    if value > best or value != value:
                        best, where = value, 2
                    value = fourth[q]
                    if value > best or value != value:
                        best, where = value, 3
                    best_row[q] = best
                    where_row[q] = where


def _pool_backward(grad: Any, held: Any, grad_x: Any) -> None:
    """grad_x (P, H, W, Q) = each window's gradient at the offset that held its maximum, zero
    at the others."""
    rows, columns, inner = grad.shape[1], grad.shape[2], grad.shape[3]
    zero = grad_x.dtype.type(0)
    for p in range(grad.shape[0]):
        for i in range(rows):
            for j in range(columns):
                window, where = grad[p, i, j], held[p, i, j]
                for offset in range(4):
                    row = offset // 2
                    line = grad_x[p, 2 * i + row, 2 * j + offset - 2 * row]
                    for q in range(inner):
                        line[q] = window[q] if where[q] == offset else zero


_forward, _backward = jit(_pool_forward, cache=True), jit(_pool_backward, cache=True)


def max_pool_2x2(x: Any, order: tuple[int, ...]) -> tuple[Any, Any]:
    """The maxima (N, C, H/2, W/2) of x's 2×2 windows, laid out like x, and the row-major offset
    (uint8, 0 to 3) of each window's maximum; ``order`` is ops/max_pooling.py's ``loop_order``
    of x."""
    out_shape = (*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2)
    out = recycler.empty(out_shape, x.dtype, like=x)
    held = recycler.empty(out_shape, as_dtype(uint8), like=x)
    _forward(x.transpose(order), out.transpose(order), held.transpose(order))
    return out, held


def max_pool_2x2_backward(grad: Any, out: Any, held: Any, x: Any, order: tuple[int, ...]) -> Any:
    """∂C/∂x (x's shape and layout): ∂C/∂out (out's shape and dtype) at each window's maximum,
    0 at its other elements."""
    if grad.transpose(order).strides != out.transpose(order).strides:
        # A gradient in another layout would be read with long strides: copied first.
        grad = recycler.copy(grad, like=out)
    grad_x = recycler.empty(x.shape, x.dtype, like=x)
    _backward(grad.transpose(order), held.transpose(order), grad_x.transpose(order))
    return grad_x
