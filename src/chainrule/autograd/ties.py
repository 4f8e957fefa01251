"""Ties: a gradient recorded as a function of the inputs it was read from, with derivative 0.

The backward of ReLU selects the incoming gradient by a mask of its input; the mask is
piecewise constant, so the input enters the derivative with derivative 0. Recording a graph
(``create_graph=True``), the selection alone would depend on the incoming gradient only, and
a second derivative with respect to the input would find it unused and raise. PyTorch's
backward formulas for these operations take the input as an argument, so their results
depend on it, with a zero derivative: the Hessian of a ReLU network with respect to its input
is zeros there, not an error. :func:`tied` gives chainrule's gradients the same dependence,
for the operations that declare ``ties_gradients``.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function
from chainrule.tensor import Tensor


class Tie(Function):
    """value, unchanged, as a function of value and of the sources:
    ∂/∂value = 1, ∂/∂source = 0"""

    argument_names = ("value", "source")

    def forward(self, value: Any, *sources: Any) -> Any:
        self.shapes = [(source.shape, source.dtype) for source in sources]
        return value  # the same array: nothing reads it through the sources' side

    def backward(self, grad: Any) -> tuple:
        return (grad, *(backend.xp.zeros(shape, dtype) for shape, dtype in self.shapes))

    def saved_in_graph(self, output: Tensor) -> tuple:
        return ()


def tied(value: Any, sources: list) -> Any:
    """``value`` (a gradient tensor of a backward recording a graph) depending on ``sources``
    too, with derivative 0; anything else (None, a plain array) as it is."""
    if not isinstance(value, Tensor) or not sources:
        return value
    return Tie.apply(value, *sources)
