"""Products with vectors, in PyTorch's names: ``mv`` (matrix · vector), ``inner`` (over the last
axes), ``vdot`` and ``ger`` (the old name of ``outer``), ``addmv`` and ``addr`` (β·input plus a
scaled product) and ``chain_matmul``. Each is a composition of ``matmul``, ``outer``, ``dot``
and arithmetic, so each gradient is theirs.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import OpError
from chainrule.autograd.ties import Tie
from chainrule.ops.linalg import dot, matmul
from chainrule.ops.matrix import outer
from chainrule.ops.operands import check_operands
from chainrule.tensor import Tensor


def mv(input: Tensor, vec: Tensor) -> Tensor:  # noqa: A002
    """A (n, m) · v (m,) → (n,).

    ```pycon
    >>> import chainrule as cr
    >>> cr.mv(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0])).tolist()
    [3.0, 7.0]

    ```
    """
    check_operands("mv", ("input", "vec"), input, vec, scalars=False)
    if input.ndim != 2 or vec.ndim != 1 or input.shape[1] != vec.shape[0]:
        raise OpError(
            f"mv: size mismatch, got input {tuple(input.shape)} and vec {tuple(vec.shape)}"
        )
    return matmul(input, vec)


def inner(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Σ over the last axis of both: (…a, k) and (…b, k) → (…a, …b); a 0-d operand scales the
    other.

    ```pycon
    >>> import chainrule as cr
    >>> cr.inner(cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0], [5.0, 6.0]])).tolist()
    [[11.0, 17.0]]

    ```
    """
    check_operands("inner", ("input", "other"), input, other, scalars=False)
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise OpError(
            f"inner: the last dimensions must match, got shapes {tuple(input.shape)} and "
            f"{tuple(other.shape)}"
        )
    lead = other.shape[:-1]
    columns = other.reshape(-1, other.shape[-1]).t()  # (k, …b flattened)
    return matmul(input, columns).reshape(*input.shape[:-1], *lead)


def vdot(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """Σ x·y of two vectors of one length (the conjugate of x for complex numbers, which
    chainrule does not have: the dot product).

    ```pycon
    >>> import chainrule as cr
    >>> cr.vdot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])).item()
    11.0

    ```
    """
    check_operands("vdot", ("input", "other"), input, other, scalars=False)
    if input.ndim != 1 or other.ndim != 1:
        raise OpError(f"vdot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return dot(input, other)


def ger(input: Tensor, vec2: Tensor) -> Tensor:  # noqa: A002
    """The outer product x yᵀ of two vectors: ``outer``'s older name.

    ```pycon
    >>> import chainrule as cr
    >>> cr.ger(cr.tensor([1.0, 2.0]), cr.tensor([3.0])).tolist()
    [[3.0], [6.0]]

    ```
    """
    check_operands("ger", ("input", "vec2"), input, vec2, scalars=False)
    return outer(input, vec2)


def _scaled_sum(input: Tensor, product: Tensor, beta: Any, alpha: Any, where: str) -> Tensor:  # noqa: A002
    """β·input + α·product, with input broadcast to the product's shape; with β = 0 the input
    is ignored (nan and inf in it too), as in PyTorch."""
    try:
        shape = tuple(input.broadcast_to(product.shape).shape)
    except Exception as error:
        raise OpError(
            f"{where}: input of shape {tuple(input.shape)} does not broadcast to the "
            f"product's shape {tuple(product.shape)}"
        ) from error
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        out = scaled if shape == tuple(scaled.shape) else scaled.broadcast_to(shape)
        # input still gets a gradient, 0·grad = 0, as PyTorch gives it
        return Tie.apply(out, input) if input.requires_grad else out
    return (input if beta == 1 else input * beta) + scaled


def addmv(
    input: Tensor,  # noqa: A002
    mat: Tensor,
    vec: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """β·input + α·(mat · vec), for mat (n, m) and vec (m,); input broadcasts to (n,).

    ```pycon
    >>> import chainrule as cr
    >>> cr.addmv(cr.tensor([1.0, 1.0]), cr.eye(2), cr.tensor([2.0, 3.0]), alpha=2).tolist()
    [5.0, 7.0]

    ```
    """
    check_operands("addmv", ("input", "mat", "vec"), input, mat, vec, scalars=False)
    return _scaled_sum(input, mv(mat, vec), beta, alpha, "addmv")


def addr(
    input: Tensor,  # noqa: A002
    vec1: Tensor,
    vec2: Tensor,
    *,
    beta: float = 1,
    alpha: float = 1,
) -> Tensor:
    """β·input + α·(vec1 vec2ᵀ); input broadcasts to (len(vec1), len(vec2)).

    ```pycon
    >>> import chainrule as cr
    >>> cr.addr(cr.zeros(2, 2), cr.tensor([1.0, 2.0]), cr.tensor([1.0, 3.0])).tolist()
    [[1.0, 3.0], [2.0, 6.0]]

    ```
    """
    check_operands("addr", ("input", "vec1", "vec2"), input, vec1, vec2, scalars=False)
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha, "addr")


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of two or more matrices, left to right (PyTorch's deprecated name for
    ``linalg.multi_dot`` of matrices).

    ```pycon
    >>> import chainrule as cr
    >>> cr.chain_matmul(cr.eye(2), cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.eye(2)).tolist()
    [[1.0, 2.0], [3.0, 4.0]]

    ```
    """
    if not matrices:
        raise OpError("chain_matmul: expected one or more matrices, got none")
    check_operands("chain_matmul", ("matrices",) * len(matrices), *matrices, scalars=False)
    for matrix in matrices:
        if matrix.ndim != 2:
            raise OpError(f"chain_matmul: expected 2D tensors, got a {matrix.ndim}D tensor")
    out = matrices[0]
    for matrix in matrices[1:]:
        out = matmul(out, matrix)
    return out
