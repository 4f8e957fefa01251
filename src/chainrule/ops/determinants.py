"""Determinants in log form, inverses that report instead of raising, and functions of a
square matrix: ``linalg.slogdet``, ``logdet``, ``linalg.inv_ex``, ``linalg.matrix_power``
and ``linalg.matrix_exp``.

- log|det A|: ∂C/∂A = ∂C/∂(log|det A|) · A⁻ᵀ (the sign is piecewise constant: no gradient)
- inv_ex: the inverse's derivative, −Yᵀ·∂C/∂Y·Yᵀ (:class:`~chainrule.ops.solve.Inverse`)
- matrix_power: products of A (or of A⁻¹ for a negative power), each differentiable
- exp(A): ∂C/∂A = L(Aᵀ, ∂C/∂Y), the Fréchet derivative of exp at Aᵀ in the direction of the
  gradient, read from the upper right block of exp([[Aᵀ, ∂C/∂Y], [0, Aᵀ]])
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, as_index
from chainrule.ops.elementwise import where
from chainrule.ops.linalg import matmul
from chainrule.ops.linalg_checks import LinAlgError, batch_element, check_matrix, t
from chainrule.ops.solve import Inverse, _inverse
from chainrule.tensor import Tensor

slogdet_result = namedtuple("slogdet_result", ["sign", "logabsdet"])
inv_ex_result = namedtuple("inv_ex_result", ["inverse", "info"])


class LogAbsDet(Function):
    """(sign, log|det A|) stacked in the last dimension: ∂C/∂A = ∂C/∂(log|det A|)·A⁻ᵀ (the
    sign's gradient ignored, as PyTorch ignores it)"""

    def forward(self, a: Any) -> Any:
        xp = backend.xp
        sign, logabs = xp.linalg.slogdet(a)
        self.saved = (a,)
        return xp.stack([xp.asarray(sign, dtype=a.dtype), xp.asarray(logabs, dtype=a.dtype)], -1)

    def backward(self, grad: Any) -> tuple:
        (a,) = self.saved
        # A singular A has log|det A| = −inf and no inverse: PyTorch's gradient is not finite.
        return (grad[..., 1, None, None] * t(_inverse(a)),)


def slogdet(A: Tensor) -> slogdet_result:  # noqa: N803 - PyTorch's name
    """The sign (±1, 0 for a singular matrix) and log|det A| of each square matrix (*, n, n),
    each of shape (*): ``torch.linalg.slogdet``. Stable where det A itself would overflow.

    ```pycon
    >>> import chainrule as cr
    >>> sign, logabsdet = cr.linalg.slogdet(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> sign.item(), round(logabsdet.item(), 4)
    (-1.0, 0.6931)

    ```
    """
    check_matrix(A, "linalg.slogdet")
    out = LogAbsDet.apply(A)
    return slogdet_result(out[..., 0], out[..., 1])


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det A of each square matrix (*, n, n): NaN where det A < 0, −inf where it is 0, as
    ``torch.logdet``. ∂C/∂A = ∂C/∂out · A⁻ᵀ.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.ops.determinants import logdet
    >>> round(logdet(cr.tensor([[2.0, 0.0], [0.0, 3.0]])).exp().item(), 4)
    6.0

    ```
    """
    check_matrix(input, "logdet")
    sign, logabsdet = slogdet(input)
    return where(sign.detach() < 0, math.nan, logabsdet)


# ---- inv_ex -------------------------------------------------------------------------------------


def zero_pivot(a: Any) -> int:
    """LAPACK's ``info`` for the LU factorisation (partial pivoting) of the square matrix ``a``:
    the 1-based index of the first zero pivot, 0 if none. Run only on a matrix that failed."""
    xp = backend.xp
    lu = xp.array(a, dtype=a.dtype, copy=True)
    n = lu.shape[-1]
    for j in range(n):
        pivot = j + int(xp.argmax(xp.abs(lu[j:, j])))
        if lu[pivot, j] == 0:
            return j + 1
        if pivot != j:
            lu[[j, pivot]] = lu[[pivot, j]]
        lu[j + 1 :, j] /= lu[j, j]
        lu[j + 1 :, j + 1 :] -= xp.outer(lu[j + 1 :, j], lu[j, j + 1 :])
    return 0


def invert(a: Any) -> tuple[Any, Any]:
    """The inverse of each matrix of ``a`` and LAPACK's ``info`` for each (int32, 0 where it
    exists); a singular matrix's inverse is NaN."""
    xp = backend.xp
    info = xp.zeros(a.shape[:-2], dtype=xp.int32)
    try:
        return xp.linalg.inv(a), info
    except xp.linalg.LinAlgError:
        pass
    flat = a.reshape((-1,) + a.shape[-2:])
    out = xp.full(flat.shape, xp.nan, dtype=a.dtype)
    codes = info.reshape(-1)
    for i in range(flat.shape[0]):
        try:
            out[i] = xp.linalg.inv(flat[i])
        except xp.linalg.LinAlgError:
            codes[i] = zero_pivot(flat[i]) or flat.shape[-1]
    return out.reshape(a.shape), info


class InverseEx(Inverse):
    """Y = A⁻¹ (NaN for a singular A, whose ``info`` :class:`InverseInfo` reports):
    ∂C/∂A = −Yᵀ·∂C/∂Y·Yᵀ"""

    def forward(self, a: Any) -> Any:
        out = invert(a)[0]
        self.saved = (out,)
        return out


class InverseInfo(Function):
    """LAPACK's ``info`` for the inverse of each matrix (an integer: no derivative)."""

    def forward(self, a: Any, check: bool) -> Any:
        info = invert(a)[1]
        if check and bool(info.any()):
            index = int(backend.xp.flatnonzero(info.reshape(-1))[0])
            raise LinAlgError(
                f"linalg.inv_ex: {batch_element(index, info.shape)}The diagonal element "
                f"{int(info.reshape(-1)[index])} is zero, the inversion could not be completed "
                "because the input matrix is singular."
            )
        return info


def inv_ex(A: Tensor, *, check_errors: bool = False) -> inv_ex_result:  # noqa: N803
    """The inverse of each square matrix (*, n, n) without raising for a singular one:
    ``(inverse, info)``, ``info`` (int32, shape (*)) 0 where the inverse exists and else the
    1-based index of the first zero pivot of the LU factorisation; a singular matrix's inverse
    is NaN. ``check_errors=True`` raises :class:`LinAlgError` instead.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.inv_ex(cr.tensor([[1.0, 2.0], [2.0, 4.0]])).info
    tensor(2, dtype=chainrule.int32)

    ```
    """
    check_matrix(A, "linalg.inv_ex")
    info = InverseInfo.apply(A.detach(), check=bool(check_errors))
    return inv_ex_result(InverseEx.apply(A), info)


# ---- matrix_power -------------------------------------------------------------------------------


def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803 - PyTorch's name
    """A multiplied by itself n times (each square matrix of (*, m, m)), by repeated squaring;
    n = 0 gives the identity, a negative n the power of A⁻¹: ``torch.linalg.matrix_power``.

    ```pycon
    >>> import chainrule as cr
    >>> A = cr.tensor([[1.0, 1.0], [0.0, 1.0]])
    >>> cr.linalg.matrix_power(A, 3).tolist(), cr.linalg.matrix_power(A, -1).tolist()
    ([[1.0, 3.0], [0.0, 1.0]], [[1.0, -1.0], [0.0, 1.0]])

    ```
    """
    op = "linalg.matrix_power"
    check_matrix(A, op)
    n = as_index(n, op, "n")
    if n == 0:
        # The identity, with A's shape and a graph (a zero gradient), as PyTorch's copy has.
        eye = Tensor._make(backend.xp.eye(A.shape[-1], dtype=A.dtype), False, None)
        return where(eye == eye, eye, A)
    if n < 0:
        A = Inverse.apply(A)  # noqa: N806
        n = -n
    result, square = None, A
    while True:
        if n & 1:
            result = square if result is None else matmul(result, square)
        n >>= 1
        if not n:
            return result
        square = matmul(square, square)


# ---- matrix_exp ---------------------------------------------------------------------------------

_TAYLOR_DEGREE = 18  # with ‖A/2ˢ‖₁ ≤ 1/2 the first term left out is below 1e-22 of the sum


def exponential(a: Any) -> Any:
    """exp(A) of each matrix of ``a``: scaling and squaring around a Taylor polynomial. The
    matrices are scaled by 2⁻ˢ to a 1-norm of at most 1/2 (s from the largest of the batch),
    the polynomial summed by Horner's rule, and the result squared s times."""
    xp = backend.xp
    size = float(xp.abs(a).sum(axis=-2).max()) if a.size else 0.0
    steps = max(0, math.ceil(math.log2(size / 0.5))) if math.isfinite(size) and size > 0 else 0
    scaled = a / a.dtype.type(2.0**steps)
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    out = eye + scaled / _TAYLOR_DEGREE
    for k in range(_TAYLOR_DEGREE - 1, 0, -1):
        out = eye + (scaled @ out) / a.dtype.type(k)
    for _ in range(steps):
        out = out @ out
    return out


class MatrixExp(Function):
    """Y = exp(A): ∂C/∂A = the upper right block of exp([[Aᵀ, ∂C/∂Y], [0, Aᵀ]])"""

    def forward(self, a: Any) -> Any:
        self.saved = (a,)
        return exponential(a)

    def backward(self, grad: Any) -> tuple:
        (a,) = self.saved
        xp = backend.xp
        n = a.shape[-1]
        at = t(a)
        shape = tuple(grad.shape[:-2]) + (n, n)
        zeros = xp.zeros(shape, dtype=grad.dtype)
        if at.shape != shape:
            at = xp.broadcast_to(at, shape)
        top = xp.concatenate([at, grad], axis=-1)
        bottom = xp.concatenate([zeros, at], axis=-1)
        block = xp.concatenate([top, bottom], axis=-2)
        if isinstance(block, Tensor):
            return (MatrixExp.apply(block)[..., :n, n:],)
        return (exponential(block)[..., :n, n:],)


def matrix_exp(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's name
    """The matrix exponential Σₖ Aᵏ/k! of each square matrix (*, n, n):
    ``torch.linalg.matrix_exp``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.matrix_exp(cr.tensor([[0.0, 1.0], [0.0, 0.0]])).tolist()
    [[1.0, 1.0], [0.0, 1.0]]

    ```
    """
    check_matrix(A, "linalg.matrix_exp")
    return MatrixExp.apply(A)
