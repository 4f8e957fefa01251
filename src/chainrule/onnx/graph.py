"""The ONNX graph under construction: nodes, initializers and unique value names.

Converters add nodes by ONNX operator name through :class:`GraphBuilder`; it hands out value
names that say where a value was made (``"features.0/Conv_output"``), keeps each model tensor
as one initializer however often it is used (by identity, under its ``state_dict`` name), and
at the end makes the ``onnx.ModelProto``. Only this module and the exporter touch the ``onnx``
package's objects, and both are imported only once :func:`chainrule.onnx.export` has checked
that ``onnx`` is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy
from onnx import ModelProto, NodeProto, TensorProto, ValueInfoProto, helper, numpy_helper

from chainrule import backend
from chainrule.tensor import Tensor

# Opset 17 brings LayerNormalization, the newest operator every converter can rely on.
MIN_OPSET = 17
DEFAULT_OPSET = 17


def elem_type(dtype: Any) -> int:
    """The ONNX element type (``TensorProto.FLOAT`` ...) of a NumPy dtype."""
    return helper.np_dtype_to_tensor_dtype(numpy.dtype(dtype))


class GraphBuilder:
    """Nodes and initializers of one graph, in the order they were added.

    ``scope`` is the dotted path of the layer being converted; it prefixes the names of the
    nodes and values made meanwhile, so that a graph viewer shows which layer made what.
    """

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.scope = ""
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._taken: set[str] = set()
        self._tensors: dict[tuple[int, str], tuple[Tensor, str]] = {}
        self._cached: dict[tuple, str] = {}

    # ---- names ---------------------------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        """A value name not used yet: ``hint``, or ``hint_1``, ``hint_2`` ..."""
        name, count = hint, 0
        while name in self._taken:
            count += 1
            name = f"{hint}_{count}"
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim ``name`` exactly, as a graph input or output is named by the user."""
        if name in self._taken:
            raise ValueError(
                f"chainrule.onnx.export: {name!r} already names a value of the graph (a "
                "parameter or another input or output); choose another name"
            )
        self._taken.add(name)

    def _prefixed(self, what: str) -> str:
        return f"{self.scope}/{what}" if self.scope else what

    # ---- nodes ---------------------------------------------------------------------------------

    def add(self, op_type: str, inputs: list[str], outputs: int = 1, **attributes: Any) -> Any:
        """Append one ``op_type`` node; returns its output name (or a list of ``outputs``
        names). An empty string in ``inputs`` leaves an optional input out."""
        node_name = self.fresh(self._prefixed(op_type))
        names = [self.fresh(f"{node_name}_output_{i}") for i in range(outputs)]
        node = helper.make_node(op_type, inputs, names, name=node_name, **attributes)
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    def identity(self, source: str, name: str) -> None:
        """An Identity node whose output is called ``name`` (reserved beforehand)."""
        node_name = self.fresh(f"{name}/Identity")
        self.nodes.append(helper.make_node("Identity", [source], [name], name=node_name))

    def rename(self, old: str, new: str) -> None:
        """Call the value ``old`` ``new`` everywhere (graph outputs get the user's names)."""
        for node in self.nodes:
            for field in (node.input, node.output):
                for i, name in enumerate(field):
                    if name == old:
                        field[i] = new

    # ---- initializers --------------------------------------------------------------------------

    def constant(self, array: Any, hint: str = "constant") -> str:
        """A new initializer holding ``array``, named after the current scope and ``hint``."""
        return self._initializer(array, self.fresh(self._prefixed(hint)))

    def _initializer(self, array: Any, name: str) -> str:
        values = numpy.ascontiguousarray(backend.to_numpy(array))
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def tensor(self, tensor: Tensor, name: str | None = None) -> str:
        """The initializer of a model tensor, made on first use, under ``name`` if given."""
        return self.derived(tensor, "", lambda array: array, name)

    def derived(
        self, tensor: Tensor, tag: str, compute: Callable[[Any], Any], name: str | None
    ) -> str:
        """The initializer ``compute(tensor's array)`` (LSTM weights in ONNX's gate order, a
        transposed weight), made once per tensor and ``tag`` however often it is used."""
        key = (id(tensor), tag)
        known = self._tensors.get(key)
        if known is not None:
            return known[1]
        values = compute(backend.to_numpy(tensor.array))
        if name is None:
            initializer = self.constant(values, tag or "constant")
        else:
            initializer = self._initializer(values, self.fresh(name))
        # The tensor is kept with its name so that its id cannot be reused by another one.
        self._tensors[key] = (tensor, initializer)
        return initializer

    def ints(self, values: Any) -> str:
        """A 1-D int64 initializer (axes, shapes, pads, slice bounds), one per distinct value."""
        values = tuple(int(v) for v in values)
        key = ("ints", values)
        if key not in self._cached:
            self._cached[key] = self.constant(numpy.array(values, dtype=numpy.int64), "ints")
        return self._cached[key]

    def scalar(self, value: float, dtype: Any) -> str:
        """A 0-d initializer of ``dtype`` (the constant operand of an arithmetic node)."""
        array = numpy.array(value, dtype=numpy.dtype(dtype))
        key = ("scalar", array.dtype.str, array.tobytes())
        if key not in self._cached:
            self._cached[key] = self.constant(array, "scalar")
        return self._cached[key]

    # ---- operators whose form depends on the opset --------------------------------------------

    def reduce(self, op_type: str, x: str, axes: list[int], keepdims: bool) -> str:
        """ReduceMean/ReduceSum/ReduceMax over ``axes``: an input from opset 18 (ReduceSum: 13),
        an attribute before."""
        axes_as_input = op_type == "ReduceSum" or self.opset >= 18
        if axes_as_input:
            return self.add(op_type, [x, self.ints(axes)], keepdims=int(keepdims))
        return self.add(op_type, [x], axes=list(axes), keepdims=int(keepdims))

    # ---- the model -----------------------------------------------------------------------------

    def model(
        self, inputs: list[ValueInfoProto], outputs: list[ValueInfoProto], producer: str
    ) -> ModelProto:
        """The model: this graph with its inputs and outputs, at this opset."""
        graph = helper.make_graph(self.nodes, "chainrule", inputs, outputs, self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        return helper.make_model(
            graph,
            opset_imports=opsets,
            producer_name="chainrule",
            producer_version=producer,
            ir_version=helper.find_min_ir_version_for(opsets),
        )
