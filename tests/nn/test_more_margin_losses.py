"""The triplet losses and the multi-class margin losses (triplet_margin_loss,
triplet_margin_with_distance_loss, multi_margin_loss, multilabel_margin_loss,
multilabel_soft_margin_loss and their modules) against PyTorch: losses, gradients, second
derivatives, reprs, PyTorch's errors and its deprecated size_average/reduce."""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

REDUCTIONS = ["mean", "sum", "none"]
FLOATS = ["float32", "float64"]
TOLERANCE = {"float32": (2e-5, 1e-6), "float64": (1e-10, 1e-12)}

LABELS = np.array([0, 3, 1, 2, 3])
LISTS = np.array([[0, 1, -1, 2], [3, -1, 0, 0], [-1, 0, 0, 0], [2, 2, 0, -1], [1, 0, 2, 3]])
WEIGHT = [0.5, 1.0, 2.0, 1.5]


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


def compare(fn: Callable[..., Any], arrays: list, dtype: str, what: str) -> None:
    """fn(m, *tensors) in both libraries: the loss, its dtype and shape, and every input's
    gradient for a random upstream gradient."""
    xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out, expected = fn(cr, *xs), fn(torch, *ts)
    rtol, atol = TOLERANCE[dtype]
    assert out.shape == tuple(expected.shape), what
    assert out.dtype.name == str(expected.dtype).removeprefix("torch."), what
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=rtol, atol=atol)
    upstream = rng_for(what).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(
            to_numpy(x.grad), to_numpy(t.grad), rtol=rtol, atol=atol, err_msg=f"{what}: {i}"
        )


def second_derivatives(fn: Callable[..., Any], m: Any, arrays: list) -> list[np.ndarray]:
    """∂/∂inputs of ⟨∂⟨fn, v⟩/∂inputs, w⟩ in float64, v and w fixed random."""
    rng = rng_for("second", len(arrays))
    xs = [m.tensor(a, dtype=m.float64, requires_grad=True) for a in arrays]
    out = fn(m, *xs)
    v = m.tensor(rng.standard_normal(tuple(out.shape)), dtype=m.float64)
    grads = m.autograd.grad(out, xs, v, create_graph=True)
    total = sum((g * m.tensor(rng.standard_normal(tuple(g.shape)))).sum() for g in grads)
    return [to_numpy(g) for g in m.autograd.grad(total, xs)]


def _triplets(shape: tuple = (5, 4)) -> list[np.ndarray]:
    rng = rng_for("triplets", shape)
    return [rng.standard_normal(shape) for _ in range(3)]


# ---- values and gradients ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_triplet_margin_loss_matches_torch(p: float, swap: bool, reduction: str, dtype: str):
    def fn(m, a, pos, neg):
        return m.nn.functional.triplet_margin_loss(
            a, pos, neg, margin=2.0, p=p, eps=1e-3, swap=swap, reduction=reduction
        )

    compare(fn, _triplets(), dtype, f"triplet {p} {swap} {reduction} {dtype}")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("distance", ["default", "l1", "cosine", "module"])
def test_triplet_margin_with_distance_loss_matches_torch(
    distance: str, swap: bool, reduction: str, dtype: str
):
    def fn(m, a, pos, neg):
        distances = {
            "default": None,
            "l1": lambda u, v: (u - v).abs().sum(-1),
            "cosine": lambda u, v: 1.0 - m.nn.functional.cosine_similarity(u, v),
            "module": m.nn.PairwiseDistance(p=1.5),
        }
        return m.nn.functional.triplet_margin_with_distance_loss(
            a,
            pos,
            neg,
            distance_function=distances[distance],
            margin=1.5,
            swap=swap,
            reduction=reduction,
        )

    compare(fn, _triplets(), dtype, f"distance {distance} {swap} {reduction} {dtype}")


def test_triplet_swap_takes_the_nearer_negative():
    a, pos = cr.zeros(1, 2), cr.tensor([[4.0, 0.0]])
    neg = cr.tensor([[3.0, 0.0]])  # 3 from the anchor, 1 from the positive
    plain = F.triplet_margin_loss(a, pos, neg, eps=0.0)
    swapped = F.triplet_margin_loss(a, pos, neg, eps=0.0, swap=True)
    assert (plain.item(), swapped.item()) == pytest.approx((2.0, 4.0))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(weighted: bool, p: int, reduction: str, dtype: str):
    def fn(m, x):
        weight = m.tensor(WEIGHT, dtype=x.dtype) if weighted else None
        return m.nn.functional.multi_margin_loss(
            x, m.tensor(LABELS), p=p, margin=0.8, weight=weight, reduction=reduction
        )

    x = rng_for("multi", dtype).standard_normal((5, 4))
    compare(fn, [x], dtype, f"multi_margin {weighted} {p} {reduction} {dtype}")
    compare(fn, [np.round(x)], dtype, f"multi_margin at kinks {p} {reduction} {dtype}")


@pytest.mark.parametrize("target", [np.array(2), np.array([2])])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_loss_of_one_sample(target: np.ndarray, reduction: str):
    def fn(m, x):
        return m.nn.functional.multi_margin_loss(x, m.tensor(target), reduction=reduction)

    compare(fn, [np.array([0.3, -0.2, 0.1, 0.9])], "float64", f"one {target.shape} {reduction}")


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("rows", [5, None])
def test_multilabel_margin_loss_matches_torch(rows: int | None, reduction: str, dtype: str):
    labels = LISTS if rows else LISTS[0]

    def fn(m, x):
        return m.nn.functional.multilabel_margin_loss(x, m.tensor(labels), reduction=reduction)

    x = rng_for("multilabel", dtype).standard_normal(labels.shape)
    compare(fn, [x * 0.5], dtype, f"multilabel {rows} {reduction} {dtype}")
    compare(fn, [np.round(x)], dtype, f"multilabel at kinks {rows} {reduction} {dtype}")


def test_multilabel_margin_loss_counts_a_repeated_class_twice_and_ignores_after_minus_one():
    x = cr.tensor([[0.1, 0.2, 0.4, 0.8]])
    once = F.multilabel_margin_loss(x, cr.tensor([[3, -1, 0, 0]])).item()
    twice = F.multilabel_margin_loss(x, cr.tensor([[3, 3, -1, 2]])).item()
    assert once == pytest.approx((0.3 + 0.4 + 0.6) / 4)
    assert twice == pytest.approx(2 * once) == pytest.approx(torch_multilabel(x, [[3, 3, -1, 2]]))
    assert F.multilabel_margin_loss(x, cr.tensor([[-1, 3, 0, 1]])).item() == 0.0


def torch_multilabel(x: cr.Tensor, target: list) -> float:
    return torch.nn.functional.multilabel_margin_loss(
        torch.tensor(x.numpy()), torch.tensor(target)
    ).item()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4), (4,), (2, 3, 4)])
def test_multilabel_soft_margin_loss_matches_torch(shape: tuple, reduction: str, dtype: str):
    def fn(m, x, y, w):
        return m.nn.functional.multilabel_soft_margin_loss(x, y, weight=w, reduction=reduction)

    rng = rng_for("soft", shape, dtype)
    arrays = [rng.standard_normal(shape) * 3, rng.uniform(0, 1, shape), rng.uniform(0, 2, 4)]
    compare(fn, arrays, dtype, f"soft {shape} {reduction} {dtype}")


# ---- second derivatives ------------------------------------------------------------------

SECOND_ORDER = {
    "triplet_swap_p3": (
        lambda m, a, p, n: m.nn.functional.triplet_margin_loss(a, p, n, 2.0, p=3, swap=True),
        _triplets(),
    ),
    "triplet_with_cosine": (
        lambda m, a, p, n: m.nn.functional.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda u, v: 1 - m.nn.functional.cosine_similarity(u, v)
        ),
        _triplets(),
    ),
    "soft_weighted": (
        lambda m, x, y, w: m.nn.functional.multilabel_soft_margin_loss(x, y, weight=w),
        [np.linspace(-2, 2, 12).reshape(3, 4), np.full((3, 4), 0.3), np.arange(1.0, 5.0)],
    ),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_match_torch(name: str):
    fn, arrays = SECOND_ORDER[name]
    for got, expected in zip(
        second_derivatives(fn, cr, arrays), second_derivatives(fn, torch, arrays)
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss_second_derivative_by_finite_differences(p: int):
    # PyTorch has no double backward here; p = 2's Hessian is 2/C per active hinge pair.
    x = cr.tensor(rng_for("mm2").standard_normal((5, 4)) * 0.3, requires_grad=True)
    weight = cr.tensor(WEIGHT, dtype=cr.float64)

    def fn(x: cr.Tensor) -> cr.Tensor:
        return F.multi_margin_loss(x, cr.tensor(LABELS), p=p, weight=weight, reduction="sum")

    assert cr.autograd.gradgradcheck(fn, (x,))


def test_multilabel_margin_loss_second_derivative_is_zero():
    x = cr.tensor(rng_for("ml2").standard_normal((5, 4)) * 0.3, requires_grad=True)
    (g,) = cr.autograd.grad(F.multilabel_margin_loss(x, cr.tensor(LISTS)), x, create_graph=True)
    assert cr.autograd.gradgradcheck(lambda x: F.multilabel_margin_loss(x, cr.tensor(LISTS)), (x,))
    if g.requires_grad:
        (h,) = cr.autograd.grad((g * g).sum(), x, allow_unused=True)
        assert h is None or not np.any(h.numpy())


# ---- modules: arguments, reprs, state ---------------------------------------------------------


def test_reprs_match_torch():
    pairs = [
        (cr.nn.TripletMarginLoss(), torch.nn.TripletMarginLoss()),
        (
            cr.nn.TripletMarginLoss(0.5, 1.0, swap=True),
            torch.nn.TripletMarginLoss(0.5, 1.0, swap=True),
        ),
        (cr.nn.TripletMarginWithDistanceLoss(), torch.nn.TripletMarginWithDistanceLoss()),
        (
            cr.nn.TripletMarginWithDistanceLoss(distance_function=cr.nn.PairwiseDistance(p=1.0)),
            torch.nn.TripletMarginWithDistanceLoss(
                distance_function=torch.nn.PairwiseDistance(p=1.0)
            ),
        ),
        (
            cr.nn.TripletMarginWithDistanceLoss(distance_function=lambda u, v: (u - v).abs()),
            torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda u, v: (u - v).abs()),
        ),
        (
            cr.nn.MultiMarginLoss(p=2, weight=cr.ones(3)),
            torch.nn.MultiMarginLoss(p=2, weight=torch.ones(3)),
        ),
        (cr.nn.MultiLabelMarginLoss(), torch.nn.MultiLabelMarginLoss()),
        (
            cr.nn.MultiLabelSoftMarginLoss(cr.ones(3)),
            torch.nn.MultiLabelSoftMarginLoss(torch.ones(3)),
        ),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_module_attributes_and_weight_buffers():
    loss = cr.nn.TripletMarginLoss(margin=0.5, p=1.0, eps=0.1, swap=True, reduction="sum")
    assert (loss.margin, loss.p, loss.eps, loss.swap, loss.reduction) == (
        0.5,
        1.0,
        0.1,
        True,
        "sum",
    )
    distance = cr.nn.TripletMarginWithDistanceLoss(margin=2.0, swap=True)
    assert isinstance(distance.distance_function, cr.nn.PairwiseDistance)
    assert (distance.margin, distance.swap, distance.reduction) == (2.0, True, "mean")
    multi = cr.nn.MultiMarginLoss(p=2, margin=0.3, weight=cr.tensor(WEIGHT))
    assert (multi.p, multi.margin) == (2, 0.3)
    assert list(multi.state_dict()) == ["weight"]
    assert list(cr.nn.MultiLabelSoftMarginLoss(weight=cr.ones(4)).state_dict()) == ["weight"]
    assert list(cr.nn.MultiLabelMarginLoss().state_dict()) == []


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_modules_match_their_functions_and_torch(reduction: str):
    rng = rng_for("modules", reduction)
    a, pos, neg = (rng.standard_normal((5, 4)) for _ in range(3))
    x, y = rng.standard_normal((5, 4)), rng.uniform(0, 1, (5, 4))
    cases = [
        ("TripletMarginLoss", {"margin": 2.0, "swap": True}, (a, pos, neg)),
        ("TripletMarginWithDistanceLoss", {"margin": 2.0}, (a, pos, neg)),
        ("MultiMarginLoss", {"p": 2, "weight": WEIGHT}, (x, LABELS)),
        ("MultiLabelMarginLoss", {}, (x, LISTS)),
        ("MultiLabelSoftMarginLoss", {"weight": WEIGHT}, (x, y)),
    ]
    for name, options, inputs in cases:
        made = []
        for m in (cr, torch):
            kw = {
                k: m.tensor(v, dtype=m.float64) if k == "weight" else v for k, v in options.items()
            }
            made.append(getattr(m.nn, name)(reduction=reduction, **kw)(*map(m.tensor, inputs)))
        np.testing.assert_allclose(to_numpy(made[0]), to_numpy(made[1]), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize(
    ("name", "size_average", "reduce", "reduction"),
    [
        ("legacy", None, False, "none"),
        ("legacy", False, None, "sum"),
        ("legacy", True, True, "mean"),
    ],
)
def test_deprecated_size_average_and_reduce(
    name: str, size_average: Any, reduce: Any, reduction: str
):
    rng = rng_for("legacy")
    a, pos, neg, x = (rng.standard_normal((5, 4)) for _ in range(4))
    legacy = {"size_average": size_average, "reduce": reduce}
    calls = [
        lambda m, **kw: m.nn.functional.triplet_margin_loss(*map(m.tensor, (a, pos, neg)), **kw),
        lambda m, **kw: m.nn.functional.multi_margin_loss(m.tensor(x), m.tensor(LABELS), **kw),
        lambda m, **kw: m.nn.functional.multilabel_margin_loss(m.tensor(x), m.tensor(LISTS), **kw),
        lambda m, **kw: m.nn.functional.multilabel_soft_margin_loss(
            m.tensor(x), m.tensor(x > 0).double(), **kw
        ),
    ]
    for call in calls:
        with pytest.warns(DeprecationWarning):
            ours = call(cr, **legacy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch's own deprecation warning
            theirs = call(torch, **legacy)
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-12)
        np.testing.assert_allclose(to_numpy(ours), to_numpy(call(cr, reduction=reduction)))
    for module in (cr.nn.TripletMarginLoss, cr.nn.MultiMarginLoss, cr.nn.MultiLabelMarginLoss):
        with pytest.warns(DeprecationWarning):
            assert module(size_average=size_average, reduce=reduce).reduction == reduction
    with pytest.warns(DeprecationWarning):
        made = cr.nn.MultiLabelSoftMarginLoss(size_average=size_average, reduce=reduce)
    assert made.reduction == reduction


# ---- errors: PyTorch's types -----------------------------------------------------------------

X = np.random.default_rng(0).standard_normal((3, 4))
ERRORS = {
    "triplet dims": lambda m: m.nn.functional.triplet_margin_loss(
        m.tensor(X), m.tensor(X), m.tensor(X[0])
    ),
    "triplet margin": lambda m: m.nn.functional.triplet_margin_loss(
        m.tensor(X), m.tensor(X), m.tensor(X), margin=0
    ),
    "triplet reduction": lambda m: m.nn.functional.triplet_margin_loss(
        m.tensor(X), m.tensor(X), m.tensor(X), reduction="bad"
    ),
    "triplet not a tensor": lambda m: m.nn.functional.triplet_margin_loss(
        m.tensor(X), m.tensor(X), "x"
    ),
    "distance dims": lambda m: m.nn.functional.triplet_margin_with_distance_loss(
        m.tensor(X), m.tensor(X[0]), m.tensor(X)
    ),
    "distance margin": lambda m: m.nn.functional.triplet_margin_with_distance_loss(
        m.tensor(X), m.tensor(X), m.tensor(X), margin=-1.0
    ),
    "distance reduction": lambda m: m.nn.functional.triplet_margin_with_distance_loss(
        m.tensor(X), m.tensor(X), m.tensor(X), reduction="bad"
    ),
    "distance positional": lambda m: m.nn.functional.triplet_margin_with_distance_loss(
        m.tensor(X), m.tensor(X), m.tensor(X), None
    ),
    "multi p": lambda m: m.nn.functional.multi_margin_loss(m.tensor(X), m.tensor([0, 1, 2]), p=3),
    "multi weight 2d": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, 2]), weight=m.ones(2, 2)
    ),
    "multi weight size": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, 2]), weight=m.ones(3, dtype=m.float64)
    ),
    "multi target range": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, 4])
    ),
    "multi negative target": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, -1])
    ),
    "multi target size": lambda m: m.nn.functional.multi_margin_loss(m.tensor(X), m.tensor([0, 1])),
    "multi target dtype": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0.0, 1.0, 2.0])
    ),
    "multi int32 target": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, 2], dtype=m.int32)
    ),
    "multi 3d": lambda m: m.nn.functional.multi_margin_loss(m.ones(2, 3, 4), m.tensor([0, 1])),
    "multi weight grad": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, 2]), weight=m.ones(4, dtype=m.float64, requires_grad=True)
    ),
    "multi reduction": lambda m: m.nn.functional.multi_margin_loss(
        m.tensor(X), m.tensor([0, 1, 2]), reduction="bad"
    ),
    "multilabel range": lambda m: m.nn.functional.multilabel_margin_loss(
        m.tensor(X), m.tensor([[0, -1, 0, 0], [1, 4, -1, 0], [0, -1, 0, 0]])
    ),
    "multilabel below -1": lambda m: m.nn.functional.multilabel_margin_loss(
        m.tensor(X), m.tensor([[0, -1, -5, 0], [1, -1, 0, 0], [0, -1, 0, 0]])
    ),
    "multilabel shape": lambda m: m.nn.functional.multilabel_margin_loss(
        m.tensor(X), m.tensor([[0, -1, 0, 0]])
    ),
    "multilabel dtype": lambda m: m.nn.functional.multilabel_margin_loss(
        m.tensor(X), m.zeros(3, 4)
    ),
    "multilabel 3d": lambda m: m.nn.functional.multilabel_margin_loss(
        m.ones(2, 3, 4), m.zeros(2, 3, 4, dtype=m.int64)
    ),
    "soft 0d": lambda m: m.nn.functional.multilabel_soft_margin_loss(m.tensor(1.0), m.tensor(1.0)),
    "soft reduction": lambda m: m.nn.functional.multilabel_soft_margin_loss(
        m.tensor(X), m.tensor(X), reduction="bad"
    ),
    "module triplet margin": lambda m: m.nn.TripletMarginLoss(margin=0.0),
    "module distance margin": lambda m: m.nn.TripletMarginWithDistanceLoss(margin=-2.0),
    "module distance positional": lambda m: m.nn.TripletMarginWithDistanceLoss(None),
    "module multi p": lambda m: m.nn.MultiMarginLoss(p=3),
    "module multi weight": lambda m: m.nn.MultiMarginLoss(weight=m.ones(2, 2)),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name: str):
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch)
    with pytest.raises(theirs.type) as ours:
        ERRORS[name](cr)
    # The message says what PyTorch's says (ours names the function first).
    first = str(theirs.value).splitlines()[0]
    if "reduction" not in name and "not a tensor" not in name and "positional" not in name:
        assert first.split(": ")[-1] in str(ours.value), (first, str(ours.value))
