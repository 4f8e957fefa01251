"""What a layer family gives the tracer: which modules it knows, how it records them, and how it
writes their equations. The tracer and the explainer know no particular layer; they consult the
registry (:mod:`chainrule.inspect.families`), and a new kind of layer is one new module here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chainrule.inspect.records import Call, Record

if TYPE_CHECKING:
    from chainrule.inspect.equations import LayerExplanation


@dataclass
class Context:
    """What a family's recorder may consult after the backward pass.

    ``calls`` are this module's calls in forward order (one, or one per time step for a
    recurrent cell); ``following`` is the first call of the next traced layer (None for the
    last); ``uses`` counts, by ``id``, how often each tensor is an input of an operation in
    the loss's graph; ``output`` is the model's output; ``index`` the position the layer's
    first record takes among the traced layers. A recorder that must leave a layer out says why
    in ``notes`` (the trace lists them with the skipped layers).
    """

    calls: list[Call]
    following: Call | None
    uses: Counter
    output: Any
    index: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Family:
    """One family of layers: the modules it records and its three steps.

    ``prepare(calls)`` runs after the forward pass and before backward (to retain gradients);
    ``record(context)`` after backward returns the layer's records (a stacked recurrent layer
    gives one per layer and direction); ``explain(trace, record, **options)`` returns the
    equations. ``calls_are_steps``: several calls of one module are time steps of one layer
    (recurrent cells), not shared weights.
    """

    name: str
    modules: tuple[type, ...]
    record_type: type[Record]
    prepare: Callable[[list[Call]], None]
    record: Callable[[Context], list[Record]]
    explain: Callable[..., LayerExplanation]
    calls_are_steps: bool = False


def retain(*values: Any) -> None:
    """retain_grad() on every tensor among ``values`` (nested tuples too) that requires grad."""
    from chainrule.tensor import Tensor

    for value in values:
        if isinstance(value, (tuple, list)):
            retain(*value)
        elif isinstance(value, Tensor) and value.requires_grad:
            value.retain_grad()


def grad_array(value: Any, like: Any = None) -> Any:
    """A copy of a tensor's ``.grad`` as an array; zeros shaped like ``like`` (or the tensor)
    where no gradient reached it."""
    import numpy

    from chainrule.tensor import Tensor

    if isinstance(value, Tensor) and value.grad is not None:
        return value.grad.array.copy()
    shape_of = like if like is not None else value
    return numpy.zeros(shape_of.shape, dtype=shape_of.dtype)
