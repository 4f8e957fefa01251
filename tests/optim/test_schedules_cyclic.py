"""CyclicLR and OneCycleLR against torch.optim.lr_scheduler: the rates and the momenta (SGD's
momentum, Adam's β1) over every phase of the cycles, state_dict, and bad arguments."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

from .schedule_traces import assert_same_rates, make_optimizer, optimizer_step, record, trace


class Halving:
    """A callable scale_fn object: its attributes travel in CyclicLR's state_dict."""

    def __init__(self, base: float) -> None:
        self.base = base

    def __call__(self, x: float) -> float:
        return self.base**x


CYCLIC: dict[str, Callable[[Any, Any], Any]] = {
    "triangular": lambda s, o: s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "triangular_down": lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5
    ),
    "triangular2": lambda s, o: s.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=2, mode="triangular2"
    ),
    "exp_range": lambda s, o: s.CyclicLR(
        o, base_lr=0.001, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9
    ),
    "scale_fn_cycle": lambda s, o: s.CyclicLR(
        o, 0.01, 0.1, step_size_up=2, scale_fn=lambda c: 1 / c, scale_mode="cycle"
    ),
    "scale_fn_iterations": lambda s, o: s.CyclicLR(
        o, 0.01, 0.1, step_size_up=2, scale_fn=lambda n: 0.95**n, scale_mode="iterations"
    ),
    "momentum_bounds": lambda s, o: s.CyclicLR(
        o, 0.01, 0.1, step_size_up=3, base_momentum=[0.5, 0.7], max_momentum=[0.9, 0.95]
    ),
    "no_momentum": lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=4, cycle_momentum=False),
}

ONE_CYCLE: dict[str, Callable[[Any, Any], Any]] = {
    "cos": lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=30),
    "linear": lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=30, anneal_strategy="linear"),
    "three_phase": lambda s, o: s.OneCycleLR(
        o, max_lr=[0.5, 0.2], total_steps=30, three_phase=True
    ),
    "three_phase_linear": lambda s, o: s.OneCycleLR(
        o, max_lr=0.5, total_steps=30, three_phase=True, anneal_strategy="linear", pct_start=0.2
    ),
    "epochs": lambda s, o: s.OneCycleLR(o, max_lr=0.5, epochs=5, steps_per_epoch=6),
    "factors": lambda s, o: s.OneCycleLR(
        o, max_lr=1.0, total_steps=30, pct_start=0.5, div_factor=10.0, final_div_factor=100.0
    ),
    "momentum_bounds": lambda s, o: s.OneCycleLR(
        o, max_lr=0.5, total_steps=30, base_momentum=[0.6, 0.7], max_momentum=0.99
    ),
    "no_momentum": lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=30, cycle_momentum=False),
    "pct_start_zero": lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=30, pct_start=0.0),
}


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam", "RMSprop", "NAdam"])
@pytest.mark.parametrize("name", list(CYCLIC))
def test_cyclic_rates_and_momenta_match_torch(name: str, optimizer_name: str) -> None:
    """30 steps: several cycles, up and down, for the rates and the momenta."""
    options = {"steps": 30, "optimizer_name": optimizer_name, "with_momentum": True}
    ours = trace(cr, CYCLIC[name], **options)
    theirs = trace(torch, CYCLIC[name], **options)
    assert_same_rates(ours, theirs)
    assert len({tuple(rates) for rates in ours}) > 2, "the schedule moved"


@pytest.mark.parametrize("optimizer_name", ["SGD", "Adam", "RAdam"])
@pytest.mark.parametrize("name", list(ONE_CYCLE))
def test_one_cycle_rates_and_momenta_match_torch(name: str, optimizer_name: str) -> None:
    """Every step up to total_steps (the last one past the final phase's end, as allowed)."""
    options = {"steps": 30, "optimizer_name": optimizer_name, "with_momentum": True}
    ours = trace(cr, ONE_CYCLE[name], **options)
    theirs = trace(torch, ONE_CYCLE[name], **options)
    assert_same_rates(ours, theirs)


def test_one_cycle_goes_up_to_max_lr_and_down_to_the_minimum() -> None:
    rates = trace(cr, ONE_CYCLE["cos"], steps=29)
    first = [r[0] for r in rates]
    assert first[0] == pytest.approx(0.5 / 25)
    assert max(first) == pytest.approx(0.5)
    assert first[-1] == pytest.approx(0.5 / 25 / 1e4)


def test_one_cycle_refuses_to_step_past_total_steps() -> None:
    for library in (cr, torch):
        optimizer, params = make_optimizer(library)
        scheduler = library.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=3)
        for _ in range(3):
            optimizer_step(library, optimizer, params)
            scheduler.step()
        with pytest.raises(ValueError, match=r"(?i)tried to step 4 times"):
            scheduler.step()


def test_cycle_momentum_sets_the_momentum_at_construction() -> None:
    optimizer, _ = make_optimizer(cr, "Adam")
    cr.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10, max_momentum=0.93)
    assert [group["betas"] for group in optimizer.param_groups] == [(0.93, 0.999)] * 2
    assert [group["initial_lr"] for group in optimizer.param_groups] == [0.1 / 25] * 2
    optimizer, _ = make_optimizer(cr)
    cr.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, max_momentum=0.85)
    assert [group["momentum"] for group in optimizer.param_groups] == [0.85, 0.85]
    assert [group["lr"] for group in optimizer.param_groups] == [0.01, 0.01]


def test_the_cycled_momentum_drives_the_optimizer_as_in_torch() -> None:
    """SGD with CyclicLR and Adam with OneCycleLR: the parameters after 20 steps."""
    for name, build in (
        ("SGD", CYCLIC["momentum_bounds"]),
        ("Adam", ONE_CYCLE["three_phase"]),
    ):
        results = []
        for library in (cr, torch):
            optimizer, params = make_optimizer(library, name)
            scheduler = build(library.optim.lr_scheduler, optimizer)
            for step in range(20):
                optimizer.zero_grad()
                for p in params:
                    p.grad = library.tensor(np.array([1.0, -2.0]) * np.cos(step))
                optimizer.step()
                scheduler.step()
            results.append(np.concatenate([np.asarray(p.detach().numpy()) for p in params]))
        np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-14)


# ---- state_dict ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [CYCLIC["triangular2"], CYCLIC["exp_range"], ONE_CYCLE["three_phase"], ONE_CYCLE["linear"]],
)
def test_state_dict_round_trip_continues_identically(build: Callable) -> None:
    uninterrupted = trace(cr, build, steps=25, optimizer_name="Adam", with_momentum=True)

    optimizer, params = make_optimizer(cr, "Adam")
    scheduler = build(cr.optim.lr_scheduler, optimizer)
    for _ in range(12):
        optimizer_step(cr, optimizer, params)
        scheduler.step()
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved = copy.deepcopy(scheduler.state_dict())

    fresh_optimizer, fresh_params = make_optimizer(cr, "Adam")
    fresh = build(cr.optim.lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved)
    resumed = [record(fresh, fresh_optimizer, with_momentum=True)]
    for _ in range(12, 25):
        optimizer_step(cr, fresh_optimizer, fresh_params)
        fresh.step()
        resumed.append(record(fresh, fresh_optimizer, with_momentum=True))
    assert resumed == uninterrupted[12:]


def test_state_dict_holds_what_torch_holds() -> None:
    built = []
    for library in (cr, torch):
        optimizer, params = make_optimizer(library)
        one_cycle = ONE_CYCLE["three_phase"](library.optim.lr_scheduler, optimizer)
        optimizer, params = make_optimizer(library)
        cyclic = library.optim.lr_scheduler.CyclicLR(
            optimizer, 0.01, 0.1, step_size_up=3, scale_fn=Halving(0.5)
        )
        for _ in range(4):
            optimizer_step(library, optimizer, params)
            cyclic.step()
        built.append((one_cycle.state_dict(), cyclic.state_dict()))
    (one_cycle, cyclic), (expected_one_cycle, expected_cyclic) = built
    for key in ("total_steps", "_schedule_phases", "_anneal_func_type", "use_beta1", "base_lrs"):
        assert one_cycle[key] == expected_one_cycle[key], key
    for key in ("total_size", "step_ratio", "scale_mode", "max_lrs", "base_momentums"):
        assert cyclic[key] == expected_cyclic[key], key
    assert cyclic["_scale_fn_custom"] == expected_cyclic["_scale_fn_custom"] == {"base": 0.5}
    assert cyclic["last_epoch"] == expected_cyclic["last_epoch"] == 4


def test_a_custom_scale_fn_object_gets_its_attributes_back() -> None:
    optimizer, _ = make_optimizer(cr)
    scheduler = cr.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, scale_fn=Halving(0.5))
    saved = scheduler.state_dict()
    other = cr.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, scale_fn=Halving(0.9))
    other.load_state_dict(saved)
    assert other._scale_fn_custom.base == 0.5
    plain = cr.optim.lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, scale_fn=lambda x: 1.0)
    assert plain.state_dict()["_scale_fn_custom"] is None


# ---- construction --------------------------------------------------------------------------


BAD: list[tuple[Callable[[Any, Any], Any], str]] = [
    (lambda s, o: s.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), "mode"),
    (lambda s, o: s.CyclicLR(o, [0.01], 0.1), "expected 2 values of base_lr"),
    (lambda s, o: s.CyclicLR(o, 0.01, [0.1, 0.2, 0.3]), "expected 2 values of max_lr"),
    (lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=0), "step_size_up"),
    (lambda s, o: s.OneCycleLR(o, max_lr=0.1), "total_steps, or epochs and steps_per_epoch"),
    (lambda s, o: s.OneCycleLR(o, max_lr=0.1, total_steps=0), "total_steps"),
    (lambda s, o: s.OneCycleLR(o, max_lr=0.1, total_steps=2.5), "total_steps"),
    (lambda s, o: s.OneCycleLR(o, max_lr=0.1, epochs=0, steps_per_epoch=3), "epochs"),
    (lambda s, o: s.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-1), "steps_per_epoch"),
    (lambda s, o: s.OneCycleLR(o, max_lr=0.1, total_steps=5, pct_start=1.5), "pct_start"),
    (lambda s, o: s.OneCycleLR(o, max_lr=0.1, total_steps=5, pct_start=1), "pct_start"),
    (lambda s, o: s.OneCycleLR(o, 0.1, total_steps=5, anneal_strategy="exp"), "anneal_strategy"),
    (lambda s, o: s.OneCycleLR(o, max_lr=[0.1], total_steps=5), "expected 2 values of max_lr"),
]


@pytest.mark.parametrize(("build", "match"), BAD)
def test_bad_arguments_are_value_errors_as_in_torch(build: Callable, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(cr.optim.lr_scheduler, make_optimizer(cr)[0])
    if "step_size_up" not in match:  # PyTorch takes a cycle of no steps, and divides by 0
        with pytest.raises(ValueError):
            build(torch.optim.lr_scheduler, make_optimizer(torch)[0])


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1}),
        ("OneCycleLR", {"max_lr": 0.1, "total_steps": 9}),
    ],
)
def test_cycling_the_momentum_of_an_optimizer_without_one_is_an_error(
    name: str, options: dict
) -> None:
    with pytest.raises(ValueError, match="cycle_momentum"):
        getattr(cr.optim.lr_scheduler, name)(make_optimizer(cr, "Adagrad")[0], **options)
    with pytest.raises(ValueError, match="momentum"):
        getattr(torch.optim.lr_scheduler, name)(make_optimizer(torch, "Adagrad")[0], **options)

    # Without cycle_momentum, Adagrad's rate cycles as any other.
    def build(s: Any, o: Any) -> Any:
        return getattr(s, name)(o, cycle_momentum=False, **options)

    ours = trace(cr, build, steps=9, optimizer_name="Adagrad")
    assert_same_rates(ours, trace(torch, build, steps=9, optimizer_name="Adagrad"))
