"""The error of an export that meets something it cannot write as ONNX.

Kept apart from the exporter so that ``chainrule.onnx.UnsupportedLayerError`` can be caught
(and imported) without the optional ``onnx`` package.
"""

from __future__ import annotations


class UnsupportedLayerError(TypeError):
    """A layer, a layer option or an operation in a model's forward that has no ONNX form.

    ``path`` is the layer's dotted name in the model (``"encoder.2"``; ``""`` for the model
    itself) and ``layer_type`` its class name.
    """

    def __init__(self, message: str, path: str = "", layer_type: str = "") -> None:
        super().__init__(message)
        self.path, self.layer_type = path, layer_type


def describe_layer(path: str, layer_type: str) -> str:
    """``'encoder.2' (MultiheadAttention)``, or ``the model (Net)`` for the top level."""
    return f"{path!r} ({layer_type})" if path else f"the model ({layer_type})"
