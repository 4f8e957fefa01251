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
  ``saturation`` argument); there the derivative is below 0.02 and gradients barely pass;
- ``time_norms`` per recurrent layer (RNN, LSTM, GRU and their cells): ‖δh_t‖ = ‖∂C/∂h_t‖ for
  every time step t, and ‖δc_t‖ for an LSTM, each the total that reaches the state from the
  output at t and from step t + 1 (:mod:`~chainrule.inspect.monitor_through_time`).

It warns (a :class:`GradientWarning`, once per kind) when

- gradients **vanish**: ‖∂C/∂W‖ of the first layer (in forward order) is below
  ``vanishing_ratio`` (1e-3) times that of the last layer;
- gradients **vanish through time**: in a recurrent layer, ‖δh‖ at the step where backward
  through time ends (t = 0; t = T − 1 in a reverse direction) is below ``vanishing_ratio``
  times its norm where it starts (the other end);
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
``no_grad`` are ignored); ``time_norms`` come from the backward passes since the previous
``record()``, and a cell's steps are its calls since then, in call order.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.inspect import monitor_checks as checks
from chainrule.inspect.monitor_checks import GradientWarning
from chainrule.inspect.monitor_report import summary_text, write_plot
from chainrule.inspect.monitor_through_time import ThroughTimeWatch, frobenius_norm
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.nn.rectifiers import ReLU
from chainrule.nn.smooth_activations import Sigmoid, Tanh
from chainrule.tensor import Tensor
from chainrule.train.callback import Callback


@dataclass
class StepRecord:
    """What the monitor saw at one optimizer step; every dict is keyed by dotted module name.

    ``update_ratio`` is filled by :meth:`GradientMonitor.after_step` (empty until then).
    ``time_norms`` is keyed by recurrent layer (``lstm``; ``lstm.l1_reverse`` for one layer
    and direction of a stacked or bidirectional module), then ``"h"`` (and ``"c"`` for an
    LSTM) → one norm per time step, t = 0..T−1 in forward time whatever the direction.
    """

    step: int
    grad_norm: dict[str, float]
    weight_norm: dict[str, float]
    update_ratio: dict[str, float] = field(default_factory=dict)
    dead_fraction: dict[str, float] = field(default_factory=dict)
    saturated_fraction: dict[str, float] = field(default_factory=dict)
    time_norms: dict[str, dict[str, list[float]]] = field(default_factory=dict)


class GradientMonitor(Callback):
    """Records gradient norms, update-to-weight ratios and dead or saturated units per layer.

    ``model`` may be given now (standalone use, hooks are attached at once) or left out when
    the monitor is a ``fit`` callback (it attaches to the trained model in ``on_train_begin``
    and detaches in ``on_train_end``). The thresholds are described in the module docstring.

    Attributes: ``history`` (a list of :class:`StepRecord`, one per ``record()``), ``warned``
    (kind → message of each warning issued), ``layers`` (monitored layers, forward order),
    ``recurrent_layers`` (the recurrent modules watched through time).
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
        self._through_time = ThroughTimeWatch()
        if model is not None:
            self.attach(model)

    # ---- attaching -------------------------------------------------------------------------

    @property
    def model(self) -> Any:
        return self._model if self._model is not None else self.state.model

    def attach(self, model: Module) -> GradientMonitor:
        """Start watching ``model``: hooks on its weight layers, activation modules and
        recurrent modules."""
        if not isinstance(model, Module):
            raise TypeError(f"GradientMonitor: model must be a Module, got {type(model).__name__}")
        self.close()
        self._model = model
        self._layers = [
            (name, module)
            for name, module in model.named_modules()
            if isinstance(module.__dict__.get("weight"), Parameter)
        ]
        self._through_time.attach(model)
        if not self._layers and not self._through_time.names:
            self._through_time.close()
            raise ValueError(
                f"GradientMonitor: {type(model).__name__} has no module with a weight parameter "
                "and no recurrent layer"
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
        self._through_time.close()

    @property
    def layers(self) -> list[str]:
        """The monitored layers' names, in the order the last forward pass ran them."""
        names = [name for name, _ in self._layers]
        ran = [name for name in dict.fromkeys(self._forward_order) if name in names]
        return ran + [name for name in names if name not in ran]

    @property
    def recurrent_layers(self) -> list[str]:
        """The names of the recurrent modules (RNN, LSTM, GRU and their cells) watched."""
        return list(self._through_time.names)

    @property
    def reversed_layers(self) -> set[str]:
        """The ``time_norms`` keys of reverse directions (bidirectional layers), whose
        backward through time runs from t = 0 towards t = T − 1."""
        return set(self._through_time.reversed)

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
            values = backend.to_numpy(output.array)
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
            grad_norm[name] = math.nan if grad is None else frobenius_norm(grad.array)
            weight_norm[name] = frobenius_norm(weight.array)
            before[name] = weight.array.copy()
        self._weights_before = before
        record = StepRecord(len(self.history) if step is None else step, grad_norm, weight_norm)
        for key, (kind, fraction) in self._activations.items():
            (record.dead_fraction if kind == "dead" else record.saturated_fraction)[key] = fraction
        self._activations = {}  # they belong to this step's forward pass
        record.time_norms = self._through_time.take()
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
            scale = frobenius_norm(before)
            change = frobenius_norm(module.weight.array - before)
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
        found = {
            "exploding": checks.exploding(
                record, self.history[:-1], self.explosion_factor, self.window
            ),
            "vanishing": checks.vanishing(record, self.layers, self.vanishing_ratio),
            "vanishing_through_time": checks.vanishing_through_time(
                record, self._through_time.reversed, self.vanishing_ratio
            ),
            "dead": checks.dead_units(record, self.dead_threshold),
        }
        for kind, message in found.items():
            if message is not None and kind not in self.warned:  # each kind once
                self.warned[kind] = checks.warning_text(kind, message)
                warnings.warn(self.warned[kind], GradientWarning, stacklevel=3)

    # ---- reporting ---------------------------------------------------------------------------

    def summary(self) -> str:
        """A text report: per layer the last and median gradient norm and update ratio, per
        activation module the last dead or saturated fraction, per recurrent layer ‖δh‖ at
        the first and last time step and their ratio, and the warnings issued."""
        return summary_text(self)

    def plot(self, path: str | Path) -> Path:
        """Write a PNG of each layer's gradient norm and update-to-weight ratio per step.

        Both panels have a logarithmic y axis; colour runs from the first layer (dark) to the
        last (light), red dashed lines mark steps with a non-finite gradient, and a dotted line
        marks the customary update ratio of 1e-3. When the last step recorded recurrent layers,
        a third panel shows ‖δh_t‖ (and ‖δc_t‖, dashed) against the time step t, log scale.
        Needs matplotlib (``pip install "chainrule[plot]"``). Returns the path written.
        """
        return write_plot(self, path)
