"""Convolution and pooling over N spatial dimensions: fused operations, forward beside backward.

Shapes are channels-first, PyTorch's: input (N, C, *spatial), weight (out_channels,
in_channels / groups, *kernel). Padding reaches the operations as one (before, after) pair per
spatial dimension, already checked by :mod:`chainrule.nn.functional.conv`.

Convolution is one matrix product: im2col copies every receptive field into a column, through a
strided view of a padded, channels-first copy of the input, and the weight multiplies all
columns at once. Its backward is two products (weight gradient and column gradient) and col2im,
which adds the column gradient back with one whole-array addition per kernel offset.

The convolution's output is the product's (C_out, N, *size) memory seen as (N, C_out, *size),
not a transposed copy; element-wise operations keep that channels-first order, so the next
layer's im2col and this layer's backward read it without transposing.

Pooling reduces one axis at a time, the outer axes first (their slices are whole rows), and
each kernel offset selects one element of every window as a strided slice: a 2×2 pool is a few
whole-array operations, never a loop over windows.

Large arrays come from ``_arrays``, which hands an array out again once nothing else refers to
it: fresh memory costs a page fault per 4 KiB page on first touch, more than the arithmetic.
``as_strided`` is the one call beyond NumPy's common API (see ``_strided``); CuPy has it too.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function


def _strided(array: Any, shape: tuple, strides: tuple) -> Any:
    """A view of ``array``'s memory with the given shape and byte strides.

    The one array-library call here that is not plain NumPy arithmetic: ``as_strided`` lives in
    ``xp.lib.stride_tricks`` on NumPy and CuPy alike. Callers keep every element in bounds.
    """
    return backend.xp.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)


def output_length(
    size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int, ceil: bool = False
) -> int:
    """Windows along one dimension: ⌊(size + pads − dilation·(kernel − 1) − 1) / stride⌋ + 1.

    With ``ceil`` the last, partial window counts too, unless it would start in the padding
    after the input (PyTorch's rule).
    """
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    count = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (count - 1) * stride >= size + pad[0]:
        count -= 1
    return count


def _offsets(kernel: tuple[int, ...]) -> Any:
    """Every kernel offset, in the row-major order in which PyTorch scans a window."""
    return itertools.product(*(range(k) for k in kernel))


# ---- convolution -------------------------------------------------------------------------------


class ConvNd(Function):
    """∂C/∂W = G·colsᵀ, ∂C/∂x = col2im(Wᵀ·G), ∂C/∂b = Σ G over batch and positions
    (for Y = W·cols + b, cols = im2col(x), G = ∂C/∂Y as an (out_channels, positions) matrix)

    One product instead of a loop over kernel offsets: BLAS runs at full speed on the large
    matrices, and the graph holds one node per layer.
    """

    @classmethod
    def op_name(cls) -> str:
        return "conv"

    def forward(
        self,
        x: Any,
        weight: Any,
        bias: Any,
        stride: tuple,
        padding: tuple,
        dilation: tuple,
        groups: int,
    ) -> Any:
        self.unbatched = x.ndim == weight.ndim - 1
        if self.unbatched:
            x = x[None]
        layout = _Layout(x.shape, weight.shape, stride, padding, dilation, groups)
        cols = _im2col(x, layout)
        out = _arrays.empty((groups, layout.group_out, cols.shape[-1]), cols.dtype)
        _grouped_matmul(weight.reshape(groups, layout.group_out, -1), cols, out)
        if bias is not None:
            out += bias.reshape(groups, -1, 1)
        # The product is (C_out, N, *size) in memory; it is handed on as a (N, C_out, *size)
        # view rather than copied. Element-wise operations keep that memory order, and the
        # next convolution's im2col and this backward's G read it without transposing.
        result = out.reshape(weight.shape[0], x.shape[0], *layout.out_size).swapaxes(0, 1)
        self.saved = (cols, weight)
        self.layout = layout
        return result[0] if self.unbatched else result

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        cols, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        layout = self.layout
        if self.unbatched:
            grad = grad[None]
        # G as a (C_out, N·positions) matrix: a view when the gradient arrives in the
        # channels-first memory order that the forward handed out.
        g = grad.swapaxes(0, 1)
        if not g.flags.c_contiguous:
            g = _arrays.copy(g)
        g = g.reshape(layout.groups, layout.group_out, -1)

        grad_b = grad_w = grad_x = None
        if need_b:
            grad_b = g.reshape(weight.shape[0], -1) @ xp.ones(g.shape[-1], dtype=g.dtype)
        if need_w:
            # (G·colsᵀ)ᵀ = cols·Gᵀ: OpenBLAS runs this orientation up to twice as fast here.
            grad_w = xp.empty((layout.groups, cols.shape[1], layout.group_out), dtype=g.dtype)
            _grouped_matmul(cols, g.swapaxes(1, 2), grad_w)
            grad_w = grad_w.swapaxes(1, 2).reshape(weight.shape)
        if need_x:
            w = weight.reshape(layout.groups, layout.group_out, -1).swapaxes(1, 2)
            grad_cols = _arrays.empty((layout.groups, w.shape[1], g.shape[-1]), g.dtype)
            _grouped_matmul(w, g, grad_cols)
            grad_x = _col2im(grad_cols, layout)
            if self.unbatched:
                grad_x = grad_x[0]
        return grad_x, grad_w, grad_b


class _Layout:
    """The sizes of a convolution, and where im2col reads each column's elements."""

    def __init__(
        self,
        x_shape: tuple,
        weight_shape: tuple,
        stride: tuple,
        padding: tuple,
        dilation: tuple,
        groups: int,
    ) -> None:
        self.x_shape, self.kernel = x_shape, weight_shape[2:]
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.group_out = groups, weight_shape[0] // groups
        self.padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], padding))
        self.out_size = tuple(
            output_length(n, k, s, (0, 0), d)
            for n, k, s, d in zip(self.padded, self.kernel, stride, dilation)
        )

    def windows(self, grid: Any) -> Any:
        """The (C, *kernel, N, *out_size) view of a (C, N, *padded) grid: element [c, i, j, n,
        h, w] is input channel c at kernel offset (i, j) of output position (h, w) of image n."""
        spatial = grid.strides[2:]
        return _strided(
            grid,
            (grid.shape[0], *self.kernel, grid.shape[1], *self.out_size),
            (
                grid.strides[0],
                *(d * s for d, s in zip(self.dilation, spatial)),
                grid.strides[1],
                *(t * s for t, s in zip(self.stride, spatial)),
            ),
        )

    def inner(self) -> tuple:
        """The index of the unpadded input inside a (C, N, *padded) grid."""
        size = self.x_shape[2:]
        return (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(size, self.padding)
        )


def _im2col(x: Any, layout: _Layout) -> Any:
    """The columns (groups, C/groups · prod(kernel), N · prod(out_size)): one receptive field
    per column, copied in one go from a strided view of the channels-first, zero-padded input.
    """
    grid = x.swapaxes(0, 1)  # (C, N, *size): the windows are read straight from x if unpadded
    if any(lo or hi for lo, hi in layout.padding):
        grid = _arrays.zeros((x.shape[1], x.shape[0], *layout.padded), x.dtype)
        grid[layout.inner()] = x.swapaxes(0, 1)
    windows = layout.windows(grid)
    rows = x.shape[1] // layout.groups * math.prod(layout.kernel)
    cols = _arrays.empty((layout.groups, rows, x.shape[0] * math.prod(layout.out_size)), x.dtype)
    cols.reshape(windows.shape)[...] = windows
    return cols


def _col2im(grad_cols: Any, layout: _Layout) -> Any:
    """Add each column's gradient back where im2col read it: one addition per kernel offset.

    Within one offset no two positions share an input element, so each in-place addition is
    exact, and overlapping windows accumulate across offsets. Returns a (N, C, *size) view of
    channels-first memory.
    """
    batch, channels = layout.x_shape[:2]
    grid = _arrays.zeros((channels, batch, *layout.padded), grad_cols.dtype)
    grad_cols = grad_cols.reshape(channels, *layout.kernel, batch, *layout.out_size)
    for offset in _offsets(layout.kernel):
        target = (slice(None), slice(None)) + tuple(
            _window(o, s, d, n)
            for o, s, d, n in zip(offset, layout.stride, layout.dilation, layout.out_size)
        )
        grid[target] += grad_cols[(slice(None), *offset)]
    return grid[layout.inner()].swapaxes(0, 1)


def _grouped_matmul(a: Any, b: Any, out: Any) -> None:
    """out = a @ b for stacks of one matrix per group; a plain 2-D product for one group."""
    if a.shape[0] == 1:
        backend.xp.matmul(a[0], b[0], out=out[0])
    else:
        backend.xp.matmul(a, b, out=out)


# ---- pooling -----------------------------------------------------------------------------------
#
# A window's maximum (or sum) over two axes is the maximum over one axis of the maxima over the
# other, so the forward passes pool one axis at a time: the input is read once instead of once
# per kernel offset, and pooling the outer axes first works on whole contiguous rows.


def _pool_geometry(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool
) -> tuple[int, tuple[int, int]]:
    """Windows along one axis, and the (before, after) padding that reading them all needs."""
    count = output_length(size, kernel, stride, (padding, padding), dilation, ceil)
    # With ceil_mode the last window may reach past the padding: pad it for reading.
    after = max(padding, (count - 1) * stride + dilation * (kernel - 1) + 1 - size - padding)
    return count, (padding, after)


class MaxPoolNd(Function):
    """∂C/∂x = ∂C/∂y routed to the first maximum of each window (in row-major order, as PyTorch
    scans it), summed where windows overlap"""

    @classmethod
    def op_name(cls) -> str:
        return "max_pool"

    def forward(
        self, x: Any, kernel: tuple, stride: tuple, dilation: tuple, counts: tuple, pads: tuple
    ) -> Any:
        xp = backend.xp
        spatial = len(kernel)
        padded = x
        for axis, pad in zip(range(-spatial, 0), pads):
            padded = _pad_axis(padded, axis, pad, _lowest(x.dtype))
        out = padded
        for axis in range(-spatial, 0):  # outer axes first: their slices are whole rows
            k, s, d, n = kernel[axis], stride[axis], dilation[axis], counts[axis]
            index = [_along(axis, _window(o, s, d, n)) for o in range(k)]
            stage = _arrays.empty(out[index[0]].shape, x.dtype, like=out)
            if k == 1:
                stage[...] = out[index[0]]
            else:
                xp.maximum(out[index[0]], out[index[1]], out=stage)  # NaN propagates
                for i in index[2:]:
                    xp.maximum(stage, out[i], out=stage)
            out = stage
        self.saved = (padded, out)
        self.geometry = (x.shape[-spatial:], kernel, stride, dilation, pads)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        padded, out = self.saved
        size, kernel, stride, dilation, pads = self.geometry
        if _axis_order(grad) != _axis_order(out):
            # Element-wise work between arrays laid out differently runs on short strided rows,
            # several times slower than one copy into the saved arrays' order.
            grad = _arrays.copy(grad, like=out)
        disjoint = all(d * (k - 1) < s for k, s, d in zip(kernel, stride, dilation))
        tiles = all(  # windows side by side over the whole padded input: every element written
            d == 1 and s == k and m * k == n
            for k, s, d, m, n in zip(
                kernel, stride, dilation, out.shape[-len(size) :], padded.shape[-len(size) :]
            )
        )
        grad_x = _arrays.empty(padded.shape, grad.dtype, like=padded)
        if not tiles:
            grad_x.fill(0)
        offsets = list(_offsets(kernel))
        taken = None  # windows whose maximum an earlier offset (in scan order) already took
        for i, offset in enumerate(offsets):
            index = (Ellipsis,) + tuple(
                _window(o, s, d, n)
                for o, s, d, n in zip(offset, stride, dilation, out.shape[-len(size) :])
            )
            if i == len(offsets) - 1:  # the last offset holds the maximum wherever no other did
                first = True if taken is None else ~taken
            else:
                first = _arrays.empty(out.shape, bool, like=out)
                xp.equal(padded[index], out, out=first)
                if taken is not None:
                    first &= ~taken
            if disjoint:
                xp.multiply(first, grad, out=grad_x[index])
            else:
                grad_x[index] += first * grad
            if i < len(offsets) - 1:
                taken = first if taken is None else xp.bitwise_or(taken, first, out=taken)
        inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, pads))
        return (grad_x[(Ellipsis, *inner)],)


def _window(offset: int, stride: int, dilation: int, count: int) -> slice:
    """The slice that picks element ``offset`` of each of ``count`` windows along an axis."""
    start = offset * dilation
    return slice(start, start + stride * (count - 1) + 1, stride)


class AvgPoolAlong(Function):
    """∂C/∂x = ∂C/∂y / divisor, spread back over each window along one axis (summed where
    windows overlap)"""

    @classmethod
    def op_name(cls) -> str:
        return "avg_pool"

    def forward(
        self,
        x: Any,
        axis: int,
        kernel: int,
        stride: int,
        count: int,
        pad: tuple[int, int],
        divisor: Any,
    ) -> Any:
        self.axis, self.size, self.pad = axis, x.shape[axis], pad
        self.windows = [_along(axis, _window(o, stride, 1, count)) for o in range(kernel)]
        self.disjoint = kernel <= stride
        self.tiles = kernel == stride and count * kernel == x.shape[axis] + sum(pad)
        # One divisor per window along this axis, broadcast over the others.
        if not isinstance(divisor, int):
            divisor = divisor.reshape((-1,) + (1,) * (-1 - axis))
        self.divisor = divisor
        padded = _pad_axis(x, axis, pad, 0)
        total = _arrays.empty(padded[self.windows[0]].shape, x.dtype, like=padded)
        total[...] = padded[self.windows[0]]
        for index in self.windows[1:]:
            total += padded[index]
        total /= divisor
        return total

    def backward(self, grad: Any) -> tuple:
        share = grad / self.divisor
        shape = list(grad.shape)
        shape[self.axis] = self.size + sum(self.pad)
        grad_x = _arrays.empty(tuple(shape), grad.dtype, like=grad)
        if not self.tiles:
            grad_x.fill(0)
        for index in self.windows:
            if self.disjoint:
                grad_x[index] = share
            else:
                grad_x[index] += share
        lo = self.pad[0]
        return (grad_x[_along(self.axis, slice(lo, lo + self.size))],)


def _along(axis: int, index: slice) -> tuple:
    """An index applying ``index`` to one axis (counted from the end) and no other."""
    return (Ellipsis, index) + (slice(None),) * (-1 - axis)


def _pad_axis(x: Any, axis: int, pad: tuple[int, int], fill: float) -> Any:
    """x padded by ``fill`` along one axis (x itself when there is nothing to pad)."""
    lo, hi = pad
    if not lo and not hi:
        return x
    shape = list(x.shape)
    shape[axis] += lo + hi
    out = _arrays.empty(tuple(shape), x.dtype, like=x)
    out.fill(fill)
    out[_along(axis, slice(lo, lo + x.shape[axis]))] = x
    return out


def _lowest(dtype: Any) -> Any:
    xp = backend.xp
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def max_pool(
    x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, ceil: bool
) -> Any:
    """Max pooling over the trailing len(kernel) axes of a tensor."""
    geometry = [
        _pool_geometry(n, k, s, p, d, ceil)
        for n, k, s, p, d in zip(x.shape[-len(kernel) :], kernel, stride, padding, dilation)
    ]
    counts = tuple(count for count, _ in geometry)
    pads = tuple(pad for _, pad in geometry)
    return MaxPoolNd.apply(x, kernel, stride, dilation, counts, pads)


def avg_pool(
    x: Any,
    kernel: tuple,
    stride: tuple,
    padding: tuple,
    ceil: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Any:
    """Average pooling over the trailing len(kernel) axes, one axis at a time.

    The divisor of a window is the product of one count per axis (the elements of the window
    inside the padded input, or inside the input itself), so each axis divides by its own.
    """
    spatial = len(kernel)
    for axis in range(-spatial, 0):  # outer axes first: their slices are whole rows
        k, s, p = kernel[axis], stride[axis], padding[axis]
        n = x.shape[axis]
        count, pad = _pool_geometry(n, k, s, p, 1, ceil)
        if divisor_override:
            divisor = divisor_override if axis == -1 else 1
        else:
            divisor = _window_counts(n, k, s, p, count, count_include_pad, x.dtype)
        x = AvgPoolAlong.apply(x, axis, k, s, count, pad, divisor)
    return x


def _window_counts(
    size: int, kernel: int, stride: int, padding: int, count: int, include_pad: bool, dtype: Any
) -> Any:
    """Elements in each window along one axis: the kernel size, unless a window is clipped to
    the padded input (count_include_pad) or to the input itself."""
    xp = backend.xp
    start = xp.arange(count) * stride - padding
    end = xp.minimum(start + kernel, size + padding)
    if not include_pad:
        start, end = xp.maximum(start, 0), xp.minimum(end, size)
    counts = end - start
    if count and bool((counts == kernel).all()):
        return kernel
    return counts.astype(dtype)


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
    geometry = [
        _pool_geometry(*args, ceil) for args in zip(size, kernel, stride, padding, dilation)
    ]
    padded = x
    for axis, (_, pad) in zip(range(-spatial, 0), geometry):
        padded = _pad_axis(padded, axis, pad, _lowest(x.dtype))
    indices = xp.zeros(out.shape, dtype=xp.int64)
    found = xp.zeros(out.shape, dtype=bool)
    counts = [count for count, _ in geometry]
    for offset in _offsets(kernel):  # scan order: the first maximum found is the one kept
        index = (Ellipsis,) + tuple(
            _window(o, s, d, n) for o, s, d, n in zip(offset, stride, dilation, counts)
        )
        # Flat position = Σ coordinate · (product of the later axes' sizes).
        position = 0
        for axis, (o, s, p, d, n) in enumerate(zip(offset, stride, padding, dilation, counts)):
            coordinate = (xp.arange(n) * s - p + o * d) * math.prod(size[axis + 1 :])
            position = position + coordinate.reshape((n,) + (1,) * (spatial - 1 - axis))
        hit = (padded[index] == out) & ~found
        xp.copyto(indices, position, where=hit)
        found |= hit
    return indices


class AdaptiveAvgPoolNd(Function):
    """∂C/∂x = ∂C/∂y · A along each pooled axis (y = x · Aᵀ, A the (out, in) bin-average matrix)

    For bins of unequal size (input not a multiple of the output); equal bins go through
    ``avg_pool``. Each axis is one matrix product with the matrix of bin averages.
    """

    @classmethod
    def op_name(cls) -> str:
        return "adaptive_avg_pool"

    def forward(self, x: Any, output_size: tuple) -> Any:
        size = x.shape[-len(output_size) :]
        self.matrices = [_bin_matrix(n, m, x.dtype) for n, m in zip(size, output_size)]
        out = x
        for axis, matrix in enumerate(self.matrices):
            out = _map_axis(out, axis - len(size), matrix.T)
        return out

    def backward(self, grad: Any) -> tuple:
        spatial = len(self.matrices)
        for axis, matrix in enumerate(self.matrices):
            grad = _map_axis(grad, axis - spatial, matrix)
        return (grad,)


def _bin_matrix(size: int, out: int, dtype: Any) -> Any:
    """A[i, j] = 1/|bin i| for j in bin i = [⌊i·size/out⌋, ⌈(i+1)·size/out⌉)."""
    xp = backend.xp
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    j = xp.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _map_axis(x: Any, axis: int, matrix: Any) -> Any:
    """x with ``axis`` mapped through ``matrix`` (n, m): one 2-D product over all other axes."""
    xp = backend.xp
    moved = xp.moveaxis(x, axis, -1)
    out = moved.reshape(-1, moved.shape[-1]) @ matrix
    return xp.moveaxis(out.reshape(*moved.shape[:-1], matrix.shape[1]), -1, axis)


# ---- memory ------------------------------------------------------------------------------------


class _Recycler:
    """Large arrays handed out again once nothing but this cache refers to them.

    A fresh allocation of megabytes is paid for on first touch, one page fault per 4 KiB page
    (about 2.5 µs each on the benchmark machine); a CNN training step that allocated its large
    arrays afresh spent more time in fault handling than in its matrix products. An array is
    reused only when its reference count shows that the cache holds the sole reference: no
    tensor, view, saved value or user variable can see it any more.
    """

    def __init__(
        self, per_shape: int = 4, limit_bytes: int = 256 * 2**20, minimum_bytes: int = 2**18
    ) -> None:
        self.kept: dict[tuple, list] = {}
        self.per_shape, self.limit, self.minimum = per_shape, limit_bytes, minimum_bytes
        self.held = 0
        self.lock = threading.Lock()

    def empty(self, shape: tuple, dtype: Any, like: Any = None) -> Any:
        """An uninitialised array; with ``like``, laid out in memory in the order of its axes
        (so that element-wise work between the two runs over contiguous memory)."""
        if like is None or like.ndim != len(shape):
            return self._take(tuple(shape), dtype)
        order = _axis_order(like)
        base = self._take(tuple(shape[axis] for axis in order), dtype)
        return base.transpose(sorted(range(len(order)), key=order.__getitem__))

    def zeros(self, shape: tuple, dtype: Any, like: Any = None) -> Any:
        array = self.empty(shape, dtype, like)
        array.fill(0)
        return array

    def copy(self, array: Any, like: Any = None) -> Any:
        """A copy of ``array``, C-contiguous or laid out like ``like``."""
        out = self.empty(array.shape, array.dtype, like)
        out[...] = array
        return out

    def _take(self, shape: tuple, dtype: Any) -> Any:
        xp = backend.xp
        dtype = xp.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.minimum:  # small arrays come cheaply from the allocator's free lists
            return xp.empty(shape, dtype=dtype)
        with self.lock:  # two threads must not both find the same array unreferenced
            kept = self.kept.setdefault((shape, dtype), [])
            for array, count in zip(kept, _reference_counts(kept)):
                if count == _UNREFERENCED:
                    return array
            if len(kept) >= self.per_shape or self.held + nbytes > self.limit:
                return xp.empty(shape, dtype=dtype)
            return self._keep(kept, shape, dtype, nbytes)

    def _keep(self, kept: list, shape: tuple, dtype: Any, nbytes: int) -> Any:
        xp = backend.xp
        # Allocate and free a block of this size first: glibc then raises its mmap threshold to
        # it (up to 32 MiB; mallopt(3), "dynamic mmap threshold") and serves such blocks from
        # its heap, whose pages are reused, instead of mapping fresh pages for every large
        # array that any operation allocates. Elsewhere this is one harmless extra allocation.
        xp.empty(shape, dtype=dtype)
        array = xp.empty(shape, dtype=dtype)
        kept.append(array)
        self.held += nbytes
        return array

    def clear(self) -> None:
        """Drop every kept array (its memory returns once nothing else holds it)."""
        with self.lock:
            self.kept.clear()
            self.held = 0


def _axis_order(array: Any) -> list[int]:
    """The axes of ``array`` from the slowest-varying in memory to the fastest."""
    return sorted(range(array.ndim), key=lambda axis: -abs(array.strides[axis]))


def _reference_counts(arrays: list) -> list[int]:
    return [sys.getrefcount(array) for array in arrays]


# The count of an array referred to by a cache list alone, measured through the same function
# that checks kept arrays, so that it holds on any Python version.
_UNREFERENCED = _reference_counts([object()])[0]
_arrays = _Recycler()
