"""Learning-rate schedulers against torch.optim.lr_scheduler: the rates over 25 steps (from
get_last_lr() and from the param groups) for every scheduler, SequentialLR with milestones,
stacked schedulers, ReduceLROnPlateau fed the same metrics, state_dict round trips, resuming,
and bad arguments."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

import chainrule as cr
import chainrule.optim.lr_scheduler as lr_scheduler_module

from .schedule_traces import assert_same_rates, make_optimizer, optimizer_step, record, trace

SCHEDULERS: dict[str, Callable[[Any, Any], Any]] = {
    "constant": lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=4),
    "constant_default": lambda s, o: s.ConstantLR(o),
    "linear_warmup": lambda s, o: s.LinearLR(o, start_factor=0.1, total_iters=8),
    "linear_decay": lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=10),
    "linear_default": lambda s, o: s.LinearLR(o),
    "exponential": lambda s, o: s.ExponentialLR(o, gamma=0.9),
    "step": lambda s, o: s.StepLR(o, step_size=3, gamma=0.5),
    "step_default_gamma": lambda s, o: s.StepLR(o, step_size=4),
    "multistep": lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.3),
    "cosine": lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.001),  # past T_max too
    "cosine_to_zero": lambda s, o: s.CosineAnnealingLR(o, T_max=7),
    "lambda": lambda s, o: s.LambdaLR(o, lambda epoch: 0.95**epoch),
    "lambda_per_group": lambda s, o: s.LambdaLR(
        o, [lambda epoch: 1 / (1 + epoch), lambda epoch: min(1.0, (epoch + 1) / 5)]
    ),
    "sequential_warmup_cosine": lambda s, o: s.SequentialLR(
        o,
        [s.LinearLR(o, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(o, T_max=15)],
        milestones=[5],
    ),
    "sequential_three": lambda s, o: s.SequentialLR(
        o,
        [
            s.ConstantLR(o, factor=0.2, total_iters=10),
            s.ExponentialLR(o, gamma=0.8),
            s.StepLR(o, step_size=2, gamma=0.5),
        ],
        milestones=[3, 10],
    ),
    "sequential_lambda_multistep": lambda s, o: s.SequentialLR(
        o,
        [s.LambdaLR(o, lambda epoch: (epoch + 1) / 4), s.MultiStepLR(o, [3, 6], gamma=0.5)],
        milestones=[4],
    ),
    "sequential_milestone_zero": lambda s, o: s.SequentialLR(
        o, [s.ConstantLR(o, factor=0.5), s.ExponentialLR(o, gamma=0.9)], milestones=[0]
    ),
    "stacked_exponential_step": lambda s, o: [
        s.ExponentialLR(o, gamma=0.9),
        s.StepLR(o, step_size=4, gamma=0.5),
    ],
    "stacked_warmup_cosine": lambda s, o: [
        s.LinearLR(o, start_factor=0.25, total_iters=4),
        s.CosineAnnealingLR(o, T_max=20),
    ],
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_rates_match_torch(name: str) -> None:
    ours = trace(cr, SCHEDULERS[name])
    theirs = trace(torch, SCHEDULERS[name])
    assert_same_rates(ours, theirs)
    assert len({tuple(r) for r in ours}) > 1, "the schedule changed the rates"
    for rates in ours:  # get_last_lr() is what the groups hold
        assert rates[:2] == rates[2:]


METRICS = [1.0, 0.8, 0.8, 0.81, 0.79995, 0.8, 0.7, 0.7, 0.7, 0.7, 0.69, 0.69, 0.69]
METRICS += [0.69, 0.69, 0.5, 0.5, 0.5, 0.52, 0.5, 0.4999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
PLATEAUS: dict[str, tuple[dict, list]] = {
    "default": ({}, METRICS + [0.5] * 10),  # patience 10 runs out at the end
    "patience": ({"patience": 2}, METRICS),
    "cooldown": ({"patience": 1, "cooldown": 2, "factor": 0.5}, METRICS),
    "max_abs": (
        {"mode": "max", "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
        [-m for m in METRICS],
    ),
    "max_rel": ({"mode": "max", "patience": 0, "factor": 0.7}, [1 - m for m in METRICS]),
    "min_abs": ({"threshold_mode": "abs", "threshold": 0.02, "patience": 1}, METRICS),
    "min_lr_per_group": ({"patience": 0, "factor": 0.5, "min_lr": [0.02, 0.001]}, METRICS),
    "min_lr_and_eps": ({"patience": 0, "factor": 0.5, "min_lr": 0.01, "eps": 0.003}, METRICS),
}


@pytest.mark.parametrize("name", list(PLATEAUS))
def test_reduce_on_plateau_matches_torch(name: str) -> None:
    options, metrics = PLATEAUS[name]

    def build(s: Any, o: Any) -> Any:
        return s.ReduceLROnPlateau(o, **options)

    ours = trace(cr, build, steps=len(metrics), metrics=metrics)
    theirs = trace(torch, build, steps=len(metrics), metrics=metrics)
    assert_same_rates(ours, theirs)
    assert ours[-1] != ours[0], "the rates were reduced"


def test_reduce_on_plateau_takes_one_element_tensors() -> None:
    optimizer, _ = make_optimizer(cr)
    scheduler = cr.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    for metric in (1.0, 2.0, 3.0):
        scheduler.step(cr.tensor(metric))
    assert scheduler.get_last_lr() == [0.1 * 0.25, 0.05 * 0.25]
    assert scheduler.best == 1.0 and scheduler.last_epoch == 3


# ---- state_dict and resuming ---------------------------------------------------------------


class Warmup:
    """A callable object: its attributes travel in LambdaLR's state_dict."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.epochs)


ROUND_TRIPS: dict[str, tuple[Callable[[Any, Any], Any], list | None]] = {
    "cosine": (SCHEDULERS["cosine"], None),
    "multistep": (SCHEDULERS["multistep"], None),
    "linear_warmup": (SCHEDULERS["linear_warmup"], None),
    "sequential_warmup_cosine": (SCHEDULERS["sequential_warmup_cosine"], None),
    "sequential_three": (SCHEDULERS["sequential_three"], None),
    "lambda_object": (lambda s, o: s.LambdaLR(o, Warmup(8)), None),
    "plateau": (lambda s, o: s.ReduceLROnPlateau(o, patience=1, cooldown=1), METRICS),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_state_dict_round_trip_continues_identically(name: str) -> None:
    build, metrics = ROUND_TRIPS[name]
    steps = 20
    uninterrupted = trace(cr, build, steps=steps, metrics=metrics)

    optimizer, params = make_optimizer(cr)
    scheduler = build(cr.optim.lr_scheduler, optimizer)
    for step in range(10):
        optimizer_step(cr, optimizer, params)
        scheduler.step() if metrics is None else scheduler.step(metrics[step])
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved = copy.deepcopy(scheduler.state_dict())

    # PyTorch's order: build the optimizer and the scheduler, then load both states.
    fresh_optimizer, fresh_params = make_optimizer(cr)
    if name == "lambda_object":  # a different object: its attributes come from the save
        fresh = cr.optim.lr_scheduler.LambdaLR(fresh_optimizer, Warmup(2))
    else:
        fresh = build(cr.optim.lr_scheduler, fresh_optimizer)
    fresh_optimizer.load_state_dict(saved_optimizer)
    fresh.load_state_dict(saved)
    resumed = [record(fresh, fresh_optimizer)]
    for step in range(10, steps):
        optimizer_step(cr, fresh_optimizer, fresh_params)
        fresh.step() if metrics is None else fresh.step(metrics[step])
        resumed.append(record(fresh, fresh_optimizer))
    assert resumed == uninterrupted[10:]
    if name == "lambda_object":
        assert fresh.lr_lambdas[0].epochs == 8


def test_state_dict_holds_what_torch_holds() -> None:
    def build(s: Any, o: Any) -> Any:
        return s.StepLR(o, step_size=3, gamma=0.5)

    (ours, params), (theirs, tensors) = make_optimizer(cr), make_optimizer(torch)
    scheduler = build(cr.optim.lr_scheduler, ours)
    reference = build(torch.optim.lr_scheduler, theirs)
    for _ in range(5):
        optimizer_step(cr, ours, params)
        optimizer_step(torch, theirs, tensors)
        scheduler.step()
        reference.step()
    saved, expected = scheduler.state_dict(), reference.state_dict()
    assert "optimizer" not in saved
    for key in ("step_size", "gamma", "base_lrs", "last_epoch", "_step_count", "_last_lr"):
        assert saved[key] == expected[key], key


def test_lambda_state_dict_skips_plain_functions() -> None:
    optimizer, _ = make_optimizer(cr)
    scheduler = cr.optim.lr_scheduler.LambdaLR(optimizer, [lambda epoch: 1.0, Warmup(3)])
    assert scheduler.state_dict()["lr_lambdas"] == [None, {"epochs": 3}]


@pytest.mark.parametrize(
    "build",
    [
        lambda s, o, e: s.CosineAnnealingLR(o, T_max=10, eta_min=0.01, last_epoch=e),
        lambda s, o, e: s.ExponentialLR(o, gamma=0.8, last_epoch=e),
        lambda s, o, e: s.StepLR(o, step_size=3, last_epoch=e),
        lambda s, o, e: s.LinearLR(o, start_factor=0.2, total_iters=10, last_epoch=e),
    ],
)
def test_resuming_with_last_epoch_matches_torch(build: Callable) -> None:
    """A scheduler built with last_epoch=4 on groups that already hold initial_lr."""

    def resumed(s: Any, o: Any) -> Any:
        for group in o.param_groups:
            group["initial_lr"] = group["lr"]
            group["lr"] *= 0.7  # the rate the run had reached
        return build(s, o, 4)

    assert_same_rates(trace(cr, resumed, steps=12), trace(torch, resumed, steps=12))


def test_resuming_without_initial_lr_is_a_key_error() -> None:
    optimizer, _ = make_optimizer(cr)
    with pytest.raises(KeyError, match="initial_lr"):
        cr.optim.lr_scheduler.StepLR(optimizer, step_size=3, last_epoch=5)


@pytest.mark.parametrize(
    ("build", "epoch"),
    [
        (lambda s, o: s.ExponentialLR(o, gamma=0.9), 7),
        (lambda s, o: s.StepLR(o, step_size=3, gamma=0.5), 7),
        (lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.5), 6),
        (lambda s, o: s.CosineAnnealingLR(o, T_max=10), 3),
        (lambda s, o: s.LinearLR(o, start_factor=0.2, total_iters=10), 4),
        (lambda s, o: s.ConstantLR(o, factor=0.2, total_iters=5), 5),
        (lambda s, o: s.LambdaLR(o, lambda epoch: 1 / (epoch + 1)), 3),
    ],
)
def test_step_to_an_epoch_uses_the_closed_form_and_warns(build: Callable, epoch: int) -> None:
    rates = []
    for library in (cr, torch):
        optimizer, params = make_optimizer(library)
        scheduler = build(library.optim.lr_scheduler, optimizer)
        optimizer_step(library, optimizer, params)
        with pytest.warns(UserWarning, match="deprecated"):
            scheduler.step(epoch)
        assert scheduler.last_epoch == epoch
        rates.append(record(scheduler, optimizer))
    assert_same_rates([rates[0]], [rates[1]])


# ---- construction --------------------------------------------------------------------------


def test_lr_scheduler_is_a_module_of_optim_as_in_torch() -> None:
    assert cr.optim.lr_scheduler is lr_scheduler_module
    for name in lr_scheduler_module.__all__:
        scheduler = getattr(cr.optim.lr_scheduler, name)
        assert issubclass(scheduler, cr.optim.lr_scheduler.LRScheduler)
        assert hasattr(torch.optim.lr_scheduler, name)


def test_construction_records_initial_lr() -> None:
    optimizer, _ = make_optimizer(cr)
    scheduler = cr.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.5)
    assert [g["initial_lr"] for g in optimizer.param_groups] == [0.1, 0.05]
    assert scheduler.base_lrs == [0.1, 0.05]
    assert scheduler.get_last_lr() == [0.05, 0.025]
    assert scheduler.last_epoch == 0


def two_optimizers() -> tuple[Any, Any]:
    return make_optimizer(cr)[0], make_optimizer(cr)[0]


BAD: list[tuple[Callable[[Any, Any], Any], type, str]] = [
    (lambda s, o: s.StepLR(object(), step_size=2), TypeError, "StepLR: expected an Optimizer"),
    (lambda s, o: s.StepLR(o, step_size=0), ValueError, "StepLR: step_size"),
    (lambda s, o: s.StepLR(o, step_size=2.5), ValueError, "StepLR: step_size"),
    (lambda s, o: s.StepLR(o, step_size=2, gamma=-0.1), ValueError, "StepLR: gamma"),
    (lambda s, o: s.MultiStepLR(o, [2], gamma=float("nan")), ValueError, "MultiStepLR: gamma"),
    (lambda s, o: s.ExponentialLR(o, gamma=-1.0), ValueError, "ExponentialLR: gamma"),
    (lambda s, o: s.ConstantLR(o, factor=1.5), ValueError, "ConstantLR: factor"),
    (lambda s, o: s.ConstantLR(o, factor=0.0), ValueError, "ConstantLR: factor"),
    (lambda s, o: s.ConstantLR(o, total_iters=0), ValueError, "ConstantLR: total_iters"),
    (lambda s, o: s.LinearLR(o, start_factor=0.0), ValueError, "LinearLR: start_factor"),
    (lambda s, o: s.LinearLR(o, end_factor=1.5), ValueError, "LinearLR: end_factor"),
    (lambda s, o: s.LinearLR(o, total_iters=-1), ValueError, "LinearLR: total_iters"),
    (lambda s, o: s.CosineAnnealingLR(o, T_max=0), ValueError, "CosineAnnealingLR: T_max"),
    (lambda s, o: s.CosineAnnealingLR(o, 5, eta_min=-1), ValueError, "CosineAnnealingLR: eta_min"),
    (lambda s, o: s.LambdaLR(o, [lambda e: 1.0]), ValueError, "LambdaLR: expected 2"),
    (lambda s, o: s.LambdaLR(o, 0.5), TypeError, "LambdaLR: lr_lambda must be callable"),
    (lambda s, o: s.ReduceLROnPlateau(o, factor=1.0), ValueError, "ReduceLROnPlateau: factor"),
    (lambda s, o: s.ReduceLROnPlateau(o, mode="avg"), ValueError, "ReduceLROnPlateau: mode"),
    (lambda s, o: s.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold_mode"),
    (lambda s, o: s.ReduceLROnPlateau(o, patience=-1), ValueError, "ReduceLROnPlateau: patience"),
    (lambda s, o: s.ReduceLROnPlateau(o, cooldown=1.5), ValueError, "ReduceLROnPlateau: cooldown"),
    (lambda s, o: s.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 values of min_lr"),
    (lambda s, o: s.ReduceLROnPlateau(o, min_lr=-1.0), ValueError, "ReduceLROnPlateau: min_lr"),
    (lambda s, o: s.ReduceLROnPlateau(o, eps=-1.0), ValueError, "ReduceLROnPlateau: eps"),
    (
        lambda s, o: s.SequentialLR(o, [s.ExponentialLR(o, 0.9)], milestones=[3]),
        ValueError,
        "SequentialLR: expected 0 milestones",
    ),
    (lambda s, o: s.SequentialLR(o, [], milestones=[]), ValueError, "at least one scheduler"),
    (
        lambda s, o: s.SequentialLR(o, [s.ReduceLROnPlateau(o)], milestones=[]),
        ValueError,
        "ReduceLROnPlateau",
    ),
    (
        lambda s, o: s.SequentialLR(
            o, [s.ExponentialLR(o, 0.9), s.ExponentialLR(make_optimizer(cr)[0], 0.9)], [2]
        ),
        ValueError,
        r"schedulers\[1\] \(ExponentialLR\) belongs to another optimizer",
    ),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD)
def test_bad_arguments_raise(build: Callable, error: type, match: str) -> None:
    optimizer, _ = make_optimizer(cr)
    with pytest.raises(error, match=match):
        build(cr.optim.lr_scheduler, optimizer)


def test_plateau_with_a_group_added_later() -> None:
    optimizer, _ = make_optimizer(cr)
    shared = cr.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, min_lr=0.01)
    per_group = cr.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, min_lr=[0, 0])
    optimizer.add_param_group({"params": [cr.nn.Parameter(cr.zeros(1))], "lr": 0.5})
    for metric in (1.0, 2.0):
        shared.step(metric)
    assert shared.get_last_lr() == pytest.approx([0.01, 0.01, 0.05])
    per_group.step(1.0)
    with pytest.raises(RuntimeError, match="3 param groups but min_lr gave 2"):
        per_group.step(2.0)
