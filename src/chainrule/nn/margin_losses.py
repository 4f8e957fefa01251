"""Margin losses as modules: MarginRankingLoss, HingeEmbeddingLoss, CosineEmbeddingLoss, the
triplet losses and the multi-class margin losses. Each holds its margin and reduction and
calls :mod:`chainrule.nn.functional`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.layers.distances import PairwiseDistance
from chainrule.nn.loss_base import Loss, WeightedLoss
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


def _check_margin(margin: float, where: str) -> None:
    if margin <= 0:
        raise ValueError(f"{where}: expected margin to be greater than 0, got {margin} instead")


class TripletMarginLoss(Loss):
    """max(0, margin + d(a, p) − d(a, n)) with the p-norm distance; see
    :func:`chainrule.nn.functional.triplet_margin_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> a, pos, neg = cr.zeros(1, 2), cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 1.0]])
    >>> round(cr.nn.TripletMarginLoss(margin=0.5, eps=0.0)(a, pos, neg).item(), 4)
    4.5

    ```
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        _check_margin(margin, "TripletMarginLoss")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
        )


class TripletMarginWithDistanceLoss(Loss):
    """max(0, margin + d(a, p) − d(a, n)) for a given distance (default
    :class:`PairwiseDistance`, a submodule then); see
    :func:`chainrule.nn.functional.triplet_margin_with_distance_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> loss = cr.nn.TripletMarginWithDistanceLoss(margin=2.0)
    >>> loss
    TripletMarginWithDistanceLoss(
      (distance_function): PairwiseDistance()
    )
    >>> a, pos, neg = cr.zeros(1, 2), cr.zeros(1, 2), cr.tensor([[0.0, 1.0]])
    >>> round(loss(a, pos, neg).item(), 4)  # 2 + 0 - 1
    1.0

    ```
    """

    def __init__(
        self,
        *,
        distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(None, None, reduction)
        _check_margin(margin, "TripletMarginWithDistanceLoss")
        self.distance_function = (
            distance_function if distance_function is not None else PairwiseDistance()
        )
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )


class MultiMarginLoss(WeightedLoss):
    """Σ_{j ≠ y} w_y max(0, margin − x_y + x_j)ᵖ / C per sample; see
    :func:`chainrule.nn.functional.multi_margin_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> round(cr.nn.MultiMarginLoss()(x, cr.tensor([3])).item(), 4)
    0.325

    ```
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.ndim != 1:
            raise ValueError(
                f"MultiMarginLoss: expected weight to be None or 1D tensor, got {weight.ndim}D "
                "instead"
            )
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.multi_margin_loss(
            input,
            target,
            p=self.p,
            margin=self.margin,
            weight=self.weight,
            reduction=self.reduction,
        )


class MultiLabelMarginLoss(Loss):
    """Σ_{y ∈ Y} Σ_{j ∉ Y} max(0, 1 − x_y + x_j) / C per sample, Y listed in the target
    before a −1; see :func:`chainrule.nn.functional.multilabel_margin_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> x, y = cr.tensor([[0.1, 0.2, 0.4, 0.8]]), cr.tensor([[3, 0, -1, 1]])
    >>> round(cr.nn.MultiLabelMarginLoss()(x, y).item(), 4)
    0.85

    ```
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(WeightedLoss):
    """−Σ_c w_c (y_c log σ(x_c) + (1 − y_c) log σ(−x_c)) / C per sample; see
    :func:`chainrule.nn.functional.multilabel_soft_margin_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> x, y = cr.tensor([[0.0, 0.0]]), cr.tensor([[1.0, 0.0]])
    >>> round(cr.nn.MultiLabelSoftMarginLoss()(x, y).item(), 4)
    0.6931

    ```
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.multilabel_soft_margin_loss(
            input, target, weight=self.weight, reduction=self.reduction
        )
