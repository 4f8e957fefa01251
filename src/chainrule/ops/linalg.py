"""Matrix products in all of PyTorch's forms: vector·vector, matrix·vector, vector·matrix,
matrix·matrix, and batched stacks of matrices broadcast against each other."""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, blas_layout, blas_threads, dtypes
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.broadcast import sum_rows, unbroadcast
from chainrule.tensor import Tensor


class MatMul(Function):
    """∂C/∂A = ∂C/∂Y · Bᵀ, ∂C/∂B = Aᵀ · ∂C/∂Y  (for Y = A·B; batch axes summed when broadcast)"""

    argument_names = ("input", "other")

    def forward(self, a: Any, b: Any) -> Any:
        if type(a) is not backend.ndarray or type(b) is not backend.ndarray:
            _check_arrays(a, b)
        _check_shapes(a.shape, b.shape)
        a, b = dtypes.promote(a, b)
        need_a, need_b = self.needs_input_grad or (False, False)
        out = blas_threads.dot(a, b) if a.ndim == 2 and b.ndim == 2 else a @ b
        if out.dtype is not a.dtype and out.dtype != a.dtype:
            # NumPy's matmul gives bfloat16 (ml_dtypes) factors a float32 product; PyTorch
            # keeps the factors' dtype.
            out = out.astype(a.dtype)
        # Each factor is kept only for the other's gradient (see Mul); the shapes always.
        # Products that broadcast batch axes against a batch of matrices keep copies, as
        # PyTorch's expanded operands are: an in-place change of a factor is allowed there.
        private = b.ndim >= 3 and a.shape[:-2] != b.shape[:-2]
        if private:
            a, b = (a.copy() if need_b else a), (b.copy() if need_a else b)
        self.saved = (a if need_b else None, b if need_a else None)
        self.shapes = a.shape, b.shape
        return out

    def saved_in_graph(self, output: Tensor) -> tuple:
        # The saved factors are the inputs, or copies or promotions of them: the inputs then.
        return tuple(
            None if kept is None else as_input(value, kept)
            for value, kept in zip(self.inputs, self.saved)
        )

    def backward(self, grad: Any) -> tuple:
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        shape_a, shape_b = self.shapes
        if len(shape_a) == 2 and len(shape_b) == 2:  # the layer case, kept free of reshaping
            dot = blas_threads.dot
            return (dot(grad, b.T) if need_a else None, dot(a.T, grad) if need_b else None)
        xp = backend.xp
        # Lift vectors to matrices as matmul does (a: 1×k, b: k×1) and the gradient with them.
        lifted_a = (1, *shape_a) if len(shape_a) == 1 else shape_a
        lifted_b = (*shape_b, 1) if len(shape_b) == 1 else shape_b
        grad2 = grad
        if len(shape_b) == 1:
            grad2 = grad2[..., None]
        if len(shape_a) == 1:
            grad2 = grad2[..., None, :]
        grad_a = grad_b = None
        if need_a:
            b2 = b.reshape(lifted_b)
            grad_a = unbroadcast(grad2 @ xp.swapaxes(b2, -1, -2), lifted_a).reshape(shape_a)
        if need_b:
            a2 = a.reshape(lifted_a)
            if len(lifted_b) == 2 and len(lifted_a) > 2:
                # A batch of inputs times one weight matrix: one large product, not a batch of
                # small ones summed afterwards.
                k, n = lifted_b
                rows = math.prod(a2.shape[:-1])  # not -1: undefined when k or n is 0
                grad_b = a2.reshape(rows, k).T @ grad2.reshape(rows, n)
            else:
                grad_b = unbroadcast(xp.swapaxes(a2, -1, -2) @ grad2, lifted_b)
            grad_b = grad_b.reshape(shape_b)
        return grad_a, grad_b


def as_input(value: Any, kept: Any) -> Any:
    """The input ``value`` in place of ``kept``, an array that forward saved from it (a copy,
    a reshape, a promotion to another dtype), for a backward that records a graph: the tensor
    itself (cast and reshaped to ``kept``'s dtype and shape) when it requires grad, else the
    constant ``kept``."""
    if not isinstance(value, Tensor) or not value.requires_grad:
        return kept
    if value.dtype != kept.dtype:
        value = value.to(kept.dtype)
    return value if tuple(value.shape) == kept.shape else value.reshape(kept.shape)


def _check_arrays(a: Any, b: Any) -> None:
    """Arrays only, numbers too refused: ``tensor @ 2`` is an error in PyTorch."""
    for name, value in (("input", a), ("other", b)):
        if not isinstance(value, backend.ndarray):
            raise not_a_tensor("matmul", name, value)


def _check_shapes(shape_a: tuple, shape_b: tuple) -> None:
    if not shape_a or not shape_b:
        raise OpError(
            f"matmul: both arguments need at least 1 dimension, got shapes {shape_a} and {shape_b}"
        )
    inner_a = shape_a[-1]
    inner_b = shape_b[0] if len(shape_b) == 1 else shape_b[-2]
    if inner_a != inner_b:
        raise OpError(
            f"matmul: shapes {shape_a} and {shape_b} do not fit: the first has {inner_a} columns, "
            f"the second {inner_b} rows"
        )
    batch_a, batch_b = shape_a[:-2], shape_b[:-2]
    for n, m in zip(reversed(batch_a), reversed(batch_b)):
        if n != m and n != 1 and m != 1:
            raise OpError(
                f"matmul: batch dimensions of shapes {shape_a} and {shape_b} cannot be broadcast"
            )


def matmul(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The matrix product ``input @ other`` with PyTorch's 1-D, 2-D and batched semantics.

    ```pycon
    >>> import chainrule as cr
    >>> cr.matmul(cr.ones(5, 2, 3), cr.ones(3, 4)).shape
    chainrule.Size([5, 2, 4])
    >>> cr.matmul(cr.tensor([[1.0, 2.0]]), cr.tensor([3.0, 4.0])).tolist()
    [11.0]

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        _check_tensors("matmul", ("input", input), ("other", other))
    return MatMul.apply(input, other)


def _check_tensors(op: str, *arguments: tuple[str, Any]) -> None:
    """Refuse a NumPy array, a number or anything else but a tensor, as PyTorch does."""
    for name, value in arguments:
        if not isinstance(value, Tensor):
            raise not_a_tensor(op, name, value)


def mm(input: Tensor, mat2: Tensor) -> Tensor:  # noqa: A002
    """Matrix times matrix (both 2-D).

    ```pycon
    >>> import chainrule as cr
    >>> cr.mm(cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0], [4.0]])).tolist()
    [[11.0]]

    ```
    """
    if type(input) is not Tensor or type(mat2) is not Tensor:
        _check_tensors("mm", ("input", input), ("mat2", mat2))
    if input.ndim != 2 or mat2.ndim != 2:
        raise OpError(f"mm: expects two matrices, got shapes {input.shape} and {mat2.shape}")
    return MatMul.apply(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The inner product of two vectors.

    ```pycon
    >>> import chainrule as cr
    >>> cr.dot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])).item()
    11.0

    ```
    """
    if type(input) is not Tensor or type(other) is not Tensor:
        _check_tensors("dot", ("input", input), ("tensor", other))
    if input.ndim != 1 or other.ndim != 1:
        raise OpError(f"dot: expects two vectors, got shapes {input.shape} and {other.shape}")
    return MatMul.apply(input, other)


class Linear(Function):
    """∂C/∂x = ∂C/∂y · W, ∂C/∂W = (∂C/∂y)ᵀ · x, ∂C/∂b = Σ_batch ∂C/∂y  (for y = x Wᵀ + b)

    One fused operation for a layer, rather than a transpose, a product and an addition:
    a third of the graph nodes, and the bias added in place.
    """

    argument_names = ("input", "weight", "bias")

    def forward(self, x: Any, weight: Any, bias: Any = None) -> Any:
        if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
            raise OpError(
                f"linear: input of shape {x.shape} does not fit a weight of shape "
                f"{weight.shape}: the input's last dimension must be {weight.shape[-1]}"
            )
        if bias is not None and bias.shape != (weight.shape[0],):
            raise OpError(
                f"linear: bias of shape {bias.shape} does not fit a weight of shape "
                f"{weight.shape}: it must be ({weight.shape[0]},)"
            )
        if x.dtype is not weight.dtype:
            x, weight = dtypes.promote(x, weight)
        # dot, not @, for the 2-D case: the same BLAS call, a third less overhead on the tiny
        # matrices where per-call cost decides the step time. Leading axes are flattened into
        # rows: one product, where matmul of (B, T, in) runs one per sample (0.60 against
        # 0.23 ms for 32 × 50 rows of 128 in and out).
        if x.ndim == 2:
            out = blas_layout.transposed_product(x, weight)
        elif x.ndim > 2:
            rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
            out = blas_threads.dot(rows, weight.T).reshape(*x.shape[:-1], weight.shape[0])
        else:
            out = x @ weight.T
        if out.dtype is not x.dtype and out.dtype != x.dtype:  # bfloat16 under matmul
            out = out.astype(x.dtype)
        if bias is not None:
            out += bias
        needs = self.needs_input_grad
        # Each factor is kept only for the other's gradient (see MatMul).
        if needs:
            self.saved = (x if needs[1] else None, weight if needs[0] else None)
        return out

    def backward(self, grad: Any) -> tuple:
        x, weight = self.saved
        need_x, need_w, need_b = self.needs_input_grad
        dot = blas_threads.dot
        if grad.ndim != 2:  # (B, T, out): every leading position is a sample
            samples = math.prod(grad.shape[:-1])  # not -1: a size-0 axis leaves it undefined
            lead = grad.shape[:-1]
            grad = grad.reshape(samples, grad.shape[-1])
            grad_x = dot(grad, weight).reshape(*lead, weight.shape[1]) if need_x else None
            if need_w:
                x = x.reshape(samples, x.shape[-1])
        else:
            grad_x = dot(grad, weight) if need_x else None
        grad_w = dot(grad.T, x) if need_w else None
        grad_b = sum_rows(grad) if need_b else None
        return grad_x, grad_w, grad_b
