"""The synthetic data sets: shapes, dtypes, determinism, and the geometry each one promises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from chainrule.data import TensorDataset, linear, moons, spirals, xor


def arrays(data: TensorDataset) -> list[np.ndarray]:
    return [t.numpy() for t in data.tensors]


def test_xor_is_the_seed_articles_truth_table() -> None:
    x, y = arrays(xor())
    assert x.shape == (4, 2) and x.dtype == np.float32
    assert y.shape == (4, 1) and y.dtype == np.float32
    assert sorted(map(tuple, x.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    np.testing.assert_array_equal(y[:, 0], np.logical_xor(x[:, 0], x[:, 1]))


def test_linear_defaults_are_the_articles_data() -> None:
    x, y = arrays(linear())
    assert x.shape == y.shape == (100, 1)
    assert x.dtype == y.dtype == np.float32
    assert x.min() >= 0 and x.max() < 1
    noise = y - 3 * x  # the article: y = 3 X + rand(100, 1), noise uniform on [0, 1)
    assert noise.min() >= -1e-6 and noise.max() < 1 + 1e-6
    assert noise.std() > 0.2


def test_linear_is_the_line_plus_uncentred_noise() -> None:
    x, y = arrays(linear(n=4000, w=-2.0, b=5.0, noise=0.5, seed=3))
    residual = y - (-2.0 * x + 5.0)
    assert residual.min() >= -1e-5 and residual.max() <= 0.5 + 1e-5
    slope, intercept = np.polyfit(x[:, 0].astype(np.float64), y[:, 0], 1)
    assert abs(slope - -2.0) < 0.03
    assert abs(intercept - (5.0 + 0.25)) < 0.02  # b + noise/2, as documented
    exact = arrays(linear(n=10, w=2.0, b=1.0, noise=0.0))
    np.testing.assert_allclose(exact[1], 2 * exact[0] + 1, rtol=1e-6)


def test_linear_is_fixed_by_its_seed() -> None:
    first, again, other = linear(seed=1), linear(seed=1), linear(seed=2)
    for a, b in zip(arrays(first), arrays(again)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(arrays(first)[0], arrays(other)[0])


def classification_arrays(pair: tuple[TensorDataset, TensorDataset]) -> tuple[np.ndarray, ...]:
    (x_train, y_train), (x_test, y_test) = arrays(pair[0]), arrays(pair[1])
    return x_train, y_train, x_test, y_test


GENERATORS: dict[str, Callable[..., Any]] = {"spirals": spirals, "moons": moons}


@pytest.mark.parametrize("name", GENERATORS)
def test_shapes_dtypes_and_a_disjoint_stratified_split(name: str) -> None:
    make = GENERATORS[name]
    x_train, y_train, x_test, y_test = classification_arrays(make(n=300, test_fraction=0.2))
    assert x_train.shape == (240, 2) and x_test.shape == (60, 2)
    assert y_train.shape == (240,) and y_test.shape == (60,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    classes = 3 if name == "spirals" else 2
    assert np.bincount(y_train).tolist() == [240 // classes] * classes
    assert np.bincount(y_test).tolist() == [60 // classes] * classes
    rows = {tuple(r) for r in np.concatenate([x_train, x_test]).tolist()}
    assert len(rows) == 300  # every point once: no point in both parts


@pytest.mark.parametrize("name", GENERATORS)
def test_fixed_by_the_seed(name: str) -> None:
    make = GENERATORS[name]
    first = classification_arrays(make(seed=4))
    again = classification_arrays(make(seed=4))
    other = classification_arrays(make(seed=5))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("name", GENERATORS)
def test_separable_by_neighbours_but_not_by_a_line(name: str) -> None:
    x_train, y_train, x_test, y_test = classification_arrays(GENERATORS[name]())
    neighbours = KNeighborsClassifier(5).fit(x_train, y_train).score(x_test, y_test)
    line = LogisticRegression().fit(x_train, y_train).score(x_test, y_test)
    assert neighbours > 0.95
    assert line < 0.92
    assert line < neighbours - 0.05


def test_spirals_of_any_number_of_classes_fill_the_unit_disc() -> None:
    x_train, y_train, x_test, y_test = classification_arrays(spirals(n=250, classes=5))
    labels = np.concatenate([y_train, y_test])
    assert np.bincount(labels).tolist() == [50] * 5
    assert np.linalg.norm(np.concatenate([x_train, x_test]), axis=1).max() <= 1 + 1e-6
    # An uneven n: the arms differ by at most one point.
    counts = np.bincount(np.concatenate(classification_arrays(spirals(n=301))[1::2]))
    assert sorted(counts.tolist()) == [100, 100, 101]


def test_noiseless_moons_lie_on_their_half_circles() -> None:
    x_train, y_train, x_test, y_test = classification_arrays(moons(n=101, noise=0.0))
    x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    upper, lower = x[y == 0], x[y == 1]
    assert len(upper) == 50 and len(lower) == 51
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert lower[:, 1].max() <= 0.5 + 1e-6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: linear(n=0), r"linear: n must be an int of at least 1, got 0"),
        (lambda: linear(noise=-1.0), r"linear: noise must be a non-negative number"),
        (lambda: linear(seed=-2), r"linear: seed must be a non-negative int"),
        (lambda: spirals(classes=1), r"spirals: classes must be an int of at least 2"),
        (lambda: spirals(n=5, classes=3), r"spirals: n must be an int of at least 6, got 5"),
        (lambda: spirals(noise=float("nan")), r"spirals: noise must be a non-negative"),
        (lambda: moons(n=2.5), r"moons: n must be an int of at least 4, got 2.5"),
        (lambda: moons(test_fraction=1.5), r"moons: test_fraction must lie in \[0, 1\)"),
    ],
)
def test_bad_arguments(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
