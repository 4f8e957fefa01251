"""Shared by the scheduler tests: the same optimizer in chainrule and torch, stepped with
hand-set gradients, and the rates (and momenta) that a scheduler sets, step by step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import chainrule as cr

STEPS = 25


def make_optimizer(library: Any, name: str = "SGD") -> tuple[Any, list]:
    """Two param groups at different rates (0.1 and 0.05): SGD (the second group with
    momentum 0.9), or Adam/RMSprop/... with their default options."""
    if library is torch:
        params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in range(2)]
    else:
        params = [cr.nn.Parameter(cr.zeros(2, dtype=cr.float64)) for _ in range(2)]
    second: dict[str, Any] = {"params": [params[1]], "lr": 0.05}
    if name == "SGD":
        second["momentum"] = 0.9
    groups = [{"params": [params[0]]}, second]
    return getattr(library.optim, name)(groups, lr=0.1), params


def optimizer_step(library: Any, optimizer: Any, params: list) -> None:
    optimizer.zero_grad()
    for p in params:
        p.grad = library.tensor(np.ones(2))
    optimizer.step()


def momenta(optimizer: Any) -> list[float]:
    """Each group's momentum: ``momentum``, or β1 of ``betas``."""
    return [
        float(group["betas"][0]) if "betas" in group else float(group.get("momentum", 0.0))
        for group in optimizer.param_groups
    ]


def trace(
    library: Any,
    build: Callable[[Any, Any], Any],
    steps: int = STEPS,
    metrics: list | None = None,
    optimizer_name: str = "SGD",
    with_momentum: bool = False,
) -> list[list[float]]:
    """The rates after construction and after each of ``steps`` (optimizer step, scheduler
    step) pairs: get_last_lr() and every group's lr, side by side (and the groups' momenta
    after them, with ``with_momentum``). ``build`` gets the library's lr_scheduler module and
    the optimizer, and returns a scheduler or a list of them to step in order (stacked on one
    optimizer)."""
    optimizer, params = make_optimizer(library, optimizer_name)
    built = build(library.optim.lr_scheduler, optimizer)
    schedulers = built if isinstance(built, list) else [built]
    rates = [record(schedulers[-1], optimizer, with_momentum)]
    for step in range(steps):
        optimizer_step(library, optimizer, params)
        for scheduler in schedulers:
            if metrics is None:
                scheduler.step()
            else:
                scheduler.step(metrics[step])
        rates.append(record(schedulers[-1], optimizer, with_momentum))
    return rates


def record(scheduler: Any, optimizer: Any, with_momentum: bool = False) -> list[float]:
    """get_last_lr(), then every group's lr (then every group's momentum)."""
    rates = [float(lr) for lr in scheduler.get_last_lr()]
    rates += [float(group["lr"]) for group in optimizer.param_groups]
    return rates + momenta(optimizer) if with_momentum else rates


def assert_same_rates(ours: list, theirs: list, rtol: float = 1e-12) -> None:
    assert len(ours) == len(theirs)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=rtol, atol=1e-18)
