"""Padding operations: a constant border (or cropping), and index-map gathers for the
reflect, replicate and circular modes.

Constant padding writes the input into a block of the fill value and its backward slices the
gradient back out. The other modes are gathers along each padded axis with an index map (e.g.
reflect, width 2: 2 1 | 0 1 2 3 | 2 1), whose backward adds each output's gradient to the
element it came from.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops.movement import Placed
from chainrule.tensor import Tensor


class ConstantPad(Function):
    """∂C/∂x = ∂C/∂y restricted to the positions where x was written (0 for cropped ones)"""

    @classmethod
    def op_name(cls) -> str:
        return "pad"

    def forward(self, x: Any, widths: tuple, value: float) -> Any:
        # widths: one (before, after) pair per axis of x; negative widths crop.
        xp = backend.xp
        shape = tuple(n + before + after for n, (before, after) in zip(x.shape, widths))
        source, target = [], []
        for n, (before, after) in zip(x.shape, widths):
            start, stop = max(-before, 0), max(n - max(-after, 0), max(-before, 0))
            source.append(slice(start, stop))
            target.append(slice(max(before, 0), max(before, 0) + stop - start))
        source, target = tuple(source), tuple(target)
        out = xp.full(shape, value, dtype=x.dtype)
        out[target] = x[source]
        self.shape, self.source, self.target = x.shape, source, target
        return out

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):  # recording a graph: the placement as an operation
            return (Placed.apply(grad[self.target], shape=self.shape, index=self.source),)
        grad_x = backend.xp.zeros(self.shape, dtype=grad.dtype)
        grad_x[self.source] = grad[self.target]
        return (grad_x,)


class IndexPad(Function):
    """∂C/∂x[j] = Σ ∂C/∂y[i] over the output positions i with index_map[i] = j, axis by axis"""

    @classmethod
    def op_name(cls) -> str:
        return "pad"

    def forward(self, x: Any, maps: tuple) -> Any:
        # maps: (axis, index map, width before) triples; output position i along the axis
        # reads input index_map[i], and the interior (i − before for i in the input's range)
        # is the input itself.
        xp = backend.xp
        if xp is not numpy:  # the maps are NumPy arrays made outside: copied to the device
            maps = tuple((axis, xp.asarray(index_map), before) for axis, index_map, before in maps)
        out = x
        shapes = []
        for axis, index_map, _ in maps:
            shapes.append(out.shape)
            out = xp.take(out, index_map, axis=axis)
        self.maps, self.shapes = maps, shapes
        # Nothing padded: still a tensor of its own, as PyTorch's, not the input's memory.
        return x.copy() if out is x else out

    def backward(self, grad: Any) -> tuple:
        for (axis, index_map, before), shape in zip(reversed(self.maps), reversed(self.shapes)):
            lead = (slice(None),) * axis
            if isinstance(grad, Tensor):  # recording a graph: one differentiable scatter-add
                grad = Placed.apply(grad, shape=shape, index=(*lead, index_map))
                continue
            size = shape[axis]
            summed = grad[(*lead, slice(before, before + size))].copy()
            # The border positions, few: one whole-slice addition each (a scatter-add over the
            # whole map costs ~15× more).
            sources = index_map.tolist()
            for i in [*range(before), *range(before + size, len(sources))]:
                summed[(*lead, sources[i])] += grad[(*lead, i)]
            grad = summed
        return (grad,)
