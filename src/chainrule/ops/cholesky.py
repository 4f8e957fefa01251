"""The Cholesky factorisation A = L·Lᵀ of symmetric positive-definite matrices:
``linalg.cholesky`` and ``linalg.cholesky_ex``.

Only the lower triangle of A is read (the upper one with ``upper=True``, which returns
U = Lᵀ). The derivative is the textbook one (Murray, 2016), given as a symmetric matrix as
PyTorch gives it: for M = Lᵀ·∂C/∂L and Φ(M) its lower triangle with the diagonal halved,

    ∂C/∂A = L⁻ᵀ · ½(Φ(M) + Φ(M)ᵀ) · L⁻¹

the two triangular solves done by :class:`~chainrule.ops.triangular.SolveTriangular`, so that
a backward recorded with ``create_graph=True`` has a derivative of its own.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.ops.linalg_checks import LinAlgError, batch_element, check_matrix, t
from chainrule.ops.triangular import SolveTriangular, solve_arrays
from chainrule.tensor import Tensor

cholesky_ex_result = namedtuple("cholesky_ex_result", ["L", "info"])


def failing_order(a: Any) -> int:
    """The order of the first leading minor of the symmetric matrix ``a`` (lower triangle
    read) that is not positive-definite, 0 where there is none: what LAPACK's ``info`` says.
    A binary search over the minors, each tried with a Cholesky factorisation (every minor
    of a positive-definite minor is positive-definite): only run once a factorisation failed."""
    xp = backend.xp
    good, bad = 0, a.shape[-1] + 1  # minors up to `good` succeed; `bad` fails (n+1: none seen)
    while bad - good > 1:
        k = (good + bad) // 2
        minor = a[:k, :k]
        try:
            factor = xp.linalg.cholesky(minor)
            ok = bool(xp.isfinite(factor).all())
        except xp.linalg.LinAlgError:
            ok = False
        good, bad = (k, bad) if ok else (good, k)
    return 0 if bad == a.shape[-1] + 1 else bad


def factor(a: Any, upper: bool) -> tuple[Any, Any]:
    """L (or U = Lᵀ where ``upper``) of each matrix of ``a``, and LAPACK's ``info`` for each
    (int32, 0 where the factorisation succeeded). A failed matrix's factor is NaN."""
    xp = backend.xp
    source = t(a) if upper else a  # the upper triangle of A is the lower one of Aᵀ
    batch = a.shape[:-2]
    info = xp.zeros(batch, dtype=xp.int32)
    try:
        lower = xp.linalg.cholesky(source)
        if bool(xp.isfinite(lower).all()) or not bool(xp.isfinite(source).all()):
            return (t(lower) if upper else lower), info
    except xp.linalg.LinAlgError:
        pass
    # Some matrix failed: one at a time, to tell which and at which minor.
    flat = source.reshape((-1,) + a.shape[-2:])
    lower = xp.full(flat.shape, xp.nan, dtype=a.dtype)
    orders = info.reshape(-1)
    for i in range(flat.shape[0]):
        order = failing_order(flat[i])
        if order:
            orders[i] = order
        else:
            lower[i] = xp.linalg.cholesky(flat[i])
    lower = lower.reshape(a.shape)
    return (t(lower) if upper else lower), info


def not_positive_definite(op: str, info: Any) -> LinAlgError:
    """PyTorch's error for the first matrix of a batch whose factorisation failed."""
    xp = backend.xp
    failed = xp.flatnonzero(info.reshape(-1))
    index = int(failed[0])
    order = int(info.reshape(-1)[index])
    return LinAlgError(
        f"{op}: {batch_element(index, info.shape)}The factorization could not be completed "
        f"because the input is not positive-definite (the leading minor of order {order} is "
        "not positive-definite)."
    )


class Cholesky(Function):
    """A = L·Lᵀ: ∂C/∂A = L⁻ᵀ·½(Φ(M) + Φ(M)ᵀ)·L⁻¹ for M = Lᵀ·∂C/∂L, Φ(M) = tril(M) with its
    diagonal halved (with ``upper``, U = Lᵀ and ∂C/∂L = (∂C/∂U)ᵀ)"""

    def forward(self, a: Any, upper: bool, check: bool) -> Any:
        out, info = factor(a, upper)
        if check and bool(info.any()):
            raise not_positive_definite("linalg.cholesky", info)
        self.upper = upper
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        xp = backend.xp
        lower, grad_lower = (t(out), t(grad)) if self.upper else (out, grad)
        m = xp.tril(t(lower) @ grad_lower)
        # ½(Φ(M) + Φ(M)ᵀ): the strict lower triangle and its mirror halved, the diagonal halved.
        middle = 0.5 * (m + t(xp.tril(m, -1)))
        if isinstance(grad, Tensor):
            left = SolveTriangular.apply(t(lower), middle, upper=True, left=True, unit=False)
            return (SolveTriangular.apply(lower, left, upper=False, left=False, unit=False),)
        left = solve_arrays(t(lower), middle, True, True, False)
        return (solve_arrays(lower, left, False, False, False),)


class CholeskyInfo(Function):
    """LAPACK's ``info`` of each factorisation (an integer: no derivative), looked for only
    where the factor holds a NaN."""

    def forward(self, a: Any, out: Any, upper: bool) -> Any:
        xp = backend.xp
        if bool(xp.isfinite(out).all()):
            return xp.zeros(a.shape[:-2], dtype=xp.int32)
        return factor(a, upper)[1]


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803 - PyTorch's name
    """The Cholesky factor of a symmetric positive-definite matrix (each of a batch
    (*, n, n)): lower triangular L with A = L·Lᵀ, or U = Lᵀ with ``upper=True``.
    ``torch.linalg.cholesky``: only A's lower (upper) triangle is read; a matrix that is not
    positive-definite raises :class:`LinAlgError` naming the batch element and the order of
    the first leading minor that is not.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.cholesky(cr.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]

    ```
    """
    check_matrix(A, "linalg.cholesky")
    return Cholesky.apply(A, upper=bool(upper), check=True)


def cholesky_ex(
    A: Tensor,  # noqa: N803 - PyTorch's name
    *,
    upper: bool = False,
    check_errors: bool = False,
) -> cholesky_ex_result:
    """:func:`cholesky` without the error: ``(L, info)``, ``info`` (int32, shape (*)) 0 where
    the factorisation succeeded and else the order of the first leading minor that is not
    positive-definite. A failed matrix's L holds NaN (PyTorch leaves LAPACK's partial work
    there). ``check_errors=True`` raises as :func:`cholesky` does.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.cholesky_ex(cr.tensor([[1.0, 2.0], [2.0, 1.0]])).info
    tensor(2, dtype=chainrule.int32)

    ```
    """
    check_matrix(A, "linalg.cholesky_ex")
    out = Cholesky.apply(A, upper=bool(upper), check=bool(check_errors))
    info = CholeskyInfo.apply(A.detach(), out.detach(), upper=bool(upper))
    return cholesky_ex_result(out, info)
