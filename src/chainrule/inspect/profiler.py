"""Where a training step spends its time, layer by layer, forward and backward.

Backpropagation's promise (the "cheap gradient principle") is that the gradient of a loss with
respect to every parameter costs a small constant times the loss itself: each layer's backward
does about the work of its forward once for ∂C/∂input and once for ∂C/∂W. :func:`profile`
puts measured numbers on that claim for a given model and batch: forward and backward time
per layer, analytic FLOP counts, and the whole model's forward and backward times.

FLOP formulas (a multiply-add counts as 2 FLOPs; bias additions, activations and other
elementwise work are not counted, so layers without weights show no FLOPs):

- ``Linear``: forward 2·N·in·out, N = the number of input rows (every leading dimension).
- ``Conv1d``/``Conv2d``/``Conv3d``: forward 2·N·C_out·(output positions)·(C_in/groups)·
  (kernel volume).
- ``RNN``/``LSTM``/``GRU`` (and their cells): forward 2·T·N·G·H·(I + H) per layer and
  direction, G = 1, 4, 3 gates, I = that layer's input width.
- backward of each of these: the weight gradient costs one forward's FLOPs and the input
  gradient another, so backward = 2 × forward, or 1 × forward where the layer's input needs no
  gradient (the first layer, fed with data: only the weight gradient is computed).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad
from chainrule.inspect.model_check import copy_without_hooks
from chainrule.nn.layers.conv import _ConvNd
from chainrule.nn.layers.linear import Linear
from chainrule.nn.layers.recurrent import RNNBase, RNNCellBase
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


@dataclass(frozen=True)
class LayerProfile:
    """One layer's measurements: median seconds over the repeats, and analytic FLOPs.

    ``calls`` is how many times the layer ran in one forward pass (times and FLOPs add up all
    calls); FLOPs are None for layers without a formula (see the module docstring).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> result = cr.inspect.profile(model, cr.randn(8, 2), cr.randn(8, 1), nn.MSELoss(), repeat=1)
    >>> row = result.rows[0]
    >>> row.kind, row.calls, row.forward_flops, row.forward_s > 0
    ('Linear', 1, 96, True)

    ```
    """

    name: str
    kind: str
    calls: int
    forward_s: float
    backward_s: float
    forward_flops: int | None
    backward_flops: int | None

    @property
    def ratio(self) -> float:
        """backward time / forward time."""
        return self.backward_s / self.forward_s if self.forward_s > 0 else math.inf


class Profile:
    """The result of :func:`profile`: ``rows`` (one :class:`LayerProfile` per layer, in the
    order the layers ran), the whole model's ``forward_s`` and ``backward_s`` (the forward
    includes the loss), and sums over the rows. ``str(profile)`` is an aligned table.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> result = cr.inspect.profile(model, cr.randn(8, 2), cr.randn(8, 1), nn.MSELoss(), repeat=1)
    >>> [row.name for row in result.rows], result.forward_flops  # 2·8·2·3 + 2·8·3·1
    (['0', '2'], 144)

    ```
    """

    def __init__(
        self, rows: list[LayerProfile], forward_s: float, backward_s: float, repeat: int
    ) -> None:
        self.rows = rows
        self.forward_s, self.backward_s, self.repeat = forward_s, backward_s, repeat

    @property
    def ratio(self) -> float:
        """Whole-model backward time / forward time."""
        return self.backward_s / self.forward_s if self.forward_s > 0 else math.inf

    @property
    def layer_forward_s(self) -> float:
        return sum(row.forward_s for row in self.rows)

    @property
    def layer_backward_s(self) -> float:
        return sum(row.backward_s for row in self.rows)

    @property
    def forward_flops(self) -> int:
        return sum(row.forward_flops or 0 for row in self.rows)

    @property
    def backward_flops(self) -> int:
        return sum(row.backward_flops or 0 for row in self.rows)

    def __str__(self) -> str:
        header = ("layer", "type", "calls", "fwd ms", "bwd ms", "bwd/fwd", "fwd FLOPs", "bwd FLOPs")
        lines = [header]
        for row in self.rows:
            lines.append(
                (
                    row.name,
                    row.kind,
                    str(row.calls),
                    f"{row.forward_s * 1e3:.3f}",
                    f"{row.backward_s * 1e3:.3f}",
                    f"{row.ratio:.2f}",
                    _flops(row.forward_flops),
                    _flops(row.backward_flops),
                )
            )
        sums = ("sum of layers", "", "", self.layer_forward_s, self.layer_backward_s)
        whole = ("whole model", "(+ loss)", "", self.forward_s, self.backward_s)
        for name, kind, calls, forward_s, backward_s in (sums, whole):
            ratio = backward_s / forward_s if forward_s > 0 else math.inf
            lines.append(
                (
                    name,
                    kind,
                    calls,
                    f"{forward_s * 1e3:.3f}",
                    f"{backward_s * 1e3:.3f}",
                    f"{ratio:.2f}",
                    _flops(self.forward_flops),
                    _flops(self.backward_flops),
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = [
            "  ".join(
                cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
                for i, cell in enumerate(line)
            ).rstrip()
            for line in lines
        ]
        rule = "-" * max(len(line) for line in text)
        text.insert(1, rule)
        text.insert(len(text) - 2, rule)
        text.append(f"median of {self.repeat} runs; FLOPs: 2 per multiply-add, weights only")
        return "\n".join(text)

    def __repr__(self) -> str:
        return (
            f"Profile(layers={len(self.rows)}, forward={self.forward_s * 1e3:.3f} ms, "
            f"backward={self.backward_s * 1e3:.3f} ms)"
        )


def _flops(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def profile(
    model: Module,
    x: Any,
    y: Any,
    loss_fn: Callable[[Any, Any], Tensor],
    repeat: int = 5,
    activations: bool = False,
) -> Profile:
    """Time each layer's forward and backward, count its FLOPs, and time the whole model.

    ``loss_fn(model(x), y)`` (``model(*x)`` for a tuple ``x``) must be a single-element tensor.
    The layers are the leaf modules (no submodules) that own parameters, and with
    ``activations`` also the parameter-free leaves (activations, pooling, dropout, reshapes).

    Method. The profile runs on a deep copy of the model without its hooks, so the model's
    gradients, batch-norm statistics and weights are not changed and its hooks do not fire.

    1. Whole model: after one warm-up run, ``repeat`` runs of forward + loss and of
       ``loss.backward()``, each timed with ``time.perf_counter``; the medians are reported.
    2. Recording: one forward pass with forward hooks on the layers keeps each call's inputs
       and output (asking the output to retain its gradient); one backward then leaves ∂C/∂output
       on every recorded output.
    3. Per layer: each recorded call is re-run in isolation on its recorded input (a detached
       copy that requires grad exactly when the original did, so input gradients are computed
       just where the model computes them), and its recorded output gradient is back-propagated
       through it. One warm-up, then ``repeat`` timed runs; medians are reported, summed over
       calls. Keyword arguments of a layer's call are not recorded, so a layer must be callable
       with its positional inputs alone (an LSTM given ``hx`` by keyword is re-run without it).

    The sum of the per-layer times is comparable to, not equal to, the whole model's: the
    whole model also runs the loss, the operations between layers (e.g. ``x.view`` in a
    ``forward``) and layers left out, and the engine's walk over one big graph costs a little
    more than over many small ones. Timings are wall-clock and vary from run to run.

    ```pycon
    >>> print(profile(model, x, y, nn.CrossEntropyLoss()))  # doctest: +SKIP

    ```
    """
    if not isinstance(model, Module):
        raise TypeError(f"profile: model must be a Module, got {type(model).__name__}")
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"profile: repeat must be a positive int, got {repeat!r}")
    model = copy_without_hooks(model)
    layers = [
        (name, module)
        for name, module in model.named_modules()
        if not any(True for _ in module.children())
        and (activations or any(True for _ in module.parameters()))
    ]
    if not layers:
        raise ValueError(
            f"profile: {type(model).__name__} has no leaf module with parameters to profile"
        )

    def run_model() -> Tensor:
        out = model(*x) if isinstance(x, (tuple, list)) else model(x)
        loss = loss_fn(out, y)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            what = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"profile: loss_fn must return a single-element Tensor, got {what}")
        return loss

    with enable_grad():
        forward_s, backward_s = _time_model(model, run_model, repeat)
        calls = _record_calls(model, layers, run_model)
        rows = [
            _profile_layer(name, module, calls[name], repeat)
            for name, module in _in_call_order(layers, calls)
        ]
    return Profile(rows, forward_s, backward_s, repeat)


def _time_model(model: Module, run_model: Callable[[], Tensor], repeat: int) -> tuple[float, float]:
    forward_times, backward_times = [], []
    for run in range(repeat + 1):  # run 0 warms caches up and is not counted
        model.zero_grad()
        start = time.perf_counter()
        loss = run_model()
        middle = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        if run > 0:
            forward_times.append(middle - start)
            backward_times.append(end - middle)
    model.zero_grad()
    return statistics.median(forward_times), statistics.median(backward_times)


@dataclass
class _Call:
    """One recorded call of a layer: its positional inputs, its output, and when it ran."""

    order: int
    inputs: tuple
    output: Any


def _record_calls(
    model: Module, layers: list[tuple[str, Module]], run_model: Callable[[], Tensor]
) -> dict[str, list[_Call]]:
    calls: dict[str, list[_Call]] = {name: [] for name, _ in layers}
    counter = [0]

    def recorder(name: str) -> Callable[..., None]:
        def hook(module: Module, args: tuple, output: Any) -> None:
            for tensor in _tensors(output):
                if tensor.requires_grad:
                    tensor.retain_grad()
            calls[name].append(_Call(counter[0], tuple(args), output))
            counter[0] += 1

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in layers]
    try:
        model.zero_grad()
        run_model().backward()
    finally:
        for handle in handles:
            handle.remove()
    model.zero_grad()
    return calls


def _in_call_order(
    layers: list[tuple[str, Module]], calls: dict[str, list[_Call]]
) -> list[tuple[str, Module]]:
    """The layers that ran, ordered by their first call."""
    ran = [(name, module) for name, module in layers if calls[name]]
    return sorted(ran, key=lambda item: calls[item[0]][0].order)


def _profile_layer(name: str, module: Module, calls: list[_Call], repeat: int) -> LayerProfile:
    forward_s = backward_s = 0.0
    forward_flops: int | None = 0
    backward_flops: int | None = 0
    for call in calls:
        inputs = tuple(_detached(value) for value in call.inputs)
        seeds = [_gradient_of(tensor) for tensor in _tensors(call.output)]
        forward_times, backward_times = [], []
        for run in range(repeat + 1):
            module.zero_grad()
            for value in inputs:  # a fresh input gradient each run, as in the model
                if isinstance(value, Tensor):
                    value.grad = None
            start = time.perf_counter()
            output = module(*inputs)
            middle = time.perf_counter()
            _backward(_tensors(output), seeds)
            end = time.perf_counter()
            if run > 0:
                forward_times.append(middle - start)
                backward_times.append(end - middle)
        module.zero_grad()
        forward_s += statistics.median(forward_times)
        backward_s += statistics.median(backward_times)
        counts = layer_flops(module, call.inputs, call.output)
        if counts is None:
            forward_flops = backward_flops = None
        elif forward_flops is not None and backward_flops is not None:
            forward_flops += counts[0]
            backward_flops += counts[1]
    return LayerProfile(
        name,
        type(module).__name__,
        len(calls),
        forward_s,
        backward_s,
        forward_flops,
        backward_flops,
    )


def _tensors(value: Any) -> list[Tensor]:
    """The tensors in a layer's output, which may nest tuples (an LSTM's (out, (h, c)))."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for item in value for t in _tensors(item)]
    return []


def _detached(value: Any) -> Any:
    if isinstance(value, Tensor):
        copy_ = Tensor._make(value.array, False, None)
        if value.requires_grad:
            copy_.requires_grad = True
        return copy_
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(item) for item in value)
    return value


def _gradient_of(tensor: Tensor) -> Any:
    if not tensor.requires_grad:
        return None
    if tensor.grad is None:  # an output the loss does not depend on (e.g. an LSTM's c_n)
        return backend.xp.zeros_like(tensor.array)
    return tensor.grad.array


def _backward(outputs: list[Tensor], seeds: list[Any]) -> None:
    pairs = [(t, g) for t, g in zip(outputs, seeds) if g is not None and t.requires_grad]
    if not pairs:
        return
    if len(pairs) == 1:
        pairs[0][0].backward(pairs[0][1])
        return
    # Several outputs: one backward of Σ⟨output, seed⟩ gives the same parameter and input
    # gradients as back-propagating each seed, at the cost of a product and a sum per output.
    total = None
    for tensor, seed in pairs:
        term = (tensor * Tensor._make(seed, False, None)).sum()
        total = term if total is None else total + term
    total.backward()


def layer_flops(module: Module, inputs: tuple, output: Any) -> tuple[int, int] | None:
    """(forward FLOPs, backward FLOPs) of one call of ``module``, or None without a formula.

    ``inputs`` are the call's positional arguments and ``output`` its result (as a forward hook
    sees them). The formulas are in this module's docstring.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> layer, x = nn.Linear(3, 4), cr.randn(5, 3)
    >>> layer_flops(layer, (x,), layer(x))  # 2·5·3·4 forward; x needs no gradient
    (120, 120)
    >>> layer_flops(nn.ReLU(), (x,), x) is None
    True

    ```
    """
    first = inputs[0] if inputs and isinstance(inputs[0], Tensor) else None
    if first is None:
        return None
    input_grad = first.requires_grad
    if isinstance(module, Linear):
        rows = first.numel() // max(module.in_features, 1)
        forward = 2 * rows * module.in_features * module.out_features
        return forward, forward * (2 if input_grad else 1)
    if isinstance(module, _ConvNd):
        out = _tensors(output)[0]
        spatial = module._spatial
        batch = out.shape[0] if out.ndim == spatial + 2 else 1
        positions = math.prod(out.shape[-spatial:])
        per_position = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        forward = 2 * batch * module.out_channels * positions * per_position
        return forward, forward * (2 if input_grad else 1)
    if isinstance(module, RNNBase):
        return _recurrent_flops(module, first, input_grad)
    if isinstance(module, RNNCellBase):
        gates = module.weight_ih.shape[0] // module.hidden_size
        batch = first.shape[0] if first.ndim == 2 else 1
        h = module.hidden_size
        from_input = 2 * batch * gates * h * module.input_size
        from_state = 2 * batch * gates * h * h
        forward = from_input + from_state
        return forward, 2 * forward - (0 if input_grad else from_input)
    return None


def _recurrent_flops(module: RNNBase, first: Tensor, input_grad: bool) -> tuple[int, int]:
    steps, batch = first.shape[0], first.shape[1] if first.ndim == 3 else 1
    if module.batch_first and first.ndim == 3:
        steps, batch = batch, steps
    h = module.hidden_size
    gates = module.weight_ih_l0.shape[0] // h  # 1 (RNN), 4 (LSTM) or 3 (GRU) gate blocks
    directions = 2 if module.bidirectional else 1
    forward = backward = 0
    for layer in range(module.num_layers):
        width = module.input_size if layer == 0 else h * directions
        from_input = 2 * steps * batch * gates * h * width * directions
        from_state = 2 * steps * batch * gates * h * h * directions
        forward += from_input + from_state
        # The hidden-state gradient is always needed (it carries the recurrence back in
        # time); only the first layer's input gradient can be skipped.
        skip = layer == 0 and not input_grad
        backward += 2 * (from_input + from_state) - (from_input if skip else 0)
    return forward, backward
