"""Converters of the convolution and pooling layers over one or two spatial dimensions.

ONNX's Conv, MaxPool and AveragePool take a batch dimension, so an unbatched input (C, L) is
given one with Unsqueeze and loses it again after. Padding modes other than zeros become a Pad
node before the convolution, as chainrule pads with F.pad before convolving.
"""

from __future__ import annotations

from typing import Any

from chainrule import nn
from chainrule.onnx.registry import LayerCall, converts

ONE_SPATIAL = (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d, nn.AdaptiveAvgPool1d)

# F.pad's modes by ONNX Pad's names; "wrap" arrived in opset 19.
PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _spatial(call: LayerCall) -> int:
    return 1 if isinstance(call.module, ONE_SPATIAL) else 2


def _tuple(value: Any, n: int) -> list[int]:
    return [int(value)] * n if isinstance(value, int) else [int(v) for v in value]


def _batched(call: LayerCall, n: int) -> tuple[str, bool]:
    """The input's name with a batch dimension, and whether one had to be added."""
    x = call.input()
    if x.ndim == n + 1:
        return call.graph.add("Unsqueeze", [x.name, call.graph.ints([0])]), True
    return x.name, False


def _result(call: LayerCall, name: str, unbatched: bool) -> Any:
    if unbatched:
        name = call.graph.add("Squeeze", [name, call.graph.ints([0])])
    return call.tracer.wrap(name, call.real_output())


# ---- convolution -------------------------------------------------------------------------------


def _padding_pairs(module: Any, n: int) -> list[tuple[int, int]]:
    """(before, after) per spatial dimension; "same" puts the odd element after, as chainrule
    and PyTorch do."""
    if module.padding == "valid":
        return [(0, 0)] * n
    if module.padding == "same":
        totals = [d * (k - 1) for k, d in zip(module.kernel_size, module.dilation)]
        return [(total // 2, total - total // 2) for total in totals]
    return [(p, p) for p in module.padding]


@converts(nn.Conv1d, nn.Conv2d)
def _conv(call: LayerCall) -> Any:
    module, graph, n = call.module, call.graph, _spatial(call)
    name, unbatched = _batched(call, n)
    pairs = _padding_pairs(module, n)
    if module.padding_mode != "zeros" and any(p != (0, 0) for p in pairs):
        mode = PAD_MODES[module.padding_mode]
        if mode == "wrap" and graph.opset < 19:
            raise call.refuse("padding_mode='circular' needs opset_version 19 or later")
        widths = [0, 0] + [b for b, _ in pairs] + [0, 0] + [a for _, a in pairs]
        name = graph.add("Pad", [name, graph.ints(widths)], mode=mode)
        pairs = [(0, 0)] * n
    inputs = [name, call.tracer.parameter(module.weight)]
    if module.bias is not None:
        inputs.append(call.tracer.parameter(module.bias))
    y = graph.add(
        "Conv",
        inputs,
        kernel_shape=list(module.kernel_size),
        strides=list(module.stride),
        pads=[b for b, _ in pairs] + [a for _, a in pairs],
        dilations=list(module.dilation),
        group=module.groups,
    )
    return _result(call, y, unbatched)


# ---- pooling -----------------------------------------------------------------------------------


@converts(nn.MaxPool1d, nn.MaxPool2d)
def _max_pool(call: LayerCall) -> Any:
    module, n = call.module, _spatial(call)
    if module.return_indices:
        raise call.refuse("return_indices=True (the exported graph gives the maxima only)")
    name, unbatched = _batched(call, n)
    padding = _tuple(module.padding, n)
    y = call.graph.add(
        "MaxPool",
        [name],
        kernel_shape=_tuple(module.kernel_size, n),
        strides=_tuple(module.stride, n),
        pads=padding + padding,
        dilations=_tuple(module.dilation, n),
        ceil_mode=int(module.ceil_mode),
    )
    return _result(call, y, unbatched)


@converts(nn.AvgPool1d, nn.AvgPool2d)
def _avg_pool(call: LayerCall) -> Any:
    module, n = call.module, _spatial(call)
    if getattr(module, "divisor_override", None) is not None:
        raise call.refuse("divisor_override (ONNX AveragePool divides by the window's size)")
    name, unbatched = _batched(call, n)
    padding = _tuple(module.padding, n)
    y = call.graph.add(
        "AveragePool",
        [name],
        kernel_shape=_tuple(module.kernel_size, n),
        strides=_tuple(module.stride, n),
        pads=padding + padding,
        ceil_mode=int(module.ceil_mode),
        count_include_pad=int(module.count_include_pad),
    )
    return _result(call, y, unbatched)


@converts(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def _adaptive_avg_pool(call: LayerCall) -> Any:
    """Global average pooling (output size 1), or an AveragePool whose windows tile the input
    exactly (input size a multiple of the output size); other sizes have uneven windows."""
    n = _spatial(call)
    sizes = call.input().real.shape[-n:]
    wanted = call.module.output_size
    wanted = [wanted] * n if isinstance(wanted, int) or wanted is None else list(wanted)
    outputs = [size if out is None else int(out) for size, out in zip(sizes, wanted)]
    name, unbatched = _batched(call, n)
    if all(out == 1 for out in outputs):
        return _result(call, call.graph.add("GlobalAveragePool", [name]), unbatched)
    if any(size % out for size, out in zip(sizes, outputs)):
        raise call.refuse(
            f"output_size {tuple(outputs)} does not divide the input's size {tuple(sizes)}, "
            "so the windows are uneven"
        )
    kernel = [size // out for size, out in zip(sizes, outputs)]
    y = call.graph.add("AveragePool", [name], kernel_shape=kernel, strides=kernel)
    return _result(call, y, unbatched)
