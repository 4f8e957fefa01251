"""im2col and col2im: a convolution's receptive fields as the columns of one matrix, and back.

Shapes are channels-first, PyTorch's: input (N, C, *spatial), weight (out_channels,
in_channels / groups, *kernel). Padding arrives as one (before, after) pair per spatial
dimension.

im2col copies every receptive field into a column, through a strided view of a padded copy of
the input, so that a weight multiplies all columns in one matrix product. col2im is its
adjoint: it adds a column gradient back with one whole-array addition per kernel offset (for
large 2-D columns where numba is enabled, one loop over the columns:
:mod:`chainrule.native.col2im`). The convolution (:mod:`.conv`) and the transposed convolution
(:mod:`.conv_transpose`) share both, read in opposite directions, so they lay out columns
identically.

Columns are ordered batch-last, (*out_size, N), and the padded grid is (C, *padded, N): for one
kernel offset, one output row's elements are then Wo·N contiguous floats at stride 1 (runs of N
at larger strides), where the batch-first order gave runs of Wo. The copies run several times
faster on the longer runs, and the convolution's output, the product's (C_out, *size, N) memory
seen as (N, C_out, *size), hands the same order on: pooling after it reads runs of N instead of
single elements two apart, and the next im2col reads it without transposing.

``as_strided`` is the one call beyond NumPy's common API (see ``_strided``); CuPy has it too.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from chainrule import backend, native
from chainrule.ops.work_arrays import recycler


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
    # With ceil a window may start inside the input and reach past the padding (span < 0).
    count = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (count - 1) * stride >= size + pad[0]:
        count -= 1
    return max(count, 0)


def offsets(kernel: tuple[int, ...]) -> Any:
    """Every kernel offset, in the row-major order in which PyTorch scans a window."""
    return itertools.product(*(range(k) for k in kernel))


def batch_last(x: Any) -> Any:
    """The (C, *size, N) view of an (N, C, *size) array: the order of im2col's columns."""
    return backend.xp.moveaxis(x, 0, -1)


def batch_first(x: Any) -> Any:
    """The (N, C, *size) view of a (C, *size, N) array: the inverse of :func:`batch_last`."""
    return backend.xp.moveaxis(x, -1, 0)


def window(offset: int, stride: int, dilation: int, count: int) -> slice:
    """The slice that picks element ``offset`` of each of ``count`` windows along an axis."""
    start = offset * dilation
    return slice(start, start + stride * (count - 1) + 1, stride)


def selection(offset: tuple, stride: tuple, dilation: tuple, counts: tuple) -> tuple:
    """The index that picks the element at kernel ``offset`` of every window, along the trailing
    len(offset) axes."""
    return (Ellipsis, *(window(o, s, d, n) for o, s, d, n in zip(offset, stride, dilation, counts)))


class Layout:
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
        """The (C, *kernel, *out_size, N) view of a (C, *padded, N) grid: element [c, i, j, h,
        w, n] is input channel c at kernel offset (i, j) of output position (h, w) of image n."""
        spatial = grid.strides[1:-1]
        return _strided(
            grid,
            (grid.shape[0], *self.kernel, *self.out_size, grid.shape[-1]),
            (
                grid.strides[0],
                *(d * s for d, s in zip(self.dilation, spatial)),
                *(t * s for t, s in zip(self.stride, spatial)),
                grid.strides[-1],
            ),
        )

    def inner(self) -> tuple:
        """The index of the unpadded input inside a (C, *padded, N) grid."""
        size = self.x_shape[2:]
        spatial = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, self.padding))
        return (slice(None), *spatial, slice(None))

    def border(self) -> list[tuple]:
        """The indices of the padding in a (C, *padded, N) grid, one slab per side padded."""
        slabs = []
        for axis, (n, (lo, hi)) in enumerate(zip(self.x_shape[2:], self.padding)):
            before = (slice(None),) * (1 + axis)
            after = (slice(None),) * (len(self.padding) - axis)
            slabs += [before + (side,) + after for side in _sides(lo, hi, n) if side]
        return slabs


def _sides(lo: int, hi: int, size: int) -> tuple:
    """The slices of the padding before and after ``size`` elements (None where there is none)."""
    return (slice(0, lo) if lo else None, slice(lo + size, None) if hi else None)


def _beyond(corner: tuple) -> list[tuple]:
    """Indices of a (C, *padded, N) grid that together cover everything outside the block
    [0, corner) of its spatial axes, without overlap: one slab per axis."""
    slabs = []
    for axis, n in enumerate(corner):
        inside = tuple(slice(0, m) for m in corner[:axis])
        rest = (slice(None),) * (len(corner) - axis - 1)
        slabs.append((slice(None), *inside, slice(n, None), *rest, slice(None)))
    return slabs


def im2col(x: Any, layout: Layout) -> Any:
    """The columns (groups, C/groups · prod(kernel), prod(out_size) · N): one receptive field
    per column, copied in one go from a strided view of the batch-last, zero-padded input.
    """
    grid = batch_last(x)  # (C, *size, N): the windows are read straight from x if unpadded
    if any(lo or hi for lo, hi in layout.padding):
        grid = recycler.empty((x.shape[1], *layout.padded, x.shape[0]), x.dtype)
        for slab in layout.border():  # zeros around the input only: it fills the rest
            grid[slab] = 0
        grid[layout.inner()] = batch_last(x)
    windows = layout.windows(grid)
    rows = x.shape[1] // layout.groups * math.prod(layout.kernel)
    cols = recycler.empty((layout.groups, rows, x.shape[0] * math.prod(layout.out_size)), x.dtype)
    cols.reshape(windows.shape)[...] = windows
    return cols


def col2im(grad_cols: Any, layout: Layout) -> Any:
    """Add each column's gradient back where im2col read it: one addition per kernel offset.

    Within one offset no two positions share an input element, so each in-place addition is
    exact, and overlapping windows accumulate across offsets. Returns a (N, C, *size) view of
    batch-last memory.
    """
    batch, channels = layout.x_shape[:2]
    grid = recycler.empty((channels, *layout.padded, batch), grad_cols.dtype)
    grad_cols = grad_cols.reshape(channels, *layout.kernel, *layout.out_size, batch)
    if (
        grad_cols.size >= native.MAP_SIZE  # 0.31 against 0.69 ms on the CNN benchmark's conv2
        and len(layout.kernel) == 2
        and native.enabled()
        and _native_loops().col2im_2d(grad_cols, grid, layout.stride, layout.dilation)
    ):  # one pass over the columns with numba; NumPy's form one per kernel offset
        return batch_first(grid[layout.inner()])
    # With stride 1 the first offset's windows are one block of the grid, [0, out_size): it is
    # written instead of added, and only the rest of the grid is zeroed first.
    assign = all(s == 1 for s in layout.stride)
    if assign:
        for slab in _beyond(layout.out_size):
            grid[slab] = 0
    else:
        grid.fill(0)
    for offset in offsets(layout.kernel):
        spatial = tuple(
            window(o, s, d, n)
            for o, s, d, n in zip(offset, layout.stride, layout.dilation, layout.out_size)
        )
        target = (slice(None), *spatial, slice(None))
        if assign:
            grid[target] = grad_cols[(slice(None), *offset)]
            assign = False
        else:
            grid[target] += grad_cols[(slice(None), *offset)]
    return batch_first(grid[layout.inner()])


def _native_loops() -> Any:
    """chainrule.native.col2im, imported on the first use: it compiles numba's loop."""
    from chainrule.native import col2im

    return col2im


def grouped_matmul(a: Any, b: Any, out: Any) -> None:
    """out = a @ b for stacks of one matrix per group; a plain 2-D product for one group."""
    if a.shape[0] == 1:
        backend.xp.matmul(a[0], b[0], out=out[0])
    else:
        backend.xp.matmul(a, b, out=out)
