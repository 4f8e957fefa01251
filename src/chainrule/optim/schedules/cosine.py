"""Cosine annealing (Loshchilov & Hutter, 2017, "SGDR"): the rate follows half a cosine from
its base value down to ``eta_min``, once (CosineAnnealingLR) or over and over, each period
``T_mult`` times longer than the last (CosineAnnealingWarmRestarts)."""

from __future__ import annotations

import math
from typing import Any

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.schedules.base import LRScheduler, check_range

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts"]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr − eta_min)·(1 + cos(π·epoch / T_max)) / 2, without restarts,
    computed chainably:

        lr_e = eta_min + (lr_{e−1} − eta_min)·(1 + cos(π·e/T_max)) / (1 + cos(π·(e−1)/T_max))

    Past ``T_max`` the rate climbs back up the cosine, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import CosineAnnealingLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = CosineAnnealingLR(optimizer, T_max=4)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.8536, 0.5, 0.1464, 0.0]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,  # noqa: N803 - PyTorch's name
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, (int, float)) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        check_range("CosineAnnealingLR", "eta_min", eta_min, 0.0, math.inf)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, period, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and epoch > 0:  # no step of ours yet, so no rate to scale
            return self._closed_form_lr()
        if (epoch - 1 - period) % (2 * period) == 0:
            # The previous rate sat at the trough, where the ratio below is 0/0: add the
            # closed form's first increase instead.
            rise = (1 - math.cos(math.pi / period)) / 2
            return [
                lr + (base - eta_min) * rise for lr, base in zip(self._current_lrs(), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (
            1 + math.cos(math.pi * (epoch - 1) / period)
        )
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """lr = eta_min + (base_lr − eta_min)·(1 + cos(π·T_cur / T_i)) / 2, where T_cur counts the
    epochs since the last restart and T_i is the current period: T_0 at first, then T_mult
    times the previous one. At each restart the rate jumps back to base_lr.

    :meth:`step` may be called once per epoch, or once per batch with a fractional epoch,
    ``scheduler.step(epoch + i / batches_per_epoch)``; the two may be mixed (a step without
    an epoch goes on by one from the last).

    Example: periods of 10, 20, 40, ... epochs,
    ``CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2, eta_min=1e-5)``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import CosineAnnealingWarmRestarts
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=2, T_mult=2)
    >>> lrs = []
    >>> for epoch in range(7):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,  # noqa: N803 - PyTorch's name
        T_mult: int = 1,  # noqa: N803 - PyTorch's name
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        name = "CosineAnnealingWarmRestarts"
        if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"{name}: T_0 must be a positive integer, got {T_0!r}")
        if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"{name}: T_mult must be an integer >= 1, got {T_mult!r}")
        if isinstance(eta_min, bool) or not isinstance(eta_min, (int, float)):
            raise ValueError(f"{name}: eta_min must be a number, got {eta_min!r}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]

    def step(self, epoch: Any = None) -> None:
        """Advance to ``epoch`` (a float for a point within an epoch), or by one epoch."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:  # a restart
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        else:
            self._locate(epoch)
        self.last_epoch = math.floor(epoch)
        self._set_lrs(self.get_lr())

    def _locate(self, epoch: Any) -> None:
        """Set the period T_i that holds ``epoch`` and the time T_cur into it."""
        if epoch < 0:
            raise ValueError(f"CosineAnnealingWarmRestarts: epoch must be >= 0, got {epoch}")
        if epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            # Periods T_0·T_mult^k start at T_0·(T_mult^k − 1)/(T_mult − 1): invert for k.
            k = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult**k - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult**k
