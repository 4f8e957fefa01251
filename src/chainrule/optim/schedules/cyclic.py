"""Cyclical schedules: the rate goes up and down between two bounds (Smith, 2017, "Cyclical
Learning Rates"), many times (CyclicLR) or once, ending far below its start (OneCycleLR, Smith
& Topin, 2019, "Super-Convergence"). Both can cycle the momentum the other way: high momentum
with a low rate and low momentum with a high rate. The momentum is SGD's or RMSprop's
``momentum``, or β1 in the ``betas`` of Adam and its kin.

Neither is chainable: the rate is recomputed from the bounds at every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.schedules.base import (
    LRScheduler,
    callable_state,
    check_optimizer,
    check_range,
    per_group,
)

__all__ = ["CyclicLR", "OneCycleLR"]


def _uses_beta1(scheduler: str, optimizer: Optimizer) -> bool:
    """Whether the momentum to cycle is β1 (``betas``) rather than ``momentum``."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(
            f"{scheduler}: cycle_momentum=True needs an optimizer with momentum or betas "
            f"(SGD, RMSprop, Adam, ...), got {type(optimizer).__name__}; pass "
            "cycle_momentum=False"
        )
    return "betas" in optimizer.defaults


def _set_momentum(group: dict[str, Any], momentum: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class CyclicLR(LRScheduler):
    """The rate goes from ``base_lr`` up to ``max_lr`` in ``step_size_up`` steps and back in
    ``step_size_down`` (default the same), over and over; call :meth:`step` after every batch.
    The height of cycle c (counted from 1), or of step n, is scaled by:

        "triangular":   1                        (every cycle alike)
        "triangular2":  1 / 2^(c − 1)            (halved each cycle)
        "exp_range":    gamma^n                  (decaying with the step count)
        scale_fn(c) or scale_fn(n)               (your own, by ``scale_mode``)

    With ``cycle_momentum`` the momentum goes the other way, from ``max_momentum`` (at
    base_lr) down to ``base_momentum`` (at max_lr); construction sets it to max_momentum.

    Example: ``CyclicLR(SGD(params, lr=0.1, momentum=0.9), base_lr=0.01, max_lr=0.1,
    step_size_up=2000)``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import CyclicLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> scheduler = CyclicLR(optimizer, base_lr=0.5, max_lr=1.0, step_size_up=2)
    >>> lrs = []
    >>> for epoch in range(6):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [0.5, 0.75, 1.0, 0.75, 0.5, 0.75]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
        last_epoch: int = -1,
    ) -> None:
        name = "CyclicLR"
        check_optimizer(name, optimizer)
        base_lrs = per_group(name, "base_lr", base_lr, optimizer)
        if last_epoch == -1:  # the cycle starts at base_lr, which becomes initial_lr
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = per_group(name, "max_lr", max_lr, optimizer)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if not (up > 0 and down >= 0):
            raise ValueError(
                f"{name}: step_size_up must be > 0 and step_size_down >= 0, got "
                f"{step_size_up!r} and {step_size_down!r}"
            )
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(
                f"{name}: mode must be 'triangular', 'triangular2' or 'exp_range' (or give a "
                f"scale_fn), got {mode!r}"
            )
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(
                f"{name}: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}"
            )
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_mode()

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1(name, optimizer)
            self.base_momentums = per_group(name, "base_momentum", base_momentum, optimizer)
            self.max_momentums = per_group(name, "max_momentum", max_momentum, optimizer)
            if last_epoch == -1:
                for top, bottom, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups
                ):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_mode(self) -> None:
        # The built-in modes fix what their scale is a function of.
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The factor on the cycle's height at cycle (or step) x."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        if self.mode == "exp_range":
            return self.gamma**x
        return 1.0

    def get_lr(self) -> list[float]:
        """The rates at ``last_epoch``; also sets the momentum when ``cycle_momentum``."""
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle  # where in the cycle, in [0, 1)
        if x <= self.step_ratio:
            rise = x / self.step_ratio
        else:
            rise = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * rise * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, bottom, top in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums
            ):
                _set_momentum(group, top - (top - bottom) * rise * scale, self.use_beta1)
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """The attributes, with a custom scale_fn saved only as a callable object's
        attributes (a function cannot be saved by value)."""
        state = super().state_dict()
        state["_scale_fn_custom"] = callable_state([self._scale_fn_custom])[0]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved_fn = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if saved_fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(saved_fn)
        self._init_scale_mode()


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped after every batch, in ``total_steps`` steps (or ``epochs ·
    steps_per_epoch``): the rate anneals from initial_lr = max_lr / div_factor up to max_lr
    over the first ``pct_start`` of the steps, then down to initial_lr / final_div_factor.
    With ``three_phase`` it comes back down to initial_lr symmetrically and only then, in a
    third phase, to the minimum. The annealing is cosine (``"cos"``) or ``"linear"``:

        cos:    lr = end + (start − end)·(1 + cos(π·p)) / 2,   p going from 0 to 1 in a phase
        linear: lr = start + (end − start)·p

    With ``cycle_momentum`` the momentum anneals the other way, from ``max_momentum`` down
    to ``base_momentum`` (at max_lr) and back. Stepping past ``total_steps`` is an error.

    Example: ``OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.optim.lr_scheduler import OneCycleLR
    >>> optimizer = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=1.0, momentum=0.9)
    >>> scheduler = OneCycleLR(optimizer, max_lr=1.0, total_steps=5, anneal_strategy="linear")
    >>> lrs = []
    >>> for epoch in range(5):
    ...     lrs.append(round(optimizer.param_groups[0]["lr"], 4))
    ...     optimizer.step()
    ...     scheduler.step()
    >>> lrs
    [0.04, 0.8571, 0.5714, 0.2857, 0.0]

    ```
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        name = "OneCycleLR"
        check_optimizer(name, optimizer)
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if isinstance(pct_start, bool) or not isinstance(pct_start, float):
            raise ValueError(f"{name}: pct_start must be a float in [0, 1], got {pct_start!r}")
        check_range(name, "pct_start", pct_start, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy
        self._schedule_phases = _phases(self.total_steps, pct_start, three_phase)

        max_lrs = per_group(name, "max_lr", max_lr, optimizer)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1(name, optimizer)
            tops = per_group(name, "max_momentum", max_momentum, optimizer)
            bottoms = per_group(name, "base_momentum", base_momentum, optimizer)
            if last_epoch == -1:
                for top, bottom, group in zip(tops, bottoms, optimizer.param_groups):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        """The rates at ``last_epoch``; also sets the momentum when ``cycle_momentum``."""
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {step} times, past total_steps={self.total_steps}"
            )
        # The phase that holds the step (the last one also takes the final step, past its end).
        start_step = 0.0
        for i, phase in enumerate(self._schedule_phases):
            if step <= phase["end_step"] or i == len(self._schedule_phases) - 1:
                break
            start_step = phase["end_step"]
        pct = (step - start_step) / (phase["end_step"] - start_step)
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal(
                    group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                )
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _total_steps(total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    def positive_int(value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, int) and value > 0

    if total_steps is not None:
        if not positive_int(total_steps):
            raise ValueError(
                f"OneCycleLR: total_steps must be a positive integer, got {total_steps!r}"
            )
        return total_steps
    if epochs is None or steps_per_epoch is None:
        raise ValueError("OneCycleLR: give either total_steps, or epochs and steps_per_epoch")
    for option, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if not positive_int(value):
            raise ValueError(f"OneCycleLR: {option} must be a positive integer, got {value!r}")
    return epochs * steps_per_epoch


def _phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """Each phase: its last step, and the group keys of the rates and momenta it goes from
    and to (PyTorch's layout, which state_dict carries)."""

    def phase(end_step: float, lrs: tuple[str, str], momenta: tuple[str, str]) -> dict[str, Any]:
        return {
            "end_step": end_step,
            "start_lr": lrs[0],
            "end_lr": lrs[1],
            "start_momentum": momenta[0],
            "end_momentum": momenta[1],
        }

    up, down = ("max_momentum", "base_momentum"), ("base_momentum", "max_momentum")
    peak = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            phase(peak, ("initial_lr", "max_lr"), up),
            phase(float(2 * pct_start * total_steps) - 2, ("max_lr", "initial_lr"), down),
            phase(total_steps - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum")),
        ]
    return [
        phase(peak, ("initial_lr", "max_lr"), up),
        phase(total_steps - 1, ("max_lr", "min_lr"), down),
    ]
