"""The pseudo-inverse and what is read from the singular values: ``linalg.pinv``,
``linalg.lstsq``, ``linalg.matrix_rank`` and ``linalg.cond``.

The pseudo-inverse X = A⁺ has a derivative of its own (Golub and Pereyra, 1973), exact where
the rank does not change near A (no singular value cut by the tolerance unless it is 0):

    ∂C/∂A = −Xᵀ·Ḡ·Xᵀ + (I − A·X)·Ḡᵀ·X·Xᵀ + Xᵀ·X·Ḡᵀ·(I − X·A)     (Ḡ = ∂C/∂X)

which, unlike the SVD's, is defined where singular values repeat. It is written with
products only, so a recorded backward differentiates again. lstsq's solution is A⁺·B (the
minimum-norm least-squares solution, as LAPACK's gelsy gives for PyTorch's CPU default);
cond composes svdvals, matrix norms and the inverse.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.determinants import inv_ex
from chainrule.ops.elementwise import where
from chainrule.ops.linalg import matmul
from chainrule.ops.linalg_checks import check_matrix, t
from chainrule.ops.movement import squeeze, unsqueeze
from chainrule.ops.reduce import sum as sum_
from chainrule.ops.vector_norm import matrix_norm, svdvals
from chainrule.tensor import Tensor

lstsq_result = namedtuple("lstsq_result", ["solution", "residuals", "rank", "singular_values"])


def _tolerance(value: Any) -> Any:
    """A tolerance as a number or an array (a tensor's values: no gradient flows to it)."""
    if value is None:
        return None
    return value.array if isinstance(value, Tensor) else float(value)


def _cutoff(sizes: Any, largest: Any, atol: Any, rtol: Any, shape: tuple) -> Any:
    """max(atol, rtol·σ₁) per matrix, keeping a trailing axis to compare with ``sizes``, with
    PyTorch's defaults: rtol = ε·max(m, n) when neither is given, 0 when only atol is."""
    xp = backend.xp
    if rtol is None:
        given = atol is not None and bool(xp.any(xp.asarray(atol) > 0))
        rtol = 0.0 if given else float(numpy.finfo(sizes.dtype).eps) * max(shape[-2:])
    atol = 0.0 if atol is None else atol
    return xp.maximum(xp.asarray(atol, dtype=sizes.dtype), rtol * largest)[..., None]


def _spectrum(a: Any, hermitian: bool) -> Any:
    """The singular values of each matrix (|eigenvalues| of a symmetric one, lower triangle)."""
    xp = backend.xp
    if hermitian:
        return xp.abs(xp.linalg.eigvalsh(a))
    return xp.linalg.svd(a, compute_uv=False)


class PseudoInverse(Function):
    """X = A⁺: ∂C/∂A = −XᵀḠXᵀ + (I − AX)ḠᵀXXᵀ + XᵀXḠᵀ(I − XA), Ḡ = ∂C/∂X (for a locally
    constant rank)"""

    def forward(self, a: Any, atol: Any, rtol: Any, hermitian: bool) -> Any:
        xp = backend.xp
        if a.size == 0:
            out = xp.zeros(a.shape[:-2] + (a.shape[-1], a.shape[-2]), dtype=a.dtype)
        elif hermitian:
            values, vectors = xp.linalg.eigh(a)
            sizes = xp.abs(values)
            keep = sizes > _cutoff(sizes, sizes.max(-1), atol, rtol, a.shape)
            inverse = xp.where(keep, 1 / xp.where(keep, values, 1), 0)
            out = (vectors * inverse[..., None, :]) @ t(vectors)
        else:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            keep = s > _cutoff(s, s[..., 0], atol, rtol, a.shape)
            inverse = xp.where(keep, 1 / xp.where(keep, s, 1), 0)
            out = t(vh) @ (inverse[..., :, None] * t(u))
        self.saved = (a, out)
        return out

    def backward(self, grad: Any) -> tuple:
        a, x = self.saved
        xp = backend.xp
        rows, cols = a.shape[-2:]
        gt, xt = t(grad), t(x)
        left = xp.eye(rows, dtype=a.dtype) - a @ x
        right = xp.eye(cols, dtype=a.dtype) - x @ a
        return (-(xt @ grad @ xt) + left @ (gt @ (x @ xt)) + (xt @ x) @ gt @ right,)


def pinv(
    A: Tensor,  # noqa: N803 - PyTorch's name
    rcond: Any = None,
    hermitian: bool = False,
    *,
    atol: Any = None,
    rtol: Any = None,
) -> Tensor:
    """The Moore-Penrose pseudo-inverse (*, n, m) of each matrix (*, m, n):
    ``torch.linalg.pinv``. Singular values below max(atol, rtol·σ₁) count as 0; by default
    rtol = ε·max(m, n) (0 when only atol is given). ``rcond`` is the older name of rtol.
    ``hermitian=True`` reads only the lower triangle of a symmetric A and uses its
    eigenvalues.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.pinv(cr.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.5, 0.0]]

    ```
    """
    op = "linalg.pinv"
    check_matrix(A, op, square=hermitian)
    if rcond is not None:
        if rtol is not None:
            raise OpError(f"{op}: rcond and rtol are the same tolerance: give one of them")
        rtol = rcond
    return PseudoInverse.apply(
        A, atol=_tolerance(atol), rtol=_tolerance(rtol), hermitian=bool(hermitian)
    )


class MatrixRank(Function):
    """The number of singular values above the tolerance (an integer: no derivative)."""

    def forward(self, a: Any, atol: Any, rtol: Any, hermitian: bool) -> Any:
        xp = backend.xp
        if a.size == 0:
            return xp.zeros(a.shape[:-2], dtype=xp.int64)
        sizes = _spectrum(a, hermitian)
        cutoff = _cutoff(sizes, sizes.max(-1), atol, rtol, a.shape)
        return (sizes > cutoff).sum(-1).astype(xp.int64)


def matrix_rank(
    A: Tensor,  # noqa: N803 - PyTorch's name
    tol: Any = None,
    hermitian: bool = False,
    *,
    atol: Any = None,
    rtol: Any = None,
) -> Tensor:
    """The numerical rank of each matrix (*, m, n), int64 of shape (*): the singular values
    above max(atol, rtol·σ₁), with :func:`pinv`'s defaults: ``torch.linalg.matrix_rank``.
    ``tol`` is the older name of atol.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.matrix_rank(cr.tensor([[1.0, 2.0], [2.0, 4.0]])).item()
    1

    ```
    """
    check_matrix(A, "linalg.matrix_rank", square=hermitian)
    if tol is not None:
        atol = tol
    return MatrixRank.apply(
        A.detach(), atol=_tolerance(atol), rtol=_tolerance(rtol), hermitian=bool(hermitian)
    )


_DRIVERS = ("gelsy", "gelsd", "gelss", "gels")


def lstsq(
    A: Tensor,  # noqa: N803 - PyTorch's names
    B: Tensor,  # noqa: N803
    rcond: float | None = None,
    *,
    driver: str | None = None,
) -> lstsq_result:
    """The least-squares solution X of AX ≈ B, the one of least norm where A has not full
    rank: ``torch.linalg.lstsq``, a named tuple ``(solution, residuals, rank,
    singular_values)`` as PyTorch's CPU drivers fill it. A is (*, m, n) and B (*, m, k) or
    (m,); singular values below rcond·σ₁ (rcond = ε·max(m, n) by default) count as 0. With
    the default driver 'gelsy', residuals and singular_values are empty and rank is given;
    'gelsd' and 'gelss' give all three, 'gels' the residuals only; the residuals (‖AX − B‖²
    per column) only where m > n and every A has full rank. The solution is computed as
    A⁺·B, and its derivative is that of :func:`pinv` and the product.

    ```pycon
    >>> import chainrule as cr
    >>> A = cr.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> X = cr.linalg.lstsq(A, cr.tensor([[1.0], [1.0], [3.0]])).solution
    >>> [round(x, 4) for x in X.flatten().tolist()]
    [1.3333, 1.3333]

    ```
    """
    op = "linalg.lstsq"
    check_matrix(A, op, square=False)
    if not isinstance(B, Tensor):
        raise not_a_tensor(op, "B", B)
    if A.dtype != B.dtype:
        raise TypeError(
            f"{op}: Expected A and B to have the same dtype, got {A.dtype} and {B.dtype}"
        )
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise OpError(
            f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss), got {driver}"
        )
    vector = B.ndim == 1
    rhs = unsqueeze(B, -1) if vector else B
    m, n = A.shape[-2:]
    if rhs.shape[-2] != m:
        raise OpError(
            f"{op}: input.size(-2) should match other.size(-2), got A of shape "
            f"{tuple(A.shape)} and B of shape {tuple(B.shape)}"
        )
    rtol = float(numpy.finfo(A.dtype).eps) * max(m, n) if rcond is None or rcond < 0 else rcond
    solution = matmul(PseudoInverse.apply(A, atol=None, rtol=rtol, hermitian=False), rhs)
    rank = MatrixRank.apply(A.detach(), atol=None, rtol=rtol, hermitian=False)
    residuals = _empty(A.dtype, A)
    if driver != "gelsy" and m > n and bool((rank.array == n).all()):
        residuals = sum_((matmul(A, solution) - rhs) ** 2, -2)
        if vector:
            residuals = squeeze(residuals, -1)
    if vector:
        solution = squeeze(solution, -1)
    if driver == "gels":
        rank = _empty(numpy.dtype("int64"), A)
    values = svdvals(A).detach() if driver in ("gelsd", "gelss") else _empty(A.dtype, A)
    return lstsq_result(solution, residuals, rank, values)


def _empty(dtype: Any, like: Tensor) -> Tensor:
    """PyTorch's empty result (0,) for a part that the driver did not compute."""
    return Tensor._make(backend.module_of(like.array).zeros((0,), dtype=dtype), False, None)


def cond(A: Tensor, p: Any = None) -> Tensor:  # noqa: N803 - PyTorch's name
    """The condition number of each matrix (*, m, n) in the matrix norm ``p``:
    ``torch.linalg.cond``. None or 2: σ₁/σₖ (any shape), −2: σₖ/σ₁; 'fro', 'nuc', ±1, ±∞:
    ‖A‖·‖A⁻¹‖ (square matrices; inf for a singular one).

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.cond(cr.tensor([[2.0, 0.0], [0.0, 0.5]])).item()
    4.0

    ```
    """
    op = "linalg.cond"
    if p is None or p in (2, -2):
        check_matrix(A, op, square=False)
        values = svdvals(A)
        largest, smallest = values[..., 0], values[..., -1]
        return smallest / largest if p == -2 else largest / smallest
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise OpError(f"{op}: got an invalid norm type {p!r}")
    check_matrix(A, f"{op}(ord={p})")
    inverse, info = inv_ex(A)
    singular = Tensor._make(info.array != 0, False, None)
    # The inverse of a singular matrix is NaN: its condition number is inf, as in PyTorch.
    safe = where(unsqueeze(unsqueeze(singular, -1), -1), 0.0, inverse)
    value = matrix_norm(A, p) * matrix_norm(safe, p)
    return where(singular, math.inf, value)
