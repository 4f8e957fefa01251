"""Second (and third) derivatives through writes and placements that tests/op_cases.py does not
reach: ``x[index] = value``, in-place changes through views, the padding modes, and the
backward of indexing differentiated more than once.

Each case is compared with PyTorch's double backward in float64, and checked by gradgradcheck
(finite differences of the first derivative), as tests/test_second_order.py does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from test_second_order import second_derivatives


def _setitem_slices(m: Any, x: Any, y: Any) -> Any:
    z = x * 1.0
    z[1:3, [0, 2]] = y.sin()
    return z * x


def _setitem_mask(m: Any, x: Any, y: Any) -> Any:
    z = x * 1.0
    z[x > 0] = 2.0 * y.sum()
    return z * z


def _inplace_through_transposed_view(m: Any, x: Any, y: Any) -> Any:
    z = x * 2.0
    z.t()[1].mul_(y)
    return z * x


def _copy_into_reshaped_view(m: Any, x: Any, y: Any) -> Any:
    z = x * x
    z.reshape(-1)[2:5].copy_(y[:3] * y[:3])
    return z.sin()


def _index_fill_through_view(m: Any, x: Any, y: Any) -> Any:
    z = x * 1.0
    z[0].index_fill_(0, m.tensor([1, 3]), y[0])
    return z**2


def _pads(m: Any, x: Any, y: Any) -> Any:
    f = m.nn.functional
    image = x.reshape(1, 1, 3, 4)
    modes = ("reflect", "replicate", "circular")
    padded = [f.pad(image, (1, 2, 2, 1), mode=mode) for mode in modes]
    padded.append(f.pad(image, (1, -1, 0, 2), value=0.5))  # a negative width crops
    return m.cat([p.reshape(-1) for p in padded]) ** 2 * y.sum()


CASES = {
    "setitem_slices": (_setitem_slices, (3, 4), (2, 2)),
    "setitem_mask": (_setitem_mask, (3, 4), (5,)),
    "inplace_through_transposed_view": (_inplace_through_transposed_view, (3, 4), (3,)),
    "copy_into_reshaped_view": (_copy_into_reshaped_view, (3, 4), (4,)),
    "index_fill_through_view": (_index_fill_through_view, (3, 4), (2,)),
    "pads": (_pads, (3, 4), (2,)),
}


def _inputs(name: str) -> list:
    rng = np.random.default_rng(sum(map(ord, name)))
    return [rng.standard_normal(shape) for shape in CASES[name][1:]]


@pytest.mark.parametrize("name", CASES)
def test_second_derivatives_match_torch(name: str) -> None:
    fn, arrays = CASES[name][0], _inputs(name)
    ours = second_derivatives(cr, lambda *xs: fn(cr, *xs), arrays, 3)
    theirs = second_derivatives(torch, lambda *xs: fn(torch, *xs), arrays, 3)
    for i, (a, e) in enumerate(zip(ours, theirs)):
        assert np.abs(e).max() > 0, f"{name}: derivative {i} is identically 0, a weak check"
        np.testing.assert_allclose(a, e, rtol=1e-9, atol=1e-12, err_msg=f"{name}: {i}")


@pytest.mark.parametrize("name", CASES)
def test_gradgradcheck(name: str) -> None:
    fn = CASES[name][0]
    inputs = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in _inputs(name)]
    assert cr.autograd.gradgradcheck(lambda *xs: fn(cr, *xs), inputs) is True


def _third_derivative(m: Any, fn: Any, array: np.ndarray) -> np.ndarray:
    """∂/∂x of ⟨w₂, ∂/∂x ⟨w₁, ∂f/∂x⟩⟩: each backward of the chain differentiated again."""
    rng = np.random.default_rng(5)
    x = m.tensor(array, dtype=m.float64, requires_grad=True)
    (g1,) = m.autograd.grad(fn(m, x), x, create_graph=True)
    w1 = m.tensor(rng.standard_normal(array.shape), dtype=m.float64)
    (g2,) = m.autograd.grad((g1 * w1).sum(), x, create_graph=True)
    w2 = m.tensor(rng.standard_normal(array.shape), dtype=m.float64)
    (g3,) = m.autograd.grad((g2 * w2).sum(), x)
    return g3.detach().numpy()


def _indexed_powers(m: Any, x: Any) -> Any:
    # repeated positions (an accumulating placement), a slice, a diagonal and a gather
    picked = x[[0, 0, 2], 1:] ** 4
    gathered = m.gather(x, 1, m.tensor([[3, 3], [0, 1], [2, 0]])) ** 3
    return picked.sum() + (x.diagonal(1) ** 4).sum() + gathered.sum()


def test_third_derivative_of_indexing_matches_torch() -> None:
    array = np.random.default_rng(2).standard_normal((3, 4))
    ours = _third_derivative(cr, _indexed_powers, array)
    theirs = _third_derivative(torch, _indexed_powers, array)
    assert np.abs(theirs).max() > 0
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
