"""Samplers, and the DataLoader arguments around them, against torch.utils.data.

Orders that involve no randomness must equal torch's exactly. Random orders come from NumPy's
generators, not torch's, so those tests check what torch guarantees too: every epoch a
permutation, the counts of each index, the distribution of weighted draws, reproducibility
from a seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
from chainrule.utils import data as crd


def as_list(value: Any) -> Any:
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        return np.array(value.detach().numpy()).tolist()
    if isinstance(value, (list, tuple)):
        return [as_list(item) for item in value]
    if isinstance(value, dict):
        return {key: as_list(item) for key, item in value.items()}
    return value


# ---- orders without randomness: equal to torch's ----------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 7])
def test_sequential_sampler_equals_torchs(n: int) -> None:
    ours, theirs = crd.SequentialSampler(range(n)), tud.SequentialSampler(range(n))
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 12])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_equals_torchs(batch_size: int, drop_last: bool) -> None:
    indices = [5, 3, 9, 0, 1, 8, 2, 7, 6, 4]  # any iterable of indices will do
    ours = crd.BatchSampler(indices, batch_size, drop_last)
    theirs = tud.BatchSampler(indices, batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("n", [10, 11, 13])
@pytest.mark.parametrize("num_replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_shards_like_torch(n: int, num_replicas: int, drop_last: bool) -> None:
    for rank in range(num_replicas):
        kwargs = {"num_replicas": num_replicas, "rank": rank, "drop_last": drop_last}
        ours = crd.DistributedSampler(range(n), shuffle=False, **kwargs)
        theirs = tud.DistributedSampler(range(n), shuffle=False, **kwargs)
        assert list(ours) == list(theirs), rank
        assert len(ours) == len(theirs) == ours.num_samples
        assert ours.total_size == theirs.total_size


def test_distributed_sampler_shuffles_the_same_way_on_every_replica() -> None:
    n, replicas = 23, 4
    orders = []
    for epoch in range(3):
        shards = []
        for rank in range(replicas):
            sampler = crd.DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=5)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        # Every replica took its share of one permutation (padded from its start), as torch's.
        merged = [shard[k] for k in range(len(shards[0])) for shard in shards]
        assert sorted(set(merged)) == list(range(n)) and len(merged) == 24
        assert merged[n:] == merged[: 24 - n]
        orders.append(merged)
    assert len({tuple(order) for order in orders}) == 3  # set_epoch gives a new order
    again = crd.DistributedSampler(range(n), num_replicas=replicas, rank=0, seed=5)
    again.set_epoch(2)
    assert list(again) == orders[2][::replicas]


def test_distributed_sampler_defaults_to_a_single_replica() -> None:
    assert list(crd.DistributedSampler(range(5), shuffle=False)) == list(range(5))
    for rank in (4, -1):
        for module in (crd, tud):
            with pytest.raises(ValueError, match=r"(?i)rank"):
                module.DistributedSampler(range(5), num_replicas=4, rank=rank)


# ---- random orders -------------------------------------------------------------------------------


def test_random_sampler_gives_a_new_permutation_every_epoch() -> None:
    sampler = crd.RandomSampler(range(30), generator=np.random.default_rng(0))
    epochs = [list(sampler) for _ in range(4)]
    assert all(sorted(epoch) == list(range(30)) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) == 4
    assert len(sampler) == len(tud.RandomSampler(range(30))) == 30
    again = crd.RandomSampler(range(30), generator=np.random.default_rng(0))
    assert [list(again) for _ in range(4)] == epochs


def test_random_sampler_without_a_generator_follows_manual_seed() -> None:
    sampler = crd.RandomSampler(range(20))
    cr.manual_seed(3)
    first = [list(sampler) for _ in range(2)]
    cr.manual_seed(3)
    assert [list(sampler) for _ in range(2)] == first


@pytest.mark.parametrize("num_samples", [5, 7, 12, 23])
def test_random_sampler_counts_each_index_as_torch_does(num_samples: int) -> None:
    # Without replacement, more samples than the data set: whole permutations, then part of one.
    def counts(module: Any) -> list[int]:
        drawn = list(module.RandomSampler(range(7), num_samples=num_samples))
        assert len(drawn) == num_samples
        return sorted(np.bincount(drawn, minlength=7).tolist())

    assert counts(crd) == counts(tud)


def test_random_sampler_with_replacement_draws_uniformly() -> None:
    sampler = crd.RandomSampler(range(4), replacement=True, num_samples=40_000)
    drawn = np.array(list(sampler))
    assert len(sampler) == len(drawn) == 40_000
    np.testing.assert_allclose(np.bincount(drawn, minlength=4) / 40_000, 0.25, atol=0.01)


def test_subset_random_sampler_permutes_its_indices() -> None:
    indices = [4, 9, 2, 17]
    sampler = crd.SubsetRandomSampler(indices, generator=np.random.default_rng(1))
    epochs = [list(sampler) for _ in range(6)]
    assert all(sorted(epoch) == sorted(indices) for epoch in epochs)
    assert len({tuple(epoch) for epoch in epochs}) > 1
    assert len(sampler) == len(tud.SubsetRandomSampler(indices)) == 4


def test_weighted_random_sampler_draws_in_proportion_to_the_weights() -> None:
    weights = [0.0, 1.0, 3.0, 6.0]
    sampler = crd.WeightedRandomSampler(weights, 50_000, generator=np.random.default_rng(2))
    drawn = np.array(list(sampler))
    assert len(sampler) == len(tud.WeightedRandomSampler(weights, 50_000)) == 50_000
    np.testing.assert_allclose(
        np.bincount(drawn, minlength=4) / 50_000, [0, 0.1, 0.3, 0.6], atol=0.01
    )
    distinct = crd.WeightedRandomSampler(cr.tensor(weights), 3, replacement=False)
    for _ in range(5):
        assert sorted(distinct) == [1, 2, 3]  # torch too: the zero weight is never drawn


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda m: m.RandomSampler(range(3), replacement=1), TypeError),
        (lambda m: m.RandomSampler(range(3), num_samples=0), ValueError),
        (lambda m: m.RandomSampler(range(3), num_samples=2.0), ValueError),
        (lambda m: m.WeightedRandomSampler([1.0, 2.0], num_samples=0), ValueError),
        (lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement=1), ValueError),
        (lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 2), ValueError),
        (lambda m: m.BatchSampler(range(3), 0, False), ValueError),
        (lambda m: m.BatchSampler(range(3), True, False), ValueError),
        (lambda m: m.BatchSampler(range(3), 2, 1), ValueError),
    ],
)
def test_bad_sampler_arguments_raise_torchs_errors(build: Any, error: type) -> None:
    for module in (crd, tud):
        with pytest.raises(error):
            build(module)


def test_generators_must_be_numpy_generators() -> None:
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        crd.RandomSampler(range(3), generator=torch.Generator())
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        crd.random_split(range(4), [2, 2], generator=torch.Generator())
    parts = crd.random_split(range(10), [0.5, 0.5], generator=np.random.default_rng(4))
    again = crd.random_split(range(10), [0.5, 0.5], generator=np.random.default_rng(4))
    assert [p.indices for p in parts] == [p.indices for p in again]


# ---- the DataLoader's sampling arguments --------------------------------------------------------


def datasets(n: int = 10) -> tuple[Any, Any]:
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    return (
        crd.TensorDataset(cr.tensor(x), cr.tensor(y)),
        tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"sampler": [9, 0, 8, 1, 7], "batch_size": 2},
        {"sampler": [3, 3, 1], "batch_size": 2, "drop_last": True},
        {"batch_sampler": [[1, 2, 3], [0], [9, 8]]},
        {"batch_size": None},
        {"batch_size": None, "sampler": [4, 2]},
        {"batch_size": 4, "collate_fn": lambda samples: [len(samples)]},
    ],
    ids=[
        "sampler",
        "sampler_drop_last",
        "batch_sampler",
        "no_batching",
        "no_batching_sampler",
        "collate",
    ],
)
def test_loader_with_samplers_equals_torchs(arguments: dict) -> None:
    ours, theirs = datasets()
    loader = crd.DataLoader(ours, **arguments)
    reference = tud.DataLoader(theirs, **arguments)
    assert as_list(list(loader)) == as_list(list(reference))
    assert len(loader) == len(reference)


def test_loader_samplers_are_torchs_kinds() -> None:
    ours, _ = datasets()
    plain = crd.DataLoader(ours, batch_size=3)
    shuffled = crd.DataLoader(ours, batch_size=3, shuffle=True)
    assert isinstance(plain.sampler, crd.SequentialSampler)
    assert isinstance(shuffled.sampler, crd.RandomSampler)
    assert isinstance(plain.batch_sampler, crd.BatchSampler)
    assert plain.batch_sampler.batch_size == 3 and not plain.batch_sampler.drop_last
    assert crd.DataLoader(ours, batch_size=None).batch_sampler is None


def test_a_user_sampler_reads_tensor_datasets_a_batch_at_a_time() -> None:
    ours, theirs = datasets(12)
    sampler = crd.SubsetRandomSampler(list(range(0, 12, 2)), generator=np.random.default_rng(0))
    batches = list(crd.DataLoader(ours, batch_size=4, sampler=sampler))
    ids = [i for _, y in batches for i in y.tolist()]
    assert sorted(ids) == list(range(0, 12, 2)) and [len(y) for _, y in batches] == [4, 2]
    for x, y in batches:
        np.testing.assert_array_equal(x.numpy(), theirs.tensors[0].numpy()[y.numpy()])


def test_loader_shuffling_from_a_generator_is_reproducible() -> None:
    ours, _ = datasets(20)

    def epochs() -> list:
        loader = crd.DataLoader(
            ours, batch_size=6, shuffle=True, generator=np.random.default_rng(7)
        )
        return [[y.tolist() for _, y in loader] for _ in range(3)]

    assert epochs() == epochs()
    with pytest.raises(ValueError, match="seed or generator"):
        crd.DataLoader(ours, shuffle=True, seed=1, generator=np.random.default_rng(1))


class Stream(crd.IterableDataset):
    def __init__(self, n: int, with_length: bool = True) -> None:
        self.n, self.with_length = n, with_length

    def __iter__(self) -> Any:
        return iter([np.float32(i) for i in range(self.n)])

    def __len__(self) -> int:
        if not self.with_length:
            raise TypeError("no length")
        return self.n


class TorchStream(tud.IterableDataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self) -> Any:
        return iter([np.float32(i) for i in range(self.n)])

    def __len__(self) -> int:
        return self.n


@pytest.mark.parametrize("batch_size", [None, 1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_datasets_batch_like_torch(batch_size: int | None, drop_last: bool) -> None:
    if batch_size is None and drop_last:
        return
    loader = crd.DataLoader(Stream(10), batch_size=batch_size, drop_last=drop_last)
    reference = tud.DataLoader(TorchStream(10), batch_size=batch_size, drop_last=drop_last)
    assert as_list(list(loader)) == as_list(list(reference))
    assert len(loader) == len(reference)
    with pytest.raises(TypeError):
        len(crd.DataLoader(Stream(10, with_length=False), batch_size=batch_size))


@pytest.mark.parametrize(
    "arguments",
    [
        {"sampler": [0, 1], "shuffle": True},
        {"batch_sampler": [[0]], "batch_size": 2},
        {"batch_sampler": [[0]], "shuffle": True},
        {"batch_sampler": [[0]], "sampler": [0]},
        {"batch_sampler": [[0]], "drop_last": True},
        {"batch_size": None, "drop_last": True},
        {"num_workers": -1},
        {"timeout": -1},
        {"prefetch_factor": 2},
        {"persistent_workers": True},
        {"multiprocessing_context": "fork"},
    ],
)
def test_exclusive_arguments_are_refused_as_in_torch(arguments: dict) -> None:
    ours, theirs = datasets()
    with pytest.raises(ValueError):
        tud.DataLoader(theirs, **arguments)
    with pytest.raises(ValueError, match="DataLoader: "):
        crd.DataLoader(ours, **arguments)


@pytest.mark.parametrize(
    "arguments", [{"shuffle": True}, {"sampler": [0]}, {"batch_sampler": [[0]]}]
)
def test_iterable_datasets_refuse_orders_of_their_own_as_in_torch(arguments: dict) -> None:
    with pytest.raises(ValueError):
        tud.DataLoader(TorchStream(3), **arguments)
    with pytest.raises(ValueError, match="IterableDataset sets its own order"):
        crd.DataLoader(Stream(3), **arguments)


def test_pin_memory_is_accepted_and_changes_nothing() -> None:
    ours, _ = datasets()
    pinned = crd.DataLoader(ours, batch_size=4, pin_memory=True, pin_memory_device="")
    plain = crd.DataLoader(ours, batch_size=4)
    assert as_list(list(pinned)) == as_list(list(plain))


def test_a_chainrule_generator_seeds_splits_samplers_and_loaders_as_torchs_does() -> None:
    """The idiom random_split(..., generator=torch.Generator().manual_seed(42)): the same seed
    gives the same split, another seed another one (the orders are NumPy's, not torch's)."""
    data = crd.TensorDataset(cr.arange(20.0))

    def split(seed: int) -> list[int]:
        part, rest = crd.random_split(
            data, [0.75, 0.25], generator=cr.Generator().manual_seed(seed)
        )
        assert (len(part), len(rest)) == (15, 5)
        return list(part.indices)

    assert split(42) == split(42) and split(42) != split(7)
    first = list(crd.RandomSampler(data, generator=cr.Generator().manual_seed(1)))
    assert first == list(crd.RandomSampler(data, generator=cr.Generator().manual_seed(1)))
    assert sorted(first) == list(range(20))
    loader = crd.DataLoader(
        data, batch_size=8, shuffle=True, generator=cr.Generator().manual_seed(0)
    )
    again = crd.DataLoader(
        data, batch_size=8, shuffle=True, generator=cr.Generator().manual_seed(0)
    )
    assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in again]
