"""The backprop equations of one traced layer, with the step's numbers, each checked.

Every family of layers writes its own equations (:mod:`chainrule.inspect.families`: the four
equations BP1–BP4 of dense layers, backpropagation through time for recurrent layers, the
normalisation and embedding gradients); each right-hand side is computed in float64 NumPy from
the recorded arrays and compared with autodiff (:mod:`chainrule.inspect.equations`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chainrule.inspect.equations import (
    Check,
    Equation,
    LayerExplanation,
    check,
    format_array,
    format_text,
    shape_text,
    sup,
)
from chainrule.inspect.families import family_of_record

if TYPE_CHECKING:
    from chainrule.inspect.tracer import Trace

__all__ = [
    "Check",
    "Equation",
    "LayerExplanation",
    "check",
    "explain_layer",
    "format_array",
    "format_text",
    "shape_text",
    "sup",
]


def explain_layer(trace: Trace, key: int | str, **options: Any) -> LayerExplanation:
    """The equations of one traced layer (by position or name), by the layer's family."""
    record = trace.layer(key)
    return family_of_record(record).explain(trace, record, **options)
