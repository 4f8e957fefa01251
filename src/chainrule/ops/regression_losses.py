"""Regression losses as fused operations of a difference d = x − y: squared, absolute, and
Huber (with smooth L1, its rescaled form), each one node with a closed-form gradient.

Built from primitives, mean((x − y)²) is three nodes (a subtraction, a square and a mean);
fused, it is one, and its gradient 2(x − y)/N one pass.

``weight`` arrives as an array already broadcast-compatible with the input, and is a constant
here, as in PyTorch, where it receives no gradient.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.ops.broadcast import shape_of, unbroadcast
from chainrule.ops.elementwise import sign_of, size_of
from chainrule.ops.loss_reduction import mean_scale, reduce_loss, split_grad, weighted
from chainrule.tensor import Tensor


class SquaredError(Function):
    """∂/∂x Σ(x − y)²/N = 2(x − y)/N, ∂/∂y = −2(x − y)/N  (N = 1 for reduction="sum")"""

    def forward(self, x: Any, y: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        diff = x - y
        self.saved = (diff,)
        self.shapes, self.reduction = (x.shape, getattr(y, "shape", ())), reduction
        if reduction == "none":
            return diff * diff
        # Σ(x − y)² as one inner product: one call instead of a square and a sum.
        total = backend.xp.vdot(diff, diff)
        return total / diff.size if reduction == "mean" else total

    def backward(self, grad: Any) -> tuple:
        (diff,) = self.saved
        if type(grad) is backend.ndarray:
            scale = 2 / diff.size if self.reduction == "mean" else 2
            if grad.ndim == 0:
                # A scalar loss's gradient as a Python number: one array operation, not two.
                grad = float(grad)
        else:  # recording a graph: tensors, whose size is a method
            scale = 2 / size_of(diff) if self.reduction == "mean" else 2
        grad_x = diff * (grad * scale)
        need_x, need_y = self.needs_input_grad
        shape_x, shape_y = self.shapes
        return (
            unbroadcast(grad_x, shape_x) if need_x else None,
            unbroadcast(-grad_x, shape_y) if need_y else None,
        )

    def saved_in_graph(self, output: Tensor) -> tuple:
        return (_difference(self),)


class AbsoluteError(Function):
    """∂/∂x Σ|x − y|/N = sign(x − y)/N, ∂/∂y = −sign(x − y)/N  (sign 0 at 0 and at nan)"""

    ties_gradients = True

    def forward(self, x: Any, y: Any, reduction: str) -> Any:
        x, y = dtypes.promote(x, y)
        diff = x - y
        self.saved = (diff,)
        self.shapes, self.reduction = (x.shape, getattr(y, "shape", ())), reduction
        return reduce_loss(backend.xp.abs(diff), reduction, diff.size)

    def backward(self, grad: Any) -> tuple:
        (diff,) = self.saved
        scale = 1 / diff.size if self.reduction == "mean" else 1
        grad_x = sign_of(diff) * (grad * scale)
        need_x, need_y = self.needs_input_grad
        shape_x, shape_y = self.shapes
        return (
            unbroadcast(grad_x, shape_x) if need_x else None,
            unbroadcast(-grad_x, shape_y) if need_y else None,
        )

    def saved_in_graph(self, output: Tensor) -> tuple:
        # sign(x − y) is piecewise constant: the difference enters as a constant.
        return self.saved


class HuberError(Function):
    """∂/∂x huber_δ(x − y) = clip(x − y, −δ, δ), ∂/∂y = −clip(x − y, −δ, δ)  (÷N for the mean)

    huber_δ(d) = ½d² where |d| < δ, else δ(|d| − ½δ): squared near 0, linear (slope δ) beyond.
    Smooth L1 is huber_β(d)/β (``divisor`` β): ½d²/β, then |d| − ½β, with slope at most 1.
    """

    def forward(
        self, x: Any, y: Any, weight: Any, reduction: str, delta: float, divisor: float = 1.0
    ) -> Any:
        xp = backend.xp
        x, y = dtypes.promote(x, y)
        self.shapes, self.reduction = (x.shape, shape_of(y)), reduction
        self.delta, self.divisor = delta, divisor
        diff = x - y
        size = xp.abs(diff)
        # c(|d| − ½c) with c = min(|d|, δ) is ½d² below δ and δ(|d| − ½δ) above: no ``where``,
        # which costs 35× an addition on an unpredictable mask.
        clipped = xp.minimum(size, delta)
        loss = clipped * (size - 0.5 * clipped)
        if divisor != 1:
            loss /= divisor
        self.saved = (diff, weight)
        return reduce_loss(weighted(loss, weight), reduction, loss.size)

    def backward(self, grad: Any) -> tuple:
        diff, weight = self.saved
        xp = backend.xp
        if isinstance(diff, Tensor):
            # Recording a graph: the slope varies with d only strictly inside |d| < δ, as in
            # PyTorch's double backward (clip's derivative would be 1 at |d| = δ too).
            values = diff.array
            slope = xp.where(
                xp.abs(values) < self.delta, diff, xp.clip(values, -self.delta, self.delta)
            )
        else:
            slope = xp.clip(diff, -self.delta, self.delta)
        if self.divisor != 1:
            slope /= self.divisor
        grad_x = weighted(slope, weight) * (grad * mean_scale(self.reduction, size_of(diff)))
        need_x, need_y = self.needs_input_grad[:2]
        return (*split_grad(self, grad_x if need_x else None, -grad_x if need_y else None), None)

    def saved_in_graph(self, output: Tensor) -> tuple:
        _, weight = self.saved
        return (_difference(self), weight)  # the weight is a constant


def _difference(node: Function) -> Tensor:
    """x − y again, from the loss node's input tensors (a target may be a number or an array):
    the saved difference for a backward that records a graph. The inputs are as the forward
    saw them: these losses have no in-place form."""
    x, y = node.inputs[:2]
    return x - y
