"""Max pooling over N spatial dimensions as one fused operation, forward beside backward.

A window's maximum over two axes is the maximum over one axis of the maxima over the other, so
the forward pools one axis at a time, the outer axes first (their slices are whole rows): the
input is read once instead of once per kernel offset. Each kernel offset selects one element of
every window as a strided slice, so a 2×2 pool is a few whole-array operations, never a loop
over windows.

The backward visits the kernel offsets in PyTorch's scan order (row-major) and routes each
window's gradient to the first offset whose element equals the window's maximum. Routing by
stages instead (the rows' maxima, then theirs) gives the same result but was slower here: the
innermost stage then works on twice the elements, all on slices as narrow as a kernel offset.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy

from chainrule import backend, native
from chainrule.autograd.function import Function
from chainrule.ops.im2col import offsets, selection, window
from chainrule.ops.pooling import along, lowest, pad_axis, pad_tensor, pool_geometry
from chainrule.ops.work_arrays import axis_order, recycler


class MaxPoolNd(Function):
    """∂C/∂x = ∂C/∂y routed to the first maximum of each window in row-major order (to its last
    NaN where it holds one), as PyTorch's scan of a window leaves it; summed where windows
    overlap"""

    ties_gradients = True

    @classmethod
    def op_name(cls) -> str:
        return "max_pool"

    def forward(
        self, x: Any, kernel: tuple, stride: tuple, dilation: tuple, counts: tuple, pads: tuple
    ) -> Any:
        spatial = len(kernel)
        self.held = None
        order = loop_order(x) if kernel == (2, 2) == stride and _tiled(dilation, pads) else None
        if order is not None and native.enabled():  # one pass with numba; NumPy's form eight
            out, held = _native_loops().max_pool_2x2(x, order)
            self.saved = (x, out)
            self.geometry = (x.shape[-2:], kernel, stride, dilation, pads)
            self.held = (held, order)
            return out
        padded = x
        for axis, pad in zip(range(-spatial, 0), pads):
            padded = pad_axis(padded, axis, pad, lowest(x.dtype))
        out = padded
        for axis in range(-spatial, 0):  # outer axes first: their slices are whole rows
            k, s, d, n = kernel[axis], stride[axis], dilation[axis], counts[axis]
            out = _max_along(out, axis, k, s, d, n)
        self.saved = (padded, out)
        self.geometry = (x.shape[-spatial:], kernel, stride, dilation, pads)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        padded, out = self.saved
        size, kernel, stride, dilation, pads = self.geometry
        if self.held is not None and type(grad) is type(out) and grad.dtype == out.dtype:
            held, order = self.held
            return (_native_loops().max_pool_2x2_backward(grad, out, held, padded, order),)
        spatial = len(kernel)
        if axis_order(grad) != axis_order(out):
            # Element-wise work between arrays laid out differently runs on short strided rows,
            # several times slower than one copy into the saved arrays' order.
            grad = recycler.copy(grad, like=out)
        counts = out.shape[-spatial:]
        index = [selection(offset, stride, dilation, counts) for offset in offsets(kernel)]
        disjoint = all(d * (k - 1) < s for k, s, d in zip(kernel, stride, dilation))
        tiles = all(  # windows side by side over the whole padded input write every element
            d == 1 and s == k and m * k == n
            for k, s, d, m, n in zip(kernel, stride, dilation, counts, padded.shape[-spatial:])
        )
        # mask · grad routes each window's gradient in one pass, but an infinite or NaN
        # gradient times a mask's 0 is NaN at the window's other elements, where PyTorch
        # leaves 0: such a gradient is copied where the mask holds, onto zeros.
        finite = grad.dtype.kind != "f" or bool(xp.isfinite(grad).all())
        grad_x = recycler.empty(padded.shape, grad.dtype, like=padded)
        if not (tiles and disjoint and finite):
            grad_x.fill(0)
        # Only a window that holds NaN has a NaN maximum; without one, equality finds maxima.
        nan = out.dtype.kind == "f" and bool(xp.isnan(out).any())
        masks = _nan_masks(padded, out, index) if nan else _first_masks(padded, out, index)
        for i, mask in zip(index, masks):
            if not finite:
                xp.add(grad_x[i], grad, out=grad_x[i], where=mask)
            elif disjoint:
                xp.multiply(mask, grad, out=grad_x[i])
            else:
                grad_x[i] += mask * grad
        inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, pads))
        return (grad_x[(Ellipsis, *inner)],)

    def composite(self, x: Any, *options: Any) -> Any:
        """The same pooling from differentiable operations (for ``create_graph``): the element
        at each kernel offset of every window, times the constant mask of the windows whose
        maximum the forward found there, summed over the offsets (so each window routes its
        gradient as the backward does)."""
        xp = backend.xp
        padded, out = self.saved
        _, kernel, stride, dilation, pads = self.geometry
        counts = out.shape[-len(kernel) :]
        index = [selection(offset, stride, dilation, counts) for offset in offsets(kernel)]
        nan = out.dtype.kind == "f" and bool(xp.isnan(out).any())
        found = _nan_masks(padded, out, index) if nan else _first_masks(padded, out, index)
        # _first_masks reuses one array: each mask is copied, as a float constant
        masks = [xp.array(mask, dtype=out.dtype) for mask in found]
        for axis, pad in zip(range(-len(kernel), 0), pads):
            x = pad_tensor(x, axis, pad)
        total = None
        for i, mask in zip(index, masks):
            term = x[i] * mask
            total = term if total is None else total + term
        return total


def _tiled(dilation: tuple, pads: tuple) -> bool:
    """Whether 2-D windows are undilated and unpadded."""
    return dilation == (1, 1) and pads == ((0, 0), (0, 0))


def loop_order(x: Any) -> tuple[int, ...] | None:
    """The axes of x (N, C, H, W) in the order chainrule.native.pooling's loops take them,
    (outer, H, W, contiguous), where those loops cover x's 2×2 pooling: a float32 or float64
    NumPy array whose H and W are even and whose fastest axis is N or C (the batch-last layout
    of chainrule's convolutions, or channels-last). None otherwise (plain NCHW included)."""
    if type(x) is not numpy.ndarray or x.ndim != 4 or x.dtype not in _FLOATS or not x.size:
        return None
    if x.shape[2] % 2 or x.shape[3] % 2:
        return None
    strides, shape = x.strides, x.shape
    fastest = min(range(4), key=lambda axis: abs(strides[axis]) if shape[axis] > 1 else 1 << 62)
    if fastest not in (0, 1):
        return None
    return (1 - fastest, 2, 3, fastest)


_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _native_loops() -> Any:
    """chainrule.native.pooling, imported on the first use: it compiles numba's loops."""
    from chainrule.native import pooling

    return pooling


def _max_along(u: Any, axis: int, kernel: int, stride: int, dilation: int, count: int) -> Any:
    """The maxima of ``count`` windows along one axis of u (NaN propagates)."""
    xp = backend.xp
    index = [along(axis, window(o, stride, dilation, count)) for o in range(kernel)]
    stage = recycler.empty(u[index[0]].shape, u.dtype, like=u)
    if kernel == 1:
        stage[...] = u[index[0]]
    else:
        xp.maximum(u[index[0]], u[index[1]], out=stage)
        for i in index[2:]:
            xp.maximum(stage, u[i], out=stage)
    return stage


def _first_masks(u: Any, v: Any, index: list) -> Iterator[Any]:
    """For each offset in turn, the windows whose first maximum it holds (bool, like v), where
    the maxima v were taken over the slices ``u[i]`` for i in ``index``.

    Yields one reused array: each mask is used before the next is made. The last offset
    holds the maximum wherever no earlier one did.
    """
    xp = backend.xp
    if len(index) == 1:
        yield True
        return
    taken = recycler.empty(v.shape, bool, like=v)  # windows an earlier offset already took
    xp.equal(u[index[0]], v, out=taken)
    yield taken
    first = recycler.empty(v.shape, bool, like=v)
    for i in index[1:-1]:
        xp.equal(u[i], v, out=first)
        xp.greater(first, taken, out=first)  # equal and not taken
        yield first
        xp.logical_or(taken, first, out=taken)
    yield xp.logical_not(taken, out=taken)


def _nan_masks(u: Any, v: Any, index: list) -> list:
    """Like :func:`_first_masks`, except that a window whose maximum is NaN goes to its last
    NaN, as PyTorch's scan (``x > max or isnan(x)``) leaves it."""
    xp = backend.xp
    hits = [xp.equal(u[i], v) for i in index]
    nans = [xp.isnan(u[i]) for i in index]
    nan_window = xp.isnan(v)
    masks = []
    earlier = xp.zeros(v.shape, dtype=bool)
    for hit in hits:
        masks.append(hit & ~earlier)
        earlier |= hit
    later = xp.zeros(v.shape, dtype=bool)
    for o in reversed(range(len(index))):
        masks[o] = xp.where(nan_window, nans[o] & ~later, masks[o])
        later |= nans[o]
    return masks


def max_pool(
    x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, ceil: bool
) -> Any:
    """Max pooling over the trailing len(kernel) axes of a tensor."""
    geometry = [
        pool_geometry(n, k, s, p, d, ceil)
        for n, k, s, p, d in zip(x.shape[-len(kernel) :], kernel, stride, padding, dilation)
    ]
    counts = tuple(count for count, _ in geometry)
    pads = tuple(pad for _, pad in geometry)
    return MaxPoolNd.apply(x, kernel, stride, dilation, counts, pads)


def max_pool_indices(
    x: Any, out: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, ceil: bool
) -> Any:
    """The flat position in x's spatial dimensions of each window's first maximum (int64).

    Computed apart from the pooling, since only ``return_indices`` asks for it: one pass per
    kernel offset, marking the windows whose maximum that offset holds first.
    """
    xp = backend.xp
    spatial = len(kernel)
    size = x.shape[-spatial:]
    geometry = [pool_geometry(*args, ceil) for args in zip(size, kernel, stride, padding, dilation)]
    padded = x
    for axis, (_, pad) in zip(range(-spatial, 0), geometry):
        padded = pad_axis(padded, axis, pad, lowest(x.dtype))
    indices = xp.zeros(out.shape, dtype=xp.int64)
    found = xp.zeros(out.shape, dtype=bool)
    counts = [count for count, _ in geometry]
    for offset in offsets(kernel):  # scan order: the first maximum found is the one kept
        index = selection(offset, stride, dilation, counts)
        # Flat position = Σ coordinate · (product of the later axes' sizes).
        position = 0
        for axis, (o, s, p, d, n) in enumerate(zip(offset, stride, padding, dilation, counts)):
            coordinate = (xp.arange(n) * s - p + o * d) * math.prod(size[axis + 1 :])
            position = position + coordinate.reshape((n,) + (1,) * (spatial - 1 - axis))
        hit = (padded[index] == out) & ~found
        xp.copyto(indices, position, where=hit)
        found |= hit
    return indices
