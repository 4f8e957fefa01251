"""Normalisation layers (BatchNorm1d/2d in train and eval mode, LayerNorm, GroupNorm): the
normalised values, the gradients of the scale and shift, and the gradient through the statistics.

Over the set S of elements that share one mean and variance (a channel across the batch and
positions for BatchNorm, one sample's last dimensions for LayerNorm, one sample's group of
channels for GroupNorm), with m = |S|::

    x̂ = (x − μ) / √(σ² + ε),  y = γ ⊙ x̂ + β             μ, σ² the mean and biased variance
    ∂C/∂γ = Σ δ ⊙ x̂,  ∂C/∂β = Σ δ                        δ = ∂C/∂y, summed where γ is shared
    ∂C/∂x = (g − mean_S g − x̂ ⊙ mean_S(g ⊙ x̂)) / √(σ² + ε),  g = γ ⊙ δ

The last line holds where μ and σ² are the statistics of x itself (batch statistics, and always
for LayerNorm and GroupNorm); with a BatchNorm's running statistics in eval mode they are
constants and ∂C/∂x = γ ⊙ δ / √(σ²_run + ε). Autodiff's ∂C/∂x comes from running the layer's
function again on a float64 copy of its input; ∂C/∂γ and ∂C/∂β are the real pass's ``.grad``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy

from chainrule.autograd.grad_mode import enable_grad
from chainrule.inspect.equations import Equation, LayerExplanation, check, shape_text
from chainrule.inspect.families.base import Context, Family, grad_array, retain
from chainrule.inspect.records import Call, Record
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's name for it
from chainrule.nn.layers.normalization import GroupNorm, LayerNorm, _BatchNorm
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.inspect.tracer import Trace


@dataclass
class NormRecord(Record):
    """One normalisation layer's step. ``a_in`` x and ``z`` y have the input's shape; ``delta``
    δ = ∂C/∂y and ``grad_input`` ∂C/∂x (autodiff) too; ``x_hat`` x̂ likewise; ``mean`` and
    ``var`` the statistics used, shaped to broadcast against x (BatchNorm) or against its
    grouped view (LayerNorm, GroupNorm); ``weight`` γ and ``bias`` β as the layer holds them
    (None without them) and their gradients. ``kind`` is "batchnorm", "layernorm" or
    "groupnorm"; ``batch_statistics`` says whether μ, σ² were the input's own."""

    ARRAYS: ClassVar[dict[str, str]] = {
        "a_in": "x",
        "z": "y",
        "x_hat": "x̂",
        "delta": "δ = ∂C/∂y",
        "grad_input": "∂C/∂x",
        "weight": "γ",
        "bias": "β",
        "grad_weight": "∂C/∂γ",
        "grad_bias": "∂C/∂β",
    }
    SUMMARY: ClassVar[tuple[str, ...] | None] = (
        "a_in",
        "z",
        "x_hat",
        "delta",
        "grad_input",
        "grad_weight",
        "grad_bias",
    )

    a_in: numpy.ndarray
    z: numpy.ndarray
    delta: numpy.ndarray
    grad_input: numpy.ndarray
    x_hat: numpy.ndarray
    mean: numpy.ndarray
    var: numpy.ndarray
    eps: float
    batch_statistics: bool
    groups: int  # GroupNorm's G (1 otherwise)
    trailing: int  # LayerNorm's number of normalised dimensions (0 otherwise)
    weight: numpy.ndarray | None
    bias: numpy.ndarray | None
    grad_weight: numpy.ndarray | None
    grad_bias: numpy.ndarray | None

    @property
    def activation_text(self) -> str:
        return "batch statistics" if self.batch_statistics else "running statistics"


# ---- layouts: where the statistics are shared ----------------------------------------------------


def grouped(kind: str, x: numpy.ndarray, groups: int, trailing: int) -> numpy.ndarray:
    """x as an array whose statistics axes are ``stat_axes``: BatchNorm as it is; LayerNorm
    with its ``trailing`` normalised dimensions flattened; GroupNorm as (N, G, rest)."""
    if kind == "groupnorm":
        return x.reshape(x.shape[0], groups, -1)
    if kind == "layernorm":
        return x.reshape(*x.shape[: x.ndim - trailing], -1)
    return x


def stat_axes(kind: str, array: numpy.ndarray) -> tuple[int, ...]:
    """The axes one mean and variance are taken over, in the grouped layout."""
    if kind == "batchnorm":
        return tuple(i for i in range(array.ndim) if i != 1)
    return (array.ndim - 1,)


def scale_shape(kind: str, x: numpy.ndarray, trailing: int) -> tuple[int, ...]:
    """The shape γ and β broadcast in against x."""
    if kind == "layernorm":
        return x.shape[x.ndim - trailing :]
    return (1, x.shape[1], *([1] * (x.ndim - 2)))


def normalised(record: NormRecord) -> numpy.ndarray:
    """x̂ recomputed in NumPy from x and the statistics."""
    layout = grouped(
        record.kind, record.a_in.astype(numpy.float64), record.groups, _trailing(record)
    )
    return ((layout - record.mean) / numpy.sqrt(record.var + record.eps)).reshape(record.a_in.shape)


def _trailing(record: NormRecord) -> int:
    return record.trailing


# ---- recording -----------------------------------------------------------------------------------


def prepare(calls: list[Call]) -> None:
    for call in calls:
        retain(call.output)


def _kind(module: Any) -> str:
    if isinstance(module, _BatchNorm):
        return "batchnorm"
    return "layernorm" if isinstance(module, LayerNorm) else "groupnorm"


def record(context: Context) -> list[Record]:
    """x, y, δ, the statistics used, x̂, and ∂C/∂x by autodiff on a float64 rerun."""
    call = context.calls[0]
    module = call.module
    if not call.output.requires_grad:
        context.notes.append(
            f"{call.name!r} ({type(module).__name__}): no gradient reaches it (it has no "
            "weights and nothing before it requires grad), so there is no δ to show"
        )
        return []
    kind = _kind(module)
    x = numpy.asarray(call.input.array, numpy.float64)
    delta = grad_array(call.output)
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    groups = module.num_groups if kind == "groupnorm" else 1
    trailing = len(module.normalized_shape) if kind == "layernorm" else 0
    layout = grouped(kind, x, groups, trailing)
    axes = stat_axes(kind, layout)
    batch_statistics = kind != "batchnorm" or module.training or module.running_mean is None
    if batch_statistics:
        mean = layout.mean(axis=axes, keepdims=True)
        var = layout.var(axis=axes, keepdims=True)
    else:
        shape = scale_shape(kind, x, trailing)
        mean = numpy.asarray(module.running_mean.array, numpy.float64).reshape(shape)
        var = numpy.asarray(module.running_var.array, numpy.float64).reshape(shape)
    x_hat = ((layout - mean) / numpy.sqrt(var + module.eps)).reshape(x.shape)
    result = NormRecord(
        index=context.index,
        name=call.name,
        module=repr(module),
        kind=kind,
        a_in=numpy.asarray(call.input.array).copy(),
        z=call.output.array.copy(),
        delta=delta,
        grad_input=_input_gradient(module, kind, x, delta, batch_statistics),
        x_hat=x_hat,
        mean=mean,
        var=var,
        eps=float(module.eps),
        batch_statistics=batch_statistics,
        groups=groups,
        trailing=trailing,
        weight=None if weight is None else weight.array.copy(),
        bias=None if bias is None else bias.array.copy(),
        grad_weight=None if weight is None else grad_array(weight),
        grad_bias=None if bias is None else grad_array(bias),
    )
    return [result]


def _input_gradient(
    module: Any, kind: str, x: numpy.ndarray, delta: numpy.ndarray, batch_statistics: bool
) -> numpy.ndarray:
    """∂C/∂x by autodiff: the layer's function on a float64 leaf copy of x, backward from δ."""

    def copy(param: Any) -> Tensor | None:
        return None if param is None else Tensor(numpy.asarray(param.array, numpy.float64))

    weight, bias = copy(getattr(module, "weight", None)), copy(getattr(module, "bias", None))
    leaf = Tensor(x.copy(), requires_grad=True)
    with enable_grad():
        if kind == "batchnorm":
            stats = (
                (None, None)
                if batch_statistics
                else (copy(module.running_mean), copy(module.running_var))
            )
            y = F.batch_norm(leaf, *stats, weight, bias, batch_statistics, 0.0, module.eps)
        elif kind == "layernorm":
            y = F.layer_norm(leaf, module.normalized_shape, weight, bias, module.eps)
        else:
            y = F.group_norm(leaf, module.num_groups, weight, bias, module.eps)
        (y * Tensor(numpy.asarray(delta, numpy.float64))).sum().backward()
    return leaf.grad.array.copy()


# ---- the equations -------------------------------------------------------------------------------


def _gamma(record: NormRecord, x: numpy.ndarray) -> numpy.ndarray:
    if record.weight is None:
        return numpy.ones(1)
    return record.weight.astype(numpy.float64).reshape(
        scale_shape(record.kind, x, _trailing(record))
    )


def _sum_like_scale(record: NormRecord, values: numpy.ndarray) -> numpy.ndarray:
    """Σ of an x-shaped array over every axis γ is shared across: the shape of γ."""
    if record.kind == "layernorm":
        return values.reshape(-1, *record.weight.shape).sum(axis=0)
    return values.sum(axis=tuple(i for i in range(values.ndim) if i != 1))


def explain(trace: Trace, record: NormRecord, **options: Any) -> LayerExplanation:
    """The normalisation, the scale and shift gradients, and ∂C/∂x, each checked."""
    if options:
        raise TypeError(f"explain: a {record.type_name} layer takes no options, got {options}")
    x = record.a_in.astype(numpy.float64)
    where = {
        "batchnorm": "each channel, over the batch and positions",
        "layernorm": "each sample, over its last dimensions",
        "groupnorm": f"each sample's group of channels ({record.groups} groups)",
    }[record.kind]
    stats = "the batch's own" if record.batch_statistics else "the running statistics"
    convention = (
        f"x is {shape_text(x)}; μ and σ² are taken for {where}; this step used {stats} "
        f"(ε = {record.eps:g})."
    )
    forward = Equation("N1", "x̂ = (x − μ)/√(σ² + ε),  y = γ ⊙ x̂ + β", "elementwise")
    forward.terms += [("μ", record.mean), ("σ²", record.var)]
    gamma = _gamma(record, x)
    beta = 0.0 if record.bias is None else record.bias.astype(numpy.float64).reshape(gamma.shape)
    forward.check = check(lambda xh, g, b: xh * g + b, (normalised(record), gamma, beta), record.z)
    forward.note = "y recomputed in NumPy against the layer's own output."
    equations = [forward]
    scale = Equation("N2", "∂C/∂γ = Σ δ ⊙ x̂", "summed wherever γ is shared")
    shift = Equation("N3", "∂C/∂β = Σ δ", "summed wherever β is shared")
    if record.grad_weight is None:
        scale.note = "The layer has no γ (affine=False)."
    else:
        scale.terms.append(("δ", record.delta))
        scale.check = check(
            lambda d, xh: _sum_like_scale(record, d * xh),
            (record.delta, record.x_hat),
            record.grad_weight,
        )
    if record.grad_bias is None:
        shift.note = "The layer has no β."
    else:
        shift.check = check(lambda d: _sum_like_scale(record, d), (record.delta,), record.grad_bias)
    equations += [scale, shift]
    equations.append(_input_equation(record, gamma))
    heading = f"Layer {record.number} of {len(trace.layers)}: {record.name!r} {record.module}"
    return LayerExplanation(record, heading, convention, equations)


def _input_equation(record: NormRecord, gamma: numpy.ndarray) -> Equation:
    if not record.batch_statistics:
        equation = Equation(
            "N4",
            "∂C/∂x = γ ⊙ δ / √(σ²_run + ε)",
            "running statistics are constants: the gradient does not pass through them",
        )
        equation.check = check(
            lambda d, g, v: g * d / numpy.sqrt(v + record.eps),
            (record.delta.astype(numpy.float64), gamma, record.var),
            record.grad_input,
        )
        return equation
    equation = Equation(
        "N4",
        "∂C/∂x = (g − mean_S g − x̂ ⊙ mean_S(g ⊙ x̂)) / √(σ² + ε),  g = γ ⊙ δ",
        "S: the elements that share μ and σ²; the two means carry the gradient through them",
    )
    trailing = _trailing(record)

    def through_statistics(d: Any, g: Any, xh: Any, v: Any) -> Any:
        kind, groups = record.kind, record.groups
        scaled = grouped(kind, d * g, groups, trailing)
        xh_layout = grouped(kind, xh, groups, trailing)
        axes = stat_axes(kind, scaled)
        inner = scaled - scaled.mean(axis=axes, keepdims=True)
        inner = inner - xh_layout * (scaled * xh_layout).mean(axis=axes, keepdims=True)
        return (inner / numpy.sqrt(v + record.eps)).reshape(d.shape)

    operands = (record.delta.astype(numpy.float64), gamma, record.x_hat, record.var)
    equation.check = check(through_statistics, operands, record.grad_input)
    equation.note = "Autodiff: the layer's function run again on a float64 copy of x."
    return equation


FAMILY = Family(
    name="normalisation",
    modules=(_BatchNorm, LayerNorm, GroupNorm),
    record_type=NormRecord,
    prepare=prepare,
    record=record,
    explain=explain,
)
