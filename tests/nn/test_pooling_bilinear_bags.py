"""AdaptiveMaxPool1d/2d, Bilinear and EmbeddingBag against PyTorch: reprs, parameters and
their initial bounds, errors, and (for EmbeddingBag) every mode, offsets, padding_idx and
per_sample_weights with the same table, the table's gradient included."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


# ---- reprs and parameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.nn.AdaptiveMaxPool1d(3),
        lambda m: m.nn.AdaptiveMaxPool1d((4,), return_indices=True),
        lambda m: m.nn.AdaptiveMaxPool2d((2, None)),
        lambda m: m.nn.AdaptiveMaxPool2d(5),
        lambda m: m.nn.Bilinear(3, 4, 5),
        lambda m: m.nn.Bilinear(3, 4, 5, bias=False),
        lambda m: m.nn.EmbeddingBag(5, 3),
        lambda m: m.nn.EmbeddingBag(5, 3, mode="sum", padding_idx=1, max_norm=1.0),
        lambda m: m.nn.EmbeddingBag(
            5, 3, norm_type=3.0, scale_grad_by_freq=True, mode="max", include_last_offset=True
        ),
        lambda m: m.nn.EmbeddingBag(5, 3, padding_idx=-1),
    ],
)
def test_reprs_and_parameters_are_pytorchs(make: Any) -> None:
    ours, theirs = make(cr), make(torch)
    assert repr(ours) == repr(theirs)
    ours_shapes = {n: tuple(p.shape) for n, p in ours.named_parameters()}
    assert ours_shapes == {n: tuple(p.shape) for n, p in theirs.named_parameters()}


def test_bilinear_starts_uniform_within_one_over_sqrt_in1() -> None:
    cr.manual_seed(0)
    layer = cr.nn.Bilinear(16, 3, 200)
    bound = 1 / math.sqrt(16)
    for p in (layer.weight, layer.bias):
        values = to_numpy(p)
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound  # spread over the whole range, not in1·in2's


def test_bilinear_module_matches_pytorch_with_the_same_weights() -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Bilinear(3, 4, 2).double()
    ours = cr.nn.Bilinear(3, 4, 2, dtype="float64")
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    y = ours(cr.tensor(a), cr.tensor(b))
    t = theirs(torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(to_numpy(y), to_numpy(t), rtol=1e-12)
    y.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(to_numpy(ours.weight.grad), to_numpy(theirs.weight.grad))
    np.testing.assert_allclose(to_numpy(ours.bias.grad), to_numpy(theirs.bias.grad))


def test_embedding_bag_starts_normal_with_the_padding_row_zero() -> None:
    cr.manual_seed(0)
    bag = cr.nn.EmbeddingBag(400, 5, padding_idx=3)
    values = to_numpy(bag.weight)
    assert np.all(values[3] == 0)
    assert abs(values.std() - 1) < 0.1


# ---- adaptive max pooling ---------------------------------------------------------------------

NAN = float("nan")


@pytest.mark.parametrize(
    ("name", "shape", "size"),
    [
        ("AdaptiveMaxPool1d", (2, 3, 7), 3),
        ("AdaptiveMaxPool1d", (3, 5), 8),
        ("AdaptiveMaxPool2d", (2, 3, 7, 5), (3, None)),
        ("AdaptiveMaxPool2d", (3, 6, 6), 4),
    ],
)
def test_adaptive_max_pool_modules_match_pytorch_with_ties_and_nan(
    name: str, shape: tuple, size: Any
) -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(-1, 2, shape).astype(np.float64)  # many ties
    a.reshape(-1)[::11] = NAN
    x, t = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (y, i) = getattr(cr.nn, name)(size, return_indices=True)(x)
    (u, j) = getattr(torch.nn, name)(size, return_indices=True)(t)
    np.testing.assert_array_equal(to_numpy(i), to_numpy(j))
    assert i.dtype == cr.int64
    np.testing.assert_array_equal(to_numpy(y), to_numpy(u))
    upstream = rng.standard_normal(tuple(u.shape))
    y.backward(cr.tensor(upstream))
    u.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(to_numpy(x.grad), to_numpy(t.grad))


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.nn.functional.adaptive_max_pool1d(m.zeros(2, 3, 4, 5), 2),
        lambda m: m.nn.functional.adaptive_max_pool2d(m.zeros(3, 4), 2),
        lambda m: m.nn.functional.adaptive_max_pool1d(m.zeros(2, 3, 0), 2),
        lambda m: m.nn.functional.adaptive_max_pool2d(m.zeros(3, 0, 4), 2),
        lambda m: m.nn.functional.adaptive_max_pool1d(m.zeros(2, 3, 4), (2, 2)),
    ],
)
def test_adaptive_max_pool_errors_are_pytorchs(call: Any) -> None:
    with pytest.raises(RuntimeError) as theirs:
        call(torch)
    with pytest.raises(RuntimeError) as ours:
        call(cr)
    first = str(theirs.value).split(":")[0].split(" ")[0]
    assert first in str(ours.value)


# ---- bilinear errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shapes",
    [
        [(3, 2), (4, 5), (6, 2, 5)],
        [(3, 2), (3, 5), (6, 3, 5)],
        [(3, 2), (3, 4), (6, 2, 5)],
        [(3, 2), (3, 5), (6, 2, 5), (5,)],
    ],
)
def test_bilinear_errors_are_pytorchs(shapes: list) -> None:
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.functional.bilinear(*[torch.zeros(s) for s in shapes])
    with pytest.raises(RuntimeError) as ours:
        F.bilinear(*[cr.zeros(s) for s in shapes])
    assert str(ours.value) == str(theirs.value)


# ---- embedding_bag -----------------------------------------------------------------------------

TABLE = np.random.default_rng(5).standard_normal((8, 3))
BAG_INPUTS = [
    {"input": [[1, 2, 3], [4, 4, 0]]},
    {"input": [1, 2, 3, 4, 4, 0, 6], "offsets": [0, 2, 2, 5]},
    {"input": [1, 2, 3, 4, 4, 0, 6], "offsets": [0, 2, 2, 5, 7], "include_last_offset": True},
    {"input": [1, 2, 3, 4, 4, 0, 6], "offsets": [0, 2, 2, 5, 6], "include_last_offset": True},
    {"input": [1, 2, 2, 4, 2, 0, 6], "offsets": [0, 3, 3, 5], "padding_idx": 2},
    {"input": [[1, 2, 2], [2, 2, 2]], "padding_idx": 2},
    {"input": [[1, 7, 2], [2, 3, 5]], "padding_idx": -1},
    {"input": [1, 2, 3, 4, 1, 0, 6], "offsets": [0, 2, 4], "max_norm": 1.0},
    {"input": [], "offsets": [0, 0]},
]


def _bag_run(m: Any, options: dict, mode: str, weights: np.ndarray | None) -> list:
    options = dict(options)
    table = m.tensor(TABLE.copy(), requires_grad=True)
    bag = m.nn.EmbeddingBag.from_pretrained(
        table.detach().clone(),
        freeze=False,
        mode=mode,
        max_norm=options.pop("max_norm", None),
        include_last_offset=options.pop("include_last_offset", False),
        padding_idx=options.pop("padding_idx", None),
    )
    inputs = m.tensor(options["input"], dtype=m.int64)
    offsets = m.tensor(options["offsets"]) if "offsets" in options else None
    psw = None if weights is None else m.tensor(weights, requires_grad=True)
    out = bag(inputs, offsets, per_sample_weights=psw)
    upstream = np.arange(out.numel(), dtype=np.float64).reshape(tuple(out.shape)) * 0.1 + 0.3
    (out * m.tensor(upstream)).sum().backward()
    results = [out, bag.weight.grad, bag.weight]
    return [*results, psw.grad] if psw is not None else results


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("options", BAG_INPUTS, ids=range(len(BAG_INPUTS)))
def test_embedding_bag_matches_pytorch_with_the_same_table(options: dict, mode: str) -> None:
    for weighted in [False, True] if mode == "sum" else [False]:
        shape = np.shape(options["input"])
        weights = np.random.default_rng(2).standard_normal(shape) if weighted else None
        ours, theirs = _bag_run(cr, options, mode, weights), _bag_run(torch, options, mode, weights)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-12, atol=1e-14)


def test_embedding_bag_from_pretrained_is_frozen_and_shares_memory() -> None:
    table = cr.tensor(TABLE.copy())
    bag = cr.nn.EmbeddingBag.from_pretrained(table)
    assert not bag.weight.requires_grad
    table.data[0, 0] = 42.0
    assert bag.weight[0, 0].item() == 42.0
    out = bag(cr.tensor([[0, 1]]))
    np.testing.assert_allclose(to_numpy(out), (np.r_[42.0, TABLE[0, 1:]] + TABLE[1])[None] / 2)


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (
            lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 2]]), w, m.tensor([0])),
            ValueError,
        ),
        (lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2]), w), ValueError),
        (lambda m, w: m.nn.functional.embedding_bag(m.tensor([[[1]]]), w), ValueError),
        (
            lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), w, m.tensor([1])),
            RuntimeError,
        ),
        (
            lambda m, w: m.nn.functional.embedding_bag(
                m.tensor([1, 2]), w, m.tensor([0]), mode="median"
            ),
            ValueError,
        ),
        (
            lambda m, w: m.nn.functional.embedding_bag(
                m.tensor([1, 2]), w, m.tensor([0]), mode="max", per_sample_weights=m.ones(2)
            ),
            NotImplementedError,
        ),
        (
            lambda m, w: m.nn.functional.embedding_bag(
                m.tensor([1, 2]), w, m.tensor([0]), mode="sum", per_sample_weights=m.ones(3)
            ),
            ValueError,
        ),
        (
            lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 9]), w, m.tensor([0])),
            RuntimeError,
        ),
        (
            lambda m, w: m.nn.functional.embedding_bag(m.tensor([1.0, 2.0]), w, m.tensor([0])),
            RuntimeError,
        ),
    ],
)
def test_embedding_bag_errors_are_pytorchs(call: Any, kind: type) -> None:
    with pytest.raises(kind) as theirs:
        call(torch, torch.zeros(8, 3))
    with pytest.raises(kind) as ours:
        call(cr, cr.zeros(8, 3))
    if kind is not RuntimeError:
        message = str(ours.value).replace("chainrule.Size", "torch.Size")
        assert message.replace("chainrule.tensor.Tensor", "torch.Tensor") == str(theirs.value)
