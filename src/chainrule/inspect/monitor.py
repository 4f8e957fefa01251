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
- units **die**: more than ``dead_fraction`` (50%) of a ReLU module's units are dead;
- the learning rate passes the **edge of stability**: with ``sharpness_every=N``, every N
  steps the monitor measures λ_max, the largest eigenvalue of the loss Hessian
  (:func:`~chainrule.inspect.sharpness`), and warns when SGD's lr exceeds the largest stable
  one, 2/λ_max for plain gradient descent (Cohen et al., 2021, "Gradient descent on neural
  networks typically occurs at the edge of stability"): beyond it gradient descent on the
  local quadratic model diverges, and training oscillates or spikes instead of descending.
  (With Adam and other adaptive optimizers λ_max is recorded but not compared: they rescale
  each coordinate, so their bound is about a preconditioned Hessian.)

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

To track λ_max by hand, give the monitor the loss and the optimizer, and each step's batch::

    monitor = GradientMonitor(model, sharpness_every=50, loss_fn=loss_fn, optimizer=optimizer)
    ...
        monitor.record(batch=(x, y))  # every 50th call also measures λ_max on (x, y)

``sharpness_data=(x, y)`` measures on that fixed batch instead (comparable from one step to the
next); as a ``fit`` callback without it, the monitor measures on a fixed batch of the first
``batch_size`` training samples, and takes the loss and the optimizer from ``fit``.

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
    ``lambda_max`` (the largest eigenvalue of the loss Hessian), ``stable_lr`` (the largest
    learning rate at which the optimizer is stable on that curvature; None for optimizers other
    than SGD) and ``lr`` are set at the steps where ``sharpness_every`` measures them.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> _ = cr.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> monitor = GradientMonitor(model)
    >>> nn.MSELoss()(model(cr.randn(8, 2)), cr.randn(8, 1)).backward()
    >>> record = monitor.record()
    >>> record.step, sorted(record.grad_norm), record.update_ratio
    (0, ['0', '2'], {})
    >>> monitor.close()

    ```
    """

    step: int
    grad_norm: dict[str, float]
    weight_norm: dict[str, float]
    update_ratio: dict[str, float] = field(default_factory=dict)
    dead_fraction: dict[str, float] = field(default_factory=dict)
    saturated_fraction: dict[str, float] = field(default_factory=dict)
    time_norms: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    lambda_max: float | None = None
    stable_lr: float | None = None
    lr: float | None = None


class GradientMonitor(Callback):
    """Records gradient norms, update-to-weight ratios and dead or saturated units per layer.

    ``model`` may be given now (standalone use, hooks are attached at once) or left out when
    the monitor is a ``fit`` callback (it attaches to the trained model in ``on_train_begin``
    and detaches in ``on_train_end``). The thresholds are described in the module docstring.

    Attributes: ``history`` (a list of :class:`StepRecord`, one per ``record()``), ``warned``
    (kind → message of each warning issued), ``layers`` (monitored layers, forward order),
    ``recurrent_layers`` (the recurrent modules watched through time).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> _ = cr.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> monitor = GradientMonitor(model)
    >>> nn.MSELoss()(model(cr.randn(8, 2)), cr.randn(8, 1)).backward()
    >>> record = monitor.record()
    >>> monitor.layers, len(monitor.history)
    (['0', '2'], 1)
    >>> monitor.close()

    ```
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
        sharpness_every: int | None = None,
        sharpness_data: tuple[Any, Any] | None = None,
        loss_fn: Any = None,
        optimizer: Any = None,
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
        if sharpness_every is not None and (
            not isinstance(sharpness_every, int) or sharpness_every < 1
        ):
            raise ValueError(
                f"GradientMonitor: sharpness_every must be a positive int or None, "
                f"got {sharpness_every!r}"
            )
        self.sharpness_every, self.sharpness_data = sharpness_every, sharpness_data
        self._loss_fn, self._optimizer = loss_fn, optimizer
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
        self._probe: tuple[Any, Any] | None = None
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

    def record(
        self, step: int | None = None, *, batch: tuple[Any, Any] | None = None
    ) -> StepRecord:
        """Record this step's gradient norms and activation statistics, then check them.

        Call after ``loss.backward()`` and before ``optimizer.step()``. ``step`` defaults to
        the number of steps recorded so far. ``batch`` is this step's ``(x, y)``, on which
        λ_max is measured at every ``sharpness_every``-th call (unless ``sharpness_data`` is
        set); the measurement leaves the weights and ``.grad`` as they are.
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
        if self.sharpness_every is not None and (len(self.history) - 1) % self.sharpness_every == 0:
            self._measure_sharpness(record, batch)
        return record

    def _measure_sharpness(self, record: StepRecord, batch: tuple[Any, Any] | None) -> None:
        """Set λ_max, the stable lr and the lr on ``record``; warn past the edge of stability."""
        from chainrule.inspect.curvature import sharpness, stable_lr

        state = getattr(self, "state", None)
        loss_fn = self._loss_fn if self._loss_fn is not None else getattr(state, "loss_fn", None)
        if loss_fn is None:
            raise ValueError(
                "GradientMonitor: sharpness_every needs the loss: pass loss_fn= (fit gives its own)"
            )
        data = self.sharpness_data if self.sharpness_data is not None else batch
        if data is None:
            data = self._probe_batch(state)
        result = sharpness(self._model, data, loss_fn)
        # The measurement's own forward and backward passes are not a training step.
        self._activations = {}
        self._through_time.take()
        record.lambda_max = result.lambda_max
        optimizer = (
            self._optimizer if self._optimizer is not None else getattr(state, "optimizer", None)
        )
        if optimizer is None:
            return
        record.lr = float(optimizer.param_groups[0]["lr"])
        record.stable_lr = stable_lr(optimizer, result.lambda_max)
        if record.stable_lr is None or record.lr <= record.stable_lr:
            return
        if "edge_of_stability" not in self.warned:  # once, as every kind
            self.warned["edge_of_stability"] = (
                f"edge of stability: at step {record.step} the learning rate {record.lr:.4g} "
                f"exceeds {record.stable_lr:.4g}, the largest stable one for λ_max = "
                f"{result.lambda_max:.4g} (the sharpest curvature of the loss; 2/λ_max for "
                "plain gradient descent). On a quadratic with this curvature gradient descent "
                "diverges; a network trained there tends to oscillate or spike while its "
                "curvature adapts (Cohen et al., 2021). Lower the learning rate below "
                f"{record.stable_lr:.4g} for a steady descent"
            )
            warnings.warn(self.warned["edge_of_stability"], GradientWarning, stacklevel=3)

    def _probe_batch(self, state: Any) -> tuple[Any, Any]:
        """The first ``batch_size`` samples of fit's training set, collated: a fixed batch,
        so that λ_max of one measurement compares with the next."""
        if self._probe is None:
            loaders = getattr(state, "loaders", ())
            if not loaders:
                raise ValueError(
                    "GradientMonitor: sharpness_every needs data: pass sharpness_data=(x, y), "
                    "or record(batch=(x, y)) at each step"
                )
            loader = loaders[0]
            count = min(loader.batch_size or 1, len(loader.dataset))
            batch = loader.collate_fn([loader.dataset[i] for i in range(count)])
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError(
                    "GradientMonitor: sharpness_every measures on batches (x, y); this loader "
                    "gives something else: pass sharpness_data=(x, y)"
                )
            self._probe = (batch[0], batch[1])
        return self._probe

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
        text = summary_text(self)
        measured = [r for r in self.history if r.lambda_max is not None]
        if not measured:
            return text
        lines = ["sharpness (λ_max of the loss Hessian) and the largest stable learning rate:"]
        for r in measured[-5:]:
            line = f"  step {r.step}: λ_max = {r.lambda_max:.4g}"
            if r.stable_lr is not None and r.lr is not None:
                side = "above" if r.lr > r.stable_lr else "below"
                line += f", stable lr < {r.stable_lr:.4g}, lr = {r.lr:.4g} ({side})"
            lines.append(line)
        return text + "\n\n" + "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Write a PNG of each layer's gradient norm and update-to-weight ratio per step.

        Both panels have a logarithmic y axis; colour runs from the first layer (dark) to the
        last (light), red dashed lines mark steps with a non-finite gradient, and a dotted line
        marks the customary update ratio of 1e-3. When the last step recorded recurrent layers,
        a third panel shows ‖δh_t‖ (and ‖δc_t‖, dashed) against the time step t, log scale.
        Needs matplotlib (``pip install "chainrule[plot]"``). Returns the path written.
        """
        return write_plot(self, path)
