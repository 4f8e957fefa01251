"""DataLoader and default_collate against torch.utils.data on the same data."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset, default_collate

N = 11


def as_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_same_batch(ours: Any, theirs: Any, what: str) -> None:
    """Same structure, same container types, and tensors of equal shape, dtype and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor), f"{what}: {type(ours).__name__}, torch a Tensor"
        a, e = as_numpy(ours), as_numpy(theirs)
        assert a.shape == e.shape and a.dtype == e.dtype, f"{what}: {a.dtype}{a.shape} vs {e}"
        np.testing.assert_array_equal(a, e, err_msg=what)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys(), what
        for key in theirs:
            assert_same_batch(ours[key], theirs[key], f"{what}[{key!r}]")
    elif isinstance(theirs, (list, tuple)) and not isinstance(theirs[0], str):
        assert type(ours) is type(theirs), f"{what}: {type(ours)} vs torch {type(theirs)}"
        assert len(ours) == len(theirs), what
        for i, (a, e) in enumerate(zip(ours, theirs)):
            assert_same_batch(a, e, f"{what}[{i}]")
    else:
        assert type(ours) is type(theirs), f"{what}: {type(ours)} vs torch {type(theirs)}"
        assert ours == theirs, f"{what}: {ours} vs torch {theirs}"


def features_and_labels(n: int = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=(n, 3)).astype(np.float32), np.arange(n, dtype=np.int64)


def both_tensor_datasets(n: int = N) -> tuple[TensorDataset, tud.TensorDataset]:
    x, y = features_and_labels(n)
    ours = TensorDataset(cr.tensor(x), cr.tensor(y))
    theirs = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return ours, theirs


def epoch_labels(loader: DataLoader) -> np.ndarray:
    """The sample ids (the y column) in the order one epoch serves them."""
    return np.concatenate([as_numpy(y) for _, y in loader])


# ---- batching, against torch -----------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3, 4, N, N + 5])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_batches_equal_torchs(batch_size: int, drop_last: bool) -> None:
    ours, theirs = both_tensor_datasets()
    if drop_last and batch_size > N:
        with pytest.raises(ValueError, match="drop_last"):
            DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
        return
    loader = DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
    reference = tud.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(reference)
    batches, expected = list(loader), list(reference)
    assert len(batches) == len(expected)
    for k, (batch, want) in enumerate(zip(batches, expected)):
        assert_same_batch(batch, want, f"batch {k}")


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_epochs_have_torchs_batch_sizes_and_every_sample_once(drop_last: bool) -> None:
    ours, theirs = both_tensor_datasets()
    loader = DataLoader(ours, batch_size=4, shuffle=True, drop_last=drop_last, seed=0)
    reference = tud.DataLoader(theirs, batch_size=4, shuffle=True, drop_last=drop_last)
    assert len(loader) == len(reference)
    for _ in range(3):
        batches = list(loader)
        assert [len(y) for _, y in batches] == [len(y) for _, y in reference]
        ids = np.concatenate([as_numpy(y) for _, y in batches])
        if drop_last:
            assert len(set(ids.tolist())) == len(ids) == 8
        else:
            assert sorted(ids.tolist()) == list(range(N))
        x = np.concatenate([as_numpy(x) for x, _ in batches])
        np.testing.assert_array_equal(x, as_numpy(ours.tensors[0])[ids])


def test_each_epoch_is_a_new_order() -> None:
    ours, _ = both_tensor_datasets(50)
    loader = DataLoader(ours, batch_size=8, shuffle=True, seed=1)
    orders = [tuple(epoch_labels(loader)) for _ in range(4)]
    assert len(set(orders)) == 4
    assert all(sorted(order) == list(range(50)) for order in orders)
    assert orders[0] != tuple(range(50))


def test_a_seed_fixes_the_sequence_of_epochs() -> None:
    ours, _ = both_tensor_datasets(30)

    def three_epochs(seed: int) -> list[list[int]]:
        loader = DataLoader(ours, batch_size=7, shuffle=True, seed=seed)
        return [epoch_labels(loader).tolist() for _ in range(3)]

    assert three_epochs(3) == three_epochs(3)
    assert three_epochs(3) != three_epochs(4)
    # The loader's own generator: the global one neither moves it nor is moved by it.
    cr.manual_seed(99)
    state = cr.random.default_generator().bit_generator.state
    assert three_epochs(3) == three_epochs(3)
    assert cr.random.default_generator().bit_generator.state == state


def test_without_a_seed_manual_seed_makes_the_order_reproducible() -> None:
    ours, _ = both_tensor_datasets(30)
    loader = DataLoader(ours, batch_size=7, shuffle=True)
    cr.manual_seed(5)
    first = [epoch_labels(loader).tolist() for _ in range(2)]
    cr.manual_seed(5)
    again = [epoch_labels(loader).tolist() for _ in range(2)]
    cr.manual_seed(6)
    other = [epoch_labels(loader).tolist() for _ in range(2)]
    assert first == again
    assert first != other
    assert first[0] != first[1]


def test_subsets_of_tensor_datasets_batch_like_torchs() -> None:
    ours, theirs = both_tensor_datasets()
    outer, inner = [8, 0, 3, 3, 10, 5], [5, 4, 0, 2]
    mine = Subset(Subset(ours, outer), inner)
    reference = tud.Subset(tud.Subset(theirs, outer), inner)
    batches = list(DataLoader(mine, batch_size=3))
    expected = list(tud.DataLoader(reference, batch_size=3))
    assert len(batches) == len(expected) == 2
    for k, (batch, want) in enumerate(zip(batches, expected)):
        assert_same_batch(batch, want, f"batch {k}")


class ListDataset(Dataset):
    """A generic map-style data set: samples built by Python, counting the lookups."""

    def __init__(self, samples: list[Any]) -> None:
        self.samples, self.calls = samples, 0

    def __getitem__(self, index: int) -> Any:
        self.calls += 1
        return self.samples[index]

    def __len__(self) -> int:
        return len(self.samples)


def mixed_samples(n: int) -> list[tuple[np.ndarray, int, float]]:
    rng = np.random.default_rng(3)
    return [(rng.normal(size=(2, 2)).astype(np.float32), i, i / 4) for i in range(n)]


def test_a_generic_dataset_collates_like_torch() -> None:
    samples = mixed_samples(7)
    ours = ListDataset(samples)
    batches = list(DataLoader(ours, batch_size=3))
    expected = list(tud.DataLoader(samples, batch_size=3))
    assert ours.calls == 7
    assert len(batches) == len(expected) == 3
    for k, (batch, want) in enumerate(zip(batches, expected)):
        assert_same_batch(batch, want, f"batch {k}")


def test_a_subset_of_a_generic_dataset_reads_through_getitem() -> None:
    samples = mixed_samples(6)
    ours = Subset(ListDataset(samples), [5, 1, 2])
    batches = list(DataLoader(ours, batch_size=2))
    expected = list(tud.DataLoader(tud.Subset(samples, [5, 1, 2]), batch_size=2))
    for k, (batch, want) in enumerate(zip(batches, expected)):
        assert_same_batch(batch, want, f"batch {k}")


# ---- no per-sample work for array data ---------------------------------------------------------


class CountingTensorDataset(TensorDataset):
    def __init__(self, *tensors: Any) -> None:
        super().__init__(*tensors)
        self.calls = 0

    def __getitem__(self, index: Any) -> tuple[cr.Tensor, ...]:
        self.calls += 1
        return super().__getitem__(index)


def test_tensor_datasets_are_read_a_batch_at_a_time() -> None:
    x, y = features_and_labels(40)
    data = CountingTensorDataset(cr.tensor(x), cr.tensor(y))
    for loader in (
        DataLoader(data, batch_size=8, shuffle=True, seed=0),
        DataLoader(Subset(data, list(range(0, 40, 2))), batch_size=8),
    ):
        assert sum(len(y) for _, y in loader) > 0
    assert data.calls == 0
    # A collate_fn of one's own gets the samples, as in PyTorch: one lookup per sample.
    batches = list(DataLoader(data, batch_size=8, collate_fn=lambda samples: samples))
    assert data.calls == 40
    assert [len(b) for b in batches] == [8] * 5
    assert all(isinstance(sample, tuple) and len(sample) == 2 for sample in batches[0])


def test_batches_of_tensors_that_require_grad_carry_the_gradient() -> None:
    x = cr.randn(10, 2, requires_grad=True)
    loader = DataLoader(TensorDataset(x), batch_size=4, shuffle=True, seed=2)
    for (batch,) in loader:
        (batch * 3).sum().backward()
    np.testing.assert_array_equal(as_numpy(x.grad), np.full((10, 2), 3.0, np.float32))


def test_numpy_arrays_become_tensors() -> None:
    x, y = features_and_labels()
    (bx, by) = next(iter(DataLoader(TensorDataset(x, y), batch_size=5)))
    assert isinstance(bx, cr.Tensor) and bx.shape == (5, 3) and by.dtype == np.int64
    np.testing.assert_array_equal(as_numpy(bx), x[:5])


def test_len_of_an_epoch_counts_down() -> None:
    ours, _ = both_tensor_datasets()
    epoch = iter(DataLoader(ours, batch_size=4))
    assert len(epoch) == 3
    next(epoch)
    assert len(epoch) == 2


# ---- default_collate -------------------------------------------------------------------------

Point = namedtuple("Point", ["x", "label"])


@pytest.mark.parametrize(
    "samples",
    [
        [1, 2, 3],
        [0.5, 1.5],
        [True, False],
        [np.float32(1.5), np.float32(2.5)],
        [np.int32(4), np.int32(5)],
        [np.arange(3.0), np.arange(3.0) + 1],
        [(1, "a"), (2, "b")],
        [[1.0, 2], [3.0, 4]],
        [{"x": np.ones(2, np.float32), "y": 1}, {"x": np.zeros(2, np.float32), "y": 0}],
        [Point(np.ones(2), 1), Point(np.zeros(2), 0)],
        [(np.ones((2, 3), np.float16), (7, 8.0)), (np.zeros((2, 3), np.float16), (9, 1.0))],
    ],
    ids=lambda s: type(s[0]).__name__,
)
def test_default_collate_equals_torchs(samples: list[Any]) -> None:
    ours = default_collate(samples)
    theirs = tud.default_collate(samples)
    assert type(ours).__name__ == type(theirs).__name__
    assert_same_batch(ours, theirs, "collated")


def test_default_collate_stacks_tensors_like_torch() -> None:
    samples = [np.full((2,), i, dtype=np.float32) for i in range(3)]
    ours = default_collate([cr.tensor(s) for s in samples])
    theirs = tud.default_collate([torch.tensor(s) for s in samples])
    assert_same_batch(ours, theirs, "stacked")


def test_default_collate_errors() -> None:
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match=r"default_collate.*object"):
        default_collate([object(), object()])


# ---- bad arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "4"])
def test_batch_size_must_be_a_positive_int(batch_size: Any) -> None:
    ours, _ = both_tensor_datasets()
    with pytest.raises(ValueError, match=rf"DataLoader: batch_size .*{batch_size!r}"):
        DataLoader(ours, batch_size=batch_size)


def test_an_empty_dataset_is_refused_at_construction() -> None:
    empty = TensorDataset(cr.zeros(0, 3))
    with pytest.raises(ValueError, match=r"DataLoader: the data set is empty"):
        DataLoader(empty, batch_size=2)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_must_be_a_non_negative_int(seed: Any) -> None:
    ours, _ = both_tensor_datasets()
    with pytest.raises(ValueError, match="DataLoader: seed"):
        DataLoader(ours, shuffle=True, seed=seed)


def test_other_bad_arguments() -> None:
    ours, _ = both_tensor_datasets()
    with pytest.raises(TypeError, match="DataLoader: dataset must be a map-style"):
        DataLoader(42, batch_size=2)
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        DataLoader(ours, collate_fn="stack")
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ours, num_workers=-1)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ours, generator=torch.Generator())
