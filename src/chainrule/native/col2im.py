"""col2im for 2-D convolutions as one loop: each column gradient added back where im2col read
it, in one pass over the columns.

The NumPy form (ops/im2col.py) makes one whole-array addition per kernel offset (nine for a
3×3 kernel), each reading and writing the padded grid again; the loop reads every column
element once and adds it into the grid while that grid row is in the cache. Per grid element
it adds the same terms in the same order (kernel offsets in row-major order, starting from
zero), so the sums are the NumPy form's bit for bit, except that a sum of −0 alone is +0
here, as in PyTorch's col2im, where the NumPy form copies the first offset's −0.
"""

from __future__ import annotations

from typing import Any

from numpy import float32, float64, ndarray

from chainrule.native import jit

FLOATS = (float32, float64)


def _col2im_2d(
    cols: Any, grid: Any, stride_h: int, stride_w: int, dilation_h: int, dilation_w: int
) -> None:
    """grid (C, H_padded, W_padded, N) = 0, then += cols (C, kh, kw, H_out, W_out, N) at
    grid[c, i·stride_h + a·dilation_h, j·stride_w + b·dilation_w] for every kernel offset
    (a, b) and output position (i, j)."""
    channels, kernel_h, kernel_w, out_h, out_w, batch = cols.shape
    zero = grid.dtype.type(0)
    flat = grid.reshape(-1)
    for k in range(flat.size):
        flat[k] = zero
    for c in range(channels):
        for a in range(kernel_h):
            for b in range(kernel_w):
                for i in range(out_h):
                    row = i * stride_h + a * dilation_h
                    for j in range(out_w):
                        source = cols[c, a, b, i, j]
                        target = grid[c, row, j * stride_w + b * dilation_w]
                        for n in range(batch):
                            target[n] += source[n]


_loop = jit(_col2im_2d, cache=True)


def col2im_2d(cols: Any, grid: Any, stride: tuple, dilation: tuple) -> bool:
    """The loop on ``cols`` (C, kh, kw, H_out, W_out, N) into ``grid`` (C, H_padded, W_padded,
    N), where it covers them: NumPy float32 or float64 arrays of one dtype, both C-contiguous.
    False, with nothing done, otherwise."""
    if not (
        type(cols) is ndarray
        and type(grid) is ndarray
        and cols.dtype.type in FLOATS
        and grid.dtype == cols.dtype
        and cols.ndim == 6
        and grid.ndim == 4
        and cols.flags.c_contiguous
        and grid.flags.c_contiguous
    ):
        return False
    _loop(cols, grid, stride[0], stride[1], dilation[0], dilation[1])
    return True
