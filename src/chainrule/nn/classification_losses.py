"""Classification losses as modules: CrossEntropyLoss, NLLLoss, BCELoss, BCEWithLogitsLoss,
SoftMarginLoss and KLDivLoss. Each holds its options (weights as buffers) and calls
:mod:`chainrule.nn.functional`."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.loss_base import Loss, WeightedLoss
from chainrule.tensor import Tensor


class CrossEntropyLoss(WeightedLoss):
    """Cross-entropy of logits against class indices or probabilities; see
    :func:`chainrule.nn.functional.cross_entropy`.

    ```pycon
    >>> import chainrule as cr
    >>> logits, target = cr.zeros(2, 4), cr.tensor([0, 3])
    >>> round(cr.nn.CrossEntropyLoss()(logits, target).item(), 4)  # log 4
    1.3863

    ```
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(WeightedLoss):
    """Negative log-likelihood of log-probabilities against class indices.

    ```pycon
    >>> import chainrule as cr
    >>> log_probs = cr.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    >>> cr.nn.NLLLoss()(log_probs, cr.tensor([1, 0])).item()
    2.5

    ```
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class BCELoss(WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1]; see
    :func:`chainrule.nn.functional.binary_cross_entropy`.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.nn.BCELoss()(cr.tensor([0.5, 0.5]), cr.tensor([1.0, 0.0])).item(), 4)
    0.6931

    ```
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(WeightedLoss):
    """Binary cross-entropy of logits, with a stable log σ; see
    :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`. ``weight`` and
    ``pos_weight`` are buffers.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.nn.BCEWithLogitsLoss()(cr.zeros(2), cr.tensor([1.0, 0.0])).item(), 4)
    0.6931

    ```
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class SoftMarginLoss(Loss):
    """log(1 + e^{−y x}) for scores x and labels y = ±1; see
    :func:`chainrule.nn.functional.soft_margin_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.nn.SoftMarginLoss()(cr.zeros(2), cr.tensor([1.0, -1.0])).item(), 4)
    0.6931

    ```
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class KLDivLoss(Loss):
    """Kullback-Leibler divergence of log-probabilities from a target distribution; see
    :func:`chainrule.nn.functional.kl_div` (and its note on ``reduction="batchmean"``).

    ```pycon
    >>> import chainrule as cr
    >>> log_q, p = cr.tensor([[0.5, 0.5]]).log(), cr.tensor([[1.0, 0.0]])
    >>> round(cr.nn.KLDivLoss(reduction="batchmean")(log_q, p).item(), 4)  # log 2
    0.6931

    ```
    """

    reductions = ("mean", "batchmean", "sum", "none")

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
