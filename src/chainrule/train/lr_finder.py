"""The learning-rate range test: how to choose the learning rate, measured on your own model.

Three of the seed articles end by asking how to choose the learning rate. The range test
answers it empirically (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017):
train briefly while the rate grows exponentially from ``start_lr`` to ``end_lr``, record the
loss at every step, stop when the loss blows up, then put the weights and the optimizer's state
back as they were. The loss falls fastest somewhere below the rate at which training diverges;
that rate is the suggestion.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from chainrule.train.checks import preflight
from chainrule.train.inputs import as_loader, check_batch_size


@dataclass
class LRFinderResult:
    """The curve of a range test and the rate it suggests.

    ``lrs[i]`` is the rate used at step i and ``losses[i]`` the loss of that step's batch;
    ``smoothed`` is their exponential moving average (bias-corrected), on which the suggestion
    is made: the rate where the smoothed loss falls fastest per decade of rate, taken before
    the minimum of the curve (and after the first tenth of the sweep). ``stopped_early`` tells
    whether the loss blew up before ``steps``.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float | None = None
    stopped_early: bool = False
    reason: str = ""

    def plot(self, path: str | os.PathLike[str], title: str | None = None) -> Path:
        """Write a PNG of loss against learning rate (log scale) with the suggestion marked."""
        from chainrule.optional import require

        require("matplotlib", "LRFinderResult.plot")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from chainrule.files import atomic_write

        figure = Figure(figsize=(7, 4.5), dpi=110)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(self.lrs, self.losses, color="0.75", linewidth=1, label="loss per step")
        axes.plot(self.lrs, self.smoothed, color="C0", linewidth=2, label="smoothed")
        if self.suggestion is not None:
            axes.axvline(
                self.suggestion,
                color="C3",
                linestyle="--",
                label=f"suggested lr = {self.suggestion:.3g}",
            )
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:
            # The blow-up at the end would squash the part of the curve that matters.
            low, top = min(finite), min(max(finite), 1.5 * finite[0])
            margin = 0.05 * (top - low) if top > low else 0.05 * abs(low) + 1e-12
            axes.set_ylim(low - margin, top + margin)
        axes.set_title(title or "Learning-rate range test")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
        figure.tight_layout()
        target = Path(path)
        with atomic_write(target, "wb") as handle:
            figure.savefig(handle, format="png")
        return target


def lr_find(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    data: Any,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    batch_size: int = 32,
    smoothing: float = 0.98,
    diverge: float = 4.0,
    seed: int | None = 0,
) -> LRFinderResult:
    """Run the learning-rate range test on ``model`` and restore it afterwards.

    The rate at step i is ``start_lr · (end_lr/start_lr)^(i/(steps−1))`` for every parameter
    group; batches cycle through ``data`` (as for :func:`fit`, shuffled from ``seed``). The
    test stops early when the smoothed loss exceeds ``diverge`` × its minimum so far, or
    becomes NaN/infinite. The model's weights and buffers, the optimizer's state and every
    group's rate are restored on return, even if an error interrupts the test.
    """
    where = "lr_find"
    for name, value in (("start_lr", start_lr), ("end_lr", end_lr)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{where}: {name} must be a positive number, got {value!r}")
    if end_lr <= start_lr:
        raise ValueError(f"{where}: end_lr ({end_lr}) must be above start_lr ({start_lr})")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"{where}: steps must be an integer >= 2, got {steps!r}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"{where}: smoothing must be in [0, 1), got {smoothing!r}")
    if not diverge > 1:
        raise ValueError(f"{where}: diverge must be above 1, got {diverge!r}")
    loader = as_loader(data, "data", where, check_batch_size(batch_size, where), True, seed)
    preflight(model, loss_fn, loader, "data", where)

    saved_weights = {name: t.numpy().copy() for name, t in model.state_dict().items()}
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_rates = [group["lr"] for group in optimizer.param_groups]
    was_training = model.training
    result = LRFinderResult()
    rates = numpy.geomspace(start_lr, end_lr, steps)
    average, best = 0.0, math.inf
    model.train()
    try:
        batches = iter(loader)
        for i, rate in enumerate(rates):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(loader)
                batch = next(batches)
            items = list(batch)
            for group in optimizer.param_groups:
                group["lr"] = float(rate)
            optimizer.zero_grad()
            loss = loss_fn(model(*items[:-1]), items[-1])
            value = float(loss.item())
            result.lrs.append(float(rate))
            result.losses.append(value)
            if not math.isfinite(value):
                result.smoothed.append(math.nan)
                result.stopped_early, result.reason = True, f"the loss became {value}"
                break
            average = smoothing * average + (1 - smoothing) * value
            smooth = average / (1 - smoothing ** (i + 1))
            result.smoothed.append(smooth)
            best = min(best, smooth)
            if i > 0 and smooth > diverge * best:
                result.stopped_early = True
                result.reason = f"the smoothed loss {smooth:.4g} exceeded {diverge}× its minimum"
                break
            loss.backward()
            optimizer.step()
        if not result.reason:
            result.reason = f"reached end_lr={end_lr} after {steps} steps"
        result.suggestion = _suggest(result.lrs, result.smoothed)
    finally:
        model.load_state_dict(saved_weights)
        optimizer.load_state_dict(saved_optimizer)
        for group, rate in zip(optimizer.param_groups, saved_rates):
            group["lr"] = rate
        model.train(was_training)
        optimizer.zero_grad()
    return result


def _suggest(lrs: list[float], smoothed: list[float]) -> float | None:
    """The rate of steepest descent of the smoothed loss against log10(rate), before its
    minimum; None when the curve is too short or never falls. The first tenth of the sweep is
    skipped: there the moving average still settles, and its wobble is not a real descent."""
    values = numpy.asarray(smoothed, dtype=float)
    finite = numpy.isfinite(values)
    values, rates = values[finite], numpy.asarray(lrs)[finite]
    skip = max(3, len(values) // 10)
    if len(values) - skip < 5:
        return None
    values, rates = values[skip:], rates[skip:]
    lowest = int(numpy.argmin(values))
    if lowest < 2:
        return None
    slope = numpy.gradient(values[: lowest + 1], numpy.log10(rates[: lowest + 1]))
    steepest = int(numpy.argmin(slope))
    if slope[steepest] >= 0:
        return None
    return float(rates[steepest])
