"""The older top-level spellings of ``torch.linalg``'s factorisations, which PyTorch keeps for
old code: ``svd`` (V rather than Vᴴ, ``some`` for the reduced form), ``qr`` (``some``),
``cholesky`` and ``pinverse`` (``rcond``). Each calls the ``linalg`` form, so the gradients are
those.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

from chainrule import backend
from chainrule.ops.cholesky import cholesky as linalg_cholesky
from chainrule.ops.decompositions import qr as linalg_qr
from chainrule.ops.decompositions import svd as linalg_svd
from chainrule.ops.pseudo_inverse import pinv
from chainrule.tensor import Tensor

svd_result = namedtuple("svd", ["U", "S", "V"])
qr_result = namedtuple("qr", ["Q", "R"])


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:  # noqa: A002
    """A = U diag(S) Vᵀ, as (U, S, V): ``linalg.svd`` with V in place of Vᴴ, and the reduced
    factors unless ``some`` is False. Without ``compute_uv``, U and V are zeros (of the
    full shapes), as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> U, S, V = cr.svd(cr.tensor([[3.0, 0.0], [0.0, 2.0]]))
    >>> S.tolist()
    [3.0, 2.0]

    ```
    """
    u, s, vh = linalg_svd(input, full_matrices=not some or not compute_uv)
    if not compute_uv:
        xp = backend.xp
        zeros_u = Tensor._make(xp.zeros(tuple(u.shape), dtype=u.array.dtype), False, None)
        zeros_v = Tensor._make(xp.zeros(tuple(vh.shape), dtype=vh.array.dtype), False, None)
        return svd_result(zeros_u, s, zeros_v)
    return svd_result(u, s, vh.mT)


def qr(input: Tensor, some: bool = True) -> Any:  # noqa: A002
    """A = QR, as (Q, R): ``linalg.qr`` in its reduced form, or its complete one where ``some``
    is False.

    ```pycon
    >>> import chainrule as cr
    >>> Q, R = cr.qr(cr.tensor([[2.0, 0.0], [0.0, 3.0]]))
    >>> (Q @ R).tolist()
    [[2.0, 0.0], [0.0, 3.0]]

    ```
    """
    q, r = linalg_qr(input, "reduced" if some else "complete")
    return qr_result(q, r)


def cholesky(input: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """The Cholesky factor of a symmetric positive-definite matrix: ``linalg.cholesky``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.cholesky(cr.tensor([[4.0, 0.0], [0.0, 9.0]])).tolist()
    [[2.0, 0.0], [0.0, 3.0]]

    ```
    """
    return linalg_cholesky(input, upper=upper)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002
    """The Moore–Penrose pseudo-inverse, singular values below ``rcond`` times the largest read
    as 0: ``linalg.pinv(input, rtol=rcond)``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.pinverse(cr.tensor([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]

    ```
    """
    return pinv(input, rtol=rcond)
