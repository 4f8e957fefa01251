"""Activations in ONNX: one emitter per activation, shared by the layers and the functional
forms (``nn.GELU()`` and ``F.gelu`` write the same nodes).

An emitter takes the graph, the input's name, its dtype (for constants) and the activation's
options, and returns the output's name. Where ONNX has the activation as one operator with the
same meaning it is used; otherwise the formula is written out (GELU with Erf before opset 20,
SiLU as x·σ(x), Softplus with chainrule's threshold).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

from chainrule import nn
from chainrule.onnx.registry import LayerCall, converts

# ---- emitters ----------------------------------------------------------------------------------


def _clip(g: Any, x: str, dtype: Any, low: float, high: float) -> str:
    return g.add("Clip", [x, g.scalar(low, dtype), g.scalar(high, dtype)])


def _gelu(g: Any, x: str, dtype: Any, approximate: str = "none") -> str:
    if g.opset >= 20:
        return g.add("Gelu", [x], approximate=approximate)
    if approximate == "tanh":
        # 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        cube = g.add("Mul", [g.add("Mul", [x, x]), x])
        inner = g.add("Add", [x, g.add("Mul", [cube, g.scalar(0.044715, dtype)])])
        phi = g.add("Tanh", [g.add("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), dtype)])])
    else:
        # 0.5 x (1 + erf(x / √2))
        phi = g.add("Erf", [g.add("Mul", [x, g.scalar(1 / math.sqrt(2), dtype)])])
    half_x = g.add("Mul", [x, g.scalar(0.5, dtype)])
    return g.add("Mul", [half_x, g.add("Add", [phi, g.scalar(1.0, dtype)])])


def _softplus(g: Any, x: str, dtype: Any, beta: float = 1.0, threshold: float = 20.0) -> str:
    # (1/β) log(1 + e^{βx}), and x itself where βx > threshold, as chainrule computes it.
    scaled = x if beta == 1 else g.add("Mul", [x, g.scalar(beta, dtype)])
    smooth = g.add("Softplus", [scaled])
    if beta != 1:
        smooth = g.add("Div", [smooth, g.scalar(beta, dtype)])
    linear = g.add("Greater", [scaled, g.scalar(threshold, dtype)])
    return g.add("Where", [linear, x, smooth])


def _times(g: Any, x: str, factor: str) -> str:
    return g.add("Mul", [x, factor])


EMITTERS: dict[str, Callable[..., str]] = {
    "relu": lambda g, x, dtype: g.add("Relu", [x]),
    "relu6": lambda g, x, dtype: _clip(g, x, dtype, 0.0, 6.0),
    "hardtanh": lambda g, x, dtype, min_val=-1.0, max_val=1.0: _clip(g, x, dtype, min_val, max_val),
    "leaky_relu": lambda g, x, dtype, negative_slope=0.01: g.add(
        "LeakyRelu", [x], alpha=float(negative_slope)
    ),
    "elu": lambda g, x, dtype, alpha=1.0: g.add("Elu", [x], alpha=float(alpha)),
    "celu": lambda g, x, dtype, alpha=1.0: g.add("Celu", [x], alpha=float(alpha)),
    # SELU's constants (Klambauer et al., 2017) to double precision; ONNX's defaults are floats.
    "selu": lambda g, x, dtype: g.add(
        "Selu", [x], alpha=1.6732632423543772, gamma=1.0507009873554805
    ),
    "gelu": _gelu,
    "sigmoid": lambda g, x, dtype: g.add("Sigmoid", [x]),
    "tanh": lambda g, x, dtype: g.add("Tanh", [x]),
    "softplus": _softplus,
    "silu": lambda g, x, dtype: _times(g, x, g.add("Sigmoid", [x])),
    "mish": lambda g, x, dtype: _times(g, x, g.add("Tanh", [g.add("Softplus", [x])])),
    "hardsigmoid": lambda g, x, dtype: g.add("HardSigmoid", [x], alpha=1 / 6, beta=0.5),
    "hardswish": lambda g, x, dtype: g.add("HardSwish", [x]),
    "softsign": lambda g, x, dtype: g.add("Softsign", [x]),
    "tanhshrink": lambda g, x, dtype: g.add("Sub", [x, g.add("Tanh", [x])]),
}

# The options of each activation, by the names the layers and F.<name> both use.
OPTIONS = {
    "hardtanh": ("min_val", "max_val"),
    "leaky_relu": ("negative_slope",),
    "elu": ("alpha",),
    "celu": ("alpha",),
    "gelu": ("approximate",),
    "softplus": ("beta", "threshold"),
}


def emit(g: Any, kind: str, x: str, dtype: Any, **options: Any) -> str:
    """The nodes of activation ``kind`` applied to ``x``; returns the output's name."""
    return EMITTERS[kind](g, x, dtype, **options)


def prelu(g: Any, x: str, ndim: int, slope: str, slopes: int) -> str:
    """PReLU: ONNX broadcasts the slope from the right, so per-channel slopes (C,) are given
    the shape (C, 1, ..., 1) that lines them up with dimension 1 of x."""
    if slopes > 1 and ndim > 2:
        slope = g.add("Reshape", [slope, g.ints([slopes] + [1] * (ndim - 2))])
    return g.add("PRelu", [x, slope])


# ---- layers ------------------------------------------------------------------------------------

_LAYERS: dict[type, str] = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.Hardtanh: "hardtanh",
    nn.LeakyReLU: "leaky_relu",
    nn.ELU: "elu",
    nn.CELU: "celu",
    nn.SELU: "selu",
    nn.GELU: "gelu",
    nn.Sigmoid: "sigmoid",
    nn.Tanh: "tanh",
    nn.Softplus: "softplus",
    nn.SiLU: "silu",
    nn.Mish: "mish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.Hardswish: "hardswish",
    nn.Softsign: "softsign",
    nn.Tanhshrink: "tanhshrink",
}


def apply(call_tracer: Any, kind: str, x: Any, real: Any, inplace: bool, **options: Any) -> Any:
    """Emit activation ``kind`` on the traced ``x`` and wrap the result. An in-place
    activation also renames ``x``: later uses of it in the forward see the new values."""
    name = emit(call_tracer.graph, kind, x.name, x.dtype, **options)
    if inplace:
        x.name = name
    return call_tracer.wrap(name, real)


def _convert(kind: str, call: LayerCall) -> Any:
    x = call.input()
    options = {option: getattr(call.module, option) for option in OPTIONS.get(kind, ())}
    inplace = bool(getattr(call.module, "inplace", False))
    return apply(call.tracer, kind, x, call.real_output(), inplace, **options)


for _layer, _kind in _LAYERS.items():
    converts(_layer)(partial(_convert, _kind))


@converts(nn.PReLU)
def _convert_prelu(call: LayerCall) -> Any:
    x = call.input()
    weight = call.tracer.parameter(call.module.weight)
    name = prelu(call.graph, x.name, x.ndim, weight, call.module.num_parameters)
    return call.tracer.wrap(name, call.real_output())


@converts(nn.Softmax, nn.LogSoftmax)
def _convert_softmax(call: LayerCall) -> Any:
    x = call.input()
    op_type = "LogSoftmax" if isinstance(call.module, nn.LogSoftmax) else "Softmax"
    axis = call.module.dim % max(x.ndim, 1)
    return call.tracer.wrap(call.graph.add(op_type, [x.name], axis=axis), call.real_output())
