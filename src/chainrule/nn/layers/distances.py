"""Distance layers: CosineSimilarity and PairwiseDistance, which hold only their options; the
math is in :mod:`chainrule.nn.functional.distances`."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """x₁·x₂ / (max(‖x₁‖, ε) max(‖x₂‖, ε)) along ``dim``, for x₁ and x₂ that broadcast
    together; that dimension is removed. See
    :func:`~chainrule.nn.functional.cosine_similarity`.

    ```pycon
    >>> import chainrule as cr
    >>> similarity = cr.nn.CosineSimilarity(dim=1)
    >>> a, b = cr.tensor([[1.0, 0.0], [0.0, 2.0]]), cr.tensor([[3.0, 0.0], [1.0, 0.0]])
    >>> similarity(a, b).tolist()
    [1.0, 0.0]

    ```
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """‖x₁ − x₂ + ε‖ₚ along the last dimension: the distance between corresponding rows of
    (N, D) or (D,) inputs that broadcast together; ``keepdim`` keeps that dimension with
    size 1. See :func:`~chainrule.nn.functional.pairwise_distance`.

    ```pycon
    >>> import chainrule as cr
    >>> distance = cr.nn.PairwiseDistance(p=1.0, eps=0.0)
    >>> distance(cr.tensor([[0.0, 0.0], [1.0, 2.0]]), cr.tensor([[3.0, 4.0], [1.0, 1.0]])).tolist()
    [7.0, 1.0]

    ```
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
