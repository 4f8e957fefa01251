"""The learning-rate range test: how to choose the learning rate, measured on your own model.

Three of the seed articles end by asking how to choose the learning rate. The range test
answers it empirically (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017):
train briefly while the rate grows exponentially from ``start_lr`` to ``end_lr``, record the
loss at every step, stop when the loss blows up, then put the weights and the optimizer's state
back as they were. The loss falls fastest somewhere below the rate at which training diverges;
that rate is the suggestion.

One batch's loss is noisy, so the suggestion is read from a trend fitted through many batches
(:func:`_trend`), not from single points. Optionally, the curvature of the loss at the starting
weights gives a second answer: plain gradient descent is stable for steps below 2/λ_max, where
λ_max is the largest eigenvalue of the loss's Hessian (:func:`chainrule.inspect.sharpness`).
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from chainrule.train.checks import kept_random_state, loader_generators, preflight
from chainrule.train.inputs import (
    as_loader,
    check_batch_size,
    place_model,
    tensor_columns,
    to_device,
)


@dataclass
class LRFinderResult:
    """The curve of a range test, the rate it suggests and, if asked for, the curvature bound.

    ``lrs[i]`` is the rate used at step i and ``losses[i]`` the loss of that step's batch (the
    raw curve); ``smoothed`` is their exponential moving average, bias-corrected, on which the
    test decides to stop. ``trend`` and ``slope`` are the centred fit the suggestion is read
    from: the loss's level and its slope per decade of rate (NaN after the blow-up).
    ``suggested_by`` names the rule that chose ``suggestion`` (see :func:`_suggest`).
    ``stopped_early`` tells whether the loss blew up before ``steps``. ``sharpness`` (λ_max)
    and ``max_stable_lr`` (2/λ_max) are None unless ``lr_find(..., sharpness=True)``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> model = nn.Linear(1, 1)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> result = train.lr_find(model, nn.MSELoss(), optimizer, (x, 3 * x), steps=20)
    >>> len(result.lrs) <= 20, result.lrs[0], result.sharpness is None
    (True, 1e-07, True)

    ```
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float | None = None
    stopped_early: bool = False
    reason: str = ""
    suggested_by: str = ""
    trend: list[float] = field(default_factory=list)
    slope: list[float] = field(default_factory=list)
    sharpness: float | None = None
    max_stable_lr: float | None = None

    def explain(self) -> str:
        """Both answers to "which learning rate?" in words, with this test's numbers."""
        lines = []
        if self.lrs:
            lines.append(
                f"The range test trained for {len(self.lrs)} steps while the learning rate grew "
                f"from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g}; {self.reason}."
            )
        if self.suggestion is None:
            lines.append(
                "It found no clear descent of the loss: try a wider range of rates, more "
                "steps, or more data."
            )
        elif self.suggested_by == "blow-up / 10":
            lines.append(
                f"No fall of the loss stood out of the batches' noise, so the suggestion, "
                f"{self.suggestion:.3g}, is a tenth of the rate at which the loss blew up."
            )
        else:
            lines.append(
                f"Range-test suggestion: {self.suggestion:.3g}, where the loss falls fastest as "
                "the rate grows, read from a trend fitted through many batches rather than "
                "from one noisy batch."
            )
        if self.sharpness is None or self.max_stable_lr is None:
            lines.append(
                "lr_find(..., sharpness=True) also measures the curvature limit 2/λ_max, the "
                "largest stable step of plain gradient descent."
            )
            return "\n".join(lines)
        lines.append(
            f"Curvature: λ_max = {self.sharpness:.4g}, the largest eigenvalue of the loss's "
            f"Hessian at the starting weights, so 2/λ_max = {self.max_stable_lr:.3g}. That is "
            "the largest step for which plain gradient descent on the local quadratic model of "
            "the loss does not diverge: a step η scales the error along the sharpest direction "
            "by (1 − η·λ_max), which grows in size once η > 2/λ_max."
        )
        limit = min(self.suggestion or math.inf, self.max_stable_lr)
        lines.append(
            "The two answer different questions: the range test measures what trains fastest "
            "in a short run with this optimiser and batch size; 2/λ_max is a stability limit "
            "for full-batch gradient descent at these weights, and it moves as training does. "
            f"For SGD one usually picks a rate below both, here below {limit:.3g}."
        )
        return "\n".join(lines)

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
        axes.plot(self.lrs, self.smoothed, color="C0", linewidth=1, label="moving average")
        if self.trend:
            axes.plot(self.lrs, self.trend, color="C2", linewidth=2, label="trend")
        if self.suggestion is not None:
            axes.axvline(
                self.suggestion,
                color="C3",
                linestyle="--",
                label=f"suggested lr = {self.suggestion:.3g}",
            )
        if self.max_stable_lr is not None:
            axes.axvline(
                self.max_stable_lr,
                color="C1",
                linestyle=":",
                label=f"2/λ_max = {self.max_stable_lr:.3g}",
            )
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        finite = [v for v in self.smoothed + self.trend if math.isfinite(v)]
        if finite:
            # The blow-up at the end would squash the part of the curve that matters.
            low, top = min(finite), min(max(finite), 1.5 * self.smoothed[0])
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
    *,
    sharpness: bool = False,
    device: Any = None,
) -> LRFinderResult:
    """Run the learning-rate range test on ``model`` and restore it afterwards.

    The rate at step i is ``start_lr · (end_lr/start_lr)^(i/(steps−1))`` for every parameter
    group; batches cycle through ``data`` (as for :func:`fit`, shuffled from ``seed``). The
    test stops early when the smoothed loss exceeds ``diverge`` × its minimum so far, or
    becomes NaN/infinite. The model's weights and buffers, the optimizer's state and every
    group's rate are restored on return, even if an error interrupts the test.

    The suggestion is read from a centred trend fitted through the batches' losses, not from
    the moving average, which lags the sweep by about 1/(1 − smoothing) steps: the rate of
    its steepest sustained descent (:func:`_suggest` gives the rule, and
    ``result.suggested_by`` which part of it applied).

    With ``sharpness=True``, λ_max of the loss's Hessian is first measured at the starting
    weights, on the whole of ``data`` when it is tensor-backed (else on one batch), in the
    model's current mode, by :func:`chainrule.inspect.sharpness`; the result then carries
    ``sharpness`` and ``max_stable_lr`` = 2/λ_max, and :meth:`LRFinderResult.explain` compares
    the two answers. ``device`` as for :func:`fit`: the model (and the optimizer's state) is
    moved there, in place, and each batch as it comes; without it, batches go where the
    model's parameters are. Example::

        result = lr_find(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), (x, y))
        print(result.suggestion, result.explain())

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn, train
    >>> _ = cr.manual_seed(0)
    >>> x = cr.linspace(-1, 1, 32).reshape(32, 1)
    >>> model = nn.Linear(1, 1)
    >>> optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> result = train.lr_find(model, nn.MSELoss(), optimizer, (x, 3 * x), steps=20)
    >>> result.suggestion is not None, optimizer.param_groups[0]["lr"]
    (True, 0.1)

    ```
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
    device = place_model(model, optimizer, device, where)
    preflight(model, loss_fn, loader, "data", where, device)

    # Copies in the weights' own memory (a GPU's, for a model there): restored in place.
    saved_weights = {name: t.detach().clone() for name, t in model.state_dict().items()}
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_rates = [group["lr"] for group in optimizer.param_groups]
    was_training = model.training
    result = LRFinderResult()
    rates = numpy.geomspace(start_lr, end_lr, steps)
    average, best = 0.0, math.inf
    try:
        if sharpness:
            _measure_sharpness(result, model, loss_fn, data, loader, device)
        model.train()
        batches = iter(loader)
        for i, rate in enumerate(rates):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(loader)
                batch = next(batches)
            items = list(batch if device is None else to_device(batch, device))
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
        result.suggestion, result.suggested_by, result.trend, result.slope = _suggest(
            result.lrs,
            result.losses,
            result.smoothed,
            math.log10(end_lr / start_lr),
            diverge,
            result.stopped_early,
        )
    finally:
        model.load_state_dict(saved_weights)
        optimizer.load_state_dict(saved_optimizer)
        for group, rate in zip(optimizer.param_groups, saved_rates):
            group["lr"] = rate
        model.train(was_training)
        optimizer.zero_grad()
    return result


def _measure_sharpness(
    result: LRFinderResult, model: Any, loss_fn: Any, data: Any, loader: Any, device: Any
) -> None:
    """Fill ``result.sharpness`` and ``result.max_stable_lr`` at the model's current weights."""
    from chainrule.inspect import sharpness as measure  # imported late: inspect is heavier

    if isinstance(data, (tuple, list)):
        sample = tuple(data)
    else:
        columns = tensor_columns(loader.dataset)
        sample = tuple(columns) if columns is not None else None
    # The measurement must not shift the range test's random stream (shuffle, dropout).
    with kept_random_state(*loader_generators(loader)):
        if sample is None:
            sample = tuple(next(iter(loader)))
        if device is not None:
            sample = to_device(sample, device)
        found = measure(model, sample, loss_fn)
    result.sharpness = float(found.lambda_max)
    result.max_stable_lr = float(found.max_stable_lr)


def _trend(
    log_rates: numpy.ndarray, values: numpy.ndarray, bandwidth: float
) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Level, slope (per decade) and noise factor of the loss at every point, by a local
    linear fit.

    At each point u_c = log10(rate) a straight line is fitted to all the losses by weighted
    least squares, with weights exp(−(u − u_c)² / 2h²) for bandwidth h in decades; its value
    at u_c is the level and its gradient the slope. Unlike a moving average, the fit is
    centred, so it does not lag behind the sweep, and averaging the batches' noise over about
    2h decades makes a slope that one lucky batch cannot fake. The noise factor is
    sqrt(Σ w²) for the normalised weights: the level's standard error per unit of the
    batches' noise. Shapes: (n,) in, three (n,) out.
    """
    offsets = log_rates[None, :] - log_rates[:, None]  # row c: u − u_c
    weights = numpy.exp(-0.5 * (offsets / bandwidth) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    mean_u = weights @ log_rates
    mean_v = weights @ values
    centred_u = log_rates[None, :] - mean_u[:, None]
    centred_v = values[None, :] - mean_v[:, None]
    spread = (weights * centred_u**2).sum(axis=1)
    slope = (weights * centred_u * centred_v).sum(axis=1) / numpy.maximum(spread, 1e-300)
    level = mean_v + slope * (log_rates - mean_u)
    return level, slope, numpy.sqrt((weights**2).sum(axis=1))


def _blow_up_start(
    values: numpy.ndarray, averaged: numpy.ndarray, diverge: float
) -> tuple[int, bool]:
    """Where the fit must end, and whether the losses ran away before the sweep ended.

    The losses run away where the median of five neighbouring losses first exceeds
    ``diverge`` × the lowest moving average so far (a median, so that one wild batch is not
    taken for a blow-up). The fit ends there, or earlier, after the moving average's last low
    point: the average lags the batches by about 1/(1 − smoothing) steps, so once it turns
    upwards for good the losses are already rising. Shapes: (n,), (n,) in, all finite.
    """
    rise = len(averaged) - 1
    while rise > 0 and averaged[rise - 1] < averaged[rise]:
        rise -= 1
    padded = numpy.pad(values, 2, mode="edge")
    median = numpy.median(numpy.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    above = numpy.flatnonzero(median > diverge * numpy.minimum.accumulate(averaged))
    ran_away = len(above) > 0
    return min(rise + 1, int(above[0]) if ran_away else len(values)), ran_away


def _suggest(
    lrs: list[float],
    losses: list[float],
    smoothed: list[float],
    decades: float,
    diverge: float,
    stopped_early: bool,
) -> tuple[float | None, str, list[float], list[float]]:
    """The suggested rate, the rule that chose it, and the trend and slope it was read from.

    1. The sweep is cut where the blow-up begins (:func:`_blow_up_start`): its huge losses
       would swamp any fit.
    2. On the rest, the centred local linear fit of :func:`_trend`, over a bandwidth of 1/16
       of the sweep's ``decades`` (half a decade for the default 1e-7 … 10), gives the loss's
       trend and its slope per decade of rate.
    3. "steepest descent": if the trend falls from its highest point to its lowest (the
       valley) by more than five standard errors, the rate where its slope is most negative,
       among the points of that descent from which at least a quarter of the fall is still to
       come: a descent that is steepest right at the valley runs on into the blow-up, and a
       rate there trains on the edge of instability. The first bandwidth of the sweep is
       left out, since there the fit sees one side only.
    4. "blow-up / 10": if no fall stands out of the batches' noise but the loss blew up, a
       tenth of the rate where it began to. Otherwise None.

    The trend and slope come back with one entry per rate, NaN where they were not fitted.
    """
    count = len(lrs)
    trend, slope = numpy.full(count, numpy.nan), numpy.full(count, numpy.nan)
    values = numpy.asarray(losses, dtype=float)
    averaged = numpy.asarray(smoothed, dtype=float)
    kept = numpy.flatnonzero(numpy.isfinite(values) & numpy.isfinite(averaged))
    end, ran_away = (
        _blow_up_start(values[kept], averaged[kept], diverge) if len(kept) else (0, False)
    )
    blew_up = stopped_early or ran_away
    kept = kept[:end]
    if len(kept) < 5:
        return None, "too few steps before the loss rose", trend.tolist(), slope.tolist()
    rates = numpy.asarray(lrs, dtype=float)[kept]
    log_rates = numpy.log10(rates)
    bandwidth = max(decades / 16, 1e-6)
    level, descent, noise_factor = _trend(log_rates, values[kept], bandwidth)
    trend[kept], slope[kept] = level, descent
    residuals = values[kept] - level
    # The batches' noise by the median absolute deviation: a few wild batches do not inflate it.
    noise = 1.4826 * float(numpy.median(numpy.abs(residuals - numpy.median(residuals))))
    # Within one bandwidth of the start the fit sees one side only, and its slope is wild.
    first = min(int(numpy.searchsorted(log_rates, log_rates[0] + bandwidth)), len(kept) - 1)
    lowest = first + int(numpy.argmin(level[first:]))
    highest = first + int(numpy.argmax(level[first : lowest + 1]))
    fall = float(level[highest] - level[lowest])
    if lowest - highest >= 2 and fall > 5 * noise * float(numpy.median(noise_factor)):
        ahead = highest + numpy.flatnonzero(level[highest:lowest] >= level[lowest] + fall / 4)
        steepest = int(ahead[numpy.argmin(descent[ahead])])
        if descent[steepest] < 0:
            return float(rates[steepest]), "steepest descent", trend.tolist(), slope.tolist()
    if blew_up:
        return float(rates[-1] / 10), "blow-up / 10", trend.tolist(), slope.tolist()
    return None, "no descent stands out of the noise", trend.tolist(), slope.tolist()
