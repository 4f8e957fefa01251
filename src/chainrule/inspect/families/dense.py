"""Dense layers (Linear, Conv1d, Conv2d): the four backprop equations, recorded and checked.

In the seed articles' notation (superscript l is the layer, L the last one)::

    z^l = W^l a^{l-1} + b^l        the layer's output, before the activation
    a^l = σ(z^l)                   the activation module that follows it (a^l = z^l if none)
    δ^l = ∂C/∂z^l                  the error of layer l

    (BP1) δᴸ = ∇ₐC ⊙ σ'(zᴸ)
    (BP2) δˡ = ((Wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ'(zˡ)
    (BP3) ∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ
    (BP4) ∂C/∂bˡ = δˡ

Each right-hand side is computed in float64 NumPy from the recorded a, z, W and the
neighbouring layer's δ, independently of the autodiff engine, and compared with what autodiff
gave. The articles write one sample as a column; chainrule keeps samples as rows (z = a Wᵀ + b),
so in rows BP2 reads δˡ = (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ), and BP3, BP4 sum over the batch:
∂C/∂Wˡ = Σₙ δˡₙ (aˡ⁻¹ₙ)ᵀ = (δˡ)ᵀ aˡ⁻¹ and ∂C/∂bˡ = Σₙ δˡₙ. ``delta`` is ∂C/∂z for the whole
batch's loss C, so a mean-reduced loss's 1/N is already inside it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy

from chainrule.inspect.equations import (
    Equation,
    LayerExplanation,
    as_rows,
    check,
    shape_text,
    sup,
)
from chainrule.inspect.families.base import Context, Family
from chainrule.inspect.records import Call, Record
from chainrule.nn.layers.conv import Conv1d, Conv2d
from chainrule.nn.layers.linear import Linear
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.inspect.tracer import Trace

DERIVATIVES = {
    "Sigmoid": "σ'(z) = σ(z)(1 − σ(z))",
    "Tanh": "tanh'(z) = 1 − tanh²(z)",
    "ReLU": "ReLU'(z) = 1 where z > 0, else 0",
}


@dataclass
class LayerRecord(Record):
    """What one Linear or Conv layer saw and received during the traced step.

    Shapes for a Linear(in, out) on a batch of N: ``a_in`` (N, in); ``z``, ``a_out``,
    ``delta``, ``grad_a_out`` (N, out); ``weight``, ``grad_weight`` (out, in); ``bias``,
    ``grad_bias`` (out,) or None without a bias. A Conv's arrays keep their (N, C, ...) shapes.
    ``kind`` is "linear" or "conv".

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid())
    >>> t = cr.inspect.trace(model, cr.zeros(4, 2), cr.zeros(4, 3), nn.MSELoss())
    >>> record = t.layers[0]
    >>> record.kind, record.a_in.shape, record.delta.shape, record.grad_weight.shape
    ('linear', (4, 2), (4, 3), (3, 2))

    ```
    """

    ARRAYS: ClassVar[dict[str, str]] = {
        "a_in": "a (input)",
        "z": "z",
        "a_out": "a (output)",
        "delta": "δ",
        "grad_a_out": "∂C/∂a",
        "weight": "W",
        "bias": "b",
        "grad_weight": "∂C/∂W",
        "grad_bias": "∂C/∂b",
        "sigma_prime": "σ'(z)",
    }
    SUMMARY: ClassVar[tuple[str, ...] | None] = (
        "a_in",
        "z",
        "a_out",
        "delta",
        "grad_weight",
        "grad_bias",
    )

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
    def activation_text(self) -> str:
        return f"{self.activation} ({self.activation_name})" if self.activation else "none"


def prepare(calls: list[Call]) -> None:
    """Keep δ = ∂C/∂z, and ∂C/∂a where an activation module follows."""
    for call in calls:
        if not isinstance(call.output, Tensor) or not call.output.requires_grad:
            raise RuntimeError(
                f"trace: the output of layer {call.name!r} ({type(call.module).__name__}) does "
                "not require grad; the trace needs the layer's weights to require grad"
            )
        call.output.retain_grad()
        if call.activation is not None:
            call.activation.output.retain_grad()


def record(context: Context) -> list[Record]:
    """The layer's a, z, δ, weights and gradients, and whether the δ recursion holds."""
    call, index, output = context.calls[0], context.index, context.output
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
        z=z.array.copy(),
        a_out=a_out.array.copy(),
        delta=_array(delta, like=z),
        grad_a_out=_array(grad_a, like=a_out),
        weight=module.weight.array.copy(),
        bias=None if module.bias is None else module.bias.array.copy(),
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
    record.feeds_next, record.recursion_note = _recursion(
        index, call, a_out, context.following, context.uses
    )
    return [record]


def _recursion(
    index: int, call: Call, a_out: Tensor, after: Call | None, uses: Counter
) -> tuple[bool, str]:
    """Whether δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l) holds as written, and if not, why."""
    if after is None:
        return False, "the last traced layer: δ comes from the loss, not from a next layer"
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
    leaf = Tensor(z.array.copy(), requires_grad=True)
    module(leaf).sum().backward()  # the module belongs to the trace's private copy
    return leaf.grad.array.copy()


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
    return value.array.copy()


def output_delta(grad_a: numpy.ndarray, sigma_prime: numpy.ndarray) -> numpy.ndarray:
    """BP1: ∇ₐC ⊙ σ'(zᴸ), elementwise."""
    return grad_a * sigma_prime


def hidden_delta(
    next_delta: numpy.ndarray, next_weight: numpy.ndarray, sigma_prime: numpy.ndarray
) -> numpy.ndarray:
    """BP2 in rows: (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ); δˡ⁺¹ (N, out), Wˡ⁺¹ (out, in), σ'(zˡ) (N, in)."""
    return (next_delta @ next_weight) * sigma_prime


def linear_weight_gradient(delta: numpy.ndarray, a_in: numpy.ndarray) -> numpy.ndarray:
    """BP3 for Linear: Σₙ δₙ aₙᵀ = δᵀ a; δ (N, out), a (N, in) → (out, in)."""
    return as_rows(delta).T @ as_rows(a_in)


def linear_bias_gradient(delta: numpy.ndarray) -> numpy.ndarray:
    """BP4 for Linear: Σₙ δₙ → (out,)."""
    return as_rows(delta).sum(axis=0)


def conv_weight_gradient(delta: numpy.ndarray, a_in: numpy.ndarray, options: dict) -> numpy.ndarray:
    """BP3 for ConvNd: ∂C/∂W[o, c, k] = Σₙ Σₚ δ[n, o, p] · a[n, c, p·s + k·d − pad].

    ``delta`` (N, C_out, *out), ``a_in`` (N, C_in, *in); one array slice per kernel offset k,
    so the loops run over kernel positions and groups, never over samples.
    """
    spatial = len(options["kernel_size"])
    if a_in.ndim == spatial + 1:  # an unbatched input
        a_in, delta = a_in[None], delta[None]
    padded = numpy.pad(a_in, [(0, 0), (0, 0), *_padding(options, spatial)])
    groups = options["groups"]
    c_in, c_out = a_in.shape[1] // groups, delta.shape[1] // groups
    out_size = delta.shape[2:]
    grad = numpy.zeros((delta.shape[1], c_in, *options["kernel_size"]))
    for k in itertools.product(*(range(n) for n in options["kernel_size"])):
        window = tuple(
            slice(k[i] * options["dilation"][i], None, options["stride"][i]) for i in range(spatial)
        )
        taken = padded[(slice(None), slice(None), *window)]
        taken = taken[(..., *(slice(0, n) for n in out_size))]
        for g in range(groups):
            d = delta[:, g * c_out : (g + 1) * c_out].reshape(delta.shape[0], c_out, -1)
            a = taken[:, g * c_in : (g + 1) * c_in].reshape(delta.shape[0], c_in, -1)
            grad[(slice(g * c_out, (g + 1) * c_out), slice(None), *k)] = numpy.einsum(
                "nop,ncp->oc", d, a
            )
    return grad


def conv_bias_gradient(delta: numpy.ndarray, spatial: int) -> numpy.ndarray:
    """BP4 for ConvNd: ∂C/∂b[o] = Σₙ Σₚ δ[n, o, p]."""
    batched = delta if delta.ndim == spatial + 2 else delta[None]
    return batched.sum(axis=tuple(i for i in range(batched.ndim) if i != 1))


def _padding(options: dict, spatial: int) -> list[tuple[int, int]]:
    padding = options["padding"]
    if padding == "valid":
        return [(0, 0)] * spatial
    if padding == "same":  # PyTorch puts the odd element of the total on the right
        totals = [d * (k - 1) for d, k in zip(options["dilation"], options["kernel_size"])]
        return [(t // 2, t - t // 2) for t in totals]
    return [(p, p) for p in padding]


def explain(trace: Trace, record: LayerRecord, **options: Any) -> LayerExplanation:
    """The BP1/BP2, BP3 and BP4 equations of one traced Linear or Conv layer."""
    if options:
        raise TypeError(f"explain: a {record.type_name} layer takes no options, got {options}")
    this, last = record.number, len(trace.layers)
    heading = f"Layer {this} of {last}: {record.name!r} {record.module}"
    if record.activation is not None:
        heading += f", then {record.activation_name!r} {record.activation}"
    if record.index == last - 1:
        first = _output_equation(trace, record)
    else:
        first = _hidden_equation(trace, record)
    if record.kind == "linear":
        gradients = _linear_gradient_equations(record)
    else:
        gradients = _conv_gradient_equations(record)
    return LayerExplanation(record, heading, _convention(record), [first, *gradients])


def _convention(record: LayerRecord) -> str:
    this, prev = sup(record.number), sup(record.number - 1)
    if record.kind == "linear":
        return (
            f"Samples are rows: a{prev} is {shape_text(record.a_in)}, z{this} and δ{this} are "
            f"{shape_text(record.z)}, and z{this} = a{prev} (W{this})ᵀ + b{this}. Each equation "
            f"holds for every sample n; ∂C/∂W{this} and ∂C/∂b{this} sum it over the batch (a "
            f"mean loss's 1/N is already inside δ{this})."
        )
    options = record.options
    return (
        f"a{prev} is {shape_text(record.a_in)} and z{this}, δ{this} are {shape_text(record.z)} "
        f"(samples, channels, positions); z{this} = W{this} ⋆ a{prev} + b{this}, a "
        f"cross-correlation with stride {options['stride']}, padding {options['padding']}, "
        f"dilation {options['dilation']}, groups {options['groups']}. ∂C/∂W{this} and "
        f"∂C/∂b{this} sum over samples and positions."
    )


def _sigma_prime(record: LayerRecord) -> tuple[str, numpy.ndarray]:
    """σ'(zˡ) and its label; 1 where no activation module follows the layer."""
    z = f"z{sup(record.number)}"
    if record.sigma_prime is None:
        return f"σ'({z}) = 1 (no activation module follows: a = z)", numpy.ones_like(record.z)
    formula = DERIVATIVES.get(record.activation, f"by autodiff on {record.activation}")
    return f"σ'({z}), {record.activation}: {formula}", record.sigma_prime


def _output_equation(trace: Trace, record: LayerRecord) -> Equation:
    this = sup(record.number)
    instance = f"δ{this} = ∇ₐC ⊙ σ'(z{this}), L = {record.number}"
    equation = Equation("BP1", "δᴸ = ∇ₐC ⊙ σ'(zᴸ)", instance)
    sigma_label, sigma_prime = _sigma_prime(record)
    if record.is_output:
        grad_a = trace.grad_output
        source = f"∂C/∂a{this}, the gradient of {trace.loss_name} alone{_loss_formula(trace)}"
        equation.terms += [("y (target)", trace.target), (f"a{this} (output)", record.a_out)]
    elif record.activation is not None:
        grad_a = record.grad_a_out
        source = f"∂C/∂a{this} by autodiff through what follows (a{this} is not the output)"
    else:
        equation.note = (
            f"z{this} is neither the model's output nor followed by an elementwise activation "
            f"module, so BP1 does not apply as written; δ{this} is taken from autodiff."
        )
        equation.terms.append((f"δ{this} from autodiff", record.delta))
        return equation
    equation.terms += [(f"∇ₐC = {source}", grad_a), (sigma_label, sigma_prime)]
    equation.check = check(output_delta, (grad_a, sigma_prime), record.delta)
    return equation


def _loss_formula(trace: Trace) -> str:
    if trace.loss_name != "MSELoss" or trace.loss_reduction not in ("mean", "sum"):
        return ""
    if trace.loss_reduction == "sum":
        return ": 2(a − y)"
    return f": 2(a − y)/n, n = {trace.output.size} elements"


def _hidden_equation(trace: Trace, record: LayerRecord) -> Equation:
    this, up = sup(record.number), sup(record.number + 1)
    equation = Equation(
        "BP2",
        "δˡ = ((Wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ'(zˡ)",
        f"δ{this} = ((W{up})ᵀ δ{up}) ⊙ σ'(z{this}); "
        f"with samples as rows: δ{this} = (δ{up} W{up}) ⊙ σ'(z{this})",
    )
    if not record.feeds_next:
        equation.note = (
            f"Not checked: {record.recursion_note}. The δ recursion through Wᵀ does not apply in "
            f"that form here; δ{this} is taken from autodiff for BP3 and BP4."
        )
        equation.terms.append((f"δ{this} from autodiff", record.delta))
        return equation
    after = trace.layers[record.index + 1]
    sigma_label, sigma_prime = _sigma_prime(record)
    equation.terms += [
        (f"W{up}", after.weight),
        (f"δ{up}", after.delta),
        (sigma_label, sigma_prime),
    ]
    operands = (as_rows(after.delta), after.weight, as_rows(sigma_prime))
    equation.check = check(hidden_delta, operands, as_rows(record.delta))
    return equation


def _linear_gradient_equations(record: LayerRecord) -> list[Equation]:
    this, prev = sup(record.number), sup(record.number - 1)
    weight = Equation(
        "BP3",
        "∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ",
        f"∂C/∂W{this} = Σₙ δ{this}ₙ (a{prev}ₙ)ᵀ = (δ{this})ᵀ a{prev}",
        [(f"δ{this}", record.delta), (f"a{prev}", record.a_in)],
    )
    weight.check = check(linear_weight_gradient, (record.delta, record.a_in), record.grad_weight)
    bias = Equation("BP4", "∂C/∂bˡ = δˡ", f"∂C/∂b{this} = Σₙ δ{this}ₙ")
    bias.terms.append((f"δ{this}", record.delta))
    if record.grad_bias is None:
        bias.note = "The layer has no bias."
    else:
        bias.check = check(linear_bias_gradient, (record.delta,), record.grad_bias)
    return [weight, bias]


def _conv_gradient_equations(record: LayerRecord) -> list[Equation]:
    this, prev = sup(record.number), sup(record.number - 1)
    options, spatial = record.options, len(record.options["kernel_size"])
    weight = Equation(
        "BP3",
        "∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ",
        f"∂C/∂W{this}[o, c, k] = Σₙ Σₚ δ{this}[n, o, p] · a{prev}[n, c, p·s + k·d − pad] "
        f"(a{prev} cross-correlated with δ{this})",
        [(f"δ{this}", record.delta), (f"a{prev}", record.a_in)],
    )
    operands = (record.delta, record.a_in, options)
    weight.check = check(conv_weight_gradient, operands, record.grad_weight)
    bias = Equation("BP4", "∂C/∂bˡ = δˡ", f"∂C/∂b{this}[o] = Σₙ Σₚ δ{this}[n, o, p]")
    if record.grad_bias is None:
        bias.note = "The layer has no bias."
    else:
        bias.check = check(conv_bias_gradient, (record.delta, spatial), record.grad_bias)
    return [weight, bias]


FAMILY = Family(
    name="dense",
    modules=(Linear, Conv1d, Conv2d),
    record_type=LayerRecord,
    prepare=prepare,
    record=record,
    explain=explain,
)
