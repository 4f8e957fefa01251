"""Converters of the dense, embedding, normalisation, dropout and reshaping layers.

Each writes the ONNX operator that means the same thing in eval mode: Linear is Gemm (MatMul
and Add for input that is not a matrix), BatchNorm uses its running statistics, Dropout is the
identity, LayerNorm is LayerNormalization and Embedding a Gather of rows.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import nn
from chainrule.onnx import movement
from chainrule.onnx.registry import LayerCall, converts
from chainrule.tensor import Tensor

DROPOUT_LAYERS = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


def linear(tracer: Any, x: Any, weight: Tensor, bias: Tensor | None) -> str:
    """x Wᵀ + b: Gemm for a matrix x (N, in); MatMul with Wᵀ (then Add) for x (*, in)."""
    graph = tracer.graph
    b = [tracer.parameter(bias)] if bias is not None else []
    if x.ndim == 2:
        return graph.add("Gemm", [x.name, tracer.parameter(weight), *b], transB=1)
    transposed = tracer.derived(weight, "transposed", lambda array: array.T)
    y = graph.add("MatMul", [x.name, transposed])
    return graph.add("Add", [y, *b]) if b else y


@converts(nn.Linear)
def _linear(call: LayerCall) -> Any:
    x = call.input()
    name = linear(call.tracer, x, call.module.weight, call.module.bias)
    return call.tracer.wrap(name, call.real_output())


@converts(nn.Identity, *DROPOUT_LAYERS)
def _identity(call: LayerCall) -> Any:
    # Export runs in eval mode, where dropout passes its input through unchanged.
    return call.input()


@converts(nn.Flatten)
def _flatten(call: LayerCall) -> Any:
    return movement.flatten(call.input(), call.module.start_dim, call.module.end_dim)


@converts(nn.Unflatten)
def _unflatten(call: LayerCall) -> Any:
    x = call.input()
    dim = call.module.dim % x.ndim
    sizes = x.shape[:dim] + call.module.unflattened_size + x.shape[dim + 1 :]
    return movement.reshape(x, sizes)


@converts(nn.Embedding)
def _embedding(call: LayerCall) -> Any:
    if call.module.max_norm is not None:
        raise call.refuse("max_norm renormalises the weight in place at each call")
    indices = call.input()
    weight = call.tracer.parameter(call.module.weight)
    return call.tracer.wrap(call.graph.add("Gather", [weight, indices.name]), call.real_output())


def _scale(call: LayerCall, shape: tuple[int, ...], dtype: Any) -> str:
    """γ of a normalisation layer, or ones where the layer has none."""
    if call.module.weight is not None:
        return call.tracer.parameter(call.module.weight)
    return call.graph.constant(numpy.ones(shape, dtype), "ones")


def _shift(call: LayerCall, shape: tuple[int, ...], dtype: Any) -> str:
    """β of a normalisation layer, or zeros where the layer has none."""
    if call.module.bias is not None:
        return call.tracer.parameter(call.module.bias)
    return call.graph.constant(numpy.zeros(shape, dtype), "zeros")


@converts(nn.BatchNorm1d, nn.BatchNorm2d)
def _batch_norm(call: LayerCall) -> Any:
    module = call.module
    if module.running_mean is None:
        raise call.refuse(
            "track_running_stats=False normalises with each batch's own statistics in eval "
            "mode too, which the exported graph does not compute"
        )
    x = call.input()
    statistics = [call.tracer.parameter(module.running_mean)]
    statistics.append(call.tracer.parameter(module.running_var))
    channels = (module.num_features,)
    inputs = [x.name, _scale(call, channels, x.dtype), _shift(call, channels, x.dtype)]
    inputs += statistics
    name = call.graph.add("BatchNormalization", inputs, epsilon=float(module.eps))
    return call.tracer.wrap(name, call.real_output())


@converts(nn.LayerNorm)
def _layer_norm(call: LayerCall) -> Any:
    module = call.module
    x = call.input()
    inputs = [x.name, _scale(call, module.normalized_shape, x.dtype)]
    if module.bias is not None:  # LayerNormalization's bias is optional
        inputs.append(call.tracer.parameter(module.bias))
    axis = -len(module.normalized_shape)
    name = call.graph.add("LayerNormalization", inputs, axis=axis, epsilon=float(module.eps))
    return call.tracer.wrap(name, call.real_output())
