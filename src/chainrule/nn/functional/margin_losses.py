"""Margin losses for ranking and embeddings: each asks a score, a distance or a similarity to
be on the right side of a margin for a label y = ±1 (or, for the triplet losses, a positive
example nearer than a negative one), and is zero once it is.

They compose primitives (a clamp at 0, a where on the label), whose gradients are those of the
hinge: PyTorch builds them the same way, and their gradients at the hinge agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from chainrule.autograd.function import OpError
from chainrule.creation import as_tensor
from chainrule.nn.functional.distances import pairwise_distance
from chainrule.nn.functional.loss_arguments import (
    broadcast_shape,
    check_reduction,
    check_tensor,
    legacy_reduction,
)
from chainrule.nn.input_checks import InputShapeError
from chainrule.ops import elementwise
from chainrule.ops import reduce as reductions
from chainrule.tensor import Tensor

__all__ = [
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

# Added to each squared length in cosine_embedding_loss, so that a zero vector gives a
# similarity of 0 and a finite gradient rather than 0/0: PyTorch's 1e-12 as a float32 constant
# (9.99999996e-13), which shows at 2e-9 relative in that gradient.
_LENGTH_EPSILON = float(numpy.float32(1e-12))


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return reductions.mean(loss)
    return reductions.sum(loss) if reduction == "sum" else loss


def _label(target: Any) -> Tensor:
    return target if isinstance(target, Tensor) else as_tensor(target)


def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, −y(x₁ − x₂) + margin): for y = 1, x₁ should rank above x₂ by the margin; for
    y = −1, below. The three arguments have the same number of dimensions and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x1, x2 = cr.tensor([2.0, 1.0]), cr.tensor([1.0, 3.0])
    >>> y = cr.tensor([1.0, 1.0])  # x1 should rank above x2
    >>> F.margin_ranking_loss(x1, x2, y, margin=0.5, reduction='none').tolist()
    [0.0, 2.5]

    ```
    """
    where = "margin_ranking_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input1, "input1", 1, where)
    check_tensor(input2, "input2", 2, where)
    check_tensor(target, "target", 3, where, constant=True)
    check_reduction(reduction, where)
    y = _label(target)
    if not input1.ndim == input2.ndim == y.ndim:
        raise OpError(
            f"{where}: All input tensors should have same dimension but got sizes: input1: "
            f"{input1.shape}, input2: {input2.shape}, target: {y.shape}"
        )
    names = ["input1", "input2", "target"]
    broadcast_shape([input1.shape, input2.shape, y.shape], names, where)
    loss = elementwise.clamp(-y * (input1 - input2) + margin, min=0)
    return _reduced(loss, reduction)


def hinge_embedding_loss(
    input: Tensor,  # noqa: A002
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """x where y = 1, max(0, margin − x) where y = −1, for x a distance (say, ‖a − b‖) and
    y whether the pair is similar: similar pairs are pulled together, dissimilar ones pushed
    at least ``margin`` apart. (A label other than ±1 gets both terms, as in PyTorch.)

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> distances, y = cr.tensor([0.5, 0.25, 2.0]), cr.tensor([1.0, -1.0, -1.0])
    >>> F.hinge_embedding_loss(distances, y, reduction='none').tolist()
    [0.5, 0.75, 0.0]

    ```
    """
    where = "hinge_embedding_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input, "input", 1, where)
    check_tensor(target, "target", 2, where, constant=True)
    check_reduction(reduction, where)
    y = _label(target)
    broadcast_shape([input.shape, y.shape], ["input", "target"], where)
    pushed = elementwise.where(y != 1, elementwise.clamp(margin - input, min=0), 0.0)
    pulled = elementwise.where(y != -1, input, 0.0)
    return _reduced(pushed + pulled, reduction)


def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Any,
    margin: float = 0.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """1 − cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) − margin) where y = −1: the rows of
    x₁ and x₂ (N, D), or two vectors (D,), should point the same way for similar pairs and
    apart for dissimilar ones. ``target`` has shape (N,), or () for vectors.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> a, b = cr.tensor([[1.0, 0.0], [1.0, 0.0]]), cr.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> F.cosine_embedding_loss(a, b, cr.tensor([1.0, 1.0]), reduction='none').tolist()
    [0.0, 1.0]

    ```
    """
    where = "cosine_embedding_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_tensor(input1, "input1", 1, where)
    check_tensor(input2, "input2", 2, where)
    check_tensor(target, "target", 3, where, constant=True)
    check_reduction(reduction, where)
    y = _label(target)
    _check_embedding_shapes(input1, input2, y, where)
    dim = input1.ndim - 1
    dot = reductions.sum(input1 * input2, dim)
    length1 = reductions.sum(input1 * input1, dim) + _LENGTH_EPSILON
    length2 = reductions.sum(input2 * input2, dim) + _LENGTH_EPSILON
    cosine = dot / elementwise.sqrt(length1 * length2)
    similar = elementwise.where(y == 1, 1 - cosine, 0.0)
    dissimilar = elementwise.where(y == -1, elementwise.clamp(cosine - margin, min=0), 0.0)
    return _reduced(similar + dissimilar, reduction)


def _check_embedding_shapes(input1: Tensor, input2: Tensor, y: Tensor, where: str) -> None:
    if y.ndim > 1:
        raise OpError(
            f"{where}: 0D or 1D target tensor expected, multi-target not supported, got a "
            f"target of shape {y.shape}"
        )
    wanted = 2 if y.ndim == 1 else 1
    if input1.ndim != wanted or input2.ndim != wanted:
        raise OpError(
            f"{where}: {y.ndim}D target tensor expects {wanted}D input tensors, but found "
            f"inputs with sizes {list(input1.shape)} and {list(input2.shape)}"
        )
    if input1.shape != input2.shape or (y.ndim == 1 and y.shape[0] not in (1, input1.shape[0])):
        raise OpError(
            f"{where}: input1 {input1.shape}, input2 {input2.shape} and target {y.shape} do "
            "not match: expected (N, D), (N, D) and (N,), or (D,), (D,) and ()"
        )


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)) with d the p-norm distance of
    :func:`pairwise_distance` (ε added to the difference): each anchor should be nearer its
    positive than its negative by the margin. Rows of shape (N, D), or vectors (D,), with the
    same number of dimensions (they broadcast); the unreduced loss has shape (N,), or ().
    With ``swap``, d(a, n) is replaced by min(d(a, n), d(p, n)): the harder negative.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> a, pos, neg = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 1.0]])
    >>> round(F.triplet_margin_loss(a, pos, neg, eps=0.0).item(), 4)  # 1 + 5 - 1
    5.0

    ```
    """
    where = "triplet_margin_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    for position, (name, value) in enumerate(
        (("anchor", anchor), ("positive", positive), ("negative", negative)), 1
    ):
        check_tensor(value, name, position, where)
    _check_triplet(anchor, positive, negative, margin, reduction, where)
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = elementwise.minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    return _triplet(margin, dist_pos, dist_neg, reduction)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(a, p) − d(a, n)) for any distance ``d = distance_function(x, y)``
    (default :func:`pairwise_distance`) that maps two batches to one distance per row.
    ``swap`` replaces d(a, n) by min(d(a, n), d(p, n)). The inputs have the same number of
    dimensions; the unreduced loss has the distances' shape.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> a, pos, neg = cr.tensor([[0.0, 0.0]]), cr.tensor([[1.0, 1.0]]), cr.tensor([[0.0, 3.0]])
    >>> l1 = lambda x, y: (x - y).abs().sum(-1)
    >>> F.triplet_margin_with_distance_loss(a, pos, neg, distance_function=l1).item()  # 1+2-3
    0.0

    ```
    """
    where = "triplet_margin_with_distance_loss"
    _check_triplet(anchor, positive, negative, margin, reduction, where)
    distance = pairwise_distance if distance_function is None else distance_function
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = elementwise.minimum(dist_neg, distance(positive, negative))
    return _triplet(margin, dist_pos, dist_neg, reduction)


def _check_triplet(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float, reduction: str, where: str
) -> None:
    check_reduction(reduction, where)
    if margin <= 0:
        raise ValueError(f"{where}: margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise InputShapeError(
            f"{where}: The anchor, positive, and negative tensors are expected to have the same "
            f"number of dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, "
            f"and negative {negative.ndim}D inputs"
        )


def _triplet(margin: float, dist_pos: Tensor, dist_neg: Tensor, reduction: str) -> Tensor:
    # clamp, not relu: at exactly 0 the gradient passes, as PyTorch's clamp_min lets it.
    return _reduced(elementwise.clamp(margin + dist_pos - dist_neg, min=0), reduction)
