"""GradientMonitor: per-layer gradient norms, update sizes and unit health during training.

The monitor watches the layers that own a ``weight`` parameter and the ``ReLU``, ``Sigmoid``
and ``Tanh`` modules of a model, and records per optimizer step:

- ``grad_norm``: ‖∂C/∂W‖₂ of each layer's weight, read after ``loss.backward()``;
- ``update_ratio``: ‖W_after − W_before‖₂ / ‖W_before‖₂ across ``optimizer.step()`` (about
  1e-3 is the usual healthy size; much larger moves too fast, much smaller learns slowly);
- ``dead_fraction`` per ReLU module: the fraction of units whose output is 0 for every sample
  of the batch. A unit is one output element apart from the batch dimension (dim 0): a feature
  of a Linear layer, a (channel, position) of a convolution;
- ``saturated_fraction`` per Sigmoid/Tanh module: the fraction of units saturated for more than
  half of the batch, where saturated means |tanh| > 0.99, or sigmoid < 0.01 or > 0.99 (the
  ``saturation`` argument); there the derivative is below 0.02 and gradients barely pass.

It warns (a :class:`GradientWarning`, once per kind) when

- gradients **vanish**: ‖∂C/∂W‖ of the first layer (in forward order) is below
  ``vanishing_ratio`` (1e-3) times that of the last layer;
- gradients **explode**: a norm is inf or NaN, or the total gradient norm (over all monitored
  weights) exceeds ``explosion_factor`` (100) times its median over the previous
  ``window`` (10) steps;
- units **die**: more than ``dead_fraction`` (50%) of a ReLU module's units are dead.

Use it as a :func:`chainrule.train.fit` callback, ``fit(..., callbacks=[GradientMonitor()])``,
or by hand::

    monitor = GradientMonitor(model)
    for x, y in batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        monitor.record()       # gradients and activations of this step
        optimizer.step()
        monitor.after_step()   # the update-to-weight ratios of this step
    print(monitor.summary())
    monitor.plot("gradients.png")
    monitor.close()            # removes the hooks

Activations are seen through forward hooks on the activation *modules*; ``F.relu`` called
inside a ``forward`` is invisible to the monitor. The statistics of a step come from the last
forward pass run with gradients enabled before ``record()`` (validation passes under
``no_grad`` are ignored).
"""

from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.files import atomic_write
from chainrule.nn.activations import ReLU, Sigmoid, Tanh
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.optional import require
from chainrule.tensor import Tensor
from chainrule.train.callback import Callback


class GradientWarning(UserWarning):
    """A training pathology seen in gradients or activations: vanishing or exploding
    gradients, or dead units. The message names the layer and suggests a remedy."""


@dataclass
class StepRecord:
    """What the monitor saw at one optimizer step; every dict is keyed by dotted module name.

    ``update_ratio`` is filled by :meth:`GradientMonitor.after_step` (empty until then).
    """

    step: int
    grad_norm: dict[str, float]
    weight_norm: dict[str, float]
    update_ratio: dict[str, float] = field(default_factory=dict)
    dead_fraction: dict[str, float] = field(default_factory=dict)
    saturated_fraction: dict[str, float] = field(default_factory=dict)


_SUGGESTIONS = {
    "vanishing": (
        "use ReLU-family activations with He initialisation (nn.init.kaiming_normal_), add "
        "normalisation layers (BatchNorm, LayerNorm) or residual connections, or use fewer "
        "layers; each sigmoid multiplies the gradient by σ′ ≤ 0.25"
    ),
    "exploding": (
        "lower the learning rate, clip gradients (nn.utils.clip_grad_norm_), or start from "
        "smaller weights (nn.init.kaiming_normal_ or xavier_normal_ instead of a large scale)"
    ),
    "dead": (
        "lower the learning rate, start biases at 0 or slightly positive, use He "
        "initialisation, or try nn.LeakyReLU so that negative inputs still pass a gradient"
    ),
}


class GradientMonitor(Callback):
    """Records gradient norms, update-to-weight ratios and dead or saturated units per layer.

    ``model`` may be given now (standalone use, hooks are attached at once) or left out when
    the monitor is a ``fit`` callback (it attaches to the trained model in ``on_train_begin``
    and detaches in ``on_train_end``). The thresholds are described in the module docstring.

    Attributes: ``history`` (a list of :class:`StepRecord`, one per ``record()``), ``warned``
    (kind → message of each warning issued), ``layers`` (monitored layers, forward order).
    """

    def __init__(
        self,
        model: Module | None = None,
        *,
        vanishing_ratio: float = 1e-3,
        explosion_factor: float = 100.0,
        window: int = 10,
        dead_fraction: float = 0.5,
        saturation: float = 0.99,
    ) -> None:
        for arg, value in (
            ("vanishing_ratio", vanishing_ratio),
            ("explosion_factor", explosion_factor),
        ):
            if not value > 0:
                raise ValueError(f"GradientMonitor: {arg} must be positive, got {value!r}")
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"GradientMonitor: window must be a positive int, got {window!r}")
        if not 0 <= dead_fraction < 1:
            raise ValueError(
                f"GradientMonitor: dead_fraction must be in [0, 1), got {dead_fraction}"
            )
        if not 0.5 < saturation < 1:
            raise ValueError(f"GradientMonitor: saturation must be in (0.5, 1), got {saturation}")
        self.vanishing_ratio, self.explosion_factor = vanishing_ratio, explosion_factor
        self.window, self.dead_threshold, self.saturation = window, dead_fraction, saturation
        self.history: list[StepRecord] = []
        self.warned: dict[str, str] = {}
        self._model: Module | None = None
        self._layers: list[tuple[str, Module]] = []
        self._handles: list[Any] = []
        self._attached_by_fit = False
        self._weights_before: dict[str, Any] | None = None
        self._forward_order: list[str] = []
        self._activations: dict[str, tuple[str, float]] = {}
        self._calls: dict[str, int] = {}
        if model is not None:
            self.attach(model)

    # ---- attaching -------------------------------------------------------------------------

    @property
    def model(self) -> Any:
        return self._model if self._model is not None else self.state.model

    def attach(self, model: Module) -> GradientMonitor:
        """Start watching ``model``: hooks on its weight layers and activation modules."""
        if not isinstance(model, Module):
            raise TypeError(f"GradientMonitor: model must be a Module, got {type(model).__name__}")
        self.close()
        self._model = model
        self._layers = [
            (name, module)
            for name, module in model.named_modules()
            if isinstance(module.__dict__.get("weight"), Parameter)
        ]
        if not self._layers:
            raise ValueError(
                f"GradientMonitor: {type(model).__name__} has no module with a weight parameter"
            )
        self._handles.append(model.register_forward_pre_hook(self._forward_begins))
        for name, module in self._layers:
            self._handles.append(module.register_forward_hook(self._layer_hook(name)))
        for name, module in model.named_modules():
            if isinstance(module, (ReLU, Sigmoid, Tanh)):
                self._handles.append(module.register_forward_hook(self._activation_hook(name)))
        return self

    def close(self) -> None:
        """Remove every hook; the history stays."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @property
    def layers(self) -> list[str]:
        """The monitored layers' names, in the order the last forward pass ran them."""
        names = [name for name, _ in self._layers]
        ran = [name for name in dict.fromkeys(self._forward_order) if name in names]
        return ran + [name for name in names if name not in ran]

    def _forward_begins(self, module: Module, args: tuple) -> None:
        if is_grad_enabled():
            self._forward_order = []
            self._activations = {}
            self._calls = {}

    def _layer_hook(self, name: str) -> Any:
        def hook(module: Module, args: tuple, output: Any) -> None:
            if is_grad_enabled():
                self._forward_order.append(name)

        return hook

    def _activation_hook(self, name: str) -> Any:
        def hook(module: Module, args: tuple, output: Any) -> None:
            if not is_grad_enabled() or not isinstance(output, Tensor):
                return
            # A module used several times in one forward (one ReLU after every layer) gives
            # one entry per call: name, name[1], name[2], ...
            call = self._calls.get(name, 0)
            self._calls[name] = call + 1
            key = name if call == 0 else f"{name}[{call}]"
            values = backend.to_numpy(output.data)
            values = values.reshape(1, -1) if values.ndim < 2 else values
            if isinstance(module, ReLU):
                dead = ~(values != 0).any(axis=0)
                self._activations[key] = ("dead", float(dead.mean()))
            else:
                saturated = self._saturated(module, values).mean(axis=0) > 0.5
                self._activations[key] = ("saturated", float(saturated.mean()))

        return hook

    def _saturated(self, module: Module, values: numpy.ndarray) -> numpy.ndarray:
        if isinstance(module, Tanh):
            return numpy.abs(values) > self.saturation
        return (values > self.saturation) | (values < 1 - self.saturation)

    # ---- recording -------------------------------------------------------------------------

    def record(self, step: int | None = None) -> StepRecord:
        """Record this step's gradient norms and activation statistics, then check them.

        Call after ``loss.backward()`` and before ``optimizer.step()``. ``step`` defaults to
        the number of steps recorded so far.
        """
        if self._model is None:
            raise RuntimeError(
                "GradientMonitor.record: attach a model first (GradientMonitor(model))"
            )
        grad_norm, weight_norm, before = {}, {}, {}
        for name, module in self._layers:
            weight = module.weight
            grad = weight.grad
            grad_norm[name] = math.nan if grad is None else _norm(grad.data)
            weight_norm[name] = _norm(weight.data)
            before[name] = weight.data.copy()
        self._weights_before = before
        record = StepRecord(len(self.history) if step is None else step, grad_norm, weight_norm)
        for key, (kind, fraction) in self._activations.items():
            (record.dead_fraction if kind == "dead" else record.saturated_fraction)[key] = fraction
        self._activations = {}  # they belong to this step's forward pass
        self.history.append(record)
        self._check(record)
        return record

    def after_step(self) -> None:
        """Record ‖ΔW‖/‖W‖ across the optimizer step just taken (call after ``step()``)."""
        if self._weights_before is None:
            raise RuntimeError(
                "GradientMonitor.after_step: call record() after loss.backward() and before "
                "optimizer.step(), then after_step()"
            )
        record = self.history[-1]
        for name, module in self._layers:
            before = self._weights_before[name]
            scale = _norm(before)
            change = _norm(module.weight.data - before)
            record.update_ratio[name] = change / scale if scale > 0 else math.inf
        self._weights_before = None

    # ---- fit callback ----------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self._model is None or not self._handles:
            self.attach(self.state.model)
            self._attached_by_fit = True

    def on_backward_end(self, step: int, logs: dict[str, Any] | None = None) -> None:
        self.record(step)

    def on_batch_end(self, step: int, logs: dict[str, Any] | None = None) -> None:
        if self._weights_before is not None:
            self.after_step()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._attached_by_fit:
            self.close()
            self._attached_by_fit = False

    # ---- checks ------------------------------------------------------------------------------

    def _check(self, record: StepRecord) -> None:
        self._check_explosion(record)
        self._check_vanishing(record)
        for key, fraction in record.dead_fraction.items():
            if fraction > self.dead_threshold:
                self._warn(
                    "dead",
                    f"{fraction:.0%} of the units after {key!r} output 0 for every sample of "
                    f"the batch at step {record.step} (dead ReLUs pass no gradient)",
                )
                break

    def _check_explosion(self, record: StepRecord) -> None:
        bad = [name for name, norm in record.grad_norm.items() if norm in (math.inf, -math.inf)]
        bad += [name for name, norm in record.grad_norm.items() if norm != norm]  # NaN
        if bad:
            self._warn(
                "exploding",
                f"the gradient of {bad[0]!r} is not finite at step {record.step}",
            )
            return
        total = _total(record.grad_norm)
        previous = [_total(r.grad_norm) for r in self.history[-self.window - 1 : -1]]
        previous = [value for value in previous if math.isfinite(value)]
        if previous and total > self.explosion_factor * statistics.median(previous) > 0:
            self._warn(
                "exploding",
                f"the total gradient norm grew to {total:.3g} at step {record.step}, "
                f"{total / statistics.median(previous):.3g}x its median over the previous "
                f"{len(previous)} steps",
            )

    def _check_vanishing(self, record: StepRecord) -> None:
        order = [name for name in self.layers if math.isfinite(record.grad_norm[name])]
        if len(order) < 2:
            return
        first, last = order[0], order[-1]
        top = record.grad_norm[last]
        if top > 0 and record.grad_norm[first] < self.vanishing_ratio * top:
            self._warn(
                "vanishing",
                f"at step {record.step} the gradient norm of the first layer {first!r} "
                f"({record.grad_norm[first]:.3g}) is {record.grad_norm[first] / top:.3g} times "
                f"that of the last layer {last!r} ({top:.3g})",
            )

    def _warn(self, kind: str, message: str) -> None:
        if kind in self.warned:
            return
        text = f"{kind} gradients: {message}; {_SUGGESTIONS[kind]}"
        if kind == "dead":
            text = f"dead units: {message}; {_SUGGESTIONS[kind]}"
        self.warned[kind] = text
        warnings.warn(text, GradientWarning, stacklevel=3)

    # ---- reporting ---------------------------------------------------------------------------

    def summary(self) -> str:
        """A text report: per layer the last and median gradient norm and update ratio, per
        activation module the last dead or saturated fraction, and the warnings issued."""
        if not self.history:
            return "GradientMonitor: no step recorded yet"
        last = self.history[-1]
        header = ("layer", "grad norm (last)", "grad norm (median)", "update/weight (last)")
        lines = [header]
        for name in self.layers:
            norms = [r.grad_norm[name] for r in self.history]
            ratio = last.update_ratio.get(name)
            lines.append(
                (
                    name,
                    f"{norms[-1]:.3e}",
                    f"{statistics.median(norms):.3e}",
                    "-" if ratio is None else f"{ratio:.3e}",
                )
            )
        text = [f"GradientMonitor: {len(self.history)} steps, last step {last.step}"]
        text += _table(lines)
        units = [(key, "dead ReLU", value) for key, value in last.dead_fraction.items()]
        units += [(key, "saturated", value) for key, value in last.saturated_fraction.items()]
        if units:
            text.append("")
            text += _table(
                [("activation", "measure", "fraction of units (last step)")]
                + [(key, what, f"{value:.1%}") for key, what, value in units]
            )
        text.append("")
        if self.warned:
            text += [f"warning: {message}" for message in self.warned.values()]
        else:
            text.append("no warnings")
        return "\n".join(text)

    def plot(self, path: str | Path) -> Path:
        """Write a PNG of each layer's gradient norm and update-to-weight ratio per step.

        Both panels have a logarithmic y axis; colour runs from the first layer (dark) to the
        last (light), red dashed lines mark steps with a non-finite gradient, and a dotted line
        marks the customary update ratio of 1e-3. Needs matplotlib
        (``pip install "chainrule[plot]"``). Returns the path written.
        """
        if not self.history:
            raise ValueError("GradientMonitor.plot: no step recorded yet")
        purpose = "GradientMonitor.plot"
        figure_module = require("matplotlib.figure", purpose)
        backend_agg = require("matplotlib.backends.backend_agg", purpose)
        colors = require("matplotlib.colors", purpose)
        colormap = require("matplotlib", purpose).colormaps["viridis"]
        figure = figure_module.Figure(figsize=(11, 4.5), dpi=110, layout="constrained")
        backend_agg.FigureCanvasAgg(figure)
        norms_axis, ratio_axis = figure.subplots(1, 2)
        steps = [r.step for r in self.history]
        names = self.layers
        # Stop short of viridis's yellow end, which is hard to see on white.
        palette = colormap(numpy.linspace(0, 0.85, len(names)))
        marker = "o" if len(steps) <= 40 else None
        for colour, name in zip(palette, names):
            norms = [_positive(r.grad_norm.get(name)) for r in self.history]
            ratios = [_positive(r.update_ratio.get(name)) for r in self.history]
            style = {"color": colour, "linewidth": 1.4, "marker": marker, "markersize": 3}
            norms_axis.plot(steps, norms, label=name, **style)
            ratio_axis.plot(steps, ratios, **style)
        ratio_axis.axhline(1e-3, color="grey", linestyle=":", linewidth=1.2, label="1e-3")
        ratio_axis.legend(fontsize="small", loc="best")
        broken = [r.step for r in self.history if not all(map(math.isfinite, r.grad_norm.values()))]
        for axis in (norms_axis, ratio_axis):
            for position, step in enumerate(broken):
                label = "non-finite gradient" if position == 0 and axis is norms_axis else None
                axis.axvline(step, color="red", linestyle="--", linewidth=1, label=label)
        for axis, title in (
            (norms_axis, "gradient norm ‖∂C/∂W‖ per layer"),
            (ratio_axis, "update-to-weight ratio ‖ΔW‖/‖W‖ per layer"),
        ):
            axis.set_yscale("log")
            axis.set_xlabel("step")
            axis.set_title(title)
            axis.grid(True, which="major", alpha=0.3)
        if len(names) <= 12:
            norms_axis.legend(title="layer", fontsize="small", loc="best")
        else:
            discrete = colors.ListedColormap(palette)
            bounds = colors.BoundaryNorm(numpy.arange(len(names) + 1) - 0.5, len(names))
            mapping = require("matplotlib.cm", purpose).ScalarMappable(norm=bounds, cmap=discrete)
            every = max(1, len(names) // 10)
            ticks = list(range(0, len(names), every))
            bar = figure.colorbar(mapping, ax=norms_axis, ticks=ticks)
            bar.ax.set_yticklabels([names[i] for i in ticks])
            bar.set_label("layer, first (bottom) to last (top)")
            if broken:
                norms_axis.legend(fontsize="small", loc="best")
        path = Path(path)
        with atomic_write(path, "wb") as handle:
            figure.savefig(handle, format="png")
        return path


def _norm(array: Any) -> float:
    return float(numpy.sqrt(numpy.sum(numpy.square(backend.to_numpy(array), dtype=numpy.float64))))


def _total(norms: dict[str, float]) -> float:
    return math.sqrt(sum(value * value for value in norms.values() if value == value))


def _positive(value: float | None) -> float:
    """A value a log axis can show: missing, zero or non-finite values become gaps (NaN)."""
    if value is None or not math.isfinite(value) or value <= 0:
        return math.nan
    return value


def _table(lines: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()
        for line in lines
    ]
    text.insert(1, "-" * len(text[0]))
    return text
