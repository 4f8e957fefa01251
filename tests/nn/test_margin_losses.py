"""The margin losses (margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss and their
modules) against PyTorch (loss and every input's gradient), finite differences, and PyTorch's
errors."""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

REDUCTIONS = ["mean", "sum", "none"]
FLOATS = ["float32", "float64"]
TOLERANCE = {"float32": (2e-5, 1e-6), "float64": (1e-10, 1e-12)}
TF = torch.nn.functional


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


def compare(name: str, arrays: list, labels: np.ndarray, options: dict, dtype: str) -> None:
    """F.<name>(*arrays, labels, **options) in both libraries: the loss and the gradients of
    the arrays (with a random upstream gradient)."""
    xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = getattr(F, name)(*xs, cr.tensor(labels), **options)
    expected = getattr(TF, name)(*ts, torch.tensor(labels), **options)
    rtol, atol = TOLERANCE[dtype]
    what = f"{name} {options} {dtype}"
    assert out.shape == tuple(expected.shape), what
    assert out.dtype.name == str(expected.dtype).removeprefix("torch."), what  # promotion
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=rtol, atol=atol)
    upstream = rng_for(what).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for i, (x, t) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(
            to_numpy(x.grad), to_numpy(t.grad), rtol=rtol, atol=atol, err_msg=f"{what}: input {i}"
        )


def signs(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.choice([-1.0, 1.0], shape)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_matches_torch(reduction: str, margin: float, dtype: str) -> None:
    rng = rng_for("ranking", reduction, margin, dtype)
    x1, x2 = rng.standard_normal(8), rng.standard_normal(8)
    options = {"margin": margin, "reduction": reduction}
    compare("margin_ranking_loss", [x1, x2], signs(rng, (8,)), options, dtype)
    # Integer labels, 2-D inputs that broadcast, and a hinge met exactly (x1 − x2 = margin).
    a, b = rng.standard_normal((3, 1)), rng.standard_normal((1, 4))
    compare("margin_ranking_loss", [a, b], np.ones((3, 4), dtype=np.int64), options, dtype)
    tie = np.array([1.0, 2.0, 0.0])
    compare("margin_ranking_loss", [tie + margin, tie], -np.ones(3), options, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("margin", [1.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_embedding_matches_torch(reduction: str, margin: float, dtype: str) -> None:
    rng = rng_for("hinge", reduction, margin, dtype)
    distances = np.abs(rng.standard_normal((4, 5)))
    options = {"margin": margin, "reduction": reduction}
    compare("hinge_embedding_loss", [distances], signs(rng, (4, 5)), options, dtype)
    # Labels that broadcast, and labels other than ±1 (both terms count, as in PyTorch).
    compare("hinge_embedding_loss", [distances], signs(rng, (5,)), options, dtype)
    compare("hinge_embedding_loss", [distances], rng.integers(-2, 3, (4, 5)), options, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("margin", [0.0, -0.3, 0.4])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_matches_torch(reduction: str, margin: float, dtype: str) -> None:
    rng = rng_for("cosine", reduction, margin, dtype)
    x1, x2 = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    options = {"margin": margin, "reduction": reduction}
    compare("cosine_embedding_loss", [x1, x2], signs(rng, (6,)).astype(np.int64), options, dtype)
    vectors = [rng.standard_normal(5), rng.standard_normal(5)]
    compare("cosine_embedding_loss", vectors, np.array(-1.0), options, dtype)
    zero = [np.zeros((2, 5)), rng.standard_normal((2, 5))]  # a zero vector: similarity 0
    compare("cosine_embedding_loss", zero, np.array([1.0, -1.0]), options, dtype)


def test_margin_losses_gradcheck() -> None:
    rng = np.random.default_rng(0)

    def leaf(*shape: int) -> cr.Tensor:
        return cr.tensor(rng.standard_normal(shape), requires_grad=True)

    y = cr.tensor(np.array([1.0, -1.0, 1.0, -1.0]))
    # Away from the hinges: margins the inputs do not reach within the finite-difference step.
    assert cr.gradcheck(
        lambda a, b: F.margin_ranking_loss(a, b, y, margin=0.05), [leaf(4), leaf(4)]
    )
    distances = cr.tensor(np.array([0.2, 0.7, 1.6, 2.4]), requires_grad=True)
    assert cr.gradcheck(lambda d: F.hinge_embedding_loss(d, y, margin=1.3), [distances])
    assert cr.gradcheck(
        lambda a, b: F.cosine_embedding_loss(a, b, y, -2.0), [leaf(4, 3), leaf(4, 3)]
    )


def test_margin_loss_modules_match_torch() -> None:
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = signs(rng, (4,))
    cases = [
        ("MarginRankingLoss", (), {"margin": 0.2}, (x1[:, 0], x2[:, 0], y)),
        ("MarginRankingLoss", (0.1, None, None, "sum"), {}, (x1[:, 0], x2[:, 0], y)),
        ("HingeEmbeddingLoss", (), {}, (np.abs(x1), signs(rng, (4, 3)))),
        ("HingeEmbeddingLoss", (0.5,), {"reduction": "none"}, (np.abs(x1), signs(rng, (4, 3)))),
        ("CosineEmbeddingLoss", (), {}, (x1, x2, y)),
        ("CosineEmbeddingLoss", (0.3,), {"reduction": "none"}, (x1, x2, y)),
    ]
    for name, args, kwargs, inputs in cases:
        ours, theirs = (
            getattr(cr.nn, name)(*args, **kwargs),
            getattr(torch.nn, name)(*args, **kwargs),
        )
        assert repr(ours) == repr(theirs)
        assert (ours.margin, ours.reduction) == (theirs.margin, theirs.reduction)
        out = ours(*(cr.tensor(a) for a in inputs))
        expected = theirs(*(torch.tensor(a) for a in inputs))
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12, err_msg=name)


def test_margin_losses_refuse_what_torch_refuses() -> None:
    x = cr.randn(3)
    with pytest.raises(ValueError, match="All input tensors should have same dimension"):
        F.margin_ranking_loss(x, x, cr.ones(3, 1))
    with pytest.raises(ValueError, match=re.escape("1D target tensor expects 2D input tensors")):
        F.cosine_embedding_loss(cr.randn(4), cr.randn(4), cr.tensor([1]))
    with pytest.raises(ValueError, match=re.escape("0D target tensor expects 1D input tensors")):
        F.cosine_embedding_loss(cr.randn(3, 4), cr.randn(3, 4), cr.tensor(1))
    with pytest.raises(ValueError, match="0D or 1D target tensor expected"):
        F.cosine_embedding_loss(cr.randn(2, 3, 4), cr.randn(2, 3, 4), cr.ones(2, 3))
    with pytest.raises(ValueError, match="do not match"):
        F.cosine_embedding_loss(cr.randn(3, 4), cr.randn(3, 5), cr.ones(3))
    with pytest.raises(ValueError, match="do not broadcast"):
        F.hinge_embedding_loss(cr.randn(3, 4), cr.ones(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.margin_ranking_loss(x, x, cr.ones(3), reduction="average")
    with pytest.raises(TypeError, match=re.escape("margin_ranking_loss(): argument 'input2'")):
        F.margin_ranking_loss(x, "x", cr.ones(3))
    with pytest.raises(TypeError, match=re.escape("hinge_embedding_loss(): argument 'target'")):
        F.hinge_embedding_loss(x, object())
