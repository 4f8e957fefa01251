"""Batch norm and layer norm as fused operations, with the closed-form backward.

Built from primitives, y = γ (x − μ)/√(σ² + ε) + β is a mean, a subtraction, a variance, a
square root, a division, a product and a sum: eight nodes whose backward passes re-derive the
same sums. In closed form, with x̂ = (x − μ)/σ normalised over M values per statistic and
g = γ ⊙ ∂C/∂y, the whole backward is two reductions (Ioffe & Szegedy, 2015):

    ∂C/∂x = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / σ,   ∂C/∂γ = Σ ∂C/∂y ⊙ x̂,   ∂C/∂β = Σ ∂C/∂y

The mean and variance terms vanish when the statistics are constants (batch norm in eval mode,
with running statistics): then ∂C/∂x = g/σ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, native
from chainrule.autograd.function import Function
from chainrule.ops.broadcast import ones_vector, sum_rows
from chainrule.ops.channel_rows import ChannelRows
from chainrule.ops.elementwise import as_float
from chainrule.ops.work_arrays import recycler


def _loops(view: ChannelRows, x: Any) -> Any:
    """chainrule.native.batch_norm where its loops cover x: a float32 or float64 NumPy array of
    at least :data:`~chainrule.native.MAP_SIZE` elements, or of :data:`~chainrule.native.FEWEST`
    once numba is loaded, the loops enabled; None otherwise."""
    size = x.size
    if (
        (size >= native.MAP_SIZE or (size >= native.FEWEST and native.loaded()))
        and type(x) is numpy.ndarray
        and x.dtype in _FLOATS
        and native.enabled()
    ):
        from chainrule.native import batch_norm  # compiles numba's loops on the first use

        return batch_norm
    return None


_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def batch_statistics(x: Any) -> tuple[Any, Any]:
    """The per-channel mean and biased variance of x (N, C, *) over N and *: two (C,) arrays."""
    x = as_float(x)
    count = x.size // x.shape[1] if x.shape[1] else 0
    view = ChannelRows(x)
    mean = view.sum(view.rows) / count
    loops = _loops(view, x)
    if loops is not None:
        squares = recycler.empty(view.rows.shape, x.dtype)
        loops.squared_deviations(view.rows, mean, squares)
    else:
        squares = view.rows - view.per_channel(mean)
        squares *= squares
    return mean, view.sum(squares) / count


class BatchNorm(Function):
    """∂C/∂x = γ(∂C/∂y − mean(∂C/∂y) − x̂ mean(∂C/∂y x̂))/σ with batch statistics, γ ∂C/∂y / σ
    with fixed ones; ∂C/∂γ = Σ ∂C/∂y x̂, ∂C/∂β = Σ ∂C/∂y  (means and sums over N and *)

    x is (N, C, *); ``mean`` and ``var`` are (C,) arrays: the batch's own statistics
    (``batch_stats``, computed by :func:`batch_statistics`) or the running ones.
    """

    def forward(
        self,
        x: Any,
        mean: Any,
        var: Any,
        weight: Any,
        bias: Any,
        eps: float,
        batch_stats: bool,
    ) -> Any:
        xp = backend.xp
        x = as_float(x)
        view = ChannelRows(x)
        # Copies: the running statistics are updated in place by later training steps.
        mean = xp.array(mean, dtype=x.dtype)
        inv_std = 1 / xp.sqrt(xp.asarray(var, dtype=x.dtype) + eps)
        # y = x·scale + shift with scale = γ/σ and shift = β − μγ/σ: two passes over x.
        scale = inv_std if weight is None else inv_std * weight.astype(x.dtype, copy=False)
        shift = -mean * scale
        if bias is not None:
            shift += bias
        self.saved = (x, mean, inv_std, scale)
        self.batch_stats, self.eps = batch_stats, eps
        loops = _loops(view, x)
        if loops is not None:
            out = recycler.empty(view.rows.shape, x.dtype)
            loops.scale_shift(view.rows, scale, shift, out)
        else:
            out = view.rows * view.per_channel(scale)
            out += view.per_channel(shift)
        return view.restore(out)

    def backward(self, grad: Any) -> tuple:
        x = self.saved[0]
        need_weight, need_bias = self.needs_input_grad[3:]
        view = ChannelRows(x)
        rows = view.take(grad)
        sum_grad = view.sum(rows)
        loops = _loops(view, x) if grad.dtype == x.dtype and self.batch_stats else None
        if loops is not None:
            grad_x, sum_grad_x_hat = self._backward_in_loops(loops, view, rows, sum_grad)
        else:
            grad_x, sum_grad_x_hat = self._backward_in_numpy(view, rows, sum_grad)
        return (
            grad_x,
            None,
            None,
            sum_grad_x_hat if need_weight else None,
            sum_grad if need_bias else None,
        )

    def _backward_in_numpy(self, view: ChannelRows, rows: Any, sum_grad: Any) -> tuple:
        """∂C/∂x (None where not wanted) and Σ ∂C/∂y x̂ (None where nothing needs it), from the
        gradient seen as rows like x's and its channel sums."""
        x, mean, inv_std, scale = self.saved
        need_x, _, _, need_weight, _ = self.needs_input_grad
        sum_grad_x_hat = x_hat = None
        if need_weight or self.batch_stats:
            x_hat = view.rows - view.per_channel(mean)
            x_hat *= view.per_channel(inv_std)
            sum_grad_x_hat = view.sum(rows * x_hat)
        grad_x = None
        if need_x and self.batch_stats:
            count = x.size // x.shape[1]
            grad_x = rows - view.per_channel(sum_grad / count)
            x_hat *= view.per_channel(sum_grad_x_hat / count)
            grad_x -= x_hat
            grad_x *= view.per_channel(scale)
            grad_x = view.restore(grad_x)
        elif need_x:
            grad_x = view.restore(rows * view.per_channel(scale))
        return grad_x, sum_grad_x_hat

    def _backward_in_loops(self, loops: Any, view: ChannelRows, rows: Any, sum_grad: Any) -> tuple:
        """:meth:`_backward_in_numpy` with batch statistics through chainrule.native.batch_norm's
        loops: the same arithmetic, two passes over x and g instead of seven."""
        x, mean, inv_std, scale = self.saved
        work = recycler.empty(view.rows.shape, x.dtype)
        loops.times_normalised(rows, view.rows, mean, inv_std, work)
        sum_grad_x_hat = view.sum(work)
        grad_x = None
        if self.needs_input_grad[0]:
            count = x.size // x.shape[1]
            mean_g, mean_gx = sum_grad / count, sum_grad_x_hat / count
            loops.input_grad(rows, view.rows, mean, inv_std, mean_g, mean_gx, scale, work)
            grad_x = view.restore(work)
        return grad_x, sum_grad_x_hat

    def composite(self, x: Any, mean: Any, var: Any, weight: Any, bias: Any) -> Any:
        """The same normalisation from differentiable operations (for ``create_graph``): the
        batch's statistics recomputed from the tensor x, or the fixed ones as constants."""
        _, fixed_mean, inv_std, _ = self.saved
        view = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # (C,) broadcast over (N, C, *)
        if self.batch_stats:
            centered, inv_std = _standardise(x, (0, *range(2, x.ndim)), self.eps)
        else:
            centered, inv_std = x - fixed_mean.reshape(view), inv_std.reshape(view)
        return _affine(centered * inv_std, weight, bias, view)


class LayerNorm(Function):
    """∂C/∂x = (g − mean(g) − x̂ mean(g x̂))/σ with g = γ ∂C/∂y; ∂C/∂γ = Σ ∂C/∂y x̂,
    ∂C/∂β = Σ ∂C/∂y  (means over the normalised trailing dimensions, sums over the rest)"""

    def forward(self, x: Any, weight: Any, bias: Any, normalized_ndim: int, eps: float) -> Any:
        xp = backend.xp
        x = as_float(x)
        # Every leading position is one row of D = prod(normalized_shape) values.
        width = math.prod(x.shape[x.ndim - normalized_ndim :])
        rows = x.reshape(math.prod(x.shape[: x.ndim - normalized_ndim]), width)
        if width == 0:  # nothing to normalise: an empty result, as in PyTorch
            x_hat, inv_std = rows.copy(), xp.ones((rows.shape[0], 1), dtype=rows.dtype)
        else:
            loops = _row_loops(rows)
            if loops is not None:  # the centring too as a loop (chainrule.native.rows)
                from chainrule.native import rows as row_passes

                centered = xp.empty_like(rows)
                row_passes.minus_column(rows, _row_means(rows), centered)
            else:
                centered = rows - _row_means(rows)
            inv_std = 1 / xp.sqrt(_row_dots(centered, centered) + eps)
            x_hat = centered
        gamma = None if weight is None else weight.reshape(-1).astype(x.dtype, copy=False)
        beta = None if bias is None else bias.reshape(-1).astype(x.dtype, copy=False)
        loops = _row_loops(x_hat) if width else None
        if loops is not None:
            out = recycler.empty(x_hat.shape, x.dtype)
            affine = (gamma is not None) + 2 * (beta is not None)
            loops.normalise(x_hat, inv_std, _or_empty(gamma), _or_empty(beta), affine, out)
        else:
            if width:
                x_hat *= inv_std
            out = x_hat.copy() if gamma is None else x_hat * gamma
            if beta is not None:
                out += beta
        self.saved = (x_hat, inv_std, weight)
        self.shape, self.normalized_shape = x.shape, x.shape[x.ndim - normalized_ndim :]
        self.eps = eps
        return out.reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        x_hat, inv_std, weight = self.saved
        need_x, need_weight, need_bias = self.needs_input_grad[:3]
        rows = grad.reshape(x_hat.shape)
        grad_weight = grad_bias = grad_x = None
        # ∂C/∂y ⊙ x̂, summed down the columns for ∂C/∂γ and along the rows (weighted by γ)
        # for ∂C/∂x's second mean: one product for both.
        products = rows * x_hat if need_weight or need_x else None
        if need_weight:
            grad_weight = sum_rows(products).reshape(self.normalized_shape)
        if need_bias:
            grad_bias = sum_rows(rows).reshape(self.normalized_shape)
        if need_x and x_hat.shape[1] == 0:
            grad_x = backend.xp.zeros(self.shape, dtype=grad.dtype)
        elif need_x:
            # g = γ ⊙ ∂C/∂y: its row means are those of ∂C/∂y weighted by γ, a product in BLAS
            w = None if weight is None else weight.reshape(-1).astype(rows.dtype, copy=False)
            mean_g, mean_gx = _row_means(rows, w), _row_means(products, w)
            loops = _row_loops(x_hat) if rows.dtype == x_hat.dtype else None
            if loops is not None and rows.flags.c_contiguous:
                grad_x = recycler.empty(rows.shape, rows.dtype)
                loops.input_grad(
                    rows, x_hat, _or_empty(w), w is not None, mean_g, mean_gx, inv_std, grad_x
                )
            else:
                grad_x = rows - mean_g if w is None else rows * w
                if w is not None:
                    grad_x -= mean_g
                grad_x -= x_hat * mean_gx
                grad_x *= inv_std
            grad_x = grad_x.reshape(self.shape)
        return grad_x, grad_weight, grad_bias, None, None

    def composite(self, x: Any, weight: Any, bias: Any) -> Any:
        """The same normalisation from differentiable operations (for ``create_graph``)."""
        width = len(self.normalized_shape)
        centered, inv_std = _standardise(x, tuple(range(x.ndim - width, x.ndim)), self.eps)
        return _affine(centered * inv_std, weight, bias, self.normalized_shape)


def _row_loops(rows: Any) -> Any:
    """chainrule.native.layer_norm where its loops cover layer norm's rows (R, D): a
    C-contiguous float32 or float64 NumPy array of at least
    :data:`~chainrule.native.MAP_SIZE` elements, the loops enabled; None otherwise."""
    if (
        rows.size >= native.MAP_SIZE
        and type(rows) is numpy.ndarray
        and rows.dtype in _FLOATS
        and rows.flags.c_contiguous
        and native.enabled()
    ):
        from chainrule.native import layer_norm  # compiles numba's loops on the first use

        return layer_norm
    return None


def _or_empty(values: Any) -> Any:
    """A (D,) parameter, or an empty array of the loops' dtype where there is none."""
    return numpy.empty(0, dtype=numpy.float32) if values is None else values


def _row_means(rows: Any, weight: Any = None) -> Any:
    """The mean of each row of ``rows`` (R, D), each column weighted by ``weight`` (D,) where
    given, as an (R, 1) column: a product in BLAS for float32 and float64 (4.4× NumPy's mean
    on 1600 rows of 128 float32)."""
    if rows.dtype.char in "fd" and type(rows) is numpy.ndarray:
        weights = ones_vector(rows.shape[1], rows.dtype) if weight is None else weight
        return (rows @ weights)[:, None] / rows.shape[1]
    weighted = rows if weight is None else rows * weight
    return weighted.mean(axis=1, keepdims=True)


def _row_dots(a: Any, b: Any) -> Any:
    """The mean of a ⊙ b along each row of two (R, D) arrays, as an (R, 1) column: einsum's
    row-by-row inner products for float32 and float64, with no (R, D) product in between
    (half the time of the product and its row sums on 1600 rows of 128 float32)."""
    if a.dtype.char in "fd" and a.dtype == b.dtype and type(a) is numpy.ndarray:
        return numpy.einsum("ij,ij->i", a, b)[:, None] / a.shape[1]
    return (a * b).mean(axis=1, keepdims=True)


def _standardise(x: Any, dims: tuple, eps: float) -> tuple[Any, Any]:
    """x − μ and 1/√(σ² + ε) over ``dims`` (σ² biased), as tensors of the graph of x."""
    centered = x - x.mean(dim=dims, keepdim=True)
    var = (centered * centered).mean(dim=dims, keepdim=True)
    return centered, (var + eps).rsqrt()


def _affine(x_hat: Any, weight: Any, bias: Any, shape: tuple) -> Any:
    """x̂ γ + β, with γ and β (either may be None) seen as ``shape`` to broadcast over x̂."""
    out = x_hat
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out
