"""Schedules that scale the rate by a factor each epoch: given by a function (LambdaLR,
MultiplicativeLR), at steps (StepLR, MultiStepLR), for a while (ConstantLR, LinearLR), or for
ever (ExponentialLR, PolynomialLR).

Like PyTorch's, most are *chainable*: a step multiplies the group's current rate by a factor
instead of recomputing it from the initial rate, so two schedulers on one optimizer compose,
and a rate changed from outside is carried along. ``step(epoch)`` uses the closed form.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.schedules.base import (
    LRScheduler,
    callable_state,
    check_optimizer,
    check_positive_int,
    check_range,
    per_group,
)

__all__ = [
    "ConstantLR",
    "ExponentialLR",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "PolynomialLR",
    "StepLR",
]


class _FunctionSchedule(LRScheduler):
    """A schedule given by user functions of the epoch, one for all groups or one per group;
    only the attributes of callable objects are saved in :meth:`state_dict`, not functions."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        check_optimizer(name, optimizer)
        self.lr_lambdas = per_group(name, "lr_lambda", lr_lambda, optimizer)
        for function in self.lr_lambdas:
            if not callable(function):
                raise TypeError(f"{name}: lr_lambda must be callable, got {function!r}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = callable_state(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved_lambdas = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for function, saved in zip(self.lr_lambdas, saved_lambdas):
            if saved is not None:
                function.__dict__.update(saved)


class LambdaLR(_FunctionSchedule):
    """lr = base_lr · lr_lambda(epoch), with one function for all groups or one per group.

    Example: a linear warm-up over 10 epochs, ``LambdaLR(opt, lambda e: min(1.0, (e + 1) / 10))``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import LambdaLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = LambdaLR(optimizer, lambda epoch: 1 / (epoch + 1))
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 0.3333, 0.25, 0.2]

    ```
    """

    def get_lr(self) -> list[float]:
        return [
            base_lr * function(self.last_epoch)
            for function, base_lr in zip(self.lr_lambdas, self.base_lrs)
        ]


class MultiplicativeLR(_FunctionSchedule):
    """lr ← lr · lr_lambda(epoch) at each step after the first: the function gives the factor
    of one epoch, not of the whole schedule (``lambda e: 0.95`` is ExponentialLR(0.95)).

    Example: halve the rate every 10 epochs and leave it otherwise,
    ``MultiplicativeLR(opt, lambda e: 0.5 if e % 10 == 0 else 1.0)``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import MultiplicativeLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = MultiplicativeLR(optimizer, lambda epoch: 0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 0.25, 0.125, 0.0625]

    ```
    """

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [
            lr * function(self.last_epoch)
            for function, lr in zip(self.lr_lambdas, self._current_lrs())
        ]


class StepLR(LRScheduler):
    """lr = base_lr · gamma^⌊epoch / step_size⌋: multiplied by ``gamma`` every ``step_size``
    epochs.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import StepLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 1.0, 0.5, 0.5, 0.25]

    ```
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        check_positive_int("StepLR", "step_size", step_size)
        check_range("StepLR", "gamma", gamma, 0.0, math.inf)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr · gamma^(number of milestones ≤ epoch): multiplied by ``gamma`` at each
    milestone (twice at a milestone listed twice).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import MultiStepLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = MultiStepLR(optimizer, milestones=[1, 3], gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 0.5, 0.25, 0.25]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        check_range("MultiStepLR", "gamma", gamma, 0.0, math.inf)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by :meth:`state_dict`; the milestones become a Counter
        again (a file keeps them as a plain dict of milestone -> count)."""
        state = dict(state_dict)
        state["milestones"] = Counter(state["milestones"])
        super().load_state_dict(state)


class ConstantLR(LRScheduler):
    """lr = base_lr · factor for epochs < total_iters, then base_lr.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import ConstantLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = ConstantLR(optimizer, factor=0.5, total_iters=2)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [0.5, 0.5, 1.0, 1.0, 1.0]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not (isinstance(factor, (int, float)) and 0 < factor <= 1):
            raise ValueError(f"ConstantLR: factor must be in (0, 1], got {factor!r}")
        check_positive_int("ConstantLR", "total_iters", total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch == self.total_iters:
            return [lr * (1.0 / self.factor) for lr in self._current_lrs()]
        return self._current_lrs()

    def _closed_form_lr(self) -> list[float]:
        factor = 1.0 if self.last_epoch >= self.total_iters else self.factor
        return [base * factor for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base_lr · f(epoch), f going linearly from ``start_factor`` at epoch 0 to
    ``end_factor`` at ``total_iters`` and staying there: f(e) = s + (e_f − s)·min(e, T)/T.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import LinearLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = LinearLR(optimizer, start_factor=0.25, total_iters=3)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not (isinstance(start_factor, (int, float)) and 0 < start_factor <= 1):
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        check_range("LinearLR", "end_factor", end_factor, 0.0, 1.0)
        check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # f(e) / f(e − 1) = 1 + (e_f − s) / (T·s + (e − 1)·(e_f − s)), the chainable form.
        slope = self.end_factor - self.start_factor
        previous = self.total_iters * self.start_factor + (self.last_epoch - 1) * slope
        return [lr * (1.0 + slope / previous) for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        done = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * done
        return [base * factor for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr · gamma^epoch.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import ExponentialLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = ExponentialLR(optimizer, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 0.25, 0.125, 0.0625]

    ```
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_range("ExponentialLR", "gamma", gamma, 0.0, math.inf)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = base_lr · (1 − min(epoch, T) / T)^power, T = ``total_iters``: down to 0 at epoch
    T along a polynomial (a straight line for power 1), then 0. Chainably, each step
    multiplies the rate by ((1 − e/T) / (1 − (e − 1)/T))^power up to epoch T.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import PolynomialLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = PolynomialLR(optimizer, total_iters=4, power=2.0)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5625, 0.25, 0.0625, 0.0]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        check_positive_int("PolynomialLR", "total_iters", total_iters)
        check_range("PolynomialLR", "power", power, 0.0, math.inf)
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        factor = (
            (1.0 - self.last_epoch / self.total_iters)
            / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [lr * factor for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        remaining = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * remaining**self.power for base in self.base_lrs]
