"""One backpropagation step, layer by layer: what every layer saw and what came back to it.

:func:`trace` runs one forward and one backward pass through a model and records, for each
layer some family knows (:mod:`chainrule.inspect.families`: Linear and Conv; RNN, LSTM, GRU
and their cells, per time step; BatchNorm, LayerNorm, GroupNorm; Embedding), its arrays as
NumPy: for a dense layer l, a^{l-1}, z^l, a^l, δ^l = ∂C/∂z^l, ∂C/∂W^l and ∂C/∂b^l.
:meth:`Trace.explain` writes out the backprop equations for a layer with this step's numbers
and checks each against autodiff (:mod:`chainrule.inspect.explain`).

Batch convention: chainrule's ``Linear`` computes z = a Wᵀ + b with one sample per row, so
``a_in`` is (N, in), ``z``, ``a_out`` and ``delta`` are (N, out). ``delta`` is ∂C/∂z for the
whole batch's loss C, so a mean-reduced loss's 1/N is already inside it, and ∂C/∂W, ∂C/∂b are
sums over the batch of the per-sample terms.

The trace runs on a copy of the model without its hooks, so the model's weights, its
parameters' ``.grad``, batch-norm running statistics and hooks are untouched: tracing in the
middle of a training loop (even between two accumulating backward passes) changes nothing.
A model on a GPU is traced through a copy on the CPU (with ``x`` and ``y`` copied there too):
the records are NumPy arrays, which the equations are then checked with.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy

from chainrule.autograd.grad_mode import enable_grad
from chainrule.inspect.equations import format_text, shape_text
from chainrule.inspect.explain import explain_layer
from chainrule.inspect.families import Context, family_of, known_layers
from chainrule.inspect.families.dense import LayerRecord
from chainrule.inspect.families.recurrent import RecurrentRecord
from chainrule.inspect.model_check import copy_without_hooks
from chainrule.inspect.records import Call, Record, Summary, summarize
from chainrule.nn.module import Module
from chainrule.nn.softmax import LogSoftmax, Softmax
from chainrule.tensor import Tensor

# Elementwise activations: σ'(z) is then the gradient of Σ σ(z). Softmax mixes its inputs.
ACTIVATION_MODULES = ("chainrule.nn.rectifiers", "chainrule.nn.smooth_activations")
NOT_ELEMENTWISE = (Softmax, LogSoftmax)

__all__ = ["LayerRecord", "Record", "Summary", "Trace", "summarize", "table_rows", "trace"]


@dataclass
class Trace:
    """One traced step: the loss, one record per traced layer (in forward order), and notes.

    ``output`` is the model's output a^L (after any final activation), ``target`` the y it was
    compared with, and ``grad_output`` = ∇aC = ∂C/∂output, the gradient of the loss alone
    (autodiff on ``loss_fn`` applied to a detached copy of the output).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid())
    >>> t = cr.inspect.trace(model, cr.zeros(4, 2), cr.zeros(4, 3), nn.MSELoss())
    >>> len(t.layers), t.output.shape, t.grad_output.shape
    (1, (4, 3), (4, 3))

    ```
    """

    loss: float
    loss_name: str
    layers: list[Record]
    output: numpy.ndarray
    target: numpy.ndarray
    grad_output: numpy.ndarray
    skipped: list[str] = field(default_factory=list)
    loss_reduction: str | None = None
    model: str = ""  # repr of the traced model
    input_shape: tuple[int, ...] = ()

    @property
    def batch_text(self) -> str:
        """ "a batch of N" (N = the input's first dimension), or "one sample" when unbatched."""
        first = self.layers[0] if self.layers else None
        if isinstance(first, RecurrentRecord) and first.h_given is None:
            # A sequence layer's input may be time-major; its record always is: (T, B, H).
            batched = len(self.input_shape) == 3
            return f"a batch of {first.z.shape[1]}" if batched else "one sample"
        batched = len(self.input_shape) >= 2 and not (
            first is not None and first.kind == "conv" and len(self.input_shape) == 2
        )
        return f"a batch of {self.input_shape[0]}" if batched else "one sample"

    # Kept only with trace(..., keep_graph=True): the loss tensor, its graph intact, and names
    # for its leaves (parameters, input and target), for drawing the computational graph.
    graph_root: Tensor | None = None
    params: dict[str, Tensor] | None = None

    def layer(self, key: int | str) -> Record:
        """A layer by position (0 is the first traced layer) or by name (its module's path; a
        stacked or bidirectional recurrent layer's records add ``.l{k}`` and ``_reverse``)."""
        if isinstance(key, int) and not isinstance(key, bool):
            if -len(self.layers) <= key < len(self.layers):
                return self.layers[key]
            raise IndexError(f"Trace: no layer {key}; the trace has {len(self.layers)} layers")
        for record in self.layers:
            if record.name == key:
                return record
        names = ", ".join(repr(r.name) for r in self.layers)
        raise KeyError(f"Trace: no traced layer named {key!r}; the traced layers are {names}")

    def table(self) -> str:
        """An aligned text table, one row per layer: shapes, norms and the activation."""
        header, rows = table_rows(self)
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            # Names and words left-aligned, numbers right-aligned.
            parts = [
                cell.ljust(w) if i in (1, 2, len(cells) - 1) else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths))
            ]
            return "  ".join(parts).rstrip()

        lines = [f"loss ({self.loss_name}) = {self.loss:.6g} on {self.batch_text}", ""]
        if not math.isfinite(self.loss):
            lines[1:1] = [
                f"the loss is {self.loss}: a NaN or infinity in the input, the target or the "
                "weights spreads through every δ (chainrule.inspect.detect_anomaly names the "
                "first operation that makes one)"
            ]
        lines += [line(header), line(["-" * w for w in widths])]
        lines += [line(row) for row in rows]
        lines += [f"skipped: {note}" for note in self.skipped]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        """The loss and, per layer name in forward order, that layer's arrays (NumPy)."""
        return {
            "loss": self.loss,
            "output": self.output,
            "target": self.target,
            "grad_output": self.grad_output,
            "layers": {record.name: record.arrays() for record in self.layers},
        }

    def explain(self, layer: int | str, **options: Any) -> str:
        """The backprop equations of ``layer`` with this step's numbers, each checked.

        ``options`` go to the layer's family: a recurrent layer takes ``step=t``, the time
        step whose numbers are printed (every step is checked either way)."""
        return format_text(explain_layer(self, layer, **options))


def table_rows(trace: Trace) -> tuple[list[str], list[list[str]]]:
    """The header and one row of cells per layer for :meth:`Trace.table` (and the HTML page)."""
    header = ["l", "layer", "type", "a_in", "z", "‖a_in‖", "‖z‖", "‖δ‖", "‖∂C/∂W‖", "‖∂C/∂b‖"]
    header.append("activation")
    rows = []
    for r in trace.layers:
        norms = [r.norm(name) for name in ("a_in", "z", "delta", "grad_weight", "grad_bias")]
        cells = [str(r.number), r.name, r.type_name, shape_text(r.a_in), shape_text(r.z)]
        cells += ["-" if n is None else f"{n:.4g}" for n in norms]
        cells.append(r.activation_text)
        rows.append(cells)
    return header, rows


def trace(
    model: Module,
    x: Any,
    y: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    keep_graph: bool = False,
) -> Trace:
    """Run ``loss_fn(model(x), y)`` forward and backward once and record every layer.

    Arguments: ``model`` a Module returning one tensor; ``x`` its input, ``y`` the target
    (tensors or arrays); ``loss_fn`` returns a single-element loss. ``keep_graph=True`` keeps the
    loss's graph (``Trace.graph_root``) for drawing it, at the cost of the memory it holds.

    Layers with weights that no family knows are listed in ``Trace.skipped``, as are layers
    called more than once (shared weights; a recurrent cell's calls are its time steps).

    ```pycon
    >>> import chainrule
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
    >>> x = chainrule.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> y = chainrule.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> t = trace(model, x, y, nn.MSELoss())
    >>> t.layers[0].delta.shape  # δ = ∂C/∂z of the first layer, one row per sample
    (4, 2)

    ```
    """
    if not isinstance(model, Module):
        raise TypeError(f"trace: model must be a chainrule Module, got {type(model).__name__}")
    # A private copy: the caller's weights, .grad, batch-norm statistics stay as they are, and
    # the caller's hooks (a GradientMonitor, a logger) do not see this extra pass.
    model = copy_without_hooks(model)
    model.zero_grad(set_to_none=True)
    x = x.detach() if isinstance(x, Tensor) else Tensor(x)
    if _on_a_device(model, x, y):
        # The records are NumPy arrays, and the families check their equations in NumPy:
        # the whole pass runs on host copies (the private model's own, moved in place).
        model.to("cpu")
        x = x.cpu()
        y = y.detach().cpu() if isinstance(y, Tensor) else y
    target = y.array if isinstance(y, Tensor) else numpy.asarray(y)
    with enable_grad():
        return _run(model, x, y, target, loss_fn, keep_graph)


def _run(
    model: Module, x: Tensor, y: Any, target: numpy.ndarray, loss_fn: Callable, keep_graph: bool
) -> Trace:
    groups, output, skipped = _forward_calls(model, x)
    if not isinstance(output, Tensor):
        raise TypeError(f"trace: the model must return one Tensor, got {type(output).__name__}")
    loss = loss_fn(output, y)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"trace: loss_fn must return a single-element Tensor, got {shape}")
    for family, calls in groups:
        family.prepare(calls)
    uses = _count_uses(loss)
    loss.backward(retain_graph=keep_graph)

    records: list[Record] = []
    for position, (family, calls) in enumerate(groups):
        following = groups[position + 1][1][0] if position + 1 < len(groups) else None
        context = Context(calls, following, uses, output, len(records))
        records += family.record(context)
        skipped += context.notes
    result = Trace(
        loss=float(loss.item()),
        loss_name=type(loss_fn).__name__,
        layers=records,
        output=output.array.copy(),
        target=numpy.array(target),
        grad_output=_loss_gradient(loss_fn, output, y),
        skipped=skipped,
        loss_reduction=getattr(loss_fn, "reduction", None),
        model=repr(model),
        input_shape=tuple(x.shape),
    )
    if keep_graph:
        result.graph_root, result.params = loss, dict(model.named_parameters())
        result.params["x (input)"] = x
        if isinstance(y, Tensor):
            result.params["y (target)"] = y
    return result


def _on_a_device(model: Module, x: Tensor, y: Any) -> bool:
    """Whether any of the model's parameters and buffers, ``x`` or ``y`` is off the CPU."""
    tensors = [*model.parameters(), *model.buffers(), x]
    if isinstance(y, Tensor):
        tensors.append(y)
    return any(type(t.array) is not numpy.ndarray for t in tensors)


def _forward_calls(model: Module, x: Tensor) -> tuple[list[tuple[Any, list[Call]]], Any, list[str]]:
    """Run the model once, hooking its leaf modules and its modules with weights.

    Returns, in forward order, each traced module's family and calls (a dense layer's call
    carries the activation call that directly follows it, if any), the model's output, and
    notes on the layers left out.
    """
    calls: list[Call] = []
    skipped: list[str] = []
    handles = []

    def make_hook(name: str) -> Callable:
        def hook(module: Module, args: tuple, output: Any) -> None:
            calls.append(Call(name, module, args, output))

        return hook

    for name, module in model.named_modules():
        has_weights = any(True for _ in module.parameters(recurse=False))
        if has_weights and family_of(module) is None:
            skipped.append(
                f"{name or type(module).__name__!r} ({type(module).__name__}): has weights, but "
                f"the trace knows the equations of {known_layers()} only"
            )
        if has_weights or not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(make_hook(name)))
    try:
        output = model(x)
    finally:
        for handle in handles:
            handle.remove()

    for call, after in zip(calls, [*calls[1:], None]):
        if after is not None and _is_activation(after, call.output):
            call.activation = after
    by_name: dict[str, list[Call]] = {}
    for call in calls:
        if family_of(call.module) is not None:
            by_name.setdefault(call.name, []).append(call)
    groups = []
    for name, group in by_name.items():
        family = family_of(group[0].module)
        if len(group) > 1 and not family.calls_are_steps:
            skipped.append(
                f"{name!r}: called {len(group)} times in one forward (shared weights); its "
                "∂C/∂W sums over the calls, so the trace leaves it out"
            )
            continue
        groups.append((family, group))
    return groups, output, skipped


def _is_activation(call: Call, z: Any) -> bool:
    """An elementwise activation module applied directly to ``z``."""
    module = call.module
    return (
        type(module).__module__ in ACTIVATION_MODULES
        and not isinstance(module, NOT_ELEMENTWISE)
        and call.input is z
        and isinstance(call.output, Tensor)
        and call.output.shape == z.shape
    )


def _count_uses(root: Tensor) -> Counter:
    """How many times each tensor (by id) is an input of an operation in root's graph."""
    uses: Counter = Counter()
    seen: set[int] = set()
    stack = [root]
    while stack:
        for value in stack.pop().grad_fn.inputs:
            if isinstance(value, Tensor):
                uses[id(value)] += 1
                if value.grad_fn is not None and id(value) not in seen:
                    seen.add(id(value))
                    stack.append(value)
    return uses


def _loss_gradient(loss_fn: Callable, output: Tensor, y: Any) -> numpy.ndarray:
    """∇aC: the gradient of the loss alone at the network's output, by autodiff."""
    leaf = Tensor(output.array.copy(), requires_grad=True)
    loss_fn(leaf, y).backward()
    return leaf.grad.array.copy()
