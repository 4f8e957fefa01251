"""Embedding (and F.embedding, F.one_hot) against PyTorch and finite differences: lookups,
accumulated gradients of repeated indices, the padding row, max_norm, initialisation."""

from __future__ import annotations

import re
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


def twins(options: dict, dtype: str = "float64") -> tuple[cr.nn.Embedding, torch.nn.Embedding]:
    torch.manual_seed(0)
    reference = torch.nn.Embedding(10, 4, dtype=getattr(torch, dtype), **options)
    module = cr.nn.Embedding(10, 4, dtype=dtype, **options)
    module.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    return module, reference


OPTIONS = {
    "plain": {},
    "padding": {"padding_idx": 2},
    "negative-padding": {"padding_idx": -1},
    "freq": {"scale_grad_by_freq": True, "padding_idx": 0},
    "max-norm": {"max_norm": 1.5},
    "max-norm-l1": {"max_norm": 2.0, "norm_type": 1.0},
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("option", list(OPTIONS))
def test_lookup_and_gradient_match_torch(option: str, dtype: str) -> None:
    module, reference = twins(OPTIONS[option], dtype)
    assert repr(module) == repr(reference)
    # Repeated indices (2 three times, 9 twice) and every padding row in use.
    indices = np.array([[2, 5, 2, 9], [0, 2, 9, 3], [4, 4, 1, 0]])
    rng = np.random.default_rng(1)
    for _ in range(2):  # max_norm renormalises in place: the second pass sees the result
        out = module(cr.tensor(indices))
        expected = reference(torch.tensor(indices))
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-6, atol=1e-7)
        assert out.shape == (3, 4, 4) and out.dtype == np.dtype(dtype)
        upstream = rng.standard_normal(out.shape).astype(dtype)
        out.backward(cr.tensor(upstream))
        expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(
        to_numpy(module.weight.grad), to_numpy(reference.weight.grad), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        to_numpy(module.weight), to_numpy(reference.weight), rtol=1e-6, atol=1e-7
    )


def test_repeated_indices_accumulate_and_padding_gets_nothing() -> None:
    weight = cr.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    indices = cr.tensor([1, 3, 1, 1, 0])
    out = F.embedding(indices, weight, padding_idx=0)
    np.testing.assert_array_equal(to_numpy(out), np.arange(12.0).reshape(4, 3)[[1, 3, 1, 1, 0]])
    upstream = np.arange(15.0).reshape(5, 3)
    out.backward(cr.tensor(upstream))
    expected = np.zeros((4, 3))
    expected[1] = upstream[0] + upstream[2] + upstream[3]
    expected[3] = upstream[1]
    np.testing.assert_array_equal(to_numpy(weight.grad), expected)  # row 0: padding, none


def test_gradcheck() -> None:
    rng = np.random.default_rng(2)
    weight = cr.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    indices = cr.tensor([[0, 4, 4], [2, 0, 1]])
    assert cr.gradcheck(lambda w: F.embedding(indices, w), [weight])
    # padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer the
    # derivative): they are checked against torch above, not here.


def test_default_init_is_standard_normal_with_the_padding_row_zeroed() -> None:
    layer = cr.nn.Embedding(2000, 50, padding_idx=7)
    weight = to_numpy(layer.weight)
    assert weight.dtype == np.float32 and layer.weight.requires_grad
    np.testing.assert_array_equal(weight[7], np.zeros(50))
    rest = np.delete(weight, 7, axis=0)
    # 99 950 draws: mean and standard deviation good to about 0.01.
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    cr.manual_seed(4)
    first = to_numpy(cr.nn.Embedding(5, 2).weight)
    cr.manual_seed(4)
    np.testing.assert_array_equal(to_numpy(cr.nn.Embedding(5, 2).weight), first)


def test_from_pretrained_freezes_and_shares_memory() -> None:
    table = cr.tensor(np.arange(6.0).reshape(3, 2))
    frozen = cr.nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(to_numpy(frozen(cr.tensor([2]))), [[4.0, 5.0]])
    table.data[2, 0] = -1.0
    assert to_numpy(frozen.weight)[2, 0] == -1.0  # as torch: the same memory
    trainable = cr.nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    assert repr(trainable) == "Embedding(3, 2, padding_idx=1)"


def test_errors_are_clear() -> None:
    layer = cr.nn.Embedding(4, 2)
    with pytest.raises(ValueError, match=re.escape("Embedding(4, 2): expected integer")):
        layer(cr.tensor([1.0]))
    with pytest.raises(IndexError, match="index 4 is out of range for 4 embeddings"):
        layer(cr.tensor([1, 4]))
    with pytest.raises(IndexError, match="index -1"):
        layer(cr.tensor([-1]))
    with pytest.raises(ValueError, match="padding_idx 4 must be within num_embeddings"):
        cr.nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(ValueError, match="weight must be"):
        F.embedding(cr.tensor([0]), cr.ones(3))
    with pytest.raises(NotImplementedError, match="sparse"):
        cr.nn.Embedding(4, 2, sparse=True)


# ---- one_hot -----------------------------------------------------------------------------------


def test_one_hot_matches_torch() -> None:
    indices = np.array([[0, 3], [2, 2], [1, 0]])
    for classes in (-1, 6):
        out = F.one_hot(cr.tensor(indices), classes)
        expected = torch.nn.functional.one_hot(torch.tensor(indices), classes)
        np.testing.assert_array_equal(to_numpy(out), expected.numpy())
        assert out.dtype == cr.int64 and out.shape == tuple(expected.shape)
    assert F.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)), 3).shape == (0, 3)


def test_one_hot_errors() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(cr.tensor([1, -1]))
    with pytest.raises(ValueError, match="too large for num_classes=3"):
        F.one_hot(cr.tensor([3]), 3)
    with pytest.raises(ValueError, match="empty"):
        F.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)))
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(cr.tensor([0.0, 1.0]))
