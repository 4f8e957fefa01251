"""What the page draws after each request, as JSON-ready dicts of lists and numbers.

:func:`snapshot`: the step, the loss curve, the decision boundary (the output neuron on a
40×40 grid over the data), each neuron's activation map on a 16×16 grid, the weights, and the
backward pass of the last step: per-neuron δ and per-connection ∂C/∂W from
:func:`chainrule.inspect.trace`. :func:`explain`: one step taken apart for the step-by-step
mode, the trace's equations (:func:`chainrule.inspect.explain.explain_layer`) with their
numbers, and the update.

Grids are row-major with row 0 at the top (the largest y). Numbers that are NaN or infinite
become ``null``, which JSON can carry; per-sample arrays are cut to their first
:data:`SHOWN_ROWS` rows, with the batch size alongside.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy

import chainrule as cr
from chainrule.inspect.explain import explain_layer

if TYPE_CHECKING:
    from chainrule.playground.sessions import Session

BOUNDARY_GRID = 40
NEURON_GRID = 16
HISTORY_POINTS = 300
SHOWN_ROWS = 8
SATURATED_WEIGHT = 1e4  # |w| beyond which the page warns that the neurons saturate
OPTIMIZER_RULES = {
    "sgd": "W ← W − η·g",
    "momentum": "v ← 0.9·v + g;  W ← W − η·v",
    "rmsprop": "s ← 0.99·s + 0.01·g²;  W ← W − η·g / (√s + ε)",
    "adam": "m ← 0.9·m + 0.1·g;  v ← 0.999·v + 0.001·g²;  W ← W − η·m̂ / (√v̂ + ε)",
}


def snapshot(session: Session, with_data: bool = False) -> dict[str, Any]:
    """The session's state for the page; ``with_data`` adds the points themselves."""
    data = session.data
    bounds = data.bounds()
    _, train, test = session.history[-1]
    view = {
        "step": session.step,
        "lr": session.lr,
        "diverged": session.diverged,
        "warning": _saturation_warning(session),
        "config": session.config.to_json(),
        "loss": {"train": _number(train), "test": _number(test)},
        "accuracy": {
            "train": _accuracy(session, data.train_x, data.train_y),
            "test": None if data.test_x is None else _accuracy(session, data.test_x, data.test_y),
        },
        "history": _history(session.history),
        "bounds": list(bounds),
        "boundary": {"size": BOUNDARY_GRID, "values": _boundary(session, bounds)},
        "network": _network(session, bounds),
        "backward": _backward(session),
    }
    if with_data:
        view["data"] = {
            "train": _points(data.train_x, data.train_y),
            "test": None if data.test_x is None else _points(data.test_x, data.test_y),
        }
    return view


def explain(session: Session, before: list[numpy.ndarray], lr: float) -> dict[str, Any]:
    """The step just taken, phase by phase: forward, δ per layer (output first), update.

    ``before`` holds the parameters as they were before the step (in ``parameters()`` order)
    and ``lr`` the rate the step used.
    """
    traced = session.last_trace
    size = len(session.last_batch)
    forward = [
        {
            "number": r.number,
            "name": r.name,
            "activation": r.activation or "none",
            "a_in": _rows(r.a_in),
            "z": _rows(r.z),
            "a_out": _rows(r.a_out),
        }
        for r in traced.layers
    ]
    backward = []
    for record in reversed(traced.layers):
        explanation = explain_layer(traced, record.index)
        backward.append(
            {
                "number": record.number,
                "name": record.name,
                "heading": explanation.heading,
                "convention": explanation.convention,
                "equations": [_equation(e, record, size) for e in explanation.equations],
            }
        )
    after = [p.detach().numpy() for p in session.model.parameters()]
    with cr.no_grad():
        batch = session.last_batch
        loss_after = session.loss_on(session.data.train_x[batch], session.data.train_y[batch])
    return {
        "step": session.step,
        "loss": _number(traced.loss),
        "loss_name": traced.loss_name,
        "batch": {
            "size": size,
            "shown": min(size, SHOWN_ROWS),
            "x": _rows(traced.layers[0].a_in),
            "y": _rows(traced.target),
            "output": _rows(traced.output),
        },
        "forward": forward,
        "backward": backward,
        "update": _update(session, traced, before, after, lr, loss_after),
        "snapshot": snapshot(session),
    }


# ---- the pictures ------------------------------------------------------------------------------


def grid_points(bounds: tuple[float, ...], size: int) -> numpy.ndarray:
    """(size², 2) cell centres, row-major from the top-left corner (x_min, y_max)."""
    x_min, x_max, y_min, y_max = bounds
    xs = x_min + (numpy.arange(size) + 0.5) / size * (x_max - x_min)
    ys = y_max - (numpy.arange(size) + 0.5) / size * (y_max - y_min)
    grid_x, grid_y = numpy.meshgrid(xs, ys)
    return numpy.stack([grid_x.ravel(), grid_y.ravel()], 1).astype(numpy.float32)


def layer_outputs(session: Session, points: numpy.ndarray) -> list[numpy.ndarray]:
    """a^l for every layer l (hidden layers, then the output), each (N, width)."""
    outputs = []
    with cr.no_grad():
        a = session.inputs(points)
        for linear, activation in session.stages:
            a = linear(a)
            if activation is not None:
                a = activation(a)
            outputs.append(a.numpy())
    return outputs


def _boundary(session: Session, bounds: tuple[float, ...]) -> list:
    probabilities = layer_outputs(session, grid_points(bounds, BOUNDARY_GRID))[-1][:, 0]
    return _listed(probabilities, 3)


def _network(session: Session, bounds: tuple[float, ...]) -> dict[str, Any]:
    maps = layer_outputs(session, grid_points(bounds, NEURON_GRID))
    inputs = ["x₁", "x₂", "1"] if session.config.constant_input else ["x₁", "x₂"]
    layers = []
    for number, ((linear, activation), values) in enumerate(zip(session.stages, maps), 1):
        layers.append(
            {
                "number": number,
                "width": linear.out_features,
                "activation": type(activation).__name__ if activation is not None else "none",
                "weight": _listed(linear.weight.detach().numpy()),
                "bias": None if linear.bias is None else _listed(linear.bias.detach().numpy()),
                "maps": [_listed(values[:, j], 3) for j in range(values.shape[1])],
            }
        )
    return {"inputs": inputs, "grid": NEURON_GRID, "layers": layers}


def _backward(session: Session) -> dict[str, Any] | None:
    """The traced backward pass of the last step, or None before the first step."""
    traced = session.last_trace
    if traced is None:
        return None
    return {
        "step": session.step,  # the step whose update these gradients made
        "batch": [int(i) for i in session.last_batch],
        "loss": _number(traced.loss),
        "layers": [
            {
                "number": r.number,
                "name": r.name,
                "delta": _rows(r.delta),
                "delta_sum": _listed(r.delta.sum(axis=0)),
                "weight": _listed(r.weight),
                "bias": None if r.bias is None else _listed(r.bias),
                "grad_weight": _listed(r.grad_weight),
                "grad_bias": None if r.grad_bias is None else _listed(r.grad_bias),
            }
            for r in traced.layers
        ],
    }


def _update(
    session: Session,
    traced: Any,
    before: list[numpy.ndarray],
    after: list[numpy.ndarray],
    lr: float,
    loss_after: float,
) -> dict[str, Any]:
    config = session.config
    rule = OPTIMIZER_RULES[config.optimizer]
    gradient = "g = ∂C/∂W" + (f" + λW, λ = {config.l2:g}" if config.l2 else "")
    layers, position = [], 0
    for record, (linear, _) in zip(traced.layers, session.stages):
        count = 1 if linear.bias is None else 2
        entry = {
            "number": record.number,
            "weight_before": _listed(before[position]),
            "grad_weight": _listed(record.grad_weight),
            "weight_after": _listed(after[position]),
        }
        if count == 2:
            entry["bias_before"] = _listed(before[position + 1])
            entry["grad_bias"] = _listed(record.grad_bias)
            entry["bias_after"] = _listed(after[position + 1])
        layers.append(entry)
        position += count
    return {
        "optimizer": config.optimizer,
        "rule": f"{rule}   ({gradient}; η = {lr:g})",
        "lr": lr,
        "layers": layers,
        "loss_before": _number(traced.loss),
        "loss_after": _number(loss_after),
    }


def _equation(equation: Any, record: Any, size: int) -> dict[str, Any]:
    """One equation of explain_layer as JSON: the forms, the terms and the left-hand side."""
    results = {
        "BP1": ("δ", record.delta),
        "BP2": ("δ", record.delta),
        "BP3": ("∂C/∂W", record.grad_weight),
        "BP4": ("∂C/∂b", record.grad_bias),
    }
    name, value = results.get(equation.label, ("", None))
    terms = [
        {"name": label, "shape": list(numpy.shape(array)), "value": _term(label, array, size)}
        for label, array in equation.terms
    ]
    return {
        "label": equation.label,
        "general": equation.general,
        "instance": equation.instance,
        "terms": terms,
        "result": None
        if value is None
        else {
            "name": f"{name}{_superscript(record.number)}",
            "shape": list(numpy.shape(value)),
            "value": _term(name, value, size),
        },
        "check": None if equation.check is None else equation.check.verdict,
        "ok": None if equation.check is None else bool(equation.check.ok),
        "note": equation.note,
    }


# ---- numbers to JSON ---------------------------------------------------------------------------


def _term(label: str, array: numpy.ndarray, size: int) -> list:
    """A per-sample array cut to its first rows; a weight matrix or a gradient in full."""
    array = numpy.asarray(array)
    per_sample = array.ndim == 2 and array.shape[0] == size and not label.startswith(("W", "∂"))
    return _rows(array) if per_sample else _listed(array)


def _rows(array: numpy.ndarray) -> list:
    return _listed(numpy.asarray(array)[:SHOWN_ROWS])


def _listed(array: Any, digits: int | None = None) -> Any:
    """Nested lists of floats (rounded to ``digits`` decimals if given), None for NaN/inf."""
    values = numpy.asarray(array, dtype=numpy.float64)
    if digits is not None:
        values = numpy.round(values, digits)
    if values.ndim == 0:
        return _number(float(values))
    if numpy.isfinite(values).all():
        return values.tolist()
    return [_listed(row) for row in values] if values.ndim > 1 else [_number(v) for v in values]


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _saturation_warning(session: Session) -> str | None:
    """A note when the weights have grown huge: the loss stays finite (σ caps the output)
    but the neurons saturate, σ'(z) ≈ 0, and δ vanishes, so learning stalls."""
    largest = max(float(numpy.abs(p.detach().numpy()).max()) for p in session.model.parameters())
    if session.step == 0 or largest < SATURATED_WEIGHT:
        return None
    return (
        f"The weights have grown huge (largest |w| = {largest:.3g}) with learning rate "
        f"{session.config.lr:g}: the neurons saturate, σ'(z) ≈ 0, so δ and every ∂C/∂W vanish "
        f"and learning stalls. Press Reset and try a smaller rate, e.g. "
        f"{min(session.config.lr / 10, 0.1):g}."
    )


def _history(history: list[tuple[int, float, float | None]]) -> dict[str, list]:
    """At most HISTORY_POINTS evenly spread entries of the loss history, the last included."""
    picks = numpy.unique(numpy.linspace(0, len(history) - 1, HISTORY_POINTS).round().astype(int))
    chosen = [history[i] for i in picks]
    return {
        "step": [entry[0] for entry in chosen],
        "train": [_number(entry[1]) for entry in chosen],
        "test": [_number(entry[2]) for entry in chosen],
    }


def _accuracy(session: Session, x: numpy.ndarray, y: numpy.ndarray) -> float | None:
    output = layer_outputs(session, x)[-1]
    if not numpy.isfinite(output).all():
        return None
    return float(((output > 0.5) == (y > 0.5)).mean())


def _points(x: numpy.ndarray, y: numpy.ndarray) -> list[list[float]]:
    return numpy.concatenate([x, y], axis=1).astype(numpy.float64).tolist()


def _superscript(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
