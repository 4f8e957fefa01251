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
        xp = backend.xp
        self.unbatched = x.ndim == weight.ndim - 1
        if self.unbatched:
            x = x[None]
        batch, channels, *size = x.shape
        kernel = weight.shape[2:]
        padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
        out_size = tuple(
            output_length(n, k, s, (0, 0), d)
            for n, k, s, d in zip(padded, kernel, stride, dilation)
        )
        # With stride 1 along the last axis, whole padded rows are computed: the few extra
        # columns (garbage, dropped below) let im2col copy long contiguous runs instead of short
        # rows, which decides its speed.
        wide = stride[-1] == 1 and 3 * (padded[-1] - out_size[-1]) <= padded[-1]
        cols_size = out_size[:-1] + ((padded[-1],) if wide else out_size[-1:])
        tail = (kernel[-1] - 1) * dilation[-1] if wide else 0  # the last rows read this far on
        buffer, grid = _channels_first_buffer(batch, channels, padded, tail, x.dtype)
        grid[_interior(size, padding)] = x.swapaxes(0, 1)

        window_strides = tuple(d * s for d, s in zip(dilation, grid.strides[2:]))
        position_strides = tuple(t * s for t, s in zip(stride, grid.strides[2:]))
        windows = _strided(
            buffer,
            (channels, *kernel, batch, *cols_size),
            (grid.strides[0], *window_strides, grid.strides[1], *position_strides),
        )
        positions = batch * math.prod(cols_size)
        cols = windows.reshape(groups, -1, positions)  # the im2col copy
        out = _grouped_matmul(weight.reshape(groups, weight.shape[0] // groups, -1), cols)
        out = out.reshape(weight.shape[0], batch, *cols_size)[..., : out_size[-1]]

        result = xp.empty((batch, weight.shape[0], *out_size), dtype=out.dtype)
        if bias is None:
            result[...] = out.swapaxes(0, 1)
        else:  # the bias rides along with the copy into (N, C_out, ...) order
            xp.add(out.swapaxes(0, 1), bias.reshape(-1, *(1,) * len(size)), out=result)
        self.saved = (cols, weight)
        self.geometry = (x.shape, padding, padded, stride, dilation, cols_size, tail)
        return result[0] if self.unbatched else result

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        cols, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        x_shape, padding, padded, stride, dilation, cols_size, tail = self.geometry
        groups = cols.shape[0]
        if self.unbatched:
            grad = grad[None]
        out_channels, batch = weight.shape[0], x_shape[0]
        # G in (C_out, N, *positions) order, zero in the garbage columns of a wide layout.
        if cols_size[-1] != grad.shape[-1]:
            g = xp.zeros((out_channels, batch, *cols_size), dtype=grad.dtype)
            g[..., : grad.shape[-1]] = grad.swapaxes(0, 1)
        else:
            g = xp.ascontiguousarray(grad.swapaxes(0, 1))
        g = g.reshape(groups, out_channels // groups, -1)

        grad_b = grad_w = grad_x = None
        if need_b:
            grad_b = g.reshape(out_channels, -1) @ xp.ones(g.shape[-1], dtype=g.dtype)
        if need_w:
            grad_w = _grouped_matmul(g, cols.swapaxes(1, 2)).reshape(weight.shape)
        if need_x:
            w = weight.reshape(groups, out_channels // groups, -1)
            grad_cols = _grouped_matmul(w.swapaxes(1, 2), g)
            grad_cols = grad_cols.reshape(x_shape[1], *weight.shape[2:], batch, *cols_size)
            grad_x = _col2im(grad_cols, x_shape, padding, padded, stride, dilation, tail)
            if self.unbatched:
                grad_x = grad_x[0]
        return grad_x, grad_w, grad_b


def _channels_first_buffer(
    batch: int, channels: int, padded: tuple, tail: int, dtype: Any
) -> tuple[Any, Any]:
    """A zero buffer (C, N·prod(padded) + tail) and its (C, N, *padded) view.

    Channels first, so that each channel's whole batch is one block and a kernel offset moves
    every window by the same number of elements; the tail is read by the garbage columns of the
    last rows.
    """
    buffer = backend.xp.zeros((channels, batch * math.prod(padded) + tail), dtype=dtype)
    return buffer, buffer[:, : buffer.shape[1] - tail].reshape(channels, batch, *padded)


def _interior(size: tuple, padding: tuple) -> tuple:
    """The index of the unpadded input inside a (C, N, *padded) grid."""
    return (slice(None), slice(None), *(slice(lo, lo + n) for n, (lo, _) in zip(size, padding)))


def _col2im(
    grad_cols: Any,
    x_shape: tuple,
    padding: tuple,
    padded: tuple,
    stride: tuple,
    dilation: tuple,
    tail: int,
) -> Any:
    """Add each column's gradient back where im2col read it: one addition per kernel offset.

    grad_cols has shape (C, *kernel, N, *positions); within one offset no two positions share
    an input element, so each in-place addition is exact and overlaps accumulate across offsets.
    """
    batch, channels = x_shape[:2]
    buffer, grid = _channels_first_buffer(batch, channels, padded, tail, grad_cols.dtype)
    item = buffer.itemsize
    element_strides = tuple(s // item for s in grid.strides[2:])
    target_shape = (channels, batch, *grad_cols.shape[len(padded) + 2 :])
    target_strides = (grid.strides[0], grid.strides[1])
    target_strides += tuple(t * s for t, s in zip(stride, grid.strides[2:]))
    flat = buffer.reshape(-1)
    for offset in _offsets(grad_cols.shape[1 : 1 + len(padded)]):
        start = sum(o * d * e for o, d, e in zip(offset, dilation, element_strides))
        target = _strided(flat[start:], target_shape, target_strides)
        target += grad_cols[(slice(None), *offset)]
    return grid[_interior(x_shape[2:], padding)].swapaxes(0, 1)


def _grouped_matmul(a: Any, b: Any) -> Any:
    """a @ b for stacks of one matrix per group; a plain 2-D product when there is one group."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return a @ b


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
        return (backend.xp.empty if self.covers else backend.xp.zeros)(shape, dtype=grad.dtype)

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
        if kernel == 1:
            out = padded[windows[0]].copy()
        else:
            out = xp.maximum(padded[windows[0]], padded[windows[1]])  # NaN propagates
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
                first = padded[index] == out
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
        total = padded[self.windows[0]].copy()
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
    out = backend.xp.full(shape, fill, dtype=x.dtype)
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
