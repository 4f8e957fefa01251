"""Norms: vector p-norms over any dimensions, matrix norms over two, the singular values they
use, and ``norm``, PyTorch's older entry point that picks between them.

Two primitives carry the gradients (:class:`VectorNorm` and :class:`SingularValues`); every
matrix norm composes them. The gradient of the singular values is an operation of its own
(:class:`SingularValuesGrad`) when a graph is recorded, so that it has a derivative too.

The max- and min-type norms take the ±∞-norm of non-negative values (column sums, singular
values) rather than a max: its gradient shares ties evenly, as PyTorch's ``amax`` does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, OpError
from chainrule.ops import reduce
from chainrule.ops.conversion import to
from chainrule.ops.elementwise import constant_of, sign_of
from chainrule.ops.extremes import amax, amin
from chainrule.ops.movement import normalise_axis, permute, reshape, squeeze
from chainrule.tensor import Tensor

_INF = math.inf


class VectorNorm(Function):
    """∂‖x‖ₚ/∂x = sign(x)·|x|^(p−1) / ‖x‖ₚ^(p−1)  (x/‖x‖ for p = 2), taken as 0 where ‖x‖ₚ = 0
    (p > 1) or where x = 0 (p < 1); p = 1: sign(x); p = ±∞: sign(x) shared evenly by the
    elements of largest (smallest) |x|; p = 0 counts the non-zeros and has no gradient"""

    def forward(self, x: Any, ord: float, axes: tuple[int, ...], keepdim: bool) -> Any:  # noqa: A002
        xp = backend.xp
        size = xp.abs(x)
        token = fp_errors.enter()  # |0|^p for p < 0 is inf: the norm is then 0, as in PyTorch
        try:
            if ord == 0:
                out = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
            elif ord == _INF or ord == -_INF:
                out = (size.max if ord > 0 else size.min)(axis=axes, keepdims=True)
            elif ord == 1:
                out = size.sum(axis=axes, keepdims=True)
            elif ord == 2:
                out = xp.sqrt((x * x).sum(axis=axes, keepdims=True))
            else:
                out = ((size**ord).sum(axis=axes, keepdims=True)) ** (1 / ord)
        finally:
            fp_errors.leave(token)
        self.saved = (x, out)
        self.ord, self.axes = ord, axes
        # p = 1 and ±∞: sign(x) and the place of the extreme, piecewise constant in x
        self.ties_gradients = ord in (1, _INF, -_INF)
        self.kept = out.shape  # the gradient broadcasts against x in this shape
        if keepdim:
            return out
        return out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def saved_in_graph(self, output: Tensor) -> tuple:
        # The saved norm is the output before its reduced axes were dropped.
        return (self.inputs[0], output.reshape(self.kept))

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        p, xp = self.ord, backend.xp
        if p == 0:
            return (None,)  # a count: PyTorch leaves the gradient undefined
        grad = grad.reshape(self.kept)
        # sign(x) is piecewise constant, with no derivative of its own; p = 2 does without it.
        sign = None if p == 2 else sign_of(constant_of(x))
        if p == 1:
            return (sign * grad,)
        if p == _INF or p == -_INF:
            size = xp.abs(constant_of(x))
            hits = (size == constant_of(out)) | xp.isnan(size)
            return (sign * hits * (grad / xp.add.reduce(hits, axis=self.axes, keepdims=True)),)
        token = fp_errors.enter()
        try:
            if p < 1:  # |x|^(p−1) is infinite at x = 0: those elements get 0
                slope = xp.where(constant_of(x) == 0, 0, sign * xp.abs(x) ** (p - 1))
                return (slope * grad * out ** (1 - p),)
            # The norm's own factor is 0/0 where the norm is 0 (x = 0): taken as 0. (Its
            # derivative there stays 0/0, nan, as PyTorch's.)
            zero = constant_of(out) == 0
            if p == 2 and isinstance(x, Tensor):
                # Recording a graph: x/‖x‖ first, as PyTorch does, so that the derivative is
                # the same nan at x = 0 and the same 0 (by the incoming gradient) for an empty x.
                return (grad * xp.where(zero, 0, x / out),)
            scale = xp.where(zero, 0, grad / (out if p == 2 else out ** (p - 1)))
            slope = x if p == 2 else sign * xp.abs(x) ** (p - 1)
            return (slope * scale,)
        finally:
            fp_errors.leave(token)


class SingularValues(Function):
    """∂C/∂A = U·diag(∂C/∂σ)·Vᵀ  for A = U·diag(σ)·Vᵀ (exact where the σ are distinct)"""

    def forward(self, x: Any) -> Any:
        u, s, vh = backend.xp.linalg.svd(x, full_matrices=False)
        self.saved = (u, vh)
        return s

    def saved_in_graph(self, output: Tensor) -> tuple:
        # U and V stay arrays: the recorded backward hands them, with A, to SingularValuesGrad,
        # whose own backward carries their derivatives.
        return (*self.saved, self.inputs[0], output.array)

    def backward(self, grad: Any) -> tuple:
        if isinstance(grad, Tensor):  # recording a graph: one node that knows its derivative
            u, vh, a, s = self.saved
            return (SingularValuesGrad.apply(a, grad, u=u, s=s, vh=vh),)
        u, vh = self.saved
        return (u @ (grad[..., :, None] * vh),)


class SingularValuesGrad(Function):
    """out = U·diag(g)·Vᵀ (the gradient of svdvals), as a function of A = U·diag(σ)·Vᵀ and g:
    ∂C/∂g = diag(Uᵀ·Ĉ·V) for Ĉ = ∂C/∂out, and ∂C/∂A the SVD's backward for ∂C/∂U = Ĉ·V·diag(g)
    and ∂C/∂V = Ĉᵀ·U·diag(g): U·[(P − Pᵀ)/E·Σ + Σ·(Q − Qᵀ)/E]·Vᵀ + (I − UUᵀ)·Ĉ·V·diag(g/σ)·Vᵀ
    + U·diag(g/σ)·Uᵀ·Ĉ·(I − VVᵀ), with P = Uᵀ·Ĉ·V·diag(g), Q = Vᵀ·Ĉᵀ·U·diag(g), E_jk = σ_k² − σ_j²
    (exact where the σ are distinct and nonzero)"""

    def forward(self, a: Any, g: Any, u: Any, s: Any, vh: Any) -> Any:
        # A is an input for the graph's sake: its factors come from SingularValues' forward.
        self.saved = (u, s, vh, g)
        return u @ (g[..., :, None] * vh)

    def backward(self, grad: Any) -> tuple:
        u, s, vh, g = self.saved
        xp = backend.xp
        need_a, need_g = self.needs_input_grad
        v, ut = xp.swapaxes(vh, -1, -2), xp.swapaxes(u, -1, -2)
        inner = ut @ grad @ v
        grad_g = xp.diagonal(inner, axis1=-2, axis2=-1) if need_g else None
        if not need_a:
            return (None, grad_g)
        gap = s[..., None, :] ** 2 - s[..., :, None] ** 2
        diagonal = xp.eye(s.shape[-1], dtype=bool)
        gap = xp.where(diagonal, 1, gap)  # (P − Pᵀ) is 0 there: 0/1, not 0/0
        from_u = inner * g[..., None, :]
        from_v = xp.swapaxes(inner, -1, -2) * g[..., None, :]
        middle = (from_u - xp.swapaxes(from_u, -1, -2)) / gap * s[..., None, :]
        middle = middle + s[..., :, None] * (from_v - xp.swapaxes(from_v, -1, -2)) / gap
        grad_a = u @ middle @ vh
        ratio = g / s
        rows, cols = grad.shape[-2:]
        if rows > s.shape[-1]:  # U does not span the rows: the part of Ĉ·V outside U
            cv = grad @ v
            grad_a = grad_a + ((cv - u @ (ut @ cv)) * ratio[..., None, :]) @ vh
        if cols > s.shape[-1]:  # V does not span the columns: the part of Uᵀ·Ĉ outside V
            uc = ut @ grad
            grad_a = grad_a + u @ (ratio[..., :, None] * (uc - (uc @ v) @ vh))
        return (grad_a, grad_g)


# ---- the public functions ----------------------------------------------------------------------


def _floating(x: Tensor, dtype: Any, op: str) -> Tensor:
    """``x`` checked to be floating point, and cast to ``dtype`` (never narrower) if given."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expects a floating point tensor, got dtype {x.dtype}")
    if dtype is None:
        return x
    target = dtypes.to_dtype(dtype)
    if not numpy.can_cast(x.dtype, target, "safe"):
        raise TypeError(f"{op}: cannot narrow the input's dtype {x.dtype} to dtype={target}")
    return to(x, target)


def vector_norm(
    x: Tensor,
    ord: float = 2,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The p-norm (Σ|x|ᵖ)^(1/p) over ``dim`` (all elements by default): ``ord`` 2 is the
    Euclidean length, 1 the sum of |x|, ∞ (-∞) the largest (smallest) |x|, 0 the number of
    non-zero elements; other values of p, negative ones too, follow the formula.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.vector_norm(cr.tensor([[3.0, -4.0], [0.0, 1.0]]), dim=1).tolist()
    [5.0, 1.0]

    ```
    """
    op = "linalg.vector_norm"
    if isinstance(ord, str) or not isinstance(ord, (int, float)):
        raise TypeError(f"{op}: ord must be a number, got {ord!r}")
    x = _floating(x, dtype, op)
    axes = reduce.normalise_dims(dim, x.ndim, op)
    if abs(ord) == _INF:
        for a in axes:
            if x.shape[a] == 0:
                raise OpError(
                    f"{op}: the {ord} norm of nothing is not defined: dimension {a} of shape "
                    f"{x.shape} is empty"
                )
    return VectorNorm.apply(x, ord=float(ord), axes=axes, keepdim=keepdim)


def svdvals(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's name
    """The singular values of each matrix in the last two dimensions, largest first:
    shape (*, min(m, n)) for A of shape (*, m, n).

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.svdvals(cr.tensor([[3.0, 0.0], [0.0, -4.0]])).tolist()
    [4.0, 3.0]

    ```
    """
    op = "linalg.svdvals"
    if A.ndim < 2:
        raise OpError(f"{op}: expects at least 2 dimensions, got shape {A.shape}")
    return SingularValues.apply(_floating(A, None, op))


def matrix_norm(
    A: Tensor,  # noqa: N803 - PyTorch's name
    ord: Any = "fro",  # noqa: A002
    dim: tuple[int, int] = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """A norm of each matrix held in the two dimensions ``dim``: 'fro' (√Σ a²), 'nuc' (Σ σ),
    2 and -2 (largest and smallest singular value), 1 and -1 (largest and smallest Σ|a| of a
    column), ∞ and -∞ (the same over rows).

    ```pycon
    >>> import chainrule as cr
    >>> A = cr.tensor([[3.0, 0.0], [0.0, -4.0]])
    >>> cr.linalg.matrix_norm(A).item(), cr.linalg.matrix_norm(A, ord=2).item()
    (5.0, 4.0)

    ```
    """
    op = "linalg.matrix_norm"
    if A.ndim < 2:
        raise OpError(f"{op}: expects at least 2 dimensions, got shape {A.shape}")
    if isinstance(dim, int) or len(dim) != 2:
        raise OpError(f"{op}: dim must be a pair of dimensions, got {dim}")
    rows, cols = (normalise_axis(d, A.ndim, op) for d in dim)
    if rows == cols:
        raise OpError(f"{op}: the two dims must differ, got {tuple(dim)}")
    if ord not in ("fro", "nuc", 2, -2, 1, -1, _INF, -_INF):
        raise OpError(f"{op}: ord {ord!r} is not supported ('fro', 'nuc', ±1, ±2 or ±inf)")
    A = _floating(A, dtype, op)  # noqa: N806
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    kept = [1 if d in (rows, cols) else n for d, n in enumerate(A.shape)]
    shape = kept if keepdim else [n for d, n in enumerate(A.shape) if d not in (rows, cols)]
    if ord in (1, -1, _INF, -_INF):
        inner, outer = (rows, cols) if abs(ord) == 1 else (cols, rows)
        if ord > 0 and A.shape[outer] == 0:
            return _zeros(shape, A.dtype)
        sums = vector_norm(A, 1, inner, keepdim=True)
        out = vector_norm(sums, math.copysign(_INF, ord), outer, keepdim=True)
        return out if keepdim else squeeze(out, (rows, cols))
    if ord == 2 and A.shape[rows] * A.shape[cols] == 0:
        return _zeros(shape, A.dtype)
    if ord == -2 and A.shape[rows] * A.shape[cols] == 0:
        raise OpError(
            f"{op}: the -2 norm (the smallest singular value) of nothing is not defined: the "
            f"matrices in dims {tuple(dim)} of shape {A.shape} are empty"
        )
    others = [d for d in range(A.ndim) if d not in (rows, cols)]
    sigma = svdvals(permute(A, (*others, rows, cols)))
    # amax, not the ∞-norm of σ ≥ 0: the same value, but at σ = 0 (a zero matrix) the
    # gradient reaches the singular vectors (u₁v₁ᵀ, PyTorch's subgradient), not sign(0) = 0.
    if ord == "nuc":
        out = reduce.sum(sigma, -1)
    else:
        out = (amax if ord == 2 else amin)(sigma, -1)
    return reshape(out, kept) if keepdim else out


def _zeros(shape: list[int], dtype: Any) -> Tensor:
    """The largest of no values, as PyTorch gives it for an empty matrix: 0, a constant."""
    return Tensor._make(backend.xp.zeros(shape, dtype=dtype), False, None)


def linalg_norm(
    A: Tensor,  # noqa: N803 - PyTorch's name
    ord: Any = None,  # noqa: A002
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """``linalg.norm``: a vector norm over one dimension (or over all of them when neither
    ``ord`` nor ``dim`` is given), a matrix norm over two. Without ``dim`` but with ``ord``,
    the input must be a vector or a matrix.

    ```pycon
    >>> import chainrule as cr
    >>> A = cr.tensor([[1.0, -2.0], [3.0, 0.0]])
    >>> cr.linalg.norm(cr.tensor([3.0, 4.0])).item(), cr.linalg.norm(A, ord=1).item()
    (5.0, 4.0)

    ```
    """
    op = "linalg.norm"
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None and ord is not None:
        if A.ndim not in (1, 2):
            raise OpError(
                f"{op}: without dim, an ord needs a vector or a matrix, got shape {A.shape}"
            )
        dim = tuple(range(A.ndim))
    if dim is not None and len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, tuple(dim), keepdim, dtype=dtype)
    if dim is not None and len(dim) != 1:
        raise OpError(f"{op}: dim must hold 1 or 2 dimensions, got {tuple(dim)}")
    if isinstance(ord, str):
        raise OpError(f"{op}: ord {ord!r} is a matrix norm; it needs two dims, got {dim}")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def norm(
    input: Tensor,  # noqa: A002
    p: Any = "fro",
    dim: Any = None,
    keepdim: bool = False,
    dtype: Any = None,
) -> Tensor:
    """PyTorch's ``norm``: for a number p (or None: 2) the vector p-norm over ``dim`` (all
    elements by default, whatever their number of dimensions); 'fro' the same 2-norm, over
    at most two dims; 'nuc' the matrix nuclear norm over two dims (the input's two by
    default).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[3.0, 4.0], [0.0, -1.0]])
    >>> cr.norm(x, dim=1).tolist(), cr.norm(x, p=1).item()
    ([5.0, 1.0], 8.0)

    ```
    """
    if not isinstance(p, str):
        return vector_norm(input, 2 if p is None else p, dim, keepdim, dtype=dtype)
    if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    dims = tuple(range(input.ndim)) if dim is None else dim
    return matrix_norm(input, p, dims, keepdim, dtype=dtype)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:  # noqa: A002
    """‖input − other‖ₚ over every element (the two broadcast together).

    ```pycon
    >>> import chainrule as cr
    >>> cr.dist(cr.tensor([3.0, 0.0]), cr.tensor([0.0, 4.0])).item()
    5.0

    ```
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise OpError(
            "dist: expected input and other to be tensors, got "
            f"{type(input).__name__} and {type(other).__name__}"
        )
    return vector_norm(input - other, p)
