"""Transposed convolution: a convolution's input gradient, run as a forward pass.

A convolution maps z (N, C_z, *size_z) to x (N, C_x, *size_x) with a weight (C_x, C_z / groups,
*kernel); its vector-Jacobian product for z maps x-shaped arrays back to z's shape with the
same weight. That weight shape is PyTorch's for ConvTranspose, (in_channels, out_channels /
groups, *kernel), so the transposed convolution of x is that product, and its own derivatives
are the convolution's forward and weight gradient (G = ∂C/∂z, cols = im2col(G)):

    z = col2im(Wᵀ·x) + b,   ∂C/∂x = W·cols,   ∂C/∂W = x·colsᵀ,   ∂C/∂b = Σ G

im2col, col2im, the grouped product and the array cache are the convolution's own, from
:mod:`chainrule.ops.im2col` and :mod:`chainrule.ops.work_arrays`; only their roles are swapped
here.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function

# The convolution's building blocks, shared on purpose: the two operations are one computation
# read in two directions, and must lay out columns identically.
from chainrule.ops.im2col import (
    Layout,
    batch_first,
    batch_last,
    col2im,
    grouped_matmul,
    im2col,
)
from chainrule.ops.work_arrays import recycler


def transposed_length(
    size: int, kernel: int, stride: int, padding: int, dilation: int, output_padding: int
) -> int:
    """Output length along one dimension: (size − 1)·stride − 2·padding + dilation·(kernel − 1)
    + output_padding + 1, the input length of the convolution that this one transposes."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class ConvTransposeNd(Function):
    """∂C/∂x = W·im2col(G), ∂C/∂W = x·im2col(G)ᵀ, ∂C/∂b = Σ G over batch and positions
    (for z = col2im(Wᵀ·x) + b, G = ∂C/∂z as a (C_out, positions·N) matrix)"""

    @classmethod
    def op_name(cls) -> str:
        return "conv_transpose"

    def forward(
        self,
        x: Any,
        weight: Any,
        bias: Any,
        stride: tuple,
        padding: tuple,
        dilation: tuple,
        groups: int,
        out_size: tuple,
    ) -> Any:
        self.unbatched = x.ndim == weight.ndim - 1
        if self.unbatched:
            x = x[None]
        z_shape = (x.shape[0], weight.shape[1] * groups, *out_size)
        pads = tuple((p, p) for p in padding)
        layout = Layout(z_shape, weight.shape, stride, pads, dilation, groups)
        # Only x's positions are windows: output_padding ≥ stride (allowed below the dilation)
        # gives the convolution of z one window more than x has, which nothing reads.
        layout.out_size = x.shape[2:]
        g = batch_last(x)  # (C_in, *size, N): x as the convolution's output gradient
        if not g.flags.c_contiguous:
            g = recycler.copy(g)
        g = g.reshape(groups, layout.group_out, -1)
        w = weight.reshape(groups, layout.group_out, -1).swapaxes(1, 2)
        cols = recycler.empty((groups, w.shape[1], g.shape[-1]), x.dtype)
        grouped_matmul(w, g, cols)
        out = col2im(cols, layout)  # a (N, C_out, *out_size) view of batch-last memory
        if bias is not None:
            out += bias.reshape((1, -1) + (1,) * len(out_size))
        need_x, need_w, _ = self.needs_input_grad or (False, False, False)
        self.saved = (g if need_w else None, weight if need_x else None)
        self.layout, self.weight_shape = layout, weight.shape
        return out[0] if self.unbatched else out

    def backward(self, grad: Any) -> tuple:
        g, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        layout = self.layout
        if self.unbatched:
            grad = grad[None]
        groups, group_in = layout.groups, layout.group_out
        grad_x = grad_w = grad_b = None
        if need_x or need_w:
            cols = im2col(grad, layout)  # (groups, C_out/groups · prod(kernel), positions·N)
        if need_x:
            w = weight.reshape(groups, group_in, -1)
            product = recycler.empty((groups, group_in, cols.shape[-1]), grad.dtype)
            grouped_matmul(w, cols, product)
            size = (group_in * groups, *layout.out_size, grad.shape[0])
            grad_x = batch_first(product.reshape(size))
            if self.unbatched:
                grad_x = grad_x[0]
        if need_w:
            grad_w = backend.xp.matmul(g, cols.swapaxes(1, 2)).reshape(self.weight_shape)
        if need_b:
            grad_b = grad.sum(axis=(0, *range(2, grad.ndim)))
        return grad_x, grad_w, grad_b
