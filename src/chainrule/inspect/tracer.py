"""One backpropagation step, layer by layer: the a, z and δ of every layer, in the articles' names.

For the layer l of a network (counting only the layers with weights, in forward order)::

    z^l = W^l a^{l-1} + b^l        the layer's output, before the activation
    a^l = σ(z^l)                   the activation module that follows it (a^l = z^l if none)
    δ^l = ∂C/∂z^l                  the error of layer l
    ∂C/∂W^l, ∂C/∂b^l               what the optimiser uses

:func:`trace` runs one forward and one backward pass through a model and records all of these as
NumPy arrays; :meth:`Trace.explain` writes out the backprop equations for a layer with this
step's numbers and checks each against autodiff (:mod:`chainrule.inspect.explain`).

Batch convention: chainrule's ``Linear`` computes z = a Wᵀ + b with one sample per row, so
``a_in`` is (N, in), ``z``, ``a_out`` and ``delta`` are (N, out). ``delta`` is ∂C/∂z for the
whole batch's loss C, so a mean-reduced loss's 1/N is already inside it, and ∂C/∂W, ∂C/∂b are
sums over the batch of the per-sample terms.

The trace runs on a copy of the model without its hooks, so the model's weights, its
parameters' ``.grad``, batch-norm running statistics and hooks are untouched: tracing in the
middle of a training loop (even between two accumulating backward passes) changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy

from chainrule.autograd.grad_mode import enable_grad
from chainrule.inspect.explain import explain_layer, format_text, shape_text, sup
from chainrule.inspect.model_check import copy_without_hooks
from chainrule.nn.activations import LogSoftmax, Softmax
from chainrule.nn.layers.conv import Conv1d, Conv2d
from chainrule.nn.layers.linear import Linear
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

# Layers whose equations the trace knows; other modules with weights are listed as skipped.
TRACED_LAYERS = (Linear, Conv1d, Conv2d)
# Elementwise activations: σ'(z) is then the gradient of Σ σ(z). Softmax mixes its inputs.
ACTIVATION_MODULES = ("chainrule.nn.activations", "chainrule.nn.extra_activations")
NOT_ELEMENTWISE = (Softmax, LogSoftmax)


class Summary(NamedTuple):
    """Summary statistics of one array."""

    mean: float
    std: float
    min: float
    max: float
    norm: float  # the Euclidean (Frobenius) norm of the whole array


def summarize(array: numpy.ndarray) -> Summary:
    """Mean, standard deviation, minimum, maximum and norm of ``array`` (computed in float64)."""
    values = numpy.asarray(array, dtype=numpy.float64)
    if values.size == 0:
        return Summary(0.0, 0.0, 0.0, 0.0, 0.0)
    return Summary(
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
        float(numpy.linalg.norm(values.ravel())),
    )


@dataclass
class LayerRecord:
    """What one layer with weights saw and received during the traced step.

    Shapes for a Linear(in, out) on a batch of N: ``a_in`` (N, in); ``z``, ``a_out``,
    ``delta``, ``grad_a_out`` (N, out); ``weight``, ``grad_weight`` (out, in); ``bias``,
    ``grad_bias`` (out,) or None without a bias. A Conv's arrays keep their (N, C, ...) shapes.
    """

    index: int  # l − 1: the position among the traced layers, in forward order
    name: str  # the module's path in model.named_modules()
    module: str  # repr of the module, e.g. "Linear(in_features=2, out_features=2, bias=True)"
    kind: str  # "linear" or "conv"
    a_in: numpy.ndarray  # a^{l-1}
    z: numpy.ndarray  # z^l
    a_out: numpy.ndarray  # a^l = σ(z^l), or z^l when no activation follows
    delta: numpy.ndarray  # δ^l = ∂C/∂z^l
    grad_a_out: numpy.ndarray  # ∂C/∂a^l, from autodiff
    weight: numpy.ndarray  # W^l as it was during the step
    bias: numpy.ndarray | None
    grad_weight: numpy.ndarray  # ∂C/∂W^l
    grad_bias: numpy.ndarray | None  # ∂C/∂b^l
    activation: str | None = None  # class name of the activation module, e.g. "Sigmoid"
    activation_name: str | None = None  # its path in named_modules()
    sigma_prime: numpy.ndarray | None = None  # σ'(z^l), by autodiff on the activation module
    # Whether a^l flows only into the next traced layer, as its whole input: then that layer's
    # δ comes back through its Wᵀ alone and the δ recursion holds. ``recursion_note`` says why not.
    feeds_next: bool = False
    recursion_note: str = ""
    is_output: bool = False  # a^l is the model's output, the input of the loss
    options: dict[str, Any] = field(default_factory=dict)  # conv stride, padding, ...

    @property
    def number(self) -> int:
        """l, the layer's number in the equations (1 for the first layer with weights)."""
        return self.index + 1

    def arrays(self) -> dict[str, numpy.ndarray]:
        """The recorded arrays by field name (absent bias and activation left out)."""
        names = ("a_in", "z", "a_out", "delta", "grad_a_out", "weight", "bias")
        names += ("grad_weight", "grad_bias", "sigma_prime")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def stats(self) -> dict[str, Summary]:
        """Summary statistics of every recorded array."""
        return {name: summarize(array) for name, array in self.arrays().items()}

    @property
    def norms(self) -> dict[str, float]:
        """‖array‖ of every recorded array, by field name."""
        return {name: summary.norm for name, summary in self.stats().items()}

    def norm(self, field_name: str) -> float | None:
        """‖array‖ of one field (``"delta"``, ``"grad_weight"``...), None where it is absent."""
        array = getattr(self, field_name)
        return None if array is None else summarize(array).norm


@dataclass
class Trace:
    """One traced step: the loss, one :class:`LayerRecord` per layer with weights, and notes.

    ``output`` is the model's output a^L (after any final activation), ``target`` the y it was
    compared with, and ``grad_output`` = ∇aC = ∂C/∂output, the gradient of the loss alone
    (autodiff on ``loss_fn`` applied to a detached copy of the output).
    """

    loss: float
    loss_name: str
    layers: list[LayerRecord]
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
        batched = len(self.input_shape) >= 2 and not (
            self.layers and self.layers[0].kind == "conv" and len(self.input_shape) == 2
        )
        return f"a batch of {self.input_shape[0]}" if batched else "one sample"

    # Kept only with trace(..., keep_graph=True): the loss tensor, its graph intact, and names
    # for its leaves (parameters, input and target), for drawing the computational graph.
    graph_root: Tensor | None = None
    params: dict[str, Tensor] | None = None

    def layer(self, key: int | str) -> LayerRecord:
        """A layer by position (0 is the first layer with weights) or by module name."""
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

    def explain(self, layer: int | str) -> str:
        """The backprop equations of ``layer`` with this step's numbers, each checked."""
        return format_text(explain_layer(self, layer))


def table_rows(trace: Trace) -> tuple[list[str], list[list[str]]]:
    """The header and one row of cells per layer for :meth:`Trace.table` (and the HTML page)."""
    header = ["l", "layer", "type", "a_in", "z", "‖a_in‖", "‖z‖", "‖δ‖", "‖∂C/∂W‖", "‖∂C/∂b‖"]
    header.append("activation")
    rows = []
    for r in trace.layers:
        kind = r.module.split("(")[0]
        norms = [r.norm(name) for name in ("a_in", "z", "delta", "grad_weight", "grad_bias")]
        cells = [str(r.number), r.name, kind, shape_text(r.a_in), shape_text(r.z)]
        cells += ["-" if n is None else f"{n:.4g}" for n in norms]
        cells.append(f"{r.activation} ({r.activation_name})" if r.activation else "none")
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

    Layers with weights that the trace does not know (anything but Linear, Conv1d, Conv2d:
    normalisation, embeddings, recurrent layers...) are listed in ``Trace.skipped``.

    >>> model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
    >>> t = trace(model, x, y, nn.MSELoss())  # doctest: +SKIP
    >>> t.layers[0].delta.shape  # x has 4 rows  # doctest: +SKIP
    (4, 2)
    """
    if not isinstance(model, Module):
        raise TypeError(f"trace: model must be a chainrule Module, got {type(model).__name__}")
    # A private copy: the caller's weights, .grad, batch-norm statistics stay as they are, and
    # the caller's hooks (a GradientMonitor, a logger) do not see this extra pass.
    model = copy_without_hooks(model)
    model.zero_grad(set_to_none=True)
    x = x.detach() if isinstance(x, Tensor) else Tensor(x)
    target = y.data if isinstance(y, Tensor) else numpy.asarray(y)
    with enable_grad():
        return _run(model, x, y, target, loss_fn, keep_graph)


def _run(
    model: Module, x: Tensor, y: Any, target: numpy.ndarray, loss_fn: Callable, keep_graph: bool
) -> Trace:
    layers, output, skipped = _forward_calls(model, x)
    if not isinstance(output, Tensor):
        raise TypeError(f"trace: the model must return one Tensor, got {type(output).__name__}")
    loss = loss_fn(output, y)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"trace: loss_fn must return a single-element Tensor, got {shape}")
    for call in layers:
        if not isinstance(call.output, Tensor) or not call.output.requires_grad:
            raise RuntimeError(
                f"trace: the output of layer {call.name!r} ({type(call.module).__name__}) does "
                "not require grad; the trace needs the layer's weights to require grad"
            )
        call.output.retain_grad()  # δ = ∂C/∂z
        if call.activation is not None:
            call.activation.output.retain_grad()  # ∂C/∂a
    uses = _count_uses(loss)
    loss.backward(retain_graph=keep_graph)

    records = [_record(i, call, layers, uses, output) for i, call in enumerate(layers)]
    result = Trace(
        loss=float(loss.item()),
        loss_name=type(loss_fn).__name__,
        layers=records,
        output=output.data.copy(),
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


@dataclass
class _Call:
    """One module call seen by a forward hook."""

    name: str
    module: Module
    input: Any
    output: Any
    activation: _Call | None = None  # for a traced layer: the activation call right after it


def _forward_calls(model: Module, x: Tensor) -> tuple[list[_Call], Any, list[str]]:
    """Run the model once, hooking its leaf modules and its modules with weights.

    Returns the traced layers' calls in forward order (each with the activation call that
    directly follows it, if any), the model's output, and notes on the layers left out.
    """
    calls: list[_Call] = []
    skipped: list[str] = []
    handles = []

    def make_hook(name: str) -> Callable:
        def hook(module: Module, args: tuple, output: Any) -> None:
            calls.append(_Call(name, module, args[0] if args else None, output))

        return hook

    for name, module in model.named_modules():
        has_weights = any(True for _ in module.parameters(recurse=False))
        if has_weights and not isinstance(module, TRACED_LAYERS):
            skipped.append(
                f"{name or type(module).__name__!r} ({type(module).__name__}): has weights, but "
                "the trace knows the equations of Linear, Conv1d and Conv2d only"
            )
        if has_weights or not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(make_hook(name)))
    try:
        output = model(x)
    finally:
        for handle in handles:
            handle.remove()

    counts = Counter(c.name for c in calls if isinstance(c.module, TRACED_LAYERS))
    for name, count in counts.items():
        if count > 1:
            skipped.append(
                f"{name!r}: called {count} times in one forward (shared weights); its ∂C/∂W "
                "sums over the calls, so the trace leaves it out"
            )
    layers = []
    for call, after in zip(calls, [*calls[1:], None]):
        if isinstance(call.module, TRACED_LAYERS) and counts[call.name] == 1:
            if after is not None and _is_activation(after, call.output):
                call.activation = after
            layers.append(call)
    return layers, output, skipped


def _is_activation(call: _Call, z: Any) -> bool:
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


def _record(
    index: int, call: _Call, layers: list[_Call], uses: Counter, output: Tensor
) -> LayerRecord:
    module = call.module
    z = call.output
    a_out = z if call.activation is None else call.activation.output
    delta = z.grad
    grad_a = a_out.grad if a_out.grad is not None else delta
    record = LayerRecord(
        index=index,
        name=call.name,
        module=repr(module),
        kind="linear" if isinstance(module, Linear) else "conv",
        a_in=_array(call.input),
        z=z.data.copy(),
        a_out=a_out.data.copy(),
        delta=_array(delta, like=z),
        grad_a_out=_array(grad_a, like=a_out),
        weight=module.weight.data.copy(),
        bias=None if module.bias is None else module.bias.data.copy(),
        grad_weight=_array(module.weight.grad, like=module.weight),
        grad_bias=None if module.bias is None else _array(module.bias.grad, like=module.bias),
        is_output=a_out is output,
    )
    if call.activation is not None:
        record.activation = type(call.activation.module).__name__
        record.activation_name = call.activation.name
        record.sigma_prime = _activation_derivative(call.activation.module, z)
    if record.kind == "conv":
        record.options = _conv_options(module)
    record.feeds_next, record.recursion_note = _recursion(index, call, a_out, layers, uses)
    return record


def _recursion(
    index: int, call: _Call, a_out: Tensor, layers: list[_Call], uses: Counter
) -> tuple[bool, str]:
    """Whether δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l) holds as written, and if not, why."""
    if index + 1 == len(layers):
        return False, "the last layer with weights: δ comes from the loss, not from a next layer"
    after = layers[index + 1]
    label = f"{after.name!r} ({type(after.module).__name__})"
    if not isinstance(after.module, Linear):
        return False, f"the next layer {label} is not Linear, so its δ does not return through Wᵀ"
    if after.input is not a_out:
        return False, (
            f"the next layer {label} does not take a{sup(index + 1)} itself as its input "
            "(something else, such as a reshape or a function call, comes between them)"
        )
    if uses[id(a_out)] != 1 or (call.activation is None and uses[id(call.output)] != 1):
        return False, (
            f"a{sup(index + 1)} is also used outside the next layer (e.g. a residual "
            "connection), so its gradient has more than the Wᵀδ term"
        )
    return True, ""


def _activation_derivative(module: Module, z: Tensor) -> numpy.ndarray:
    """σ'(z) by autodiff on the activation module alone: ∂/∂z Σ σ(z) for an elementwise σ."""
    leaf = Tensor(z.data.copy(), requires_grad=True)
    module(leaf).sum().backward()  # the module belongs to the trace's private copy
    return leaf.grad.data.copy()


def _loss_gradient(loss_fn: Callable, output: Tensor, y: Any) -> numpy.ndarray:
    """∇aC: the gradient of the loss alone at the network's output, by autodiff."""
    leaf = Tensor(output.data.copy(), requires_grad=True)
    loss_fn(leaf, y).backward()
    return leaf.grad.data.copy()


def _conv_options(module: Module) -> dict[str, Any]:
    return {
        "stride": tuple(module.stride),
        "padding": module.padding,
        "dilation": tuple(module.dilation),
        "groups": module.groups,
        "kernel_size": tuple(module.kernel_size),
    }


def _array(value: Tensor | None, like: Tensor | None = None) -> numpy.ndarray:
    """A copy of a tensor's data; zeros where no gradient reached it (shape of ``like``)."""
    if value is None:
        return numpy.zeros(like.shape, dtype=like.dtype)
    return value.data.copy()
