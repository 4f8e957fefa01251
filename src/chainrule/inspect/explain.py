"""The four backprop equations for one traced layer, with the step's numbers, each checked.

In the seed articles' notation (superscript l is the layer, L the last one)::

    (BP1) δᴸ = ∇ₐC ⊙ σ'(zᴸ)
    (BP2) δˡ = ((Wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ'(zˡ)
    (BP3) ∂C/∂Wˡ = δˡ (aˡ⁻¹)ᵀ
    (BP4) ∂C/∂bˡ = δˡ

Each right-hand side is computed here in float64 NumPy from the recorded a, z, W and the
neighbouring layer's δ, independently of the autodiff engine, and compared with what autodiff
gave. The articles write one sample as a column; chainrule keeps samples as rows (z = a Wᵀ + b),
so in rows BP2 reads δˡ = (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ), and BP3, BP4 sum over the batch:
∂C/∂Wˡ = Σₙ δˡₙ (aˡ⁻¹ₙ)ᵀ = (δˡ)ᵀ aˡ⁻¹ and ∂C/∂bˡ = Σₙ δˡₙ.
"""

from __future__ import annotations

import itertools
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy

if TYPE_CHECKING:
    from chainrule.inspect.tracer import LayerRecord, Trace

# Arrays up to this many elements are printed in full; bigger ones as summary statistics.
FULL_PRINT_LIMIT = 32

DERIVATIVES = {
    "Sigmoid": "σ'(z) = σ(z)(1 − σ(z))",
    "Tanh": "tanh'(z) = 1 − tanh²(z)",
    "ReLU": "ReLU'(z) = 1 where z > 0, else 0",
}

_SUPERSCRIPTS = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")


def sup(text: object) -> str:
    """``3`` → ``³``: layer numbers written as superscripts."""
    return str(text).translate(_SUPERSCRIPTS)


# ---- the right-hand sides, in float64, samples as rows ---------------------------------------


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
    return _rows(delta).T @ _rows(a_in)


def linear_bias_gradient(delta: numpy.ndarray) -> numpy.ndarray:
    """BP4 for Linear: Σₙ δₙ → (out,)."""
    return _rows(delta).sum(axis=0)


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


def _rows(array: numpy.ndarray) -> numpy.ndarray:
    """Any (*, features) array as (samples, features)."""
    return array.reshape(-1, array.shape[-1])


# ---- checks and equations ---------------------------------------------------------------------


@dataclass
class Check:
    """A right-hand side computed from the recorded arrays against the autodiff result.

    ``ok`` when max |computed − autodiff| ≤ rtol · scale, where ``scale`` is the largest value
    of the same right-hand side evaluated on the absolute values of its operands: the size of
    the terms summed, which bounds the rounding error even where terms cancel.
    """

    computed: numpy.ndarray
    autodiff: numpy.ndarray
    scale: float
    rtol: float

    @property
    def max_diff(self) -> float:
        difference = numpy.asarray(self.computed, numpy.float64) - self.autodiff
        return float(numpy.abs(difference).max()) if difference.size else 0.0

    @property
    def ok(self) -> bool:
        shapes_agree = numpy.shape(self.computed) == numpy.shape(self.autodiff)
        return shapes_agree and self.max_diff <= self.rtol * self.scale + 1e-30

    @property
    def verdict(self) -> str:
        if numpy.shape(self.computed) != numpy.shape(self.autodiff):
            return (
                f"✗ differs from autodiff: shape {numpy.shape(self.computed)} against "
                f"{numpy.shape(self.autodiff)}"
            )
        mark = "✓ matches autodiff" if self.ok else "✗ differs from autodiff"
        return f"{mark} (max |diff| = {self.max_diff:.3g})"


def check(function: object, operands: tuple, autodiff: numpy.ndarray) -> Check:
    """Evaluate ``function(*operands)`` in float64 and compare it with ``autodiff``."""
    exact = [
        numpy.asarray(v, numpy.float64) if isinstance(v, numpy.ndarray) else v for v in operands
    ]
    absolute = [numpy.abs(v) if isinstance(v, numpy.ndarray) else v for v in exact]
    computed = function(*exact)
    magnitude = numpy.abs(function(*absolute))
    scale = float(magnitude.max()) if magnitude.size else 0.0
    # A float32 step rounds each term to ~1e-7; the sums in a layer stay well within 1e-4.
    rtol = 1e-4 if autodiff.dtype == numpy.float32 else 1e-9
    return Check(computed, numpy.asarray(autodiff, numpy.float64), scale, rtol)


@dataclass
class Equation:
    """One equation: its general form, the form for this layer, the numbers, and the check."""

    label: str  # "BP1" ... "BP4"
    general: str  # in the articles' notation
    instance: str  # with this layer's number (and, for batches, how it is summed)
    terms: list[tuple[str, numpy.ndarray]] = field(default_factory=list)
    check: Check | None = None
    note: str = ""  # why an equation is not checked, or where a term comes from


@dataclass
class LayerExplanation:
    """The equations of one layer, ready to print as text or HTML."""

    record: LayerRecord
    heading: str
    convention: str
    equations: list[Equation]

    @property
    def checks(self) -> list[Check]:
        return [e.check for e in self.equations if e.check is not None]


def explain_layer(trace: Trace, key: int | str) -> LayerExplanation:
    """The BP1/BP2, BP3 and BP4 equations of one traced layer (by position or module name)."""
    record = trace.layer(key)
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
    operands = (_rows(after.delta), after.weight, _rows(sigma_prime))
    equation.check = check(hidden_delta, operands, _rows(record.delta))
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


# ---- text -------------------------------------------------------------------------------------


def format_array(array: numpy.ndarray) -> str:
    """Small arrays in full (4 significant digits), big ones as shape and summary statistics."""
    array = numpy.asarray(array)
    if array.size <= FULL_PRINT_LIMIT:
        width = max((len(f"{v:.4g}") for v in array.ravel()), default=1)
        return numpy.array2string(
            array, formatter={"all": lambda v: f"{v:.4g}".rjust(width)}, max_line_width=96
        )
    values = array.astype(numpy.float64)
    return (
        f"{shape_text(array)} array: mean {values.mean():.4g}, std {values.std():.4g}, "
        f"min {values.min():.4g}, max {values.max():.4g}, ‖·‖ {numpy.linalg.norm(values):.4g}"
    )


def format_text(explanation: LayerExplanation) -> str:
    """The explanation as plain text: heading, convention, equations with numbers, verdicts."""
    lines = [explanation.heading, *_wrap(explanation.convention, 96, "  "), ""]
    for equation in explanation.equations:
        lines.append(f"  ({equation.label}) {equation.general}")
        lines.append(f"        {equation.instance}")
        terms = list(equation.terms)
        if equation.check is not None:
            terms.append(("right-hand side, computed in NumPy", equation.check.computed))
            terms.append(("autodiff (backward)", equation.check.autodiff))
        for label, array in terms:
            lines.append(f"    {label} [{shape_text(array)}] =")
            lines += ["      " + row for row in format_array(array).splitlines()]
        if equation.note:
            lines += _wrap(equation.note, 96, "    ")
        if equation.check is not None:
            lines.append(f"    {equation.check.verdict}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _wrap(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent)


def shape_text(array: numpy.ndarray) -> str:
    """(4, 2) → ``4×2``."""
    shape = numpy.shape(array)
    return "×".join(str(n) for n in shape) if shape else "scalar"
