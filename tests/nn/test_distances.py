"""cosine_similarity and pairwise_distance against PyTorch (values and both inputs' gradients,
broadcast shapes included) and finite differences."""

from __future__ import annotations

import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TF = torch.nn.functional
TOLERANCE = {"float32": (2e-5, 1e-6), "float64": (1e-11, 1e-13)}


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


def compare(name: str, shapes: tuple, options: dict, dtype: str) -> None:
    rng = rng_for(name, shapes, options, dtype)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = getattr(F, name)(*xs, **options), getattr(TF, name)(*ts, **options)
    what = f"{name} {shapes} {options} {dtype}"
    assert out.shape == tuple(expected.shape), what
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(
        to_numpy(out), to_numpy(expected), rtol=rtol, atol=atol, err_msg=what
    )
    upstream = rng.standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(
            to_numpy(x.grad), to_numpy(t.grad), rtol=rtol, atol=atol, err_msg=what
        )


COSINE = [
    (((4, 5), (4, 5)), {}),
    (((4, 5), (1, 5)), {"dim": -1}),
    (((3, 4, 2), (3, 4, 2)), {"dim": 1}),
    (((5,), (5,)), {"dim": 0}),
    (((2, 1, 3), (4, 3)), {"dim": 2, "eps": 1e-6}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("shapes", "options"), COSINE)
def test_cosine_similarity_matches_torch(shapes: tuple, options: dict, dtype: str) -> None:
    compare("cosine_similarity", shapes, options, dtype)


PAIRWISE = [
    (((4, 5), (4, 5)), {}),
    (((4, 5), (5,)), {"keepdim": True}),
    (((2, 3, 4), (2, 3, 4)), {"p": 1.0}),
    (((4, 5), (4, 5)), {"p": 3.0, "eps": 1e-3}),
    (((4, 5), (4, 5)), {"p": float("inf")}),
    (((5,), (5,)), {}),
    (((), ()), {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("shapes", "options"), PAIRWISE)
def test_pairwise_distance_matches_torch(shapes: tuple, options: dict, dtype: str) -> None:
    compare("pairwise_distance", shapes, options, dtype)


def test_distances_gradcheck_and_errors() -> None:
    rng = np.random.default_rng(0)
    a, b = (cr.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(2))
    assert cr.gradcheck(lambda x, y: F.cosine_similarity(x, y), [a, b])
    assert cr.gradcheck(lambda x, y: F.pairwise_distance(x, y, p=3.0), [a, b])
    # A zero vector: PyTorch's floor eps keeps the similarity 0 and finite.
    zero = F.cosine_similarity(cr.zeros(2, 3), cr.ones(2, 3))
    np.testing.assert_array_equal(to_numpy(zero), [0.0, 0.0])
    with pytest.raises(IndexError, match=re.escape("Dimension out of range")):
        F.cosine_similarity(cr.randn(4), cr.randn(4))  # dim=1 of a vector, as in PyTorch
    with pytest.raises(ValueError, match="do not broadcast"):
        F.pairwise_distance(cr.randn(3, 4), cr.randn(3, 5))
    with pytest.raises(TypeError, match=re.escape("cosine_similarity(): argument 'x2'")):
        F.cosine_similarity(cr.randn(3, 4), "rows")
