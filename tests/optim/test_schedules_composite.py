"""ChainedScheduler against torch.optim.lr_scheduler: schedules stepped together on one
optimizer, with momentum cycling inside, state_dict, and bad arguments. (SequentialLR is in
test_lr_scheduler.py.)"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

import chainrule as cr

from .schedule_traces import assert_same_rates, make_optimizer, optimizer_step, record, trace

CHAINS: dict[str, Callable[[Any, Any], Any]] = {
    "constant_exponential": lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, factor=0.1, total_iters=3), s.ExponentialLR(o, gamma=0.9)]
    ),
    "warmup_cosine_step": lambda s, o: s.ChainedScheduler(
        [
            s.LinearLR(o, start_factor=0.25, total_iters=5),
            s.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
            s.StepLR(o, step_size=7, gamma=0.5),
        ],
        optimizer=o,
    ),
    "polynomial_multiplicative": lambda s, o: s.ChainedScheduler(
        [s.PolynomialLR(o, total_iters=30, power=0.5), s.MultiplicativeLR(o, lambda e: 0.98)]
    ),
    "cyclic_then_step": lambda s, o: s.ChainedScheduler(
        [s.CyclicLR(o, 0.01, 0.1, step_size_up=3), s.MultiStepLR(o, milestones=[6, 12])]
    ),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_rates_and_momenta_match_torch(name: str) -> None:
    ours = trace(cr, CHAINS[name], with_momentum=True)
    assert_same_rates(ours, trace(torch, CHAINS[name], with_momentum=True))
    assert len({tuple(rates) for rates in ours}) > 5, "the schedule moved"


def test_a_chain_is_its_schedulers_stepped_in_turn() -> None:
    def separate(s: Any, o: Any) -> list:
        return [s.ConstantLR(o, factor=0.1, total_iters=3), s.ExponentialLR(o, gamma=0.9)]

    assert trace(cr, CHAINS["constant_exponential"]) == trace(cr, separate)


def test_state_dict_round_trip_continues_identically() -> None:
    build = CHAINS["warmup_cosine_step"]
    uninterrupted = trace(cr, build)
    optimizer, params = make_optimizer(cr)
    scheduler = build(cr.optim.lr_scheduler, optimizer)
    for _ in range(8):
        optimizer_step(cr, optimizer, params)
        scheduler.step()
    saved, saved_optimizer = copy.deepcopy(scheduler.state_dict()), optimizer.state_dict()
    assert [state["last_epoch"] for state in saved["_schedulers"]] == [8, 8, 8]
    assert "optimizer" not in saved

    fresh_optimizer, fresh_params = make_optimizer(cr)
    fresh = build(cr.optim.lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved)
    resumed = [record(fresh, fresh_optimizer)]
    for _ in range(8, 25):
        optimizer_step(cr, fresh_optimizer, fresh_params)
        fresh.step()
        resumed.append(record(fresh, fresh_optimizer))
    assert resumed == uninterrupted[8:]


BAD: list[tuple[Callable[[Any, Any], Any], type, str]] = [
    (lambda s, o: s.ChainedScheduler([]), ValueError, "at least one scheduler"),
    (lambda s, o: s.ChainedScheduler([s.ReduceLROnPlateau(o)]), ValueError, "ReduceLROnPlateau"),
    (
        lambda s, o: s.ChainedScheduler(
            [s.ExponentialLR(o, 0.9), s.ExponentialLR(make_optimizer(cr)[0], 0.9)]
        ),
        ValueError,
        r"schedulers\[1\] \(ExponentialLR\) belongs to another optimizer",
    ),
    (
        lambda s, o: s.ChainedScheduler([s.ExponentialLR(o, 0.9)], optimizer=make_optimizer(cr)[0]),
        ValueError,
        "another optimizer",
    ),
    (lambda s, o: s.ChainedScheduler([object()]), TypeError, "has no optimizer"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD)
def test_bad_arguments_raise(build: Callable, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build(cr.optim.lr_scheduler, make_optimizer(cr)[0])
