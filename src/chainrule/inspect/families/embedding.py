"""Embedding: a lookup y_p = W[x_p], so the gradient of W gathers δ by token.

For the indices x (any shape) and δ_p = ∂C/∂y_p (one row per position p)::

    (E1) y_p = W[x_p]
    (E2) ∂C/∂W[v] = Σ_{p : x_p = v} δ_p        (divided by the count of v with
                                                 scale_grad_by_freq; 0 for padding_idx)

Only the rows of the tokens in the batch receive a gradient; the record keeps them by token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy

from chainrule.inspect.equations import Equation, LayerExplanation, check, shape_text
from chainrule.inspect.families.base import Context, Family, grad_array, retain
from chainrule.inspect.records import Call, Record
from chainrule.nn.layers.sparse import Embedding

if TYPE_CHECKING:
    from chainrule.inspect.tracer import Trace

# Token rows printed in full by the explanation; the check covers every row.
SHOWN_TOKENS = 6


@dataclass
class EmbeddingRecord(Record):
    """``a_in`` the indices x (any shape), ``z`` the looked-up rows (*x.shape, D), ``delta``
    δ = ∂C/∂z likewise, ``weight`` W (V, D) and ``grad_weight`` ∂C/∂W (the real pass's)."""

    ARRAYS: ClassVar[dict[str, str]] = {
        "a_in": "x (indices)",
        "z": "y = W[x]",
        "delta": "δ = ∂C/∂y",
        "weight": "W",
        "grad_weight": "∂C/∂W",
    }

    a_in: numpy.ndarray
    z: numpy.ndarray
    delta: numpy.ndarray
    weight: numpy.ndarray
    grad_weight: numpy.ndarray
    padding_idx: int | None = None
    scale_grad_by_freq: bool = False
    grad_bias: None = None

    @property
    def activation_text(self) -> str:
        return f"{len(self.tokens)} distinct tokens"

    @property
    def tokens(self) -> list[int]:
        """The distinct token ids of the batch, ascending."""
        return [int(v) for v in numpy.unique(self.a_in)]

    def token_gradients(self) -> dict[int, numpy.ndarray]:
        """∂C/∂W[v] for every token v of the batch: the rows that receive a gradient."""
        return {v: self.grad_weight[v] for v in self.tokens}


def prepare(calls: list[Call]) -> None:
    for call in calls:
        retain(call.output)


def record(context: Context) -> list[Record]:
    call = context.calls[0]
    module = call.module
    indices = call.input
    return [
        EmbeddingRecord(
            index=context.index,
            name=call.name,
            module=repr(module),
            kind="embedding",
            a_in=numpy.asarray(getattr(indices, "data", indices)).copy(),
            z=call.output.array.copy(),
            delta=grad_array(call.output),
            weight=module.weight.array.copy(),
            grad_weight=grad_array(module.weight),
            padding_idx=module.padding_idx,
            scale_grad_by_freq=bool(module.scale_grad_by_freq),
        )
    ]


def gathered(record: EmbeddingRecord, delta: numpy.ndarray) -> numpy.ndarray:
    """(E2) in NumPy: δ rows added into the rows of their tokens."""
    flat = record.a_in.reshape(-1)
    rows = delta.reshape(len(flat), -1)
    grad = numpy.zeros(record.weight.shape)
    if record.scale_grad_by_freq:
        counts = numpy.bincount(flat, minlength=len(grad))
        rows = rows / counts[flat][:, None]
    numpy.add.at(grad, flat, rows)
    if record.padding_idx is not None:
        grad[record.padding_idx] = 0
    return grad


def explain(trace: Trace, record: EmbeddingRecord, **options: Any) -> LayerExplanation:
    """The lookup and the gradient gathered by token, each checked."""
    if options:
        raise TypeError(f"explain: an Embedding takes no options, got {options}")
    tokens = record.tokens
    lookup = Equation("E1", "y_p = W[x_p]", f"{record.a_in.size} positions")
    lookup.check = check(lambda w: w[record.a_in], (record.weight.astype(numpy.float64),), record.z)
    lookup.note = "The rows looked up in NumPy against the layer's own output."
    gather = Equation(
        "E2",
        "∂C/∂W[v] = Σ_{p : x_p = v} δ_p",
        f"{len(tokens)} distinct tokens receive a gradient; every other row's is 0",
    )
    for v in tokens[:SHOWN_TOKENS]:
        count = int((record.a_in == v).sum())
        gather.terms.append((f"∂C/∂W[{v}] ({count} position(s))", record.grad_weight[v]))
    notes = []
    if len(tokens) > SHOWN_TOKENS:
        notes.append(f"The first {SHOWN_TOKENS} tokens are shown; the check covers every row.")
    if record.scale_grad_by_freq:
        notes.append("scale_grad_by_freq: each δ_p is divided by how often its token occurs.")
    if record.padding_idx is not None:
        notes.append(f"Row {record.padding_idx} (padding_idx) receives no gradient.")
    gather.note = " ".join(notes)
    gather.check = check(lambda d: gathered(record, d), (record.delta,), record.grad_weight)
    heading = f"Layer {record.number} of {len(trace.layers)}: {record.name!r} {record.module}"
    convention = (
        f"x holds {record.a_in.size} token ids (shape {shape_text(record.a_in)}); W is "
        f"{shape_text(record.weight)}, one row per token."
    )
    return LayerExplanation(record, heading, convention, [lookup, gather])


FAMILY = Family(
    name="embedding",
    modules=(Embedding,),
    record_type=EmbeddingRecord,
    prepare=prepare,
    record=record,
    explain=explain,
)
