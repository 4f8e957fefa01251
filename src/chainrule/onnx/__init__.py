"""ONNX export: write a trained model as an ONNX graph that ONNX Runtime (or any other ONNX
consumer) can run without chainrule.

```pycon
>>> import chainrule as torch
>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
>>> torch.onnx.export(model, torch.randn(1, 4), "model.onnx",  # doctest: +SKIP
...                   input_names=["input"], output_names=["logits"],
...                   dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})

```

The model's forward is traced in eval mode (the mode of every layer is put back after) on the
example input. These layers are converted: Linear; Conv1d, Conv2d; MaxPool1d/2d, AvgPool1d/2d,
AdaptiveAvgPool1d/2d (global, or windows that tile the input); BatchNorm1d/2d (running
statistics); the Dropout layers (the identity); Flatten, Unflatten, Identity; the activations
(ReLU, ReLU6, LeakyReLU, PReLU, ELU, CELU, SELU, GELU, Sigmoid, Tanh, Softplus, SiLU, Mish,
Hardtanh, Hardsigmoid, Hardswish, Softsign, Tanhshrink), Softmax, LogSoftmax; Embedding;
LayerNorm; RNN, LSTM and GRU (stacked, bidirectional, batch_first).

Sequential and modules of your own are traced through their forward, which may use, between
layers: indexing with ints, slices, None and ``...`` (``out[:, -1]``); ``view``, ``reshape``,
``flatten``, ``permute``, ``transpose``, ``squeeze``, ``unsqueeze``; ``size()``/``shape``;
``+ - * / ** @`` with tensors, constants and parameters; ``mean``/``sum`` over dimensions;
``torch.cat``/``torch.stack``; and the functional activations and softmax of
``chainrule.nn.functional`` and ``chainrule``. A layer or an operation outside these is an
:class:`UnsupportedLayerError` that names the layer (``'encoder.2' (MultiheadAttention)``).

Limits of a trace: Python control flow is fixed by the example (a traced value cannot be a
condition), and sizes are constants unless they come straight from ``x.size(d)`` or
``x.shape[d]`` (``x.view(x.size(0), -1)`` keeps a dynamic batch, ``x.size(0) * 2`` does not).
An all-zeros initial state of an LSTM/GRU/RNN (``torch.zeros(layers, x.size(0), hidden)``)
is left out of the graph, so that it too follows the batch size.

Needs the optional packages ``onnx`` (and ``onnxruntime`` to run the result):
``pip install "chainrule[onnx]"``. Importing :mod:`chainrule.onnx` does not import them.
"""

from __future__ import annotations

import os
from typing import IO, Any

from chainrule.onnx.errors import UnsupportedLayerError
from chainrule.optional import require

__all__ = ["UnsupportedLayerError", "export", "supported_layers"]


def export(
    model: Any,
    args: Any,
    f: str | os.PathLike[str] | IO[bytes],
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict[str, Any] | None = None,
    opset_version: int | None = None,
) -> Any:
    """Export ``model`` as ONNX to ``f``, tracing it on the example input ``args``.

    Arguments as in ``torch.onnx.export``:

    - ``args``: a Tensor, or a tuple of the forward's arguments (non-tensors are passed as
      they are and fixed in the graph; a dict at the end gives keyword arguments).
    - ``f``: a path (written atomically: the old file stays whole until the new one is
      complete) or a binary file object.
    - ``input_names``, ``output_names``: names of the graph's inputs (one per tensor
      argument; by default the forward's parameter names) and outputs (one per tensor the
      forward returns, through nested tuples; by default ``output`` or ``output_0``, ...).
    - ``dynamic_axes``: ``{name: {axis: "dim_name"}}`` (or ``{name: [axis, ...]}``) for the
      dimensions that may differ from the example's, such as the batch.
    - ``opset_version``: the ONNX opset, 17 by default (the lowest this exporter supports).

    Returns the ``onnx.ModelProto``, checked with ``onnx.checker.check_model``. Raises
    :class:`UnsupportedLayerError` for a layer or operation that has no ONNX form, and
    ImportError if ``onnx`` is not installed.
    """
    require("onnx", "chainrule.onnx.export")
    from chainrule.onnx.exporter import export_model

    return export_model(model, args, f, input_names, output_names, dynamic_axes, opset_version)


def supported_layers() -> list[str]:
    """The class names of the layers that export converts (needs ``onnx``)."""
    require("onnx", "chainrule.onnx.supported_layers")
    from chainrule.onnx.registry import supported_layers as registered
    from chainrule.onnx.tracer import Tracer  # noqa: F401 - imports and registers the converters

    return registered()
