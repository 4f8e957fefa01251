"""CosineAnnealingWarmRestarts against torch.optim.lr_scheduler: the rates over several
restarts with T_mult 1, 2 and 3, stepped per epoch, per batch with fractional epochs, and
both interleaved; state_dict; bad arguments."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

import chainrule as cr

from .schedule_traces import assert_same_rates, make_optimizer, optimizer_step, record, trace

RESTARTS: dict[str, Callable[[Any, Any], Any]] = {
    "period_3": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3),
    "eta_min": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=4, eta_min=0.01),
    "doubling": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=1e-3),
    "tripling": lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3),
}


@pytest.mark.parametrize("name", list(RESTARTS))
def test_rates_per_epoch_match_torch(name: str) -> None:
    """40 epochs: 13 restarts of period 3, 4 of periods 2, 4, 8, 16, ... ."""
    ours = trace(cr, RESTARTS[name], steps=40)
    assert_same_rates(ours, trace(torch, RESTARTS[name], steps=40))
    first = [rates[0] for rates in ours]
    assert max(first) == first[0] == 0.1, "each restart goes back to the base rate"


def fractional(library: Any, build: Callable, epochs: list[Any]) -> list[list[float]]:
    """The rates after step(epoch) for each of ``epochs`` (None: a plain step())."""
    optimizer, params = make_optimizer(library)
    scheduler = build(library.optim.lr_scheduler, optimizer)
    rates = [record(scheduler, optimizer)]
    for epoch in epochs:
        optimizer_step(library, optimizer, params)
        scheduler.step() if epoch is None else scheduler.step(epoch)
        rates.append(record(scheduler, optimizer) + [scheduler.last_epoch, scheduler.T_cur])
    return rates


PER_BATCH = [epoch + batch / 4 for epoch in range(20) for batch in range(4)]
INTERLEAVED = [None] * 5 + [26] + [None] * 4 + [7.5, None, 0, None, 45.25] + [None] * 6


@pytest.mark.parametrize("name", list(RESTARTS))
@pytest.mark.parametrize("epochs", [PER_BATCH, INTERLEAVED], ids=["per_batch", "interleaved"])
def test_fractional_and_jumping_epochs_match_torch(name: str, epochs: list) -> None:
    ours = fractional(cr, RESTARTS[name], epochs)
    theirs = fractional(torch, RESTARTS[name], epochs)
    # The rates, then last_epoch and T_cur after each step.
    assert_same_rates([r[:4] for r in ours], [r[:4] for r in theirs])
    assert_same_rates([r[4:] for r in ours[1:]], [r[4:] for r in theirs[1:]])


def test_a_negative_epoch_is_an_error() -> None:
    for library in (cr, torch):
        optimizer, _ = make_optimizer(library)
        scheduler = library.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=2)
        with pytest.raises(ValueError, match=r"(?i)non-negative epoch|epoch must be >= 0"):
            scheduler.step(-1)


def test_state_dict_round_trip_continues_identically() -> None:
    build = RESTARTS["doubling"]
    uninterrupted = trace(cr, build, steps=30)
    optimizer, params = make_optimizer(cr)
    scheduler = build(cr.optim.lr_scheduler, optimizer)
    for _ in range(11):
        optimizer_step(cr, optimizer, params)
        scheduler.step()
    saved, saved_optimizer = copy.deepcopy(scheduler.state_dict()), optimizer.state_dict()
    expected = ("T_0", "T_i", "T_mult", "T_cur", "eta_min", "base_lrs", "last_epoch")
    assert set(expected) <= set(saved)

    fresh_optimizer, fresh_params = make_optimizer(cr)
    fresh = build(cr.optim.lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved)
    resumed = [record(fresh, fresh_optimizer)]
    for _ in range(11, 30):
        optimizer_step(cr, fresh_optimizer, fresh_params)
        fresh.step()
        resumed.append(record(fresh, fresh_optimizer))
    assert resumed == uninterrupted[11:]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"T_0": 0}, "T_0"),
        ({"T_0": 2.5}, "T_0"),
        ({"T_0": 2, "T_mult": 0}, "T_mult"),
        ({"T_0": 2, "T_mult": 1.5}, "T_mult"),
        ({"T_0": 2, "eta_min": "0"}, "eta_min"),
    ],
)
def test_bad_arguments_are_value_errors_as_in_torch(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=f"CosineAnnealingWarmRestarts: {match}"):
        cr.optim.lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(cr)[0], **options)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(make_optimizer(torch)[0], **options)
