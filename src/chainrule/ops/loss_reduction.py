"""What every fused loss shares: the reduction of per-element losses to one number, and the
return of a loss's gradient to its input and target.

Each loss computes a per-element value l and reduces it by ``reduction``: "none" keeps l,
"sum" gives Σ l and "mean" Σ l / N, where the loss says what N is (the number of elements
for most, the batch size for ``kl_div``'s "batchmean").
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function
from chainrule.ops.broadcast import unbroadcast

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(values: Any, reduction: str, divisor: Any) -> Any:
    """``values`` as they are ("none"), summed, or summed and divided by ``divisor`` ("mean")."""
    if reduction == "none":
        return values
    total = values.sum()
    return total / divisor if reduction == "mean" else total


def mean_scale(reduction: str, size: int) -> float:
    """The factor 1/N that the mean puts on each element's gradient (1 otherwise; 1 for an
    empty mean, whose gradient has no elements)."""
    return 1 / size if reduction == "mean" and size else 1.0


def weighted(values: Any, weight: Any) -> Any:
    """``values`` times a constant weight, or ``values`` where there is no weight."""
    return values if weight is None else values * weight


def split_grad(node: Function, grad_x: Any, grad_y: Any) -> tuple:
    """Gradients for (input, target) summed back over their broadcast axes (``node.shapes``
    holds the two shapes); None stays None where a gradient is not wanted."""
    shape_x, shape_y = node.shapes
    return (
        None if grad_x is None else unbroadcast(grad_x, shape_x),
        None if grad_y is None else unbroadcast(grad_y, shape_y),
    )
