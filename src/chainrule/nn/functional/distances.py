"""Distances and similarities between batches of vectors, composed of primitives (their
gradients are the chain rule through a norm): the cosine similarity and the p-norm distance."""

from __future__ import annotations

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.autograd.grad_mode import no_grad
from chainrule.ops import elementwise, movement
from chainrule.ops import reduce as reductions
from chainrule.ops.vector_norm import vector_norm
from chainrule.tensor import Tensor

__all__ = ["cosine_similarity", "pairwise_distance"]


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x₁·x₂ / (max(‖x₁‖, ε) max(‖x₂‖, ε)) along ``dim``, for x₁ and x₂ that broadcast
    together; that dimension is removed.

    Each vector is divided by its own norm before the product, which keeps the result in
    [−1, 1]. The floor ε only guards zero vectors: as in PyTorch, the gradient passes through
    it as if it were not there.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> a, b = cr.tensor([[1.0, 0.0], [1.0, 1.0]]), cr.tensor([[2.0, 0.0], [-1.0, -1.0]])
    >>> [round(v, 4) for v in F.cosine_similarity(a, b).tolist()]
    [1.0, -1.0]

    ```
    """
    shape = _broadcast(x1, x2, "cosine_similarity")
    if not -max(len(shape), 1) <= dim < max(len(shape), 1):
        raise IndexError(
            f"cosine_similarity: Dimension out of range (expected to be in range of "
            f"[{-max(len(shape), 1)}, {max(len(shape), 1) - 1}], but got {dim})"
        )
    # The norms are those of the broadcast vectors: a size-1 axis along dim counts D times.
    x1 = x1 if x1.shape == shape else movement.expand(x1, shape)
    x2 = x2 if x2.shape == shape else movement.expand(x2, shape)
    unit1 = x1 / _floored(vector_norm(x1, 2, dim, keepdim=True), eps)
    unit2 = x2 / _floored(vector_norm(x2, 2, dim, keepdim=True), eps)
    return reductions.sum(unit1 * unit2, dim)


def _floored(norm: Tensor, eps: float) -> Tensor:
    """max(norm, eps) in value, with the gradient of ``norm`` itself (PyTorch clamps a copy
    of the norm without recording it)."""
    with no_grad():
        floor = elementwise.clamp(norm, min=eps)
    return norm - norm.detach() + floor


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """‖x₁ − x₂ + ε‖ₚ along the last dimension, for x₁ and x₂ that broadcast together: the
    distance between corresponding rows. ε keeps the norm's gradient finite where two rows
    are equal.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> a, b = cr.tensor([[0.0, 0.0], [1.0, 1.0]]), cr.tensor([[3.0, 4.0], [1.0, 1.0]])
    >>> [round(v, 4) for v in F.pairwise_distance(a, b).tolist()]
    [5.0, 0.0]

    ```
    """
    shape = _broadcast(x1, x2, "pairwise_distance")
    difference = x1 - x2 + eps
    if not shape:  # two scalars: a vector of one element
        out = vector_norm(movement.reshape(difference, (1,)), p, -1, keepdim=keepdim)
        return out if not keepdim else movement.reshape(out, ())
    return vector_norm(difference, p, -1, keepdim=keepdim)


def _broadcast(x1: Tensor, x2: Tensor, where: str) -> tuple:
    for name, value in (("x1", x1), ("x2", x2)):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{where}(): argument '{name}' must be Tensor, not {type(value).__name__}"
            )
    try:
        return tuple(backend.xp.broadcast_shapes(x1.shape, x2.shape))
    except ValueError:
        raise OpError(
            f"{where}: x1 of shape {x1.shape} and x2 of shape {x2.shape} do not broadcast together"
        ) from None
