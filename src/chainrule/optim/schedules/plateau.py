"""ReduceLROnPlateau: a schedule driven by a metric instead of the epoch count."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.schedules.base import LRScheduler, check_optimizer, check_range, per_group

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Multiplies the rates by ``factor`` when a metric has stopped improving: after more than
    ``patience`` epochs in a row without a new best, then waits ``cooldown`` epochs before
    counting again. Call ``step(metric)`` once per epoch, e.g. with the validation loss.

    A value improves on ``best`` when it beats it by more than ``threshold``: relatively
    (best·(1 ∓ threshold), ``threshold_mode="rel"``) or absolutely (best ∓ threshold, ``"abs"``),
    lower being better in ``mode="min"`` and higher in ``"max"``. A rate never goes below its
    group's ``min_lr``, and changes smaller than ``eps`` are skipped.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import ReduceLROnPlateau
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> scheduler = ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     optimizer.step()
    ...     scheduler.step(loss)
    >>> optimizer.param_groups[0]["lr"]
    0.25

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        name = "ReduceLROnPlateau"
        check_optimizer(name, optimizer)
        if not (isinstance(factor, (int, float)) and 0 < factor < 1):
            raise ValueError(f"{name}: factor must be in (0, 1), got {factor!r}")
        for option, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: {option} must be an integer >= 0, got {value!r}")
        check_range(name, "threshold", threshold, 0.0, math.inf)
        check_range(name, "eps", eps, 0.0, math.inf)
        self.optimizer = optimizer
        self.factor = factor
        self.min_lrs = per_group(name, "min_lr", min_lr, optimizer)
        for value in self.min_lrs:
            check_range(name, "min_lr", value, 0.0, math.inf)
        # A single min_lr also covers groups added to the optimizer later.
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._set_mode(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _set_mode(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _is_better(self, value: float, best: float) -> bool:
        if self.mode == "min":
            bound = (
                best * (1 - self.threshold)
                if self.threshold_mode == "rel"
                else best - self.threshold
            )
            return value < bound
        bound = (
            best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold
        )
        return value > bound

    @property
    def in_cooldown(self) -> bool:
        """Whether the scheduler is waiting out the cooldown after a reduction."""
        return self.cooldown_counter > 0

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number or a one-element tensor) and reduce the rates
        if it has not improved for more than ``patience`` epochs."""
        current = float(metrics)
        if epoch is not None:
            warnings.warn(
                "ReduceLROnPlateau.step(metrics, epoch) is deprecated: call step(metrics)",
                UserWarning,
                stacklevel=2,
            )
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # epochs in cooldown do not count against patience
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups but "
                    f"min_lr gave {len(self.min_lrs)}; set scheduler.min_lrs to one per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by :meth:`state_dict`, checking the mode."""
        self.__dict__.update(state_dict)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)
