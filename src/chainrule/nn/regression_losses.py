"""More loss modules: HuberLoss, BCELoss and BCEWithLogitsLoss."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.functional.extra_loss import legacy_reduction
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class HuberLoss(Module):
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ); see
    :func:`chainrule.nn.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        F._check_reduction(reduction, "HuberLoss")
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.reduction, self.delta = reduction, delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(Module):
    """Binary cross-entropy of probabilities in [0, 1]; see
    :func:`chainrule.nn.functional.binary_cross_entropy`. ``weight`` is a buffer."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction)
        F._check_reduction(self.reduction, type(self).__name__)
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(BCELoss):
    """Binary cross-entropy of logits, with a stable log σ; see
    :func:`chainrule.nn.functional.binary_cross_entropy_with_logits`. ``weight`` and
    ``pos_weight`` are buffers."""

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
