"""Dataset, TensorDataset, Subset and ConcatDataset against torch.utils.data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
from chainrule.data import ConcatDataset, Dataset, Subset, TensorDataset, default_collate


def as_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_same_sample(ours: tuple, theirs: tuple) -> None:
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    for a, e in zip(ours, theirs):
        assert isinstance(a, cr.Tensor)
        assert a.shape == tuple(e.shape) and as_numpy(a).dtype == as_numpy(e).dtype
        np.testing.assert_array_equal(as_numpy(a), as_numpy(e))


def arrays(n: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=n)
    w = rng.normal(size=n)  # float64 stays float64
    return x, y, w


def test_tensor_dataset_items_equal_torchs() -> None:
    x, y, w = arrays()
    ours = TensorDataset(cr.tensor(x), cr.tensor(y), cr.tensor(w))
    theirs = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w))
    assert len(ours) == len(theirs) == 6
    assert len(ours.tensors) == 3
    for i in [0, 3, 5, -1, -6]:
        assert_same_sample(ours[i], theirs[i])
    assert_same_sample(ours[1:4], theirs[1:4])
    assert_same_sample(ours[[4, 0, 4]], theirs[[4, 0, 4]])


def test_get_batch_equals_collating_the_samples() -> None:
    x, y, w = arrays()
    ours = TensorDataset(cr.tensor(x), cr.tensor(y), cr.tensor(w))
    indices = np.array([5, 2, 2, 0])
    batch = ours.get_batch(indices)
    collated = default_collate([ours[int(i)] for i in indices])
    assert isinstance(batch, list) and len(batch) == 3
    for a, e in zip(batch, collated):
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_array_equal(as_numpy(a), as_numpy(e))


def test_numpy_arrays_are_wrapped_without_a_copy() -> None:
    x, y, _ = arrays()
    data = TensorDataset(x, y)
    assert all(isinstance(t, cr.Tensor) for t in data.tensors)
    assert np.shares_memory(data.tensors[0].data, x)
    assert data.tensors[1].dtype == np.int64


def test_tensors_of_different_lengths_are_refused_naming_the_sizes() -> None:
    with pytest.raises(ValueError, match=r"TensorDataset: .*dimension 0.*\[5, 4\]") as error:
        TensorDataset(cr.zeros(5, 2), cr.zeros(4))
    assert "(5, 2)" in str(error.value) and "(4,)" in str(error.value)
    with pytest.raises(ValueError, match="TensorDataset: argument 1 is 0-dimensional"):
        TensorDataset(cr.zeros(3), cr.tensor(1.0))
    with pytest.raises(TypeError, match=r"TensorDataset: argument 0 .*list"):
        TensorDataset([1, 2, 3])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_an_empty_tensor_dataset_has_length_zero() -> None:
    assert len(TensorDataset(cr.zeros(0, 3), cr.zeros(0))) == len(
        tud.TensorDataset(torch.zeros(0, 3), torch.zeros(0))
    )


def test_subset_equals_torchs() -> None:
    x, y, _ = arrays()
    base = TensorDataset(cr.tensor(x), cr.tensor(y))
    reference = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    indices = [4, 1, 1, 5]
    ours, theirs = Subset(base, indices), tud.Subset(reference, indices)
    assert ours.dataset is base and ours.indices is indices
    assert len(ours) == len(theirs) == 4
    for i in range(-4, 4):
        assert_same_sample(ours[i], theirs[i])
    assert_same_sample(ours[[0, 3]], theirs[[0, 3]])


def test_concat_dataset_equals_torchs() -> None:
    parts = [np.arange(3), np.arange(10, 12), np.arange(20, 24)]
    ours = ConcatDataset([TensorDataset(cr.tensor(p)) for p in parts])
    theirs = tud.ConcatDataset([tud.TensorDataset(torch.from_numpy(p)) for p in parts])
    assert len(ours) == len(theirs) == 9
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-9, 9):
        assert_same_sample(ours[i], theirs[i])
    for bad in (9, -10):
        with pytest.raises(IndexError, match=f"ConcatDataset: index {bad} is out of range"):
            ours[bad]
    with pytest.raises(ValueError, match="ConcatDataset: expected at least one"):
        ConcatDataset([])


def test_adding_datasets_concatenates_them() -> None:
    a, b = TensorDataset(cr.arange(2)), TensorDataset(cr.arange(5, 8))
    both = a + b
    assert isinstance(both, ConcatDataset)
    assert [int(both[i][0].item()) for i in range(len(both))] == [0, 1, 5, 6, 7]


def test_the_base_class_asks_for_getitem_and_len() -> None:
    class Incomplete(Dataset):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete must define __getitem__"):
        Incomplete()[0]
    with pytest.raises(NotImplementedError, match="Incomplete must define __len__"):
        len(Incomplete())


def test_a_data_set_without_a_length_still_iterates_as_in_pytorch() -> None:
    """list() asks for a length hint: the base class's missing __len__ is a TypeError (as
    len() of an object without one, and of PyTorch's Dataset), which a hint passes over."""

    class Stream(cr.data.IterableDataset):
        def __iter__(self):
            return iter([3, 1, 2])

    class Indexed(Dataset):
        def __getitem__(self, i: int) -> int:
            if i >= 3:
                raise IndexError(i)
            return 10 * i

    assert list(Stream()) == [3, 1, 2]
    assert list(Indexed()) == [0, 10, 20]
    with pytest.raises(TypeError, match="Stream must define __len__"):
        len(Stream())
