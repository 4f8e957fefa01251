"""Which layers export to ONNX, and what a layer's converter is handed.

A converter is registered for one or more layer classes with :func:`converts`. It receives a
:class:`LayerCall` (the layer, its arguments as traced values, the real forward) and returns
the traced output(s), having added the ONNX nodes that compute them. A subclass of a
registered layer uses the converter unless it writes its own ``forward``: then its forward is
traced like any model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chainrule.nn.module import Module
from chainrule.onnx.errors import UnsupportedLayerError, describe_layer
from chainrule.onnx.proxy import TracedValue, real_values

Converter = Callable[["LayerCall"], Any]

_CONVERTERS: dict[type, Converter] = {}


def converts(*layer_types: type) -> Callable[[Converter], Converter]:
    """Register the decorated function as the converter of ``layer_types``."""

    def register(converter: Converter) -> Converter:
        for layer_type in layer_types:
            _CONVERTERS[layer_type] = converter
        return converter

    return register


def converter_for(module: Module) -> Converter | None:
    """The converter of ``module``'s class or its nearest registered base, or None."""
    cls = type(module)
    for base in cls.__mro__:
        converter = _CONVERTERS.get(base)
        if converter is not None:
            return converter if cls.forward is base.forward else None
    return None


def supported_layers() -> list[str]:
    """The class names of the layers that have a converter, sorted."""
    return sorted({layer_type.__name__ for layer_type in _CONVERTERS})


@dataclass
class LayerCall:
    """One call of a layer met during the trace, as its converter sees it."""

    tracer: Any
    module: Module
    path: str
    forward: Callable[..., Any]
    args: tuple
    kwargs: dict

    @property
    def graph(self) -> Any:
        return self.tracer.graph

    def real_output(self) -> Any:
        """What the layer computes on the real tensors (the converter's outputs carry it)."""
        return self.forward(*real_values(self.args), **real_values(self.kwargs))

    def argument(self, position: int, keyword: str, default: Any = None) -> Any:
        """Argument ``position`` of the call, or the keyword ``keyword``, or ``default``."""
        if len(self.args) > position:
            return self.args[position]
        return self.kwargs.get(keyword, default)

    def input(self) -> TracedValue:
        """The first argument as a traced value (a constant tensor becomes an initializer)."""
        return self.tracer.traced(self.argument(0, "input"))

    def refuse(self, reason: str) -> UnsupportedLayerError:
        """The error for a setting of this layer that has no ONNX form."""
        kind = type(self.module).__name__
        return UnsupportedLayerError(
            f"export: {describe_layer(self.path, kind)} cannot be exported: {reason}",
            self.path,
            kind,
        )
