"""The softmax family: softmax and log-softmax along one dimension.

Unlike the element-wise activations, each output depends on every input along ``dim``, so the
derivative is a product with the Jacobian diag(s) − s sᵀ, applied without forming it. Both
operations save their output, from which that product is cheapest.

Along the last axis of a C-contiguous array, where numba is enabled and the array holds
``native.MAP_SIZE`` elements or numba is loaded already, the passes between the rows and a
column of per-row values (the shift by the maximum, the scaling by 1/Σ, the backward) run as
loops (:mod:`chainrule.native.rows`), bit for bit the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, fp_errors, native
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.elementwise import as_float
from chainrule.ops.movement import normalise_axis
from chainrule.ops.short_rows import (
    dots_along,
    max_along,
    on_last_axis_rows,
    row_max,
    sum_along,
)
from chainrule.tensor import Tensor


class Softmax(Function):
    """∂C/∂z = s ⊙ (g − Σ g⊙s), s = softmax(z) along dim (from the saved output)"""

    def forward(self, z: Any, dim: int) -> Any:
        z = as_float(z)
        xp = backend.xp
        # Silenced: an all −∞ (fully masked) row is nan, as in PyTorch, without a warning.
        token = fp_errors.enter()
        try:
            loops = row_loops(z, dim)
            if loops is not None:
                out = _softmax_rows(z, dim, loops)
                self.saved = (out,)
                self.dim = dim
                return out
            out = z - max_along(z, dim)  # empty dim: empty
            # in place: a new array already (NumPy gives a scalar for a 0-d one)
            out = xp.exp(out, out=out) if type(out) is backend.ndarray else xp.exp(out)
            total = sum_along(out, dim)
            if on_last_axis_rows(out, dim):
                # PyTorch's kernel for the last axis multiplies by 1/Σ (its others divide);
                # a product is also cheaper than a quotient along short rows
                total = xp.divide(1, total, out=total)
                out *= total
            else:
                out /= total
        finally:
            fp_errors.leave(token)
        self.saved = (out,)
        self.dim = dim
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        # s ⊙ (g − Σ g⊙s), PyTorch's grouping: one product fewer than g⊙s − s·Σ g⊙s
        loops = _grad_row_loops(grad, out, self.dim)
        if loops is not None:
            width = out.shape[-1]
            dots = dots_along(grad, out, self.dim).reshape(-1, 1)
            grad_z = numpy.empty_like(out)
            loops.softmax_grad(
                grad.reshape(-1, width), out.reshape(-1, width), dots, grad_z.reshape(-1, width)
            )
            return (grad_z,)
        grad_z = grad - dots_along(grad, out, self.dim)
        if type(grad_z) is not backend.ndarray:  # a graph recorded, or NumPy's 0-d scalar
            return (grad_z * out,)
        grad_z *= out
        return (grad_z,)


class LogSoftmax(Function):
    """∂C/∂z = g − softmax(z) · Σ g along dim (softmax recovered as exp of the saved output)"""

    @classmethod
    def op_name(cls) -> str:
        return "log_softmax"

    def forward(self, z: Any, dim: int) -> Any:
        z = as_float(z)
        xp = backend.xp
        token = fp_errors.enter()  # as in Softmax
        try:
            loops = row_loops(z, dim)
            if loops is not None:
                width = z.shape[-1]
                rows = z.reshape(-1, width)
                out = numpy.empty_like(z)
                shifted = out.reshape(-1, width)
                loops.minus_column(rows, row_max(rows), shifted)
                loops.subtract_column(shifted, xp.log(sum_along(xp.exp(out), dim)).reshape(-1, 1))
            else:
                out = z - max_along(z, dim)  # empty dim: empty
                out -= xp.log(sum_along(xp.exp(out), dim))  # in place: a new array already
        finally:
            fp_errors.leave(token)
        self.saved = (out,)
        self.dim = dim
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        xp = backend.xp
        scaled = xp.exp(out)
        loops = _grad_row_loops(grad, out, self.dim)
        if loops is not None:
            width = out.shape[-1]
            sums = sum_along(grad, self.dim).reshape(-1, 1)
            flat = scaled.reshape(-1, width)
            loops.log_softmax_grad(grad.reshape(-1, width), flat, sums)
            return (scaled,)
        if type(scaled) is not backend.ndarray:  # a graph recorded, or NumPy's 0-d scalar
            return (grad - scaled * sum_along(grad, self.dim),)
        scaled *= sum_along(grad, self.dim)
        return (xp.subtract(grad, scaled, out=scaled),)


def row_loops(z: Any, dim: int) -> Any:
    """chainrule.native.rows where its loops take z's rows along ``dim`` (its last axis,
    C-contiguous, float32 or float64): from ``native.MAP_SIZE`` elements, or from
    ``native.FEWEST`` once numba is loaded, where the loops are enabled; None otherwise."""
    size = z.size
    if size < native.FEWEST or (size < native.MAP_SIZE and not native.loaded()):
        return None
    if on_last_axis_rows(z, dim) and native.enabled():
        from chainrule.native import rows as loops  # compiles numba's loops on the first use

        return loops
    return None


def _grad_row_loops(grad: Any, out: Any, dim: int) -> Any:
    """:func:`row_loops` for a backward: the incoming gradient a NumPy array laid out as the
    saved output (a backward recording a graph passes a tensor and keeps the NumPy form)."""
    return row_loops(out, dim) if native.laid_out_alike(out, grad) else None


def _softmax_rows(z: Any, dim: int, loops: Any) -> Any:
    """Softmax's forward along the last axis through the loops: the NumPy form's numbers."""
    width = z.shape[-1]
    rows = z.reshape(-1, width)
    out = numpy.empty_like(z)
    flat = out.reshape(-1, width)
    loops.minus_column(rows, row_max(rows), flat)
    numpy.exp(out, out=out)
    total = sum_along(out, dim).reshape(-1, 1)
    numpy.divide(1, total, out=total)
    loops.multiply_column(flat, total)
    return out


def softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """exp(x) / Σ exp(x) along ``dim``, computed from x − max(x) so it never overflows.

    ```pycon
    >>> import chainrule as cr
    >>> p = cr.softmax(cr.tensor([[0.0, 0.0], [0.0, 1000.0]]), dim=1)
    >>> p.tolist()
    [[0.5, 0.5], [0.0, 1.0]]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("softmax", "input", input)
    x = input if dtype is None else input.to(dtype)
    return Softmax.apply(x, dim=normalise_axis(dim, max(x.ndim, 1), "softmax"))


def log_softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """x − logsumexp(x) along ``dim``: the logarithm of softmax without forming softmax.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0])
    >>> [round(v, 4) for v in cr.log_softmax(x, dim=0).tolist()]
    [-2.4076, -1.4076, -0.4076]
    >>> round(cr.log_softmax(x, dim=0).exp().sum().item(), 6)
    1.0

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("log_softmax", "input", input)
    x = input if dtype is None else input.to(dtype)
    return LogSoftmax.apply(x, dim=normalise_axis(dim, max(x.ndim, 1), "log_softmax"))
