"""LRScheduler: the base class of the learning-rate schedules, and the checks they share."""

from __future__ import annotations

import types
import warnings
from typing import Any

from chainrule.optim.optimizer import Optimizer


def check_optimizer(scheduler: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: expected an Optimizer, got {type(optimizer).__name__}")


def check_range(scheduler: str, name: str, value: Any, low: float, high: float) -> None:
    """Raise a ValueError unless low <= value <= high (NaN and non-numbers included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{scheduler}: {name} must be in [{low}, {high}], got {value!r}")


def check_positive_int(scheduler: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{scheduler}: {name} must be a positive integer, got {value!r}")


def per_group(scheduler: str, name: str, value: Any, optimizer: Optimizer) -> list[Any]:
    """One value for every param group: a list of them, or one value repeated."""
    groups = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * groups
    if len(value) != groups:
        raise ValueError(
            f"{scheduler}: expected {groups} values of {name} (one per param group), "
            f"got {len(value)}"
        )
    return list(value)


def callable_state(functions: list[Any]) -> list[dict[str, Any] | None]:
    """What a state_dict keeps of user functions: the attributes of callable objects, None
    for plain functions and lambdas (whose code cannot be saved by value)."""
    return [
        None
        if isinstance(function, types.FunctionType) or not hasattr(function, "__dict__")
        else dict(function.__dict__)
        for function in functions
    ]


class LRScheduler:
    """Base class: at each :meth:`step`, ``last_epoch`` advances by one and every group's
    ``lr`` becomes :meth:`get_lr`'s value for it.

    Construction records each group's starting rate as ``group["initial_lr"]`` (``base_lrs``)
    and takes a first step, to epoch 0, which may already change the rates (a warm-up factor).
    Pass ``last_epoch`` ≥ 0 only to resume, once the optimizer's groups hold ``initial_lr``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import LRScheduler
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0)
    >>> class Halving(LRScheduler):
    ...     def get_lr(self):
    ...         return [base * 0.5**self.last_epoch for base in self.base_lrs]
    >>> scheduler = Halving(optimizer)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [1.0, 0.5, 0.25, 0.125]

    ```
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        check_optimizer(name, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, g in enumerate(optimizer.param_groups) if "initial_lr" not in g]
            if missing:
                raise KeyError(
                    f"{name}: resuming at last_epoch={last_epoch} needs 'initial_lr' in "
                    f"param_groups {missing}; load the optimizer's state_dict first"
                )
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Take the first step, in which chainable schedules leave the rates as they are."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch`` (already advanced), one per param group."""
        raise NotImplementedError(f"{type(self).__name__} must define get_lr")

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set the groups' rates. Passing ``epoch`` jumps there, using
        the closed form of the schedule where there is one (deprecated in PyTorch too)."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(
                f"{type(self).__name__}.step(epoch) is deprecated: call step() once per epoch",
                UserWarning,
                stacklevel=2,
            )
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_closed_form_lr", None)
            lrs = closed_form() if closed_form is not None else self.get_lr()
        self._set_lrs(lrs)

    def _set_lrs(self, lrs: list[float]) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self) -> list[float]:
        """The rates set by the latest step, one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (save the optimizer's own state_dict with it)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by :meth:`state_dict`."""
        self.__dict__.update(state_dict)
