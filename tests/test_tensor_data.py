"""``Tensor.data`` as PyTorch has it: a detached tensor on the same memory; ``detach_``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def test_data_is_a_detached_tensor_on_the_same_memory() -> None:
    p = cr.ones(3, requires_grad=True)
    d = p.data
    assert isinstance(d, cr.Tensor) and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.array, p.array)
    assert isinstance(p.array, np.ndarray)


def test_manual_sgd_through_data_matches_torch() -> None:
    """The idioms of pre-optimizer tutorials: p.data.add_, p.grad.data.zero_, p.data -= ..."""
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((3, 2)), rng.standard_normal((5, 3))
    results = []
    for m in (torch, cr):
        w = m.tensor(w0, requires_grad=True)
        x = m.tensor(x0)
        for _ in range(3):
            loss = (x @ w).pow(2).mean()
            loss.backward()
            w.data.add_(w.grad.data, alpha=-0.1)
            w.grad.data.zero_()
        w.data -= 0.01 * w.data
        results.append(w.detach().numpy().copy())
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12)


def test_assigning_data_replaces_the_values_and_keeps_the_leaf() -> None:
    for m in (torch, cr):
        p = m.zeros(2, 2, requires_grad=True)
        p.data = m.ones(3)
        assert p.requires_grad and p.is_leaf and tuple(p.shape) == (3,)
        assert p.detach().numpy().tolist() == [1.0, 1.0, 1.0]


def test_assigning_something_else_than_a_tensor_to_data_is_refused() -> None:
    p = cr.zeros(2)
    with pytest.raises(TypeError, match="data: assigned data must be a Tensor, got list"):
        p.data = [1.0, 2.0]


def test_data_normal_and_copy_fill_the_parameter() -> None:
    p = cr.zeros(4, requires_grad=True)
    p.data.copy_(cr.arange(4.0))
    assert p.detach().numpy().tolist() == [0.0, 1.0, 2.0, 3.0]
    p.data.fill_(2.0)
    assert p.detach().numpy().tolist() == [2.0] * 4


def test_detach_in_place_makes_a_leaf_as_torch() -> None:
    for m in (torch, cr):
        x = m.ones(2, requires_grad=True)
        y = x * 2
        assert y.detach_() is y
        assert y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_new_methods_take_the_dtype_of_the_tensor_as_torch() -> None:
    for m in (torch, cr):
        base = m.zeros(2, dtype=m.float64)
        assert base.new_zeros(2, 3).dtype == m.float64 and tuple(base.new_zeros(2, 3).shape) == (
            2,
            3,
        )
        assert base.new_ones((4,)).detach().numpy().tolist() == [1.0] * 4
        assert base.new_full((2,), 7).dtype == m.float64
        assert base.new_full((2,), 7).detach().numpy().tolist() == [7.0, 7.0]
        assert base.new_tensor([1, 2]).dtype == m.float64
        assert base.new_empty(3).shape == (3,)
        assert base.new_zeros(2, dtype=m.int64).dtype == m.int64
        assert base.new_zeros(2, requires_grad=True).requires_grad
