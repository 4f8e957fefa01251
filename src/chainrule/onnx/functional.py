"""chainrule's functions called on traced values: ``torch.cat``, ``F.relu``, ``torch.flatten``.

chainrule has no dispatch protocol for tensor-like objects, so during an export the public
functions of ``chainrule`` and ``chainrule.nn.functional`` are replaced, in those namespaces,
by guards: a call without traced values runs the function itself; a call with one goes to the
handler below that adds the ONNX nodes, or, for a function export does not follow, raises an
UnsupportedLayerError naming the function and the layer that called it. Everything is put back
when the export ends (so two exports must not run at once in threads of one process).

A function imported by name (``from chainrule import cat``) is not replaced: called on a
traced value it fails with chainrule's own "must be Tensor" error, which the tracer reports
with the layer's name.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import chainrule
from chainrule.nn import functional as nn_functional
from chainrule.onnx import activations, arithmetic, layers, movement
from chainrule.onnx.proxy import contains_traced, real_values


class FunctionCall:
    """One call of a chainrule function with traced values among its arguments."""

    def __init__(self, tracer: Any, function: Callable, args: tuple, kwargs: dict) -> None:
        self.tracer, self.function, self.args, self.kwargs = tracer, function, args, kwargs
        bound = inspect.signature(function).bind(*args, **kwargs)
        bound.apply_defaults()
        self.arguments = bound.arguments

    def real(self) -> Any:
        return self.function(*real_values(self.args), **real_values(self.kwargs))

    def traced(self, argument: str = "input") -> Any:
        return self.tracer.traced(self.arguments[argument])


Handler = Callable[[FunctionCall], Any]


def _unary(op_type: str) -> Handler:
    return lambda call: arithmetic.unary(op_type, call.traced())


def _binary(op_type: str) -> Handler:
    def handler(call: FunctionCall) -> Any:
        other = arithmetic.scaled(call.arguments["other"], call.arguments.get("alpha", 1))
        return arithmetic.binary(op_type, call.arguments["input"], other)

    return handler


def _softmax(op_type: str) -> Handler:
    def handler(call: FunctionCall) -> Any:
        arguments = call.arguments
        return arithmetic.softmax(op_type, call.traced(), arguments["dim"], arguments["dtype"])

    return handler


def _reduce(op_type: str) -> Handler:
    def handler(call: FunctionCall) -> Any:
        arguments = call.arguments
        return arithmetic.reduce(op_type, call.traced(), arguments["dim"], arguments["keepdim"])

    return handler


def _activation(kind: str) -> Handler:
    def handler(call: FunctionCall) -> Any:
        x = call.traced()
        options = {option: call.arguments[option] for option in activations.OPTIONS.get(kind, ())}
        inplace = bool(call.arguments.get("inplace", False))
        return activations.apply(call.tracer, kind, x, call.real(), inplace, **options)

    return handler


def _dropout(call: FunctionCall) -> Any:
    if call.arguments["training"]:
        raise call.tracer.refusal(
            f"calls F.{call.function.__name__} with training=True, which drops values at "
            "random; pass training=self.training so that it is the identity in eval mode"
        )
    return call.traced()


def _linear(call: FunctionCall) -> Any:
    weight, bias = call.arguments["weight"], call.arguments["bias"]
    if contains_traced((weight, bias)):
        raise call.tracer.refusal("calls F.linear with a traced weight or bias")
    return call.tracer.wrap(layers.linear(call.tracer, call.traced(), weight, bias), call.real())


def _prelu(call: FunctionCall) -> Any:
    x, weight = call.traced(), call.arguments["weight"]
    slope = call.tracer.name_of(weight)
    name = activations.prelu(call.tracer.graph, x.name, x.ndim, slope, weight.numel())
    return call.tracer.wrap(name, call.real())


def _joined(join: Callable) -> Handler:
    def handler(call: FunctionCall) -> Any:
        arguments = call.arguments
        return join(call.tracer, list(arguments["tensors"]), arguments["dim"], call.real())

    return handler


_MOVEMENT: dict[str, Handler] = {
    "cat": _joined(movement.cat),
    "concat": _joined(movement.cat),
    "stack": _joined(movement.stack),
    "flatten": lambda call: movement.flatten(
        call.traced(), call.arguments["start_dim"], call.arguments["end_dim"]
    ),
    "reshape": lambda call: movement.reshape(call.traced(), call.arguments["shape"]),
    "permute": lambda call: movement.permute(call.traced(), call.arguments["dims"]),
    "transpose": lambda call: movement.transpose(
        call.traced(), call.arguments["dim0"], call.arguments["dim1"]
    ),
    "squeeze": lambda call: movement.squeeze(call.traced(), call.arguments["dim"]),
    "unsqueeze": lambda call: movement.unsqueeze(call.traced(), call.arguments["dim"]),
}

_ARITHMETIC: dict[str, Handler] = {
    "exp": _unary("Exp"),
    "log": _unary("Log"),
    "sqrt": _unary("Sqrt"),
    "abs": _unary("Abs"),
    "neg": _unary("Neg"),
    "erf": _unary("Erf"),
    "add": _binary("Add"),
    "sub": _binary("Sub"),
    "mul": _binary("Mul"),
    "div": _binary("Div"),
    "matmul": _binary("MatMul"),
    "mean": _reduce("ReduceMean"),
    "sum": _reduce("ReduceSum"),
}

_SHARED: dict[str, Handler] = {
    "relu": _activation("relu"),
    "tanh": _activation("tanh"),
    "sigmoid": _activation("sigmoid"),
    "softmax": _softmax("Softmax"),
    "log_softmax": _softmax("LogSoftmax"),
}

HANDLERS: dict[str, dict[str, Handler]] = {
    "chainrule": {**_MOVEMENT, **_ARITHMETIC, **_SHARED},
    "chainrule.nn.functional": {
        **{kind: _activation(kind) for kind in activations.EMITTERS},
        **_SHARED,
        "dropout": _dropout,
        "dropout1d": _dropout,
        "dropout2d": _dropout,
        "dropout3d": _dropout,
        "alpha_dropout": _dropout,
        "feature_alpha_dropout": _dropout,
        "linear": _linear,
        "prelu": _prelu,
    },
}


def supported_functions() -> str:
    """The functions that export follows on traced values, by namespace, for messages."""
    return "; ".join(f"{space}: {', '.join(sorted(table))}" for space, table in HANDLERS.items())


def _guard(tracer: Any, space: str, name: str, function: Callable) -> Callable:
    handler = HANDLERS[space].get(name)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not contains_traced((args, kwargs)):
            return function(*args, **kwargs)
        if handler is None:
            raise tracer.refusal(
                f"calls {space}.{name} on a traced value; export follows {supported_functions()}"
            )
        return handler(FunctionCall(tracer, function, args, kwargs))

    return guarded


@contextlib.contextmanager
def patched_functions(tracer: Any) -> Iterator[None]:
    """Replace the public functions of chainrule and chainrule.nn.functional by guards that
    route traced values to ``tracer``; restore them on the way out."""
    namespaces: dict[str, ModuleType] = {
        "chainrule": chainrule,
        "chainrule.nn.functional": nn_functional,
    }
    originals = []
    for space, namespace in namespaces.items():
        for name, value in list(vars(namespace).items()):
            if not name.startswith("_") and inspect.isfunction(value):
                originals.append((namespace, name, value))
                setattr(namespace, name, _guard(tracer, space, name, value))
    try:
        yield
    finally:
        for namespace, name, value in originals:
            setattr(namespace, name, value)
