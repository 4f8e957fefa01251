"""The kernel of 2-D max pooling (ops/max_pooling.py's MaxPoolNd) over 2×2 windows side by side:
stride 2, no padding or dilation, and windows that tile the input (the usual halving of a
CNN's feature maps). Other windows run the operation itself.

Eager mode makes a window's maximum as whole-array maxima over strided slices, and its
backward finds again, offset by offset, which element held each maximum (a comparison and a
mask per offset). Here the forward keeps, beside each maximum, the offset that held it (one
byte), and the backward writes each window's gradient there and zero at its other offsets,
each element once.

The loops run along the axis that is contiguous in memory: the batch axis in the batch-last
layout of chainrule's convolutions, or the channels in a channels-last one. An input whose
fastest axis is one of the pooled ones (plain NCHW) runs the operation itself.

The maxima and gradients are eager mode's, with two differences in the sign of a zero, both
as PyTorch has it: a window that holds both −0 and +0 keeps its first maximum in row-major
order (its last NaN where it holds one), where NumPy's maximum of equal values keeps the later
one; and the gradient is +0 at a window's other elements, where eager mode's product of a mask
and a negative gradient gives −0.
"""

from __future__ import annotations

from typing import Any

from numpy import dtype as as_dtype
from numpy import ndarray, uint8

from chainrule.compiled.kernels import FLOATS, Kernel, builds, fresh_node, jit
from chainrule.ops.max_pooling import MaxPoolNd
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


def _pool_backward(grad: Any, held: Any, kernel_h: int, kernel_w: int, grad_x: Any) -> None:
    """grad_x (P, H, W, Q) = each window's gradient at the offset that held its maximum, zero
    at the others."""
    rows, columns, inner = grad.shape[1], grad.shape[2], grad.shape[3]
    zero = grad_x.dtype.type(0)
    for p in range(grad.shape[0]):
        for i in range(rows):
            for j in range(columns):
                window, where = grad[p, i, j], held[p, i, j]
                for offset in range(kernel_h * kernel_w):
                    row = offset // kernel_w
                    line = grad_x[p, i * kernel_h + row, j * kernel_w + offset - row * kernel_w]
                    for q in range(inner):
                        line[q] = window[q] if where[q] == offset else zero


_forward, _backward = jit(_pool_forward), jit(_pool_backward)


def _loop_order(x: Any) -> tuple[int, ...] | None:
    """The axes of x (N, C, H, W) in the order the loops take them, (outer, H, W, contiguous);
    None when a pooled axis is the contiguous one."""
    fastest = min(range(4), key=lambda axis: abs(x.strides[axis]) if x.shape[axis] > 1 else 1 << 62)
    if fastest not in (0, 1):
        return None
    return (1 - fastest, 2, 3, fastest)


@builds(MaxPoolNd)
def max_pool(node: Any, arrays: list, options: dict) -> Kernel | None:
    if options or len(arrays) != 6:
        return None
    x, kernel, stride, dilation, counts, pads = arrays
    if (
        type(x) is not ndarray
        or x.dtype not in FLOATS
        or x.ndim != 4
        or tuple(kernel) != (2, 2)
        or tuple(stride) != (2, 2)
        or any(d != 1 for d in dilation)
        or any(pad != (0, 0) for pad in pads)
        or any(2 * n != size for n, size in zip(counts, x.shape[2:]))
        or not node.needs_input_grad[0]
    ):
        return None
    template = node
    geometry = (x.shape[2:], tuple(kernel), tuple(stride), tuple(dilation), tuple(pads))

    def run_forward(x: Any, *options: Any) -> tuple:
        order = _loop_order(x) if type(x) is ndarray and x.ndim == 4 else None
        if order is None or x.dtype not in FLOATS or x.shape[2:] != geometry[0]:
            fallback = fresh_node(template)
            return fallback.forward(x, *options), fallback
        out_shape = (*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2)
        out = recycler.empty(out_shape, x.dtype, like=x)
        held = recycler.empty(out_shape, as_dtype(uint8), like=x)
        _forward(x.transpose(order), out.transpose(order), held.transpose(order))
        return out, (x, out, held, order)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:  # the operation ran itself
            return saved.backward(grad)
        x, out, held, order = saved
        if type(grad) is not ndarray or grad.shape != out.shape or grad.dtype != out.dtype:
            node = fresh_node(template)
            node.saved, node.geometry = (x, out), geometry
            return node.backward(grad)
        if grad.transpose(order).strides != out.transpose(order).strides:
            # A gradient in another layout would be read with long strides: copied first, as
            # eager mode does.
            grad = recycler.copy(grad, like=out)
        grad_x = recycler.empty(x.shape, x.dtype, like=x)
        view = grad_x.transpose(order)
        _backward(grad.transpose(order), held.transpose(order), 2, 2, view)
        return (grad_x,)

    return Kernel(run_forward, run_backward, (0,))
