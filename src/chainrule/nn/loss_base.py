"""The base of the loss modules: the reduction, with PyTorch's deprecated ``size_average`` and
``reduce`` translated, checked once at construction."""

from __future__ import annotations

from chainrule.nn.functional.loss_arguments import check_reduction, legacy_reduction
from chainrule.nn.module import Module
from chainrule.ops.loss_reduction import REDUCTIONS
from chainrule.tensor import Tensor


class Loss(Module):
    """A loss module: it holds ``reduction`` ("mean", "sum" or "none") and its options, and
    calls its function in :mod:`chainrule.nn.functional`.

    ```pycon
    >>> import chainrule as cr
    >>> x, y = cr.tensor([1.0, 3.0]), cr.tensor([0.0, 1.0])
    >>> [cr.nn.L1Loss(reduction=r)(x, y).tolist() for r in ("mean", "sum", "none")]
    [1.5, 3.0, [1.0, 2.0]]

    ```
    """

    reductions: tuple[str, ...] = REDUCTIONS

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction)
        check_reduction(self.reduction, type(self).__name__, self.reductions)


class WeightedLoss(Loss):
    """A loss with a constant per-class (or per-element) ``weight``, kept as a buffer so that
    it moves with the module and appears in its state_dict.

    ```pycon
    >>> import chainrule as cr
    >>> loss = cr.nn.NLLLoss(weight=cr.tensor([1.0, 3.0]))
    >>> list(loss.state_dict()), loss.weight.tolist()
    (['weight'], [1.0, 3.0])

    ```
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
