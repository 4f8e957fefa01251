"""What the factorisations of ``chainrule.linalg`` share: PyTorch's ``LinAlgError``, the checks
of their inputs, and the packing of several results into the one array that an operation
returns (see :func:`pack`).
"""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.tensor import Tensor


class LinAlgError(RuntimeError):
    """A matrix for which a factorisation does not exist (not positive-definite, singular):
    ``torch.linalg.LinAlgError``, a RuntimeError as there."""


def t(array: Any) -> Any:
    """Each matrix of a batch transposed (an array, or a tensor in a recorded backward)."""
    return backend.xp.swapaxes(array, -1, -2)


def triu(array: Any, k: int = 0) -> Any:
    """The upper triangle from diagonal ``k`` on, through ``tril`` (which a recorded backward's
    namespace has): the rest of the matrix is what ``tril(·, k − 1)`` keeps."""
    return array - backend.xp.tril(array, k - 1)


def eye_like(array: Any) -> Any:
    """The identity of the size of ``array``'s matrices, a constant in its dtype."""
    n = array.shape[-1]
    return backend.xp.eye(n, dtype=array.dtype)


def check_matrix(A: Any, op: str, *, square: bool = True, name: str = "A") -> None:  # noqa: N803
    """PyTorch's checks of a (batch of) matrix input: a floating tensor of at least 2
    dimensions, square where ``square``."""
    if not isinstance(A, Tensor):
        raise not_a_tensor(op, name, A)
    if A.ndim < 2:
        raise OpError(
            f"{op}: The input tensor {name} must have at least 2 dimensions, got shape "
            f"{tuple(A.shape)}"
        )
    if square and A.shape[-1] != A.shape[-2]:
        raise OpError(
            f"{op}: {name} must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )
    if not dtypes.is_floating(A.dtype):
        raise TypeError(f"{op}: Expected a floating point tensor as input. Got {A.dtype}")


def batch_element(index: int, batch: tuple) -> str:
    """PyTorch's prefix naming the failing matrix of a batch: ``(Batch element 1): ``."""
    return f"(Batch element {index}): " if batch else ""


def pack(arrays: list, batch: tuple) -> Any:
    """Several results of one factorisation as one array of shape ``batch + (total,)``: each
    result flattened over its own dimensions, side by side. An operation returns one array, and
    slicing it back (:func:`unpack`) is differentiable, so each result gets its gradient and
    the operation's backward receives them together, zeros where a result was not used."""
    xp = backend.xp
    flat = [a.reshape(batch + (math.prod(a.shape[len(batch) :]),)) for a in arrays]
    return xp.concatenate(flat, axis=-1)


def unpack(packed: Any, shapes: list) -> list:
    """The results that :func:`pack` joined, each of its shape (the batch dimensions first):
    views of a tensor, of a gradient array, or of a gradient tensor in a recorded backward."""
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape[packed.ndim - 1 :])
        out.append(packed[..., start : start + size].reshape(shape))
        start += size
    return out
