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
from chainrule.ops.matrix import einsum
from chainrule.ops.work_arrays import recycler
from chainrule.tensor import Tensor


def _placement(
    kernel: int, size: int, out: int, stride: int, padding: int, dilation: int, like: Tensor
) -> Tensor:
    """The constant P[k, i, o] = 1 where o = i·stride + k·dilation − padding, else 0: kernel
    offset k applied at input position i lands on output position o (dropped when o falls
    outside [0, out), which padding cuts off)."""
    xp = backend.xp
    landing = (
        xp.arange(size)[None, :, None] * stride
        + xp.arange(kernel)[:, None, None] * dilation
        - padding
    )
    places = (landing == xp.arange(out)[None, None, :]).astype(like.dtype)
    return Tensor._make(places, False, None)


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
        self.options = (stride, padding, dilation, groups, out_size)
        return out[0] if self.unbatched else out

    def composite(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """The same transposed convolution from differentiable operations, for a backward that
        records a graph: one einsum of x, the weight and, per spatial dimension, a constant 0/1
        array P[k, i, o] = [o = i·stride + k·dilation − padding] that places the product of
        input position i and kernel offset k at output position o (the sum that col2im does).
        """
        stride, padding, dilation, groups, out_size = self.options
        spatial = len(out_size)
        if self.unbatched:
            x = x.reshape((1, *x.shape))
        batch, _, *size = x.shape
        group_in, group_out, *kernel = weight.shape
        group_in //= groups
        # Labels: n batch, g group, c input channel, o output channel; per spatial dimension
        # an input position (i j k), a kernel offset (u v w) and an output position (p q r).
        at, offset, to = "ijk"[:spatial], "uvw"[:spatial], "pqr"[:spatial]
        terms = ["ngc" + at, "gco" + offset]
        operands = [
            x.reshape((batch, groups, group_in, *size)),
            weight.reshape((groups, group_in, group_out, *kernel)),
        ]
        for d in range(spatial):
            terms.append(offset[d] + at[d] + to[d])
            operands.append(
                _placement(kernel[d], size[d], out_size[d], stride[d], padding[d], dilation[d], x)
            )
        out = einsum(",".join(terms) + "->ngo" + to, *operands)
        out = out.reshape((batch, groups * group_out, *out_size))
        if bias is not None:
            out = out + bias.reshape((1, -1) + (1,) * spatial)
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
