"""chainrule.data.mnist1d against the mnist1d package's own make_dataset."""

from __future__ import annotations

import os
import random

import mnist1d.data as mnist1d_data
import numpy as np
import pytest
import requests

from chainrule.data.mnist1d import mnist1d


@pytest.fixture(scope="module")
def paper_default():
    return mnist1d()


def arrays(dataset) -> list[np.ndarray]:
    return [t.numpy() for t in dataset.tensors]


def test_shapes_and_dtypes(paper_default):
    train, test = paper_default
    (x, y), (x_test, y_test) = arrays(train), arrays(test)
    assert (len(train), len(test)) == (4000, 1000)
    assert x.shape == (4000, 40) and x_test.shape == (1000, 40)
    assert y.shape == (4000,) and y_test.shape == (1000,)
    assert x.dtype == np.float32 and x_test.dtype == np.float32
    assert y.dtype == np.int64 and y_test.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    sample_x, sample_y = train[3]
    assert sample_x.shape == (40,) and sample_y.item() == y[3]


def test_equals_a_direct_make_dataset_call(paper_default):
    train, test = paper_default
    direct = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
    for ours, key in zip(arrays(train) + arrays(test), ["x", "y", "x_test", "y_test"]):
        expected = direct[key]
        np.testing.assert_array_equal(ours, expected.astype(ours.dtype))


def test_deterministic_and_seeded():
    first, second = mnist1d(num_samples=300), mnist1d(num_samples=300)
    other_seed = mnist1d(num_samples=300, seed=7)
    for a, b in zip(first, second):
        for ours, again in zip(arrays(a), arrays(b)):
            np.testing.assert_array_equal(ours, again)
    assert not np.array_equal(arrays(first[0])[0], arrays(other_seed[0])[0])


def test_overrides_reach_make_dataset():
    train, test = mnist1d(num_samples=300, final_seq_length=24, seed=3)
    args = mnist1d_data.get_dataset_args()
    args.num_samples, args.final_seq_length, args.seed = 300, 24, 3
    direct = mnist1d_data.make_dataset(args)
    np.testing.assert_array_equal(arrays(train)[0], direct["x"].astype(np.float32))
    np.testing.assert_array_equal(arrays(test)[1], direct["y_test"])
    assert arrays(train)[0].shape == (240, 24)


def test_test_fraction_sets_the_split():
    train, test = mnist1d(test_fraction=0.5, num_samples=300)
    assert (len(train), len(test)) == (150, 150)
    with pytest.raises(ValueError, match=r"test_fraction must lie in \(0, 1\), got 1.5"):
        mnist1d(test_fraction=1.5)
    with pytest.raises(ValueError, match="not both"):
        mnist1d(test_fraction=0.5, train_split=0.5)


def test_unknown_argument_is_named():
    with pytest.raises(TypeError, match=r"unknown data argument\(s\) \['num_sample'\]"):
        mnist1d(num_sample=100)
    # The download address is no data argument: chainrule never downloads.
    with pytest.raises(TypeError, match=r"\['url'\]"):
        mnist1d(url="https://example.org/data.pkl")


def test_writes_no_file_and_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("mnist1d tried to download")

    monkeypatch.setattr(requests, "get", refuse)
    mnist1d(num_samples=200)
    assert os.listdir(tmp_path) == []


def test_leaves_the_global_generators_alone():
    np.random.seed(123)
    random.seed(123)
    numpy_next, python_next = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    mnist1d(num_samples=200)
    assert np.random.rand() == numpy_next
    assert random.random() == python_next
