"""Regression losses as modules: MSELoss, L1Loss, HuberLoss, SmoothL1Loss, PoissonNLLLoss and
GaussianNLLLoss. Each holds its options and calls :mod:`chainrule.nn.functional`."""

from __future__ import annotations

from typing import Any

from chainrule.nn import functional as F
from chainrule.nn.loss_base import Loss
from chainrule.tensor import Tensor


class MSELoss(Loss):
    """Mean squared error: mean((x − y)²) (or the sum, or per element).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.MSELoss()(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 1.0])).item()
    2.5

    ```
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(Loss):
    """Mean absolute error: mean(|x − y|) (or the sum, or per element).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.L1Loss()(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 1.0])).item()
    1.5

    ```
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(Loss):
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ); see
    :func:`chainrule.nn.functional.huber_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.HuberLoss(delta=1.0)(cr.tensor([0.5, 2.0]), cr.zeros(2)).item()
    0.8125

    ```
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(Loss):
    """½(x − y)²/β where |x − y| < β, else |x − y| − ½β; see
    :func:`chainrule.nn.functional.smooth_l1_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> loss = cr.nn.SmoothL1Loss(reduction="none")
    >>> loss(cr.tensor([0.5, 2.0]), cr.zeros(2)).tolist()
    [0.125, 1.5]

    ```
    """

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class PoissonNLLLoss(Loss):
    """Negative log-likelihood of counts under a Poisson rate; see
    :func:`chainrule.nn.functional.poisson_nll_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> # log_input=True: the input is log(rate), the loss exp(x) - y·x
    >>> cr.nn.PoissonNLLLoss()(cr.zeros(2), cr.tensor([1.0, 2.0])).item()
    1.0

    ```
    """

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: bool | None = None,
        eps: float = 1e-8,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Any) -> Tensor:
        return F.poisson_nll_loss(
            log_input,
            target,
            log_input=self.log_input,
            full=self.full,
            eps=self.eps,
            reduction=self.reduction,
        )


class GaussianNLLLoss(Loss):
    """Negative log-likelihood of targets under a Gaussian of mean ``input`` and variance
    ``var``; see :func:`chainrule.nn.functional.gaussian_nll_loss`.

    ```pycon
    >>> import chainrule as cr
    >>> loss = cr.nn.GaussianNLLLoss()
    >>> loss(cr.zeros(2), cr.ones(2), cr.ones(2)).item()  # ½(log 1 + 1²/1)
    0.5

    ```
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Any, var: Tensor | float) -> Tensor:  # noqa: A002
        return F.gaussian_nll_loss(
            input, target, var, full=self.full, eps=self.eps, reduction=self.reduction
        )
