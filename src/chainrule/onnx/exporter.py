"""``export``: trace a model in eval mode, name its inputs and outputs, check and write the file.

The arguments mean what they mean in ``torch.onnx.export``: ``args`` is the example input (a
tensor, or a tuple of them; a dict at the end of the tuple gives keyword arguments), ``f`` a
path (written atomically) or a binary file object, ``dynamic_axes`` maps an input or output
name to the dimensions that may vary, ``{"input": {0: "batch"}}`` (or a list of dimensions,
named for you).
"""

from __future__ import annotations

import inspect
import os
from typing import IO, Any

import onnx
from onnx import helper

import chainrule
from chainrule.autograd.grad_mode import no_grad
from chainrule.files import atomic_write
from chainrule.nn.module import Module
from chainrule.onnx.graph import DEFAULT_OPSET, MIN_OPSET, GraphBuilder, elem_type
from chainrule.onnx.proxy import TracedValue
from chainrule.onnx.tracer import Tracer
from chainrule.tensor import Tensor

WHERE = "chainrule.onnx.export"


def export_model(
    model: Module,
    args: Any,
    f: str | os.PathLike[str] | IO[bytes],
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_axes: dict[str, Any] | None = None,
    opset_version: int | None = None,
) -> onnx.ModelProto:
    """See :func:`chainrule.onnx.export`."""
    if not isinstance(model, Module):
        raise TypeError(f"{WHERE}: model must be a chainrule.nn.Module, got {type(model)}")
    graph = GraphBuilder(_opset(opset_version))
    tracer = Tracer(model, graph)
    positional, keywords = _split(args)
    names = _input_names(model, positional, keywords, input_names)
    traced_args, traced_kwargs, inputs = _traced_inputs(tracer, positional, keywords, names)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with no_grad(), tracer.intercepting():
            result = model(*traced_args, **traced_kwargs)
    finally:
        for module, training in modes:
            module.training = training
    results = [tracer.traced(value) for value in _leaves(result, tracer)]
    outputs = _name_outputs(graph, results, output_names, {name for name, _ in inputs})
    dynamic = _dynamic_dims(dynamic_axes, inputs + outputs)
    proto = graph.model(
        [_value_info(name, real, dynamic.get(name, {}), True) for name, real in inputs],
        [_value_info(name, real, dynamic.get(name, {}), not dynamic) for name, real in outputs],
        chainrule.__version__,
    )
    if dynamic:
        _infer_output_shapes(proto)
    onnx.checker.check_model(proto, full_check=True)
    _write(f, proto.SerializeToString())
    return proto


def _write(f: Any, data: bytes) -> None:
    """``data`` to a path, atomically, or to a binary file object at its position."""
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(f, "wb") as handle:
            handle.write(data)
    elif callable(getattr(f, "write", None)):
        f.write(data)
    else:
        raise TypeError(f"{WHERE}: f must be a path or a binary file object, got {type(f)}")


def _opset(opset_version: int | None) -> int:
    if opset_version is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset_version, int) or not MIN_OPSET <= opset_version <= newest:
        raise ValueError(
            f"{WHERE}: opset_version must be an int from {MIN_OPSET} (LayerNormalization) to "
            f"{newest} (the installed onnx's newest), got {opset_version!r}"
        )
    return opset_version


# ---- inputs ------------------------------------------------------------------------------------


def _split(args: Any) -> tuple[tuple, dict]:
    """(positional, keyword) arguments of the forward from torch.onnx.export's ``args``."""
    if isinstance(args, Tensor):
        return (args,), {}
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            f"{WHERE}: args must be a Tensor or a tuple of inputs, got {type(args).__name__}"
        )
    args = tuple(args)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _input_names(
    model: Module, positional: tuple, keywords: dict, given: list[str] | None
) -> list[str]:
    """A name per tensor input: the given ones first, then the forward's parameter names."""
    try:
        parameters = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    defaults = []
    for i, value in enumerate(positional):
        if isinstance(value, Tensor):
            named = i < len(parameters) and parameters[i].kind in (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            )
            defaults.append(parameters[i].name if named else f"input_{i}")
    defaults += [key for key, value in keywords.items() if isinstance(value, Tensor)]
    given = list(given or [])
    if len(given) > len(defaults):
        raise ValueError(
            f"{WHERE}: {len(given)} input_names given for {len(defaults)} tensor inputs"
        )
    names = given + defaults[len(given) :]
    if len(set(names)) != len(names):
        raise ValueError(f"{WHERE}: input names must be distinct, got {names}")
    return names


def _traced_inputs(
    tracer: Tracer, positional: tuple, keywords: dict, names: list[str]
) -> tuple[tuple, dict, list[tuple[str, Tensor]]]:
    """The forward's arguments with each tensor replaced by a graph input (a copy, so that an
    in-place layer cannot change the caller's example), and the inputs as (name, tensor)."""
    pending = iter(names)
    inputs: list[tuple[str, Tensor]] = []

    def traced(value: Any) -> Any:
        if not isinstance(value, Tensor):
            return value
        name = next(pending)
        tracer.graph.reserve(name)
        copy = value.detach().clone()
        inputs.append((name, copy))
        return tracer.wrap(name, copy)

    traced_args = tuple(traced(value) for value in positional)
    traced_kwargs = {key: traced(value) for key, value in keywords.items()}
    return traced_args, traced_kwargs, inputs


# ---- outputs -----------------------------------------------------------------------------------


def _leaves(result: Any, tracer: Tracer) -> list[Any]:
    """The tensors of the forward's result in order, through nested tuples, lists and dicts
    (None is skipped)."""
    if result is None:
        return []
    if isinstance(result, (TracedValue, Tensor)):
        return [result]
    if isinstance(result, (tuple, list)):
        return [leaf for item in result for leaf in _leaves(item, tracer)]
    if isinstance(result, dict):
        return [leaf for item in result.values() for leaf in _leaves(item, tracer)]
    raise tracer.refusal(
        f"returns a {type(result).__name__}; an exported forward returns tensors (in tuples, "
        "lists or dicts)"
    )


def _name_outputs(
    graph: GraphBuilder, results: list[TracedValue], given: list[str] | None, inputs: set[str]
) -> list[tuple[str, Tensor]]:
    """Give each output its name: the value is renamed where it is made, or copied by an
    Identity when it is also an input, an initializer or an earlier output."""
    if not results:
        raise ValueError(f"{WHERE}: the model's forward returned no tensor")
    given = list(given or [])
    if len(given) > len(results):
        raise ValueError(f"{WHERE}: {len(given)} output_names given for {len(results)} outputs")
    defaults = ["output"] if len(results) == 1 else [f"output_{i}" for i in range(len(results))]
    names = given + defaults[len(given) :]
    if len(set(names)) != len(names) or inputs & set(names):
        raise ValueError(f"{WHERE}: input and output names must be distinct, got {names}")
    initializers = {initializer.name for initializer in graph.initializers}
    used: set[str] = set()
    for value, name in zip(results, names):
        graph.reserve(name)
        if value.name in inputs or value.name in initializers or value.name in used:
            graph.identity(value.name, name)
        else:
            graph.rename(value.name, name)
        used.add(name)
    return [(name, value.real) for value, name in zip(results, names)]


# ---- shapes ------------------------------------------------------------------------------------


def _dynamic_dims(
    dynamic_axes: dict[str, Any] | None, values: list[tuple[str, Tensor]]
) -> dict[str, dict[int, str]]:
    """``dynamic_axes`` checked against the inputs and outputs, as {name: {axis: dim name}}."""
    if not dynamic_axes:
        return {}
    ranks = {name: real.ndim for name, real in values}
    dims: dict[str, dict[int, str]] = {}
    for name, axes in dynamic_axes.items():
        if name not in ranks:
            raise ValueError(
                f"{WHERE}: dynamic_axes names {name!r}, which is not an input or output; they "
                f"are {list(ranks)}"
            )
        if isinstance(axes, dict):
            named = {int(axis): str(dim) for axis, dim in axes.items()}
        else:
            named = {int(axis): f"{name}_dynamic_axes_{i + 1}" for i, axis in enumerate(axes)}
        rank = ranks[name]
        if any(not -rank <= axis < rank for axis in named):
            raise ValueError(
                f"{WHERE}: dynamic_axes for {name!r} name axes {sorted(named)}, but it has "
                f"{rank} dimensions"
            )
        dims[name] = {axis % rank: dim for axis, dim in named.items()}
    return dims


def _value_info(name: str, real: Tensor, dynamic: dict[int, str], known: bool) -> Any:
    """A graph input or output: dtype and shape, dynamic dimensions by name, the others as
    traced when ``known`` (else left for shape inference)."""
    shape = [dynamic.get(axis, n if known else None) for axis, n in enumerate(real.shape)]
    return helper.make_tensor_value_info(name, elem_type(real.dtype), shape)


def _infer_output_shapes(proto: onnx.ModelProto) -> None:
    """Fill the output dimensions left open with what ONNX shape inference derives (a fixed
    size, or the name of a dynamic input dimension that reaches there)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    for output, found in zip(proto.graph.output, inferred.graph.output):
        dims = output.type.tensor_type.shape.dim
        found_dims = found.type.tensor_type.shape.dim
        if len(found_dims) != len(dims):
            continue
        for dim, found_dim in zip(dims, found_dims):
            if dim.HasField("dim_value") or dim.HasField("dim_param"):
                continue
            if found_dim.HasField("dim_value"):
                dim.dim_value = found_dim.dim_value
            elif found_dim.HasField("dim_param"):
                dim.dim_param = found_dim.dim_param
