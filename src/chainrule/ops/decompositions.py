"""Spectral and orthogonal factorisations of real matrices: ``linalg.eigh``, ``eigvalsh``,
``svd`` and ``qr``.

Each operation returns its factors packed in one array (:func:`~chainrule.ops.linalg_checks.
pack`), which the public function slices into PyTorch's named tuple: the backward receives the
gradients of all factors at once, zeros for the factors that were not used. A factor whose
gradient is all zeros is then left out of the formula, as PyTorch leaves out an undefined
gradient: the eigenvalues alone, or the singular values alone, stay differentiable where
they repeat.

The derivatives (Aᵀ below is the transpose of each matrix of a batch; ∘ the element-wise
product):

- eigh, A = V·diag(λ)·Vᵀ: ∂C/∂A = V·(diag(∂C/∂λ) + skew(Vᵀ·∂C/∂V)/E)·Vᵀ, E_ij = λ_j − λ_i
  (1 on the diagonal) and skew(X) = ½(X − Xᵀ): symmetric, as PyTorch gives it. Repeated
  eigenvalues make E zero off the diagonal: where the loss depends on the eigenvectors the
  gradient is then inf or NaN, as in PyTorch (the eigenvectors are not unique there).
- svd, A = U·diag(σ)·Vᵀ (k = min(m, n) singular values): ∂C/∂A = U·[diag(∂C/∂σ) +
  ((Uᵀ·Ū − Ūᵀ·U)·diag(σ) + diag(σ)·(Vᵀ·V̄ − V̄ᵀ·V))/E]·Vᵀ + (I − U·Uᵀ)·Ū·diag(σ)⁻¹·Vᵀ
  + U·diag(σ)⁻¹·V̄ᵀ·(I − V·Vᵀ), with Ū, V̄ the gradients of U and V, E_ij = σ_j² − σ_i²
  (1 on the diagonal). Repeated singular values (or a zero one, with m ≠ n) give inf or NaN
  where the loss depends on U or V, as in PyTorch. Only real matrices are handled, so there
  is no phase to check: the sign of each pair (uᵢ, vᵢ) is arbitrary, and a loss that
  depends on it has a gradient that depends on LAPACK's choice, as in PyTorch. With
  ``full_matrices=True`` the columns of U (rows of Vᵀ) beyond the k-th are not unique and get
  no gradient (PyTorch ignores theirs too).
- qr, A = Q·R (reduced, m ≥ n): ∂C/∂A = (Q̄ + Q·copyltu(M))·R⁻ᵀ with M = R·R̄ᵀ − Q̄ᵀ·Q and
  copyltu(M) = tril(M) + tril(M, −1)ᵀ; for m < n, A = [X | Y] with X square, the same for X
  with Q̄ + Y·R̄_Yᵀ, and ∂C/∂Y = Q·R̄_Y. Not differentiable in mode 'r' (no Q) nor in mode
  'complete' with m > n, with PyTorch's errors.

Each backward is written with array operations and triangular solves, so that with
``create_graph=True`` it is recorded and differentiated again.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, OpError
from chainrule.ops.linalg_checks import check_matrix, pack, t, unpack
from chainrule.ops.triangular import SolveTriangular, solve_arrays
from chainrule.tensor import Tensor

eigh_result = namedtuple("eigh_result", ["eigenvalues", "eigenvectors"])
svd_result = namedtuple("svd_result", ["U", "S", "Vh"])
qr_result = namedtuple("qr_result", ["Q", "R"])


def _used(grad: Any) -> bool:
    """Whether a factor's gradient has any nonzero entry (a factor left unused has zeros)."""
    values = grad.array if isinstance(grad, Tensor) else grad
    return bool(backend.module_of(values).any(values != 0))


def _diagonal_matrix(values: Any) -> Any:
    """diag(v) for each vector of a batch (an array, or a tensor in a recorded backward)."""
    return values[..., :, None] * backend.xp.eye(values.shape[-1], dtype=values.dtype)


def _off_gaps(values: Any) -> Any:
    """E_ij = v_j − v_i, with 1 on the diagonal (where the numerators are 0)."""
    xp = backend.xp
    gaps = values[..., None, :] - values[..., :, None]
    return xp.where(xp.eye(values.shape[-1], dtype=bool), 1, gaps)


def _solve_right_transposed(r: Any, b: Any) -> Any:
    """B·R⁻ᵀ for an upper triangular R: the solve of X·Rᵀ = B, Rᵀ lower triangular."""
    if isinstance(b, Tensor) or isinstance(r, Tensor):
        return SolveTriangular.apply(t(r), b, upper=False, left=False, unit=False)
    return solve_arrays(t(r), b, False, False, False)


# ---- eigh ---------------------------------------------------------------------------------------


class Eigh(Function):
    """A = V·diag(λ)·Vᵀ: ∂C/∂A = V·(diag(∂C/∂λ) + skew(Vᵀ·∂C/∂V)/E)·Vᵀ, E_ij = λ_j − λ_i
    (the eigenvector term left out where ∂C/∂V is zero)"""

    def forward(self, a: Any, lower: bool) -> Any:
        # The upper triangle of A is the lower one of Aᵀ, which NumPy reads.
        values, vectors = backend.xp.linalg.eigh(a if lower else t(a))
        self.shapes = [values.shape, vectors.shape]
        out = pack([values, vectors], a.shape[:-2])
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        values, vectors = unpack(out, self.shapes)
        grad_values, grad_vectors = unpack(grad, self.shapes)
        inner = _diagonal_matrix(grad_values)
        if _used(grad_vectors):
            x = t(vectors) @ grad_vectors
            inner = inner + 0.5 * (x - t(x)) / _off_gaps(values)
        return (vectors @ inner @ t(vectors),)


def eigh(A: Tensor, UPLO: str = "L") -> eigh_result:  # noqa: N803 - PyTorch's names
    """The eigenvalues (ascending, shape (*, n)) and orthonormal eigenvectors (the columns of
    a (*, n, n) tensor) of a symmetric matrix, of which only the lower triangle (``UPLO='U'``:
    the upper) is read: ``torch.linalg.eigh``. Each eigenvector's sign is LAPACK's choice.

    ```pycon
    >>> import chainrule as cr
    >>> values, vectors = cr.linalg.eigh(cr.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> values.tolist(), (vectors.abs() * 2**0.5).round().tolist()
    ([1.0, 3.0], [[1.0, 1.0], [1.0, 1.0]])

    ```
    """
    op = "linalg.eigh"
    check_matrix(A, op)
    if UPLO not in ("L", "U"):
        raise OpError(f"{op}: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    out = Eigh.apply(A, lower=UPLO == "L")
    n = A.shape[-1]
    batch = tuple(A.shape[:-2])
    values, vectors = unpack(out, [(*batch, n), (*batch, n, n)])
    return eigh_result(values, vectors)


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803 - PyTorch's names
    """The eigenvalues of a symmetric matrix, ascending (shape (*, n)), as :func:`eigh` gives
    them: ``torch.linalg.eigvalsh``. ∂C/∂A = V·diag(∂C/∂λ)·Vᵀ, defined for repeated
    eigenvalues too.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.eigvalsh(cr.tensor([[2.0, 1.0], [1.0, 2.0]])).tolist()
    [1.0, 3.0]

    ```
    """
    check_matrix(A, "linalg.eigvalsh")
    return eigh(A, UPLO).eigenvalues


# ---- svd ----------------------------------------------------------------------------------------


class SVD(Function):
    """A = U·diag(σ)·Vᵀ: ∂C/∂A = U·[diag(∂C/∂σ) + (skew_U·diag(σ) + diag(σ)·skew_V)/E]·Vᵀ
    + (I − UUᵀ)·Ū·diag(σ)⁻¹·Vᵀ + U·diag(σ)⁻¹·V̄ᵀ·(I − VVᵀ), skew_U = UᵀŪ − ŪᵀU, skew_V =
    VᵀV̄ − V̄ᵀV, E_ij = σ_j² − σ_i² (the terms of an unused U or V left out)"""

    def forward(self, a: Any, full: bool) -> Any:
        u, s, vh = backend.xp.linalg.svd(a, full_matrices=full)
        self.shapes = [u.shape, s.shape, vh.shape]
        out = pack([u, s, vh], a.shape[:-2])
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        u, s, vh = unpack(out, self.shapes)
        grad_u, grad_s, grad_vh = unpack(grad, self.shapes)
        k = s.shape[-1]
        # Past the k-th, the columns of a full U (rows of Vᵀ) are any basis of the rest.
        u, grad_u = u[..., :, :k], grad_u[..., :, :k]
        vh, grad_vh = vh[..., :k, :], grad_vh[..., :k, :]
        use_u, use_v = _used(grad_u), _used(grad_vh)
        inner = _diagonal_matrix(grad_s)
        if not use_u and not use_v:  # singular values alone: U·diag(∂C/∂σ)·Vᵀ
            return (u @ inner @ vh,)
        gaps = _off_gaps(s * s)
        if use_u:
            x = t(u) @ grad_u
            inner = inner + (x - t(x)) * s[..., None, :] / gaps
        if use_v:
            y = vh @ t(grad_vh)
            inner = inner + s[..., :, None] * (y - t(y)) / gaps
        grad_a = u @ inner @ vh
        m, n = u.shape[-2], vh.shape[-1]
        if use_u and m > k:  # the part of Ū outside the span of U
            scaled = grad_u / s[..., None, :]
            grad_a = grad_a + (scaled - u @ (t(u) @ scaled)) @ vh
        if use_v and n > k:  # the part of V̄ outside the span of V
            scaled = grad_vh / s[..., :, None]
            grad_a = grad_a + u @ (scaled - (scaled @ t(vh)) @ vh)
        return (grad_a,)


def svd(A: Tensor, full_matrices: bool = True) -> svd_result:  # noqa: N803 - PyTorch's name
    """The singular value decomposition A = U·diag(S)·Vh of each matrix (*, m, n):
    ``torch.linalg.svd``. S (*, k), k = min(m, n), descending; U is (*, m, m) and Vh (*, n, n)
    (``full_matrices=True``, the default) or (*, m, k) and (*, k, n). The sign of each pair
    of singular vectors is LAPACK's choice; see the module's notes on the derivative.

    ```pycon
    >>> import chainrule as cr
    >>> U, S, Vh = cr.linalg.svd(cr.tensor([[3.0, 0.0], [0.0, -4.0], [0.0, 0.0]]), False)
    >>> S.tolist(), (U @ cr.diag(S) @ Vh).tolist()
    ([4.0, 3.0], [[3.0, 0.0], [0.0, -4.0], [0.0, 0.0]])

    ```
    """
    check_matrix(A, "linalg.svd", square=False)
    m, n = A.shape[-2:]
    k = min(m, n)
    batch = tuple(A.shape[:-2])
    out = SVD.apply(A, full=bool(full_matrices))
    cols, rows = (m, n) if full_matrices else (k, k)
    u, s, vh = unpack(out, [(*batch, m, cols), (*batch, k), (*batch, rows, n)])
    return svd_result(u, s, vh)


# ---- qr -----------------------------------------------------------------------------------------


class QR(Function):
    """A = Q·R: ∂C/∂A = (Q̄ + Q·copyltu(M))·R⁻ᵀ, M = R·R̄ᵀ − Q̄ᵀ·Q (m ≥ n); for m < n and
    A = [X | Y]: that for X with Q̄ + Y·R̄_Yᵀ, and ∂C/∂Y = Q·R̄_Y"""

    def forward(self, a: Any, mode: str) -> Any:
        xp = backend.xp
        if mode == "r":
            r = xp.linalg.qr(a, mode="r")
            q = xp.zeros(a.shape[:-2] + (0, 0), dtype=a.dtype)
        else:
            q, r = xp.linalg.qr(a, mode=mode)
        self.mode, self.shapes = mode, [q.shape, r.shape]
        out = pack([q, r], a.shape[:-2])
        self.saved = (a, out)
        return out

    def backward(self, grad: Any) -> tuple:
        a, out = self.saved
        m, n = a.shape[-2:]
        if self.mode == "r":
            raise RuntimeError(
                "The derivative of linalg.qr depends on Q, which is not computed when "
                "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going to "
                "differentiate through linalg.qr."
            )
        if self.mode == "complete" and m > n:
            raise RuntimeError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        q, r = unpack(out, self.shapes)
        grad_q, grad_r = unpack(grad, self.shapes)
        if m >= n:
            return (_qr_square_grad(q, r, grad_q, grad_r),)
        xp = backend.xp
        rest, grad_rest = a[..., :, m:], grad_r[..., :, m:]
        grad_q = grad_q + rest @ t(grad_rest)
        grad_x = _qr_square_grad(q, r[..., :, :m], grad_q, grad_r[..., :, :m])
        return (xp.concatenate([grad_x, q @ grad_rest], axis=-1),)


def _qr_square_grad(q: Any, r: Any, grad_q: Any, grad_r: Any) -> Any:
    """(Q̄ + Q·copyltu(R·R̄ᵀ − Q̄ᵀ·Q))·R⁻ᵀ for A = Q·R with R square."""
    xp = backend.xp
    m = r @ t(grad_r) - t(grad_q) @ q
    copied = xp.tril(m) + t(xp.tril(m, -1))
    return _solve_right_transposed(r, grad_q + q @ copied)


def qr(A: Tensor, mode: str = "reduced") -> qr_result:  # noqa: N803 - PyTorch's name
    """The QR decomposition A = Q·R of each matrix (*, m, n), Q with orthonormal columns and
    R upper triangular: ``torch.linalg.qr``. ``mode='reduced'``: Q (*, m, k), R (*, k, n) for
    k = min(m, n); 'complete': Q (*, m, m), R (*, m, n); 'r': R only (Q empty). The signs of
    R's diagonal are LAPACK's (Householder) choice, as PyTorch's.

    ```pycon
    >>> import chainrule as cr
    >>> Q, R = cr.linalg.qr(cr.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> [round(x, 4) for x in (Q @ R).flatten().tolist()]
    [3.0, 1.0, 4.0, 2.0]
    >>> [round(x, 4) for x in R.abs().flatten().tolist()]
    [5.0, 2.2, 0.0, 0.4]

    ```
    """
    op = "linalg.qr"
    check_matrix(A, op, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise OpError(
            f"{op}: qr received unrecognized mode '{mode}' but expected one of 'reduced' "
            "(default), 'r', or 'complete'"
        )
    m, n = A.shape[-2:]
    k = min(m, n)
    batch = tuple(A.shape[:-2])
    out = QR.apply(A, mode=mode)
    rows = m if mode == "complete" else k
    if mode == "r":
        shapes = [(*batch, 0, 0), (*batch, k, n)]
    else:
        shapes = [(*batch, m, rows), (*batch, rows, n)]
    q, r = unpack(out, shapes)
    if mode == "r":
        q = q.reshape(0)  # PyTorch's empty Q
    return qr_result(q, r)
