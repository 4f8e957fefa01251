"""Average pooling over N spatial dimensions, plain and adaptive, forward beside backward, and
the window geometry that max pooling (:mod:`.max_pooling`) shares.

Pooling works on the trailing len(kernel) axes of any array, in any memory layout (the
convolution hands on batch-last memory seen as (N, C, *size)); work arrays are laid out like
the input so that element-wise passes run over contiguous memory. Each kernel offset selects
one element of every window as a strided slice: a 2×2 pool is a few whole-array operations,
never a loop over windows.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops.im2col import output_length, window
from chainrule.ops.padding import ConstantPad
from chainrule.ops.work_arrays import recycler
from chainrule.tensor import Tensor

# ---- window geometry ---------------------------------------------------------------------------


def pool_geometry(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool
) -> tuple[int, tuple[int, int]]:
    """Windows along one axis, and the (before, after) padding that reading them all needs."""
    count = output_length(size, kernel, stride, (padding, padding), dilation, ceil)
    # With ceil_mode the last window may reach past the padding: pad it for reading.
    after = max(padding, (count - 1) * stride + dilation * (kernel - 1) + 1 - size - padding)
    return count, (padding, after)


def along(axis: int, index: slice) -> tuple:
    """An index applying ``index`` to one axis (counted from the end) and no other."""
    return (Ellipsis, index) + (slice(None),) * (-1 - axis)


def pad_axis(x: Any, axis: int, pad: tuple[int, int], fill: float) -> Any:
    """x padded by ``fill`` along one axis (x itself when there is nothing to pad)."""
    lo, hi = pad
    if not lo and not hi:
        return x
    shape = list(x.shape)
    shape[axis] += lo + hi
    out = recycler.empty(tuple(shape), x.dtype, like=x)
    out.fill(fill)
    out[along(axis, slice(lo, lo + x.shape[axis]))] = x
    return out


def pad_tensor(x: Any, axis: int, pad: tuple[int, int]) -> Any:
    """The tensor x padded by zeros along one axis, as a differentiable operation."""
    if not any(pad):
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = pad
    return ConstantPad.apply(x, tuple(widths), 0)


def lowest(dtype: Any) -> Any:
    """The padding value of max pooling: below every value of ``dtype``."""
    xp = backend.xp
    return -xp.inf if dtype.kind == "f" else xp.iinfo(dtype).min


# ---- average pooling ---------------------------------------------------------------------------


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
        self.windows = [along(axis, window(o, stride, 1, count)) for o in range(kernel)]
        self.disjoint = kernel <= stride
        self.tiles = kernel == stride and count * kernel == x.shape[axis] + sum(pad)
        # One divisor per window along this axis, broadcast over the others.
        if not isinstance(divisor, int):
            divisor = divisor.reshape((-1,) + (1,) * (-1 - axis))
        self.divisor = divisor
        padded = pad_axis(x, axis, pad, 0)
        total = recycler.empty(padded[self.windows[0]].shape, x.dtype, like=padded)
        total[...] = padded[self.windows[0]]
        for index in self.windows[1:]:
            total += padded[index]
        total /= divisor
        return total

    def backward(self, grad: Any) -> tuple:
        share = grad / self.divisor
        shape = list(grad.shape)
        shape[self.axis] = self.size + sum(self.pad)
        grad_x = recycler.empty(tuple(shape), grad.dtype, like=grad)
        if not self.tiles:
            grad_x.fill(0)
        for index in self.windows:
            if self.disjoint:
                grad_x[index] = share
            else:
                grad_x[index] += share
        lo = self.pad[0]
        return (grad_x[along(self.axis, slice(lo, lo + self.size))],)

    def composite(self, x: Any, *options: Any) -> Any:
        """The same pooling from differentiable operations (for ``create_graph``): the zero-padded
        input's window slices summed, over the divisor."""
        total = None
        padded = pad_tensor(x, self.axis, self.pad)
        for index in self.windows:
            total = padded[index] if total is None else total + padded[index]
        return total / self.divisor


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
        count, pad = pool_geometry(n, k, s, p, 1, ceil)
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


# ---- adaptive average pooling ------------------------------------------------------------------


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

    def composite(self, x: Any, output_size: tuple) -> Any:
        """The same pooling from differentiable operations (for ``create_graph``): each pooled
        axis, moved last, times the constant Aᵀ."""
        spatial = len(self.matrices)
        for axis, matrix in enumerate(self.matrices):
            axis -= spatial
            x = (x.transpose(axis, -1) @ Tensor(matrix.T)).transpose(axis, -1)
        return x


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
    # The row count spelled out: -1 is ambiguous when an axis is empty (an output size of 0).
    rows = math.prod(moved.shape[:-1])
    out = moved.reshape(rows, moved.shape[-1]) @ matrix
    return xp.moveaxis(out.reshape(*moved.shape[:-1], matrix.shape[1]), -1, axis)
