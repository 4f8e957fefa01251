"""digits(): scikit-learn's 8×8 digits, scaled and split."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from chainrule.data import digits


def test_the_images_are_scikit_learns_scaled_to_the_unit_interval() -> None:
    train, test = digits()
    (x_train, y_train), (x_test, y_test) = (
        [t.numpy() for t in train.tensors],
        [t.numpy() for t in test.tensors],
    )
    reference = load_digits()
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.shape[1] == x_test.shape[1] == 64 and y_train.ndim == 1
    assert len(test) == math.ceil(0.2 * 1797) and len(train) + len(test) == 1797
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    # The two parts together are the data set, row for row (order aside).
    ours = np.concatenate(
        [np.concatenate([x_train, x_test]) * 16, np.c_[np.r_[y_train, y_test]]], 1
    )
    theirs = np.c_[reference.data, reference.target]
    np.testing.assert_array_equal(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)])


def test_the_split_is_stratified_and_fixed_by_the_seed() -> None:
    train, test = digits(test_fraction=0.25, seed=3)
    counts = np.bincount(load_digits().target)
    test_counts = np.bincount(test.tensors[1].numpy(), minlength=10)
    assert np.all(np.abs(test_counts - 0.25 * counts) < 1)
    np.testing.assert_array_equal(np.bincount(train.tensors[1].numpy()), counts - test_counts)
    again = digits(test_fraction=0.25, seed=3)[1].tensors[0].numpy()
    other = digits(test_fraction=0.25, seed=4)[1].tensors[0].numpy()
    np.testing.assert_array_equal(test.tensors[0].numpy(), again)
    assert not np.array_equal(test.tensors[0].numpy(), other)


def test_a_classifier_learns_them() -> None:
    train, test = digits()
    model = KNeighborsClassifier(3).fit(*(t.numpy() for t in train.tensors))
    assert model.score(*(t.numpy() for t in test.tensors)) > 0.95


def test_without_scikit_learn_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"chainrule.data.digits needs .*chainrule\[sklearn\]"):
        digits()


def test_a_bad_test_fraction_names_digits() -> None:
    with pytest.raises(ValueError, match=r"digits: test_fraction must lie in \[0, 1\)"):
        digits(test_fraction=1.0)
