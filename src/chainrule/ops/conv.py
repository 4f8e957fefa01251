"""Convolution and pooling over N spatial dimensions: fused operations, forward beside backward.

Shapes are channels-first, PyTorch's: input (N, C, *spatial), weight (out_channels,
in_channels / groups, *kernel). Padding reaches the operations as one (before, after) pair per
spatial dimension, already checked by :mod:`chainrule.nn.functional.conv`.

Convolution is one matrix product: im2col copies every receptive field into a column, through a
strided view of a padded, channels-first copy of the input, and the weight multiplies all
columns at once. Its backward is two products (weight gradient and column gradient) and col2im,
which adds the column gradient back with one whole-array addition per kernel offset.

Pooling runs one axis at a time and loops over kernel offsets: each offset selects one element
of every window as a strided slice, so a 2×2 pool is a few whole-array operations per axis,
never a loop over windows.

``as_strided`` is the one call beyond NumPy's common API (see ``_strided``); CuPy has it too.
"""

from __future__ import annotations

import itertools
import math
import sys
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function


def _strided(array: Any, shape: tuple, strides: tuple) -> Any:
    """A view of ``array``'s memory with the given shape and byte strides.

    The one array-library call here that is not plain NumPy arithmetic: ``as_strided`` lives in
    ``xp.lib.stride_tricks`` on NumPy and CuPy alike. Callers keep every element in bounds.
    """
    return backend.xp.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)


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
        self.per_shape, self.limit, self.minimum, self.held = (
            per_shape,
            limit_bytes,
            minimum_bytes,
            0,
        )

    def empty(self, shape: tuple, dtype: Any) -> Any:
        xp = backend.xp
        dtype = xp.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.minimum:  # small arrays come cheaply from the allocator's free lists
            return xp.empty(shape, dtype=dtype)
        kept = self.kept.setdefault((shape, dtype), [])
        for array, count in zip(kept, _reference_counts(kept)):
            if count == _UNREFERENCED:
                return array
        array = xp.empty(shape, dtype=dtype)
        if len(kept) < self.per_shape and self.held + nbytes <= self.limit:
            kept.append(array)
            self.held += nbytes
        return array

    def zeros(self, shape: tuple, dtype: Any) -> Any:
        array = self.empty(shape, dtype)
        array.fill(0)
        return array

    def clear(self) -> None:
        """Drop every kept array (the memory returns once nothing else holds it)."""
        self.kept.clear()
        self.held = 0


def _reference_counts(arrays: list) -> list[int]:
    return [sys.getrefcount(array) for array in arrays]


# The count of an array referred to by a cache list alone, measured through the same function
# that checks kept arrays, so that it holds on any Python version.
_UNREFERENCED = _reference_counts([object()])[0]
_arrays = _Recycler()


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
        # The result is a view: (C_out, N, *positions) memory read as (N, C_out, *size), the
        # garbage columns of a wide layout skipped. Copying it into (N, C_out, ...) order would
        # cost a pass over short rows; the next operation makes that pass anyway, and leaves its
        # own output in this channels-first memory order, which suits the next convolution.
        result = out.reshape(weight.shape[0], x.shape[0], *layout.cols_size)
        result = result[..., : layout.out_size[-1]].swapaxes(0, 1)
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
        # G in (C_out, N, *positions) order, zero in the garbage columns of a wide layout.
        out_channels, batch = weight.shape[0], layout.x_shape[0]
        g = _arrays.empty((out_channels, batch, *layout.cols_size), grad.dtype)
        g[..., : grad.shape[-1]] = grad.swapaxes(0, 1)
        g[..., grad.shape[-1] :] = 0  # the garbage columns of a wide layout
        g3 = g.reshape(layout.groups, layout.group_out, -1)

        grad_b = grad_w = grad_x = None
        if need_b:
            grad_b = g.reshape(out_channels, -1) @ xp.ones(g3.shape[-1], dtype=g.dtype)
        if need_w:
            # (G·colsᵀ)ᵀ = cols·Gᵀ: OpenBLAS runs this orientation up to twice as fast here.
            grad_w = xp.empty((layout.groups, cols.shape[1], layout.group_out), dtype=g.dtype)
            _grouped_matmul(cols, g3.swapaxes(1, 2), grad_w)
            grad_w = grad_w.swapaxes(1, 2).reshape(weight.shape)
        if need_x:
            w = weight.reshape(layout.groups, layout.group_out, -1).swapaxes(1, 2)
            grad_cols = _arrays.empty((layout.groups, w.shape[1], g3.shape[-1]), g.dtype)
            _grouped_matmul(w, g3, grad_cols)
            grad_x = _col2im(grad_cols, layout)
            if self.unbatched:
                grad_x = grad_x[0]
        return grad_x, grad_w, grad_b


class _Layout:
    """Where im2col reads: the sizes and strides of a convolution, worked out once per call."""

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
        size = x_shape[2:]
        self.padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
        self.out_size = tuple(
            output_length(n, k, s, (0, 0), d)
            for n, k, s, d in zip(self.padded, self.kernel, stride, dilation)
        )
        # With stride 1 along the last axis, whole padded rows are computed: the few extra
        # columns (garbage, dropped afterwards) let im2col and col2im move long contiguous runs
        # instead of short rows, which decides their speed.
        last, out_last = self.padded[-1], self.out_size[-1]
        wide = stride[-1] == 1 and 3 * (last - out_last) <= last
        self.cols_size = self.out_size[:-1] + ((last,) if wide else (out_last,))
        # Garbage columns of the last row read this far past the end of the padded input.
        self.tail = (self.kernel[-1] - 1) * dilation[-1] if wide else 0

    def windows(self, buffer: Any, grid: Any) -> tuple[tuple, tuple]:
        """Shape and byte strides of the (C, *kernel, N, *positions) view of the padded input."""
        channels, batch = self.x_shape[1], self.x_shape[0]
        spatial = grid.strides[2:]
        return (
            (channels, *self.kernel, batch, *self.cols_size),
            (
                grid.strides[0],
                *(d * s for d, s in zip(self.dilation, spatial)),
                grid.strides[1],
                *(t * s for t, s in zip(self.stride, spatial)),
            ),
        )


def _im2col(x: Any, layout: _Layout) -> Any:
    """The columns (groups, C/groups · prod(kernel), N · prod(positions)): one receptive field
    per column, copied from a strided view of the zero-padded, channels-first input.

    """
    batch, channels = x.shape[:2]
    buffer, grid = _channels_first_buffer(batch, channels, layout.padded, layout.tail, x.dtype)
    grid[_interior(x.shape[2:], layout.padding)] = x.swapaxes(0, 1)
    shape, strides = layout.windows(buffer, grid)
    rows = channels // layout.groups * math.prod(layout.kernel)
    cols = _arrays.empty((layout.groups, rows, batch * math.prod(layout.cols_size)), x.dtype)
    cols.reshape(shape)[...] = _strided(buffer, shape, strides)
    return cols


def _channels_first_buffer(
    batch: int, channels: int, padded: tuple, tail: int, dtype: Any
) -> tuple[Any, Any]:
    """A zero buffer (C, N·prod(padded) + tail) and its (C, N, *padded) view.

    Channels first, so that each channel's whole batch is one block and a kernel offset moves
    every window by the same number of elements; the tail is read by the garbage columns of the
    last rows.
    """
    shape = (channels, batch * math.prod(padded) + tail)
    buffer = _arrays.zeros(shape, dtype)
    return buffer, buffer[:, : shape[1] - tail].reshape(channels, batch, *padded)


def _interior(size: tuple, padding: tuple) -> tuple:
    """The index of the unpadded input inside a (C, N, *padded) grid."""
    return (slice(None), slice(None), *(slice(lo, lo + n) for n, (lo, _) in zip(size, padding)))


def _col2im(grad_cols: Any, layout: _Layout) -> Any:
    """Add each column's gradient back where im2col read it: one addition per kernel offset.

    Within one offset no two positions share an input element, so each in-place addition is
    exact, and overlapping windows accumulate across offsets. Returns a (N, C, *size) view.
    """
    batch, channels = layout.x_shape[:2]
    buffer, grid = _channels_first_buffer(
        batch, channels, layout.padded, layout.tail, grad_cols.dtype
    )
    shape, strides = layout.windows(buffer, grid)
    spatial = len(layout.kernel)
    grad_cols = grad_cols.reshape(shape)
    element_strides = [s // buffer.itemsize for s in grid.strides[2:]]
    target_shape = (shape[0],) + shape[spatial + 1 :]
    target_strides = (strides[0],) + strides[spatial + 1 :]
    flat = buffer.reshape(-1)
    for offset in _offsets(layout.kernel):
        start = sum(o * d * e for o, d, e in zip(offset, layout.dilation, element_strides))
        target = _strided(flat[start:], target_shape, target_strides)
        target += grad_cols[(slice(None), *offset)]
    return grid[_interior(layout.x_shape[2:], layout.padding)].swapaxes(0, 1)


def _grouped_matmul(a: Any, b: Any, out: Any) -> None:
    """out = a @ b for stacks of one matrix per group; a plain 2-D product for one group."""
    if a.shape[0] == 1:
        backend.xp.matmul(a[0], b[0], out=out[0])
    else:
        backend.xp.matmul(a, b, out=out)


# ---- pooling -----------------------------------------------------------------------------------
#
# A 2-D window's maximum (or sum) is the maximum over rows of the maxima within rows, so pooling
# runs as one 1-D pooling per axis, the last axis first. That reads the input once instead of
# once per kernel offset, and the later stages work on whole contiguous rows. It also keeps
# PyTorch's tie-breaking: the first row holding the maximum, then the first column within it,
# is the first maximum in row-major order.


def pool_geometry(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool
) -> tuple[int, tuple[int, int]]:
    """Windows along one axis, and the (before, after) padding that reading them all needs."""
    count = output_length(size, kernel, stride, (padding, padding), dilation, ceil)
    # With ceil_mode the last window may reach past the padding: pad it for reading.
    after = max(padding, (count - 1) * stride + dilation * (kernel - 1) + 1 - size - padding)
    return count, (padding, after)


class _PoolAlong(Function):
    """The windows of one axis: ``self.windows`` holds one index per kernel offset, each
    picking that element of every window; a gradient is scattered back through them."""

    def _setup(
        self,
        x: Any,
        axis: int,
        kernel: int,
        stride: int,
        dilation: int,
        count: int,
        pad: tuple[int, int],
        fill: float,
    ) -> Any:
        self.axis, self.pad, self.size = axis, pad, x.shape[axis]
        self.windows = [
            (Ellipsis, slice(o * dilation, o * dilation + stride * (count - 1) + 1, stride))
            + (slice(None),) * (-1 - axis)
            for o in range(kernel)
        ]
        self.disjoint = dilation * (kernel - 1) < stride  # no element in two windows
        # Windows side by side over the whole padded axis: each element is written exactly once.
        self.covers = (
            dilation == 1 and stride == kernel and count * kernel == x.shape[axis] + sum(pad)
        )
        return _pad_axis(x, axis, pad, fill)

    def _scatter_start(self, grad: Any) -> Any:
        shape = list(grad.shape)
        shape[self.axis] = self.size + self.pad[0] + self.pad[1]
        grad_x = _arrays.empty(tuple(shape), grad.dtype)
        if not self.covers:
            grad_x.fill(0)
        return grad_x

    def _crop(self, grad_x: Any) -> Any:
        lo = self.pad[0]
        if lo == 0 and grad_x.shape[self.axis] == self.size:
            return grad_x
        index = (Ellipsis, slice(lo, lo + self.size)) + (slice(None),) * (-1 - self.axis)
        return grad_x[index]


class MaxPoolAlong(_PoolAlong):
    """∂C/∂x = ∂C/∂y routed to the first maximum of each window along one axis, summed where
    windows overlap"""

    @classmethod
    def op_name(cls) -> str:
        return "max_pool"

    def forward(
        self,
        x: Any,
        axis: int,
        kernel: int,
        stride: int,
        dilation: int,
        count: int,
        pad: tuple[int, int],
    ) -> Any:
        xp = backend.xp
        padded = self._setup(x, axis, kernel, stride, dilation, count, pad, _lowest(x.dtype))
        windows = self.windows
        out = _arrays.empty(padded[windows[0]].shape, x.dtype)
        if kernel == 1:
            out[...] = padded[windows[0]]
        else:
            xp.maximum(padded[windows[0]], padded[windows[1]], out=out)  # NaN propagates
            for index in windows[2:]:
                xp.maximum(out, padded[index], out=out)
        self.saved = (padded, out)
        return out

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        padded, out = self.saved
        grad_x = self._scatter_start(grad)
        last = len(self.windows) - 1
        taken = None  # windows whose maximum an earlier offset already took
        for o, index in enumerate(self.windows):
            if o == last:  # the last offset holds the maximum wherever no earlier one did
                first = True if taken is None else ~taken
            else:
                first = xp.equal(padded[index], out, out=_arrays.empty(out.shape, bool))
                if taken is not None:
                    first &= ~taken
            if self.disjoint:
                xp.multiply(first, grad, out=grad_x[index])
            else:
                grad_x[index] += first * grad
            if o < last:
                taken = first if taken is None else xp.bitwise_or(taken, first, out=taken)
        return (self._crop(grad_x),)


class AvgPoolAlong(_PoolAlong):
    """∂C/∂x = ∂C/∂y / divisor, spread over each window along one axis (summed where windows
    overlap)"""

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
        padded = self._setup(x, axis, kernel, stride, 1, count, pad, 0)
        total = _arrays.empty(padded[self.windows[0]].shape, x.dtype)
        total[...] = padded[self.windows[0]]
        for index in self.windows[1:]:
            total += padded[index]
        # One divisor per window along this axis, broadcast over the others.
        self.divisor = (
            divisor if isinstance(divisor, int) else divisor.reshape((-1,) + (1,) * (-1 - axis))
        )
        total /= self.divisor
        return total

    def backward(self, grad: Any) -> tuple:
        share = grad / self.divisor
        grad_x = self._scatter_start(grad)
        for index in self.windows:
            if self.disjoint:
                grad_x[index] = share
            else:
                grad_x[index] += share
        return (self._crop(grad_x),)


def _pad_axis(x: Any, axis: int, pad: tuple[int, int], fill: float) -> Any:
    """x padded by ``fill`` along one axis (x itself when there is nothing to pad)."""
    lo, hi = pad
    if not lo and not hi:
        return x
    shape = list(x.shape)
    shape[axis] += lo + hi
    out = _arrays.empty(tuple(shape), x.dtype)
    out.fill(fill)
    out[(Ellipsis, slice(lo, lo + x.shape[axis])) + (slice(None),) * (-1 - axis)] = x
    return out


def _lowest(dtype: Any) -> Any:
    xp = backend.xp
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


def max_pool(
    x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, ceil: bool
) -> Any:
    """Max pooling over the trailing len(kernel) axes of a tensor, one axis at a time."""
    spatial = len(kernel)
    for axis in range(-1, -spatial - 1, -1):
        k, s, p, d = kernel[axis], stride[axis], padding[axis], dilation[axis]
        count, pad = pool_geometry(x.shape[axis], k, s, p, d, ceil)
        x = MaxPoolAlong.apply(x, axis, k, s, d, count, pad)
    return x


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
    for axis in range(-1, -spatial - 1, -1):
        k, s, p = kernel[axis], stride[axis], padding[axis]
        n = x.shape[axis]
        count, pad = pool_geometry(n, k, s, p, 1, ceil)
        if divisor_override:
            divisor = divisor_override if axis == -spatial else 1
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
    geometry = [pool_geometry(*args, ceil) for args in zip(size, kernel, stride, padding, dilation)]
    padded = x
    for axis, (_, pad) in zip(range(-spatial, 0), geometry):
        padded = _pad_axis(padded, axis, pad, _lowest(x.dtype))
    indices = xp.zeros(out.shape, dtype=xp.int64)
    found = xp.zeros(out.shape, dtype=bool)
    for offset in itertools.product(*(range(k) for k in kernel)):
        index = [Ellipsis]
        position = 0
        for axis, (o, s, p, d, (n, _)) in enumerate(
            zip(offset, stride, padding, dilation, geometry)
        ):
            index.append(slice(o * d, o * d + s * (n - 1) + 1, s))
            coordinate = xp.arange(n) * s - p + o * d
            # Flat position = Σ coordinate · (product of the later axes' sizes).
            place = math.prod(size[axis + 1 :])
            position = position + (coordinate * place).reshape((n,) + (1,) * (spatial - 1 - axis))
        hit = (padded[tuple(index)] == out) & ~found
        xp.copyto(indices, position, where=hit)
        found |= hit
    return indices


class AdaptiveAvgPoolNd(Function):
    """∂C/∂x = ∂C/∂y · A along each pooled axis (y = x · Aᵀ, A the (out, in) bin-average matrix)

    For bins of unequal size (input not a multiple of the output); equal bins go through
    AvgPoolNd. Each axis is one matrix product with the matrix of bin averages.
    """

    @classmethod
    def op_name(cls) -> str:
        return "adaptive_avg_pool"

    def forward(self, x: Any, output_size: tuple) -> Any:
        size = x.shape[-len(output_size) :]
        self.matrices = [_bin_matrix(n, m, x.dtype) for n, m in zip(size, output_size)]
        out = x
        for axis, matrix in enumerate(self.matrices):
            out = _along(out, axis - len(size), matrix.T)
        return out

    def backward(self, grad: Any) -> tuple:
        spatial = len(self.matrices)
        for axis, matrix in enumerate(self.matrices):
            grad = _along(grad, axis - spatial, matrix)
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


def _along(x: Any, axis: int, matrix: Any) -> Any:
    """x with ``axis`` mapped through ``matrix`` (n, m): one 2-D product over all other axes."""
    xp = backend.xp
    moved = xp.moveaxis(x, axis, -1)
    out = moved.reshape(-1, moved.shape[-1]) @ matrix
    return xp.moveaxis(out.reshape(*moved.shape[:-1], matrix.shape[1]), -1, axis)
