"""Cases of the operation table (tests/op_cases.py): the triplet losses and the multi-class
margin losses (nn/functional/margin_losses.py, multiclass_margin_losses.py).

PyTorch has no double backward for multi_margin_loss and multilabel_margin_loss, so their cases
are marked ONE: values and gradients against PyTorch only (tests/nn/test_more_margin_losses.py
checks their second derivatives by finite differences). Their ``ties`` cases put many hinges
exactly at their kink, where PyTorch's gradient is 0.
"""

from __future__ import annotations

import numpy as np

from op_cases import ONE, A, at, case, normal, positive, ties  # noqa: F401

B5 = (5, 4)
LABELS_5 = np.array([0, 3, 1, 2, 3])
# Lists of target classes, each ending at the first −1 (what follows is ignored); a class
# listed twice counts twice, an empty list gives 0.
LISTS_5 = np.array([[0, 1, -1, 2], [3, -1, 0, 0], [-1, 0, 0, 0], [2, 2, 0, -1], [1, 0, 2, 3]])
LABELS_01 = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.5, 0.0], [1.0, 1.0, 1.0, 0.0]])


def _f(m):
    return m.nn.functional


def _weight(m, x, values=(0.5, 1.0, 2.0, 1.5)):
    return m.tensor(values, dtype=x.dtype)


def _l1(u, v):
    return (u - v).abs().sum(-1)


def _cosine_distance(m):
    return lambda u, v: 1.0 - m.nn.functional.cosine_similarity(u, v)


# ---- triplet_margin_loss: pairwise_distance, minimum (swap) and a clamp at 0 ----------------

case("triplet_margin_loss", lambda m, a, p, n: _f(m).triplet_margin_loss(a, p, n), B5, B5, B5)
case(
    "triplet_margin_loss_swap_p1_none",
    lambda m, a, p, n: _f(m).triplet_margin_loss(
        a, p, n, margin=3.0, p=1, eps=0.01, swap=True, reduction="none"
    ),
    B5,
    B5,
    B5,
)
case(
    "triplet_margin_loss_p3_sum_broadcast",
    lambda m, a, p, n: _f(m).triplet_margin_loss(a, p, n, margin=2.0, p=3, reduction="sum"),
    B5,
    (1, 4),
    B5,
)
case(
    "triplet_margin_loss_vectors",
    lambda m, a, p, n: _f(m).triplet_margin_loss(a, p, n, margin=2.5, swap=True),
    (4,),
    (4,),
    (4,),
)
# Hinges exactly at 0 (all three equal: margin + d − d ≤ 0 only for margin ≤ 0, so shift the
# negative by the margin along one axis): the clamp lets the gradient through there.
case(
    "triplet_margin_loss_at_the_kink",
    lambda m, a: _f(m).triplet_margin_loss(
        a, a, a + m.tensor([1.0, 0.0, 0.0, 0.0], dtype=a.dtype), eps=0.0, reduction="none"
    ),
    B5,
    domain=ties,
    **ONE,
)

# ---- triplet_margin_with_distance_loss: any distance -----------------------------------------

case(
    "triplet_margin_with_distance_loss",
    lambda m, a, p, n: _f(m).triplet_margin_with_distance_loss(a, p, n, margin=2.0),
    B5,
    B5,
    B5,
)
case(
    "triplet_margin_with_distance_loss_cosine_swap_none",
    lambda m, a, p, n: _f(m).triplet_margin_with_distance_loss(
        a, p, n, distance_function=_cosine_distance(m), margin=1.5, swap=True, reduction="none"
    ),
    B5,
    B5,
    B5,
)
case(
    "triplet_margin_with_distance_loss_l1_sum",
    lambda m, a, p, n: _f(m).triplet_margin_with_distance_loss(
        a, p, n, distance_function=_l1, margin=3.0, reduction="sum"
    ),
    B5,
    B5,
    B5,
    domain=positive,
)
case(
    "triplet_margin_with_distance_loss_module_distance",
    lambda m, a, p, n: _f(m).triplet_margin_with_distance_loss(
        a, p, n, distance_function=m.nn.PairwiseDistance(p=1.5), margin=2.0, swap=True
    ),
    B5,
    B5,
    B5,
)

# ---- multi_margin_loss: gather, relu, where ---------------------------------------------------

for _p in (1, 2):
    case(
        f"multi_margin_loss_p{_p}",
        lambda m, x, p=_p: _f(m).multi_margin_loss(x, m.tensor(LABELS_5), p=p),
        B5,
        **ONE,
    )
    case(
        f"multi_margin_loss_p{_p}_weight_margin_none",
        lambda m, x, p=_p: _f(m).multi_margin_loss(
            x, m.tensor(LABELS_5), p=p, margin=0.7, weight=_weight(m, x), reduction="none"
        ),
        B5,
        **ONE,
    )
    case(  # margin 1 and scores in {−1, 0, 1}: many hinges exactly at 0
        f"multi_margin_loss_p{_p}_at_kinks",
        lambda m, x, p=_p: _f(m).multi_margin_loss(x, m.tensor(LABELS_5), p=p, reduction="sum"),
        B5,
        domain=ties,
        **ONE,
    )
case(
    "multi_margin_loss_vector",
    lambda m, x: _f(m).multi_margin_loss(x, m.tensor(2), weight=_weight(m, x), reduction="none"),
    (4,),
    **ONE,
)
case(
    "multi_margin_loss_vector_target_1d",
    lambda m, x: _f(m).multi_margin_loss(x, m.tensor([1]), p=2, reduction="none"),
    (4,),
    **ONE,
)

# ---- multilabel_margin_loss: one pass of gather, relu, where per listed class ----------------

case(
    "multilabel_margin_loss",
    lambda m, x: _f(m).multilabel_margin_loss(x * 0.5, m.tensor(LISTS_5)),
    B5,
    **ONE,
)
case(
    "multilabel_margin_loss_none",
    lambda m, x: _f(m).multilabel_margin_loss(x * 0.5, m.tensor(LISTS_5), reduction="none"),
    B5,
    **ONE,
)
case(
    "multilabel_margin_loss_at_kinks_sum",
    lambda m, x: _f(m).multilabel_margin_loss(x, m.tensor(LISTS_5), reduction="sum"),
    B5,
    domain=ties,
    **ONE,
)
case(
    "multilabel_margin_loss_vector_none",
    lambda m, x: _f(m).multilabel_margin_loss(x, m.tensor(LISTS_5[0]), reduction="none"),
    (4,),
    **ONE,
)

# ---- multilabel_soft_margin_loss: logsigmoid, smooth everywhere -------------------------------

case(
    "multilabel_soft_margin_loss",
    lambda m, x: _f(m).multilabel_soft_margin_loss(x * 2, m.tensor(LABELS_01)),
    A,
)
case(  # target and weight differentiable too, as in PyTorch's composition
    "multilabel_soft_margin_loss_weight_none",
    lambda m, x, y, w: _f(m).multilabel_soft_margin_loss(x, y, weight=w, reduction="none"),
    A,
    A,
    (4,),
)
case(
    "multilabel_soft_margin_loss_3d_sum",
    lambda m, x: _f(m).multilabel_soft_margin_loss(
        x, m.tensor(LABELS_01[0]), weight=_weight(m, x), reduction="sum"
    ),
    (2, 3, 4),
)
case(
    "multilabel_soft_margin_loss_vector",
    lambda m, x: _f(m).multilabel_soft_margin_loss(x, m.tensor(LABELS_01[1])),
    (4,),
)
