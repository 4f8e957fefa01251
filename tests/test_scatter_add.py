"""backend.scatter_add: whole rows picked by a vector of indices go through a 1-D add.at over
the flattened target; the sums must be NumPy's 2-D add.at's bit for bit, and every case the
fast path does not take must still work (and fail) as add.at does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend


def _reference(target: np.ndarray, index, values) -> np.ndarray:
    expected = target.copy()
    np.add.at(expected, index, values)
    return expected


@pytest.mark.parametrize(
    "shape, picks",
    [((1000, 128), 1600), ((10, 16), 500), ((7, 3, 4), 40), ((50, 2), 1), ((4, 1), 9)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_by_a_vector_of_indices_sum_as_add_at_bit_for_bit(shape, picks, dtype) -> None:
    rng = np.random.default_rng(picks)
    target = rng.standard_normal(shape).astype(dtype)
    index = rng.integers(0, shape[0], picks)  # many repeats: they must all accumulate
    values = (rng.standard_normal((picks, *shape[1:])) * 1e3).astype(dtype)
    expected = _reference(target, index, values)
    backend.scatter_add(target, index, values)
    np.testing.assert_array_equal(target, expected)


def test_cases_outside_the_fast_path_are_add_at() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 5))
    cases = [
        (base.copy(), np.array([-1, 0, -1]), rng.standard_normal((3, 5))),  # negative indices
        (np.asfortranarray(base), np.array([1, 1, 2]), rng.standard_normal((3, 5))),  # layout
        (base.copy(), np.array([1, 1, 2]), rng.standard_normal(5)),  # values broadcast
        (base.copy(), (np.array([0, 0]), np.array([1, 1])), np.array([2.0, 3.0])),  # 2 axes
        (base.copy(), np.array([], dtype=np.int64), np.zeros((0, 5))),  # nothing picked
    ]
    for target, index, values in cases:
        expected = _reference(target, index, values)
        backend.scatter_add(target, index, values)
        np.testing.assert_array_equal(target, expected)
    with pytest.raises(IndexError):
        backend.scatter_add(base.copy(), np.array([0, 6]), np.ones((2, 5)))


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_gradient_matches_pytorch(padding_idx) -> None:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((40, 16)).astype(np.float32)
    indices = rng.integers(0, 40, (8, 30))
    upstream = rng.standard_normal((8, 30, 16)).astype(np.float32)
    ours = cr.tensor(weight, requires_grad=True)
    theirs = torch.tensor(weight, requires_grad=True)
    cr.nn.functional.embedding(cr.tensor(indices), ours, padding_idx=padding_idx).backward(
        cr.tensor(upstream)
    )
    torch.nn.functional.embedding(torch.tensor(indices), theirs, padding_idx=padding_idx).backward(
        torch.tensor(upstream)
    )
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_row_indexing_gradient_matches_pytorch() -> None:
    """x[indices] with repeated rows: the general indexing backward takes the same path."""
    rng = np.random.default_rng(2)
    values = rng.standard_normal((12, 3, 4))
    indices = rng.integers(0, 12, 50)
    upstream = rng.standard_normal((50, 3, 4))
    ours = cr.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    ours[cr.tensor(indices)].backward(cr.tensor(upstream))
    theirs[torch.tensor(indices)].backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
