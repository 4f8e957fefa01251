"""random_split against torch.utils.data.random_split, and the stratified train/test split."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch.utils.data as tud

import chainrule as cr
from chainrule.data import Subset, TensorDataset, random_split
from chainrule.data.split import train_test_indices


@pytest.mark.parametrize(
    ("n", "lengths"),
    [
        (10, [3, 7]),
        (10, [0.5, 0.5]),
        (7, [0.5, 0.5]),
        (10, [0.33, 0.33, 0.34]),
        (101, [0.8, 0.1, 0.1]),
        (5, [0.1, 0.9]),
        (3, [1.0, 0.0]),
    ],
)
def test_sizes_equal_torchs_and_the_parts_cover_the_data_once(n: int, lengths: list) -> None:
    data = list(range(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both libraries warn about empty parts alike
        parts = random_split(data, lengths, seed=0)
        expected = tud.random_split(data, lengths)
    assert [len(p) for p in parts] == [len(p) for p in expected]
    assert all(isinstance(p, Subset) and p.dataset is data for p in parts)
    assert all(isinstance(p.indices, list) for p in parts)
    ids = [p[i] for p in parts for i in range(len(p))]
    assert sorted(ids) == data


def test_an_empty_part_warns_like_torch() -> None:
    with pytest.warns(UserWarning, match="empty"):
        random_split(list(range(3)), [1.0, 0.0], seed=0)


def test_the_parts_are_random_and_fixed_by_the_seed() -> None:
    data = TensorDataset(cr.arange(40))
    first = [p.indices for p in random_split(data, [30, 10], seed=3)]
    again = [p.indices for p in random_split(data, [30, 10], seed=3)]
    other = [p.indices for p in random_split(data, [30, 10], seed=4)]
    assert first == again
    assert first != other
    assert first[0] != list(range(30))


def test_without_a_seed_manual_seed_fixes_the_parts() -> None:
    data = list(range(40))
    cr.manual_seed(8)
    first = [p.indices for p in random_split(data, [0.75, 0.25])]
    cr.manual_seed(8)
    again = [p.indices for p in random_split(data, [0.75, 0.25])]
    second_draw = [p.indices for p in random_split(data, [0.75, 0.25])]
    assert first == again
    assert first != second_draw


@pytest.mark.parametrize(
    ("lengths", "message"),
    [
        ([3, 3], r"lengths \[3, 3\] add up to 6, but the data set has 10 samples"),
        ([0.5, 0.6], r"fractions must add up to 1"),
        ([0.5, 0.5, 2], r"fractions must add up to 1"),
        ([5, -5, 10], r"lengths must be non-negative counts or fractions"),
        (["5", 5], r"lengths must be non-negative counts or fractions"),
        ([], r"lengths must not be empty"),
    ],
)
def test_bad_lengths(lengths: list, message: str) -> None:
    with pytest.raises(ValueError, match=f"random_split: {message}"):
        random_split(list(range(10)), lengths, seed=0)


# ---- the train/test split of the built-in data sets --------------------------------------------


@pytest.mark.parametrize(("n", "fraction"), [(100, 0.2), (101, 0.2), (10, 0.25), (9, 0.0)])
def test_test_part_is_scikit_learns_count_and_the_parts_are_disjoint(
    n: int, fraction: float
) -> None:
    train, test = train_test_indices(n, fraction, seed=0)
    assert len(test) == math.ceil(fraction * n)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(n))


def test_stratified_split_keeps_each_class_share() -> None:
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    train, test = train_test_indices(100, 0.2, seed=1, labels=labels)
    assert np.bincount(labels[test]).tolist() == [10, 6, 4]
    assert np.bincount(labels[train]).tolist() == [40, 24, 16]
    # Uneven shares: the total is still the ceiling and each class within one of its share.
    labels = np.repeat([0, 1, 2], [7, 7, 7])
    train, test = train_test_indices(21, 0.3, seed=1, labels=labels)
    assert len(test) == 7
    assert all(abs(c - 7 * 0.3) < 1 for c in np.bincount(labels[test]))


def test_the_split_is_shuffled_and_fixed_by_the_seed() -> None:
    labels = np.repeat([0, 1], 20)
    train, test = train_test_indices(40, 0.25, seed=5, labels=labels)
    again = train_test_indices(40, 0.25, seed=5, labels=labels)
    other = train_test_indices(40, 0.25, seed=6, labels=labels)
    assert train.tolist() == again[0].tolist() and test.tolist() == again[1].tolist()
    assert test.tolist() != other[1].tolist()
    assert train.tolist() != sorted(train.tolist())


@pytest.mark.parametrize(
    ("n", "fraction", "error", "message"),
    [
        (10, 1.0, ValueError, r"must lie in \[0, 1\), got 1.0"),
        (10, -0.1, ValueError, r"must lie in \[0, 1\)"),
        (1, 0.5, ValueError, r"leaves none for training"),
        (10, "0.2", TypeError, r"must be a number"),
    ],
)
def test_bad_test_fractions(n: int, fraction: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=f"spirals: test_fraction.*{message}"):
        train_test_indices(n, fraction, seed=0, where="spirals")
