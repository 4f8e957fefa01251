"""Margin losses as modules: MarginRankingLoss, HingeEmbeddingLoss and CosineEmbeddingLoss.
Each holds its margin and reduction and calls :mod:`chainrule.nn.functional`."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.loss_base import Loss
from chainrule.tensor import Tensor


class _MarginLoss(Loss):
    def __init__(
        self,
        margin: float = 0.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MarginRankingLoss(_MarginLoss):
    """max(0, −y(x₁ − x₂) + margin); see :func:`chainrule.nn.functional.margin_ranking_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> x1, x2, y = cr.tensor([1.0, 2.0]), cr.tensor([2.0, 0.0]), cr.ones(2)
    >>> cr.nn.MarginRankingLoss()(x1, x2, y).item()
    0.5

    ```
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class HingeEmbeddingLoss(_MarginLoss):
    """x where y = 1, max(0, margin − x) where y = −1; see
    :func:`chainrule.nn.functional.hinge_embedding_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> x, y = cr.tensor([0.5, 0.25]), cr.tensor([1.0, -1.0])
    >>> cr.nn.HingeEmbeddingLoss()(x, y).item()
    0.625

    ```
    """

    def __init__(
        self,
        margin: float = 1.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """1 − cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) − margin) where y = −1; see
    :func:`chainrule.nn.functional.cosine_embedding_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> x1, x2 = cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]])
    >>> cr.nn.CosineEmbeddingLoss()(x1, x2, cr.ones(1)).item()
    1.0

    ```
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )
