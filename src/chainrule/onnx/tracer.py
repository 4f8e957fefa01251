"""The trace: a model's forward run on traced values, one layer at a time.

For the duration of an export, every module of the model has its ``forward`` replaced on the
instance (the class is untouched, and so is every other model): a call with a traced value in
its arguments goes to :meth:`Tracer.call_module`. A layer with a converter adds its ONNX nodes
and computes its real output with its own forward; a container or a module of the user's own
runs its forward on the traced values, so its calls of layers and its glue between them
(indexing, reshapes, residual sums, functional activations) are traced in turn. A chainrule
layer without a converter is an :class:`UnsupportedLayerError` naming its place in the model.
Calls with no traced value in them run as usual.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from chainrule.autograd.function import ArgumentTypeError
from chainrule.nn.containers import Sequential
from chainrule.nn.module import Module

# The converters register themselves on import.
from chainrule.onnx import activations, conv, layers, recurrent  # noqa: F401
from chainrule.onnx.errors import UnsupportedLayerError, describe_layer
from chainrule.onnx.functional import patched_functions
from chainrule.onnx.graph import GraphBuilder
from chainrule.onnx.proxy import TracedValue, contains_traced
from chainrule.onnx.registry import LayerCall, converter_for, supported_layers
from chainrule.tensor import Tensor


class Tracer:
    """The state of one export's trace: the graph, the model's names, the layers entered."""

    def __init__(self, model: Module, graph: GraphBuilder) -> None:
        self.graph = graph
        self.model = model
        self._paths = {id(module): path for path, module in model.named_modules()}
        named = chain(model.named_parameters(), model.named_buffers())
        self._tensor_names = {id(tensor): name for name, tensor in named}
        self._entered: list[tuple[str, str]] = []  # (path, class name), innermost last

    # ---- values --------------------------------------------------------------------------------

    def wrap(self, name: str, real: Tensor) -> TracedValue:
        """The traced value named ``name`` that stands for ``real``."""
        return TracedValue(self, name, real)

    def traced(self, value: Any) -> TracedValue:
        """``value`` as a traced value: itself, or a constant tensor as an initializer."""
        if isinstance(value, TracedValue):
            return value
        if isinstance(value, Tensor):
            return self.wrap(self.parameter(value), value)
        raise self.refusal(f"passes a {type(value).__name__} where export expects a tensor")

    def name_of(self, value: Any, dtype: Any = None) -> str:
        """The graph name of a traced value, a tensor, or (given ``dtype``) a number."""
        if isinstance(value, TracedValue):
            return value.name
        if isinstance(value, Tensor):
            return self.parameter(value)
        if isinstance(value, (bool, int, float)) and dtype is not None:
            return self.graph.scalar(value, dtype)
        raise self.refusal(f"passes a {type(value).__name__} where export expects a tensor")

    def parameter(self, tensor: Tensor) -> str:
        """The initializer of a tensor, under its state_dict name if the model holds it."""
        return self.graph.tensor(tensor, self._tensor_names.get(id(tensor)))

    def derived(
        self, tensor: Tensor, tag: str, compute: Callable[[Any], Any], name: str | None = None
    ) -> str:
        """An initializer computed from a model tensor (see GraphBuilder.derived), named
        ``name`` or after the tensor."""
        known = self._tensor_names.get(id(tensor))
        if name is None and known is not None:
            name = f"{known}_{tag}"
        return self.graph.derived(tensor, tag, compute, name)

    # ---- errors --------------------------------------------------------------------------------

    def refusal(
        self, what: str, error_type: type[UnsupportedLayerError] = UnsupportedLayerError
    ) -> UnsupportedLayerError:
        """The error for something the innermost layer being traced does: "export: 'block.1'
        (Residual) <what>"."""
        path, kind = self._entered[-1] if self._entered else ("", type(self.model).__name__)
        return error_type(f"export: {describe_layer(path, kind)} {what}", path, kind)

    # ---- layers --------------------------------------------------------------------------------

    def call_module(
        self, module: Module, forward: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Module.__call__'s forward during the trace (see the module docstring)."""
        if not contains_traced((args, kwargs)):
            return forward(*args, **kwargs)
        path = self._paths.get(id(module), "")
        kind = type(module).__name__
        converter = converter_for(module)
        if converter is None and not _follows_forward(module):
            raise UnsupportedLayerError(
                f"export: {describe_layer(path, kind)} has no ONNX converter. Layers that "
                f"export: {', '.join(supported_layers())}; a module of your own exports when "
                "its forward combines these (see chainrule.onnx)",
                path,
                kind,
            )
        self._entered.append((path, kind))
        scope, self.graph.scope = self.graph.scope, path
        try:
            if converter is not None:
                return converter(LayerCall(self, module, path, forward, args, kwargs))
            return self._follow(forward, args, kwargs)
        finally:
            self._entered.pop()
            self.graph.scope = scope

    def _follow(self, forward: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        try:
            return forward(*args, **kwargs)
        except ArgumentTypeError as error:
            # An operation export does not know received a traced value where chainrule wants
            # a Tensor: say which layer's forward did it.
            if TracedValue.__name__ not in str(error):
                raise
            raise self.refusal(
                f"passes a traced value to an operation that export does not follow ({error}). "
                "A function imported by name (from chainrule.nn.functional import relu) is not "
                "followed: call it through its module (F.relu)"
            ) from error

    @contextlib.contextmanager
    def intercepting(self) -> Iterator[None]:
        """Route the model's module calls and chainrule's functions through this tracer."""
        replaced = []
        for module in self.model.modules():
            own = module.__dict__.get("forward")  # a forward set on the instance, if any
            module.__dict__["forward"] = functools.partial(self.call_module, module, module.forward)
            replaced.append((module, own))
        try:
            with patched_functions(self):
                yield
        finally:
            for module, own in replaced:
                if own is None:
                    del module.__dict__["forward"]
                else:
                    module.__dict__["forward"] = own


def _follows_forward(module: Module) -> bool:
    """Whether the trace runs the module's own forward: a Sequential, or a forward written
    outside chainrule's layers (a model of the user's, a subclass overriding forward, or a model
    that chainrule itself composes of layers, such as ``chainrule train``'s SequenceModel)."""
    owner = next(cls for cls in type(module).__mro__ if "forward" in cls.__dict__)
    return owner is Sequential or not owner.__module__.startswith("chainrule.nn.")
