"""Convolution over N spatial dimensions as one fused operation, forward beside backward.

Shapes are channels-first, PyTorch's: input (N, C, *spatial), weight (out_channels,
in_channels / groups, *kernel). Padding reaches the operation as one (before, after) pair per
spatial dimension, already checked by :mod:`chainrule.nn.functional.conv`.

Convolution is one matrix product: im2col (:mod:`.im2col`) copies every receptive field into a
column and the weight multiplies all columns at once. Its backward is two products (weight
gradient and column gradient) and col2im, which adds the column gradient back.

The convolution's output is the product's (C_out, *size, N) memory seen as (N, C_out, *size),
not a transposed copy; element-wise operations keep that batch-last order, so pooling reads
long runs, and the next layer's im2col and this layer's backward read it without transposing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops.im2col import (
    Layout,
    batch_first,
    batch_last,
    col2im,
    grouped_matmul,
    im2col,
    offsets,
    selection,
)
from chainrule.ops.movement import stack
from chainrule.ops.padding import ConstantPad
from chainrule.ops.work_arrays import recycler


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
        layout = Layout(x.shape, weight.shape, stride, padding, dilation, groups)
        cols = im2col(x, layout)
        out = recycler.empty((groups, layout.group_out, cols.shape[-1]), cols.dtype)
        grouped_matmul(weight.reshape(groups, layout.group_out, -1), cols, out)
        if bias is not None:
            out += bias.reshape(groups, -1, 1)
        # The product is (C_out, *size, N) in memory; it is handed on as a (N, C_out, *size)
        # view rather than copied. Element-wise operations keep that memory order, and the
        # next convolution's im2col and this backward's G read it without transposing.
        result = batch_first(out.reshape(weight.shape[0], *layout.out_size, x.shape[0]))
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
        # G as a (C_out, positions·N) matrix: a view when the gradient arrives in the
        # batch-last memory order that the forward handed out.
        g = batch_last(grad)
        if not g.flags.c_contiguous:
            g = recycler.copy(g)
        g = g.reshape(layout.groups, layout.group_out, -1)

        grad_b = grad_w = grad_x = None
        if need_b:
            grad_b = g.reshape(weight.shape[0], -1) @ xp.ones(g.shape[-1], dtype=g.dtype)
        if need_w:
            grad_w = _weight_grad(g, cols).reshape(weight.shape)
        if need_x:
            w = weight.reshape(layout.groups, layout.group_out, -1).swapaxes(1, 2)
            grad_cols = recycler.empty((layout.groups, w.shape[1], g.shape[-1]), g.dtype)
            grouped_matmul(w, g, grad_cols)
            grad_x = col2im(grad_cols, layout)
            if self.unbatched:
                grad_x = grad_x[0]
        return grad_x, grad_w, grad_b

    def composite(self, x: Any, weight: Any, bias: Any) -> Any:
        """The same convolution from differentiable operations, for derivatives of the
        derivative (``create_graph``): im2col as one strided slice of the padded input per
        kernel offset, stacked, then the grouped product with the weight.

        x (N, C, *size) or (C, *size) → (N, C_out, *out_size) or (C_out, *out_size).
        """
        layout = self.layout
        if self.unbatched:
            x = x.unsqueeze(0)
        batch = x.shape[0]
        if any(lo or hi for lo, hi in layout.padding):
            x = ConstantPad.apply(x, ((0, 0), (0, 0), *layout.padding), 0)
        fields = [
            x[selection(offset, layout.stride, layout.dilation, layout.out_size)]
            for offset in offsets(layout.kernel)
        ]
        # (N, C, K, *out) → (groups, C/groups · K, N · positions): weight's (c, k) row order
        cols = stack(fields, dim=2).reshape(batch, layout.groups, -1, math.prod(layout.out_size))
        cols = cols.permute(1, 2, 0, 3).reshape(layout.groups, cols.shape[2], -1)
        w = weight.reshape(layout.groups, layout.group_out, -1)
        out = (w[0] @ cols[0]).unsqueeze(0) if layout.groups == 1 else w @ cols
        out = out.reshape(weight.shape[0], batch, *layout.out_size).transpose(0, 1)
        if bias is not None:
            out = out + bias.reshape(-1, *(1,) * len(layout.out_size))
        return out[0] if self.unbatched else out


# The weight gradient of a layer with few channels (C_out or C_in·kernel at most this many)
# sums over the positions in chunks of this many (see _weight_grad).
CHUNKED_UP_TO = 16
CHUNK = 1568


def _weight_grad(g: Any, cols: Any) -> Any:
    """G·colsᵀ per group, (groups, C_out/groups, rows), for G (groups, C_out/groups, positions)
    and cols (groups, rows, positions).

    Both are products over the long positions axis; OpenBLAS ran the one whose result has more
    rows up to twice as fast (cols·Gᵀ for 16 → 32 channels 3×3, G·colsᵀ for 1 → 16), so the
    larger of C_out/groups and rows becomes the rows of the product.

    Where one side of the result is small (a first layer: 1 input channel, 3×3, 9 rows) and
    the positions many, OpenBLAS is slow on the one long product: the sum runs in chunks of
    :data:`CHUNK` positions, one product per chunk in a batch, then the chunks' sum. 16 × 9
    over 50,176 positions (the benchmark CNN's first layer) took 236 µs so against 484 µs in
    one product on a 2-core Intel Xeon; where both sides had 27 or more, there was no gain
    (``benchmarks/long_products.py``).
    """
    groups, group_out, rows = g.shape[0], g.shape[1], cols.shape[1]
    if (
        groups == 1
        and min(group_out, rows) <= CHUNKED_UP_TO
        and g.shape[2] >= 4 * CHUNK
        and type(g) is numpy.ndarray  # a GPU's products need no such help
    ):
        big, small = (g[0], cols[0]) if group_out >= rows else (cols[0], g[0])
        product = _chunked_product(big, small)
        return product[None] if group_out >= rows else product.T[None]
    if group_out >= rows:
        grad_w = backend.xp.empty((groups, group_out, rows), dtype=g.dtype)
        grouped_matmul(g, cols.swapaxes(1, 2), grad_w)
        return grad_w
    grad_w_t = backend.xp.empty((groups, rows, group_out), dtype=g.dtype)
    grouped_matmul(cols, g.swapaxes(1, 2), grad_w_t)
    return grad_w_t.swapaxes(1, 2)


def _chunked_product(big: Any, small: Any) -> Any:
    """big · smallᵀ, (M, N), for big (M, K) and small (N, K) with K long: the products of
    chunks of about :data:`CHUNK` columns in one batched call, summed, and the columns left
    over added."""
    xp = backend.xp
    length = big.shape[1]
    count = length // CHUNK
    width = length // count
    main = count * width
    # Each row's first `main` columns split in `count` runs: views, no copies.
    left = big[:, :main].reshape(big.shape[0], count, width).transpose(1, 0, 2)
    right = small[:, :main].reshape(small.shape[0], count, width).transpose(1, 2, 0)
    product = xp.matmul(left, right).sum(axis=0)
    if main < length:
        product += big[:, main:] @ small[:, main:].T
    return product
