"""Regression losses: how far a prediction x is from a real-valued target y.

Squared, absolute, Huber and smooth L1 errors are fused operations of ``ops.regression_losses``;
the Poisson and Gaussian negative log-likelihoods compose primitives, as their terms are
ordinary functions with ordinary derivatives.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.autograd.function import OpError
from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import as_tensor, full_like
from chainrule.nn.functional.loss_arguments import (
    check_reduction,
    check_tensor,
    constant_array,
    legacy_reduction,
    warn_if_broadcast,
)
from chainrule.ops import elementwise, movement, regression_losses
from chainrule.ops import reduce as reductions
from chainrule.ops.loss_reduction import REDUCTIONS
from chainrule.tensor import Tensor

__all__ = [
    "gaussian_nll_loss",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
]


def _check_arguments(
    input: Tensor,  # noqa: A002
    target: Any,
    reduction: str,
    where: str,
    warn: bool = True,
) -> None:
    """input a Tensor, target a Tensor or a numeric constant, a known reduction, and (``warn``)
    a warning when the two shapes differ. The usual case (two tensors of one shape) costs
    three tests; the checks that name the problem run only when one fails (this runs every
    training step)."""
    if not isinstance(input, Tensor):
        check_tensor(input, "input", 1, where)
    if not isinstance(target, Tensor):
        check_tensor(target, "target", 2, where, constant=True)
        if warn:
            warn_if_broadcast(input, target, where)
    elif warn and target.array.shape != input.array.shape:
        warn_if_broadcast(input, target, where)
    if reduction not in REDUCTIONS:
        check_reduction(reduction, where)


def mse_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """The squared error (x − y)², averaged (``mean``), summed, or per element (``none``).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, y = cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 0.0, 5.0])
    >>> round(F.mse_loss(x, y).item(), 4), F.mse_loss(x, y, reduction='none').tolist()
    (2.6667, [0.0, 4.0, 4.0])

    ```
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_arguments(input, target, reduction, "mse_loss")
    return regression_losses.SquaredError.apply(input, target, reduction=reduction)


def l1_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """The absolute error |x − y|, averaged (``mean``), summed, or per element (``none``).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, y = cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 0.0, 5.0])
    >>> F.l1_loss(x, y, reduction='sum').item(), F.l1_loss(x, y, reduction='none').tolist()
    (4.0, [0.0, 2.0, 2.0])

    ```
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_arguments(input, target, reduction, "l1_loss")
    return regression_losses.AbsoluteError.apply(input, target, reduction=reduction)


def huber_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """½(x − y)² where |x − y| < δ, else δ(|x − y| − ½δ); times ``weight`` (the input's shape)
    if given; averaged, summed, or per element. Quadratic near the target, linear beyond:
    outliers pull with a bounded gradient ±δ.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, y = cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0])
    >>> F.huber_loss(x, y, reduction='none').tolist()  # ½·0.5², then 1·(3 − ½)
    [0.125, 2.5]

    ```
    """
    where = "huber_loss"
    _check_arguments(input, target, reduction, where)
    if delta <= 0:
        raise ValueError(f"{where}: delta must be positive, got {delta}")
    weight_data = constant_array(weight, input.dtype)
    if weight_data is not None and tuple(weight_data.shape) != input.shape:
        raise OpError(
            f"{where}: weight of shape {tuple(weight_data.shape)} must have the input's shape "
            f"{input.shape}"
        )
    return regression_losses.HuberError.apply(
        input, target, weight_data, reduction=reduction, delta=delta
    )


def smooth_l1_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """½(x − y)²/β where |x − y| < β, else |x − y| − ½β (Girshick, 2015): the Huber loss
    divided by β, so that its slope beyond β is 1, not β; the L1 loss for β = 0.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, y = cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0])
    >>> F.smooth_l1_loss(x, y, reduction='none', beta=2.0).tolist()  # ½·0.5²/2, then 3 − 1
    [0.0625, 2.0]

    ```
    """
    where = "smooth_l1_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_arguments(input, target, reduction, where)
    if beta < 0:
        raise RuntimeError(f"{where} does not support negative values for beta, got {beta}")
    if beta == 0:
        return regression_losses.AbsoluteError.apply(input, target, reduction=reduction)
    return regression_losses.HuberError.apply(
        input, target, None, reduction=reduction, delta=beta, divisor=beta
    )


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return reductions.mean(loss)
    return reductions.sum(loss) if reduction == "sum" else loss


def poisson_nll_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """−log of a Poisson likelihood of counts y at rate λ, without the constant log y!:
    eˣ − y x with ``log_input`` (x = log λ), else x − y log(x + eps) (x = λ). ``full`` adds
    Stirling's y log y − y + ½ log(2πy) for log y!, where y > 1.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> log_rate, counts = cr.tensor([0.0, 0.0]), cr.tensor([0.0, 2.0])
    >>> F.poisson_nll_loss(log_rate, counts, reduction='none').tolist()  # e⁰ − y·0
    [1.0, 1.0]

    ```
    """
    where = "poisson_nll_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_arguments(input, target, reduction, where, warn=False)
    y = target if isinstance(target, Tensor) else as_tensor(target)
    if log_input:
        loss = elementwise.exp(input) - y * input
    else:
        loss = input - y * elementwise.log(input + eps)
    if full:
        # Only where y > 1: log y! is 0 at y = 0 and 1, where Stirling's formula is poor.
        safe = elementwise.where(y > 1, y, 2.0)
        stirling = safe * elementwise.log(safe) - safe + 0.5 * elementwise.log(2 * math.pi * safe)
        loss = loss + elementwise.where(y > 1, stirling, 0.0)
    return _reduced(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """−log of a Gaussian likelihood of y with mean x and variance σ², without its constant
    (which ``full`` adds): ½(log σ² + (x − y)²/σ²).

    ``var`` has the input's shape, or one axis of size 1 (or the last axis missing) for a
    variance shared along it, or is a float. Variances are clamped at ``eps`` for stability;
    the gradient passes the clamp as if it were not there, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> mean, y = cr.tensor([0.0, 1.0]), cr.tensor([2.0, 1.0])
    >>> F.gaussian_nll_loss(mean, y, var=cr.ones(2), reduction='none').tolist()  # ½(x − y)²
    [2.0, 0.0]

    ```
    """
    where = "gaussian_nll_loss"
    _check_arguments(input, target, reduction, where, warn=False)
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{where}: var has negative entry/entries, got {var}")
        var = full_like(input, float(var))
    else:
        check_tensor(var, "var", 3, where)
        if bool((var < 0).any()):
            raise ValueError(f"{where}: var has negative entry/entries")
    var = _variance_shaped_like(var, input.shape, where)
    with no_grad():
        floor = elementwise.clamp(var, min=eps)
    # var − var (exactly 0) carries the gradient; the clamped values are the forward's.
    var = var - var.detach() + floor
    loss = 0.5 * (elementwise.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduced(loss, reduction)


def _variance_shaped_like(var: Tensor, shape: tuple, where: str) -> Tensor:
    """The homoscedastic shapes of var made to broadcast: a missing last axis comes back."""
    if var.shape == shape:
        return var
    if var.shape == shape[:-1]:
        return movement.unsqueeze(var, -1)
    # One axis of size 1 where the input's is larger: PyTorch's test, the sizes of var's
    # mismatched axes summing to 1.
    if var.ndim == len(shape) and sum(m for n, m in zip(shape, var.shape) if n != m) == 1:
        return var
    raise ValueError(
        f"{where}: var is of incorrect size: {var.shape} for input of shape {shape}; expected "
        "the input's shape, that shape with one axis of size 1, or without its last axis"
    )
