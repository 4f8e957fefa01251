"""PolynomialLR and MultiplicativeLR against torch.optim.lr_scheduler: the rates past the
end of the schedule, alone and stacked, jumping to an epoch, state_dict, bad arguments. (The
older factor schedules are in test_lr_scheduler.py.)"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

import chainrule as cr

from .schedule_traces import assert_same_rates, make_optimizer, optimizer_step, record, trace


class Shrink:
    """A callable object: its attributes travel in MultiplicativeLR's state_dict."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def __call__(self, epoch: int) -> float:
        return self.factor if epoch % 3 == 0 else 1.0


SCHEDULES: dict[str, Callable[[Any, Any], Any]] = {
    "polynomial_default": lambda s, o: s.PolynomialLR(o),
    "polynomial_square": lambda s, o: s.PolynomialLR(o, total_iters=10, power=2.0),
    "polynomial_root": lambda s, o: s.PolynomialLR(o, total_iters=8, power=0.5),
    "multiplicative": lambda s, o: s.MultiplicativeLR(o, lambda epoch: 0.95),
    "multiplicative_per_group": lambda s, o: s.MultiplicativeLR(
        o, [lambda epoch: 0.9, lambda epoch: 1.0 + 0.01 * epoch]
    ),
    "multiplicative_object": lambda s, o: s.MultiplicativeLR(o, Shrink(0.5)),
    "stacked_warmup_polynomial": lambda s, o: [
        s.LinearLR(o, start_factor=0.2, total_iters=4),
        s.PolynomialLR(o, total_iters=20, power=1.5),
    ],
    "stacked_multiplicative_step": lambda s, o: [
        s.MultiplicativeLR(o, lambda epoch: 0.97),
        s.StepLR(o, step_size=5, gamma=0.5),
    ],
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_rates_match_torch(name: str) -> None:
    """25 steps: past total_iters, where the polynomial stays at 0."""
    ours = trace(cr, SCHEDULES[name])
    assert_same_rates(ours, trace(torch, SCHEDULES[name]))
    assert len({tuple(rates) for rates in ours}) > 2, "the schedule moved"


def test_polynomial_reaches_zero_at_total_iters() -> None:
    rates = [r[0] for r in trace(cr, SCHEDULES["polynomial_square"], steps=12)]
    assert rates[:3] == pytest.approx([0.1, 0.1 * 0.9**2, 0.1 * 0.8**2])
    assert rates[10:] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["polynomial_square", "multiplicative_per_group"])
@pytest.mark.parametrize("epoch", [3, 15])
def test_step_to_an_epoch_matches_torch(name: str, epoch: int) -> None:
    """PolynomialLR jumps by its closed form; MultiplicativeLR applies one more factor."""
    rates = []
    for library in (cr, torch):
        optimizer, params = make_optimizer(library)
        scheduler = SCHEDULES[name](library.optim.lr_scheduler, optimizer)
        optimizer_step(library, optimizer, params)
        with pytest.warns(UserWarning, match="deprecated"):
            scheduler.step(epoch)
        rates.append(record(scheduler, optimizer))
    assert_same_rates([rates[0]], [rates[1]])


@pytest.mark.parametrize("name", ["polynomial_root", "multiplicative_object"])
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    build = SCHEDULES[name]
    uninterrupted = trace(cr, build, steps=16)
    optimizer, params = make_optimizer(cr)
    scheduler = build(cr.optim.lr_scheduler, optimizer)
    for _ in range(6):
        optimizer_step(cr, optimizer, params)
        scheduler.step()
    saved, saved_optimizer = copy.deepcopy(scheduler.state_dict()), optimizer.state_dict()

    fresh_optimizer, fresh_params = make_optimizer(cr)
    if name == "multiplicative_object":  # another object: its attributes come from the save
        fresh = cr.optim.lr_scheduler.MultiplicativeLR(fresh_optimizer, Shrink(0.9))
        assert saved["lr_lambdas"] == [{"factor": 0.5}, {"factor": 0.5}]
    else:
        fresh = build(cr.optim.lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved)
    resumed = [record(fresh, fresh_optimizer)]
    for _ in range(6, 16):
        optimizer_step(cr, fresh_optimizer, fresh_params)
        fresh.step()
        resumed.append(record(fresh, fresh_optimizer))
    assert resumed == uninterrupted[6:]


def test_multiplicative_state_dict_skips_plain_functions_as_torch_does() -> None:
    for library in (cr, torch):
        optimizer, _ = make_optimizer(library)
        scheduler = library.optim.lr_scheduler.MultiplicativeLR(
            optimizer, [lambda epoch: 1.0, Shrink(0.3)]
        )
        assert scheduler.state_dict()["lr_lambdas"] == [None, {"factor": 0.3}]


BAD: list[tuple[Callable[[Any, Any], Any], type, str]] = [
    (lambda s, o: s.PolynomialLR(o, total_iters=0), ValueError, "PolynomialLR: total_iters"),
    (lambda s, o: s.PolynomialLR(o, total_iters=2.5), ValueError, "PolynomialLR: total_iters"),
    (lambda s, o: s.PolynomialLR(o, power=-1.0), ValueError, "PolynomialLR: power"),
    (lambda s, o: s.MultiplicativeLR(o, [lambda e: 1.0]), ValueError, "expected 2 values"),
    (lambda s, o: s.MultiplicativeLR(o, 0.9), TypeError, "lr_lambda must be callable"),
    (lambda s, o: s.MultiplicativeLR(object(), lambda e: 1.0), TypeError, "an Optimizer"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD)
def test_bad_arguments_raise(build: Callable, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build(cr.optim.lr_scheduler, make_optimizer(cr)[0])
