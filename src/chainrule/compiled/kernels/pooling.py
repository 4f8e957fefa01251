"""The kernel of 2-D max pooling (ops/max_pooling.py's MaxPoolNd) over 2×2 windows side by side:
stride 2, no padding or dilation, and windows that tile the input (the usual halving of a
CNN's feature maps), through the loops of :mod:`chainrule.native.pooling`, which eager mode
also runs where numba is enabled. Other windows and layouts run the operation itself.
"""

from __future__ import annotations

from typing import Any

from numpy import ndarray

from chainrule.compiled.kernels import FLOATS, Kernel, builds, fresh_node
from chainrule.native import pooling as loops
from chainrule.ops.max_pooling import MaxPoolNd, loop_order


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
        order = loop_order(x)
        if order is None or x.shape[2:] != geometry[0]:
            fallback = fresh_node(template)
            return fallback.forward(x, *options), fallback
        out, held = loops.max_pool_2x2(x, order)
        return out, (x, out, held, order)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:  # the operation ran itself
            return saved.backward(grad)
        x, out, held, order = saved
        if type(grad) is not ndarray or grad.shape != out.shape or grad.dtype != out.dtype:
            node = fresh_node(template)
            node.saved, node.geometry, node.held = (x, out), geometry, None
            return node.backward(grad)
        return (loops.max_pool_2x2_backward(grad, out, held, x, order),)

    return Kernel(run_forward, run_backward, (0,))
