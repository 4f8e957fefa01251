"""DataLoader(num_workers=N): batches read in worker processes, against torch.utils.data.

The same data sets, written once for both libraries (their ``Dataset`` base class comes in as
an argument), run through both loaders with workers; the batches, their order, which worker
read each one, and the errors must agree. The data sets live at module level so that the
"spawn" start method can pickle them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import time
from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
from chainrule.utils import data as crd

# torch suggests no more workers than CPUs; these tests use three on small machines too.
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create")


def as_list(value: Any) -> Any:
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        return np.array(value.detach().numpy()).tolist()
    if isinstance(value, (list, tuple)):
        return [as_list(item) for item in value]
    if isinstance(value, dict):
        return {key: as_list(item) for key, item in value.items()}
    return value


def tensor_datasets(n: int = 11) -> tuple[Any, Any]:
    x = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    y = np.arange(n)
    return (
        crd.TensorDataset(cr.tensor(x), cr.tensor(y)),
        tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
    )


class Samples:
    """A map-style data set of Python samples that says which worker read each one."""

    def __init__(self, library: Any, n: int = 10) -> None:
        self.library, self.n = library, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> Any:
        info = self.library.get_worker_info()
        worker = -1 if info is None else info.id
        return {"x": np.full(2, index, np.float32), "index": index, "worker": worker}


class Shards:
    """An iterable data set that each worker reads its own share of (every num_workers-th)."""

    def __init__(self, library: Any, n: int = 11) -> None:
        self.library, self.n = library, n

    def __iter__(self) -> Any:
        info = self.library.get_worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(first, self.n, step))


class Failing:
    """Raises at index 5 (a KeyError), or makes its worker die there."""

    def __init__(self, library: Any, die: bool = False) -> None:
        self.library, self.die = library, die

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> int:
        if index == 5:
            if self.die and self.library.get_worker_info() is not None:
                os._exit(3)
            raise KeyError(f"sample {index} is missing")
        return index


class Slow:
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        time.sleep(1.0 if index == 2 else 0.0)
        return index


class Draws:
    """Samples drawn from the worker's random generators, with the worker's seed."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> Any:
        info = crd.get_worker_info()
        return [info.seed, float(cr.rand(1)), random.random(), float(np.random.rand())]


class Pids:
    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> int:
        return os.getpid()


def iterable(library_data: Any, library: Any, **kwargs: Any) -> Any:
    """``Shards`` as an IterableDataset of ``library_data``."""
    kind = type("Stream", (Shards, library_data.IterableDataset), {})
    return kind(library, **kwargs)


# ---- the same batches as torch's workers, in the same order ------------------------------------


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_tensor_datasets_give_torchs_batches(num_workers: int) -> None:
    ours, theirs = tensor_datasets()
    sampler = [10, 2, 7, 0, 4, 9, 1, 3, 8, 5, 6]
    loader = crd.DataLoader(ours, batch_size=3, sampler=sampler, num_workers=num_workers)
    reference = tud.DataLoader(theirs, batch_size=3, sampler=sampler, num_workers=num_workers)
    assert as_list(list(loader)) == as_list(list(reference))
    plain = crd.DataLoader(ours, batch_size=4, num_workers=num_workers)
    assert as_list(list(plain)) == as_list(list(tud.DataLoader(theirs, batch_size=4)))


@pytest.mark.parametrize("num_workers", [2, 3])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_workers_take_turns_as_torchs_do(num_workers: int, batch_size: int | None) -> None:
    loader = crd.DataLoader(Samples(crd), batch_size=batch_size, num_workers=num_workers)
    reference = tud.DataLoader(Samples(tud), batch_size=batch_size, num_workers=num_workers)
    batches = as_list(list(loader))
    assert batches == as_list(list(reference))
    workers = {batch["worker"] if batch_size is None else batch["worker"][0] for batch in batches}
    assert workers == set(range(num_workers))
    assert crd.get_worker_info() is None and tud.get_worker_info() is None


@pytest.mark.parametrize("num_workers", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [None, 2, 4])
def test_iterable_datasets_shard_by_worker_info_as_in_torch(
    num_workers: int, batch_size: int | None
) -> None:
    loader = crd.DataLoader(iterable(crd, crd), batch_size=batch_size, num_workers=num_workers)
    reference = tud.DataLoader(iterable(tud, tud), batch_size=batch_size, num_workers=num_workers)
    assert as_list(list(loader)) == as_list(list(reference))


def test_batch_samplers_and_custom_collate_functions_run_in_the_workers() -> None:
    def collate(samples: list) -> list:
        return [crd.get_worker_info().id, [s["index"] for s in samples]]

    batches = [[0, 1], [7], [2, 3, 4], [9, 8]]
    loader = crd.DataLoader(Samples(crd), batch_sampler=batches, num_workers=2, collate_fn=collate)
    assert list(loader) == [[0, [0, 1]], [1, [7]], [0, [2, 3, 4]], [1, [9, 8]]]


def test_out_of_order_delivery_gives_every_batch() -> None:
    ours, _ = tensor_datasets(20)
    loader = crd.DataLoader(ours, batch_size=3, num_workers=2, in_order=False, prefetch_factor=3)
    ids = sorted(i for _, y in loader for i in y.tolist())
    assert ids == list(range(20))


def test_len_of_an_epoch_counts_down_with_workers() -> None:
    ours, _ = tensor_datasets()
    epoch = iter(crd.DataLoader(ours, batch_size=4, num_workers=2))
    assert len(epoch) == 3
    next(epoch)
    assert len(epoch) == 2
    assert len(list(epoch)) == 2


def test_the_spawn_start_method_works_with_picklable_data() -> None:
    ours, theirs = tensor_datasets()
    loader = crd.DataLoader(ours, batch_size=5, num_workers=2, multiprocessing_context="spawn")
    assert as_list(list(loader)) == as_list(list(tud.DataLoader(theirs, batch_size=5)))


# ---- seeds, worker_init_fn, persistent workers ------------------------------------------------


def test_each_worker_is_seeded_from_the_loaders_generator() -> None:
    def epoch(seed: int) -> list:
        loader = crd.DataLoader(
            Draws(), batch_size=None, num_workers=2, generator=np.random.default_rng(seed)
        )
        return list(loader)

    first = epoch(0)
    assert first == epoch(0)  # the same seed: the same draws in every worker
    assert first != epoch(1)
    seeds = [sample[0] for sample in first]
    assert seeds[0] == seeds[2] and seeds[1] == seeds[3] == seeds[0] + 1  # base_seed + id
    assert first[0][1:] != first[1][1:]  # each generator draws differently in each worker


class SeedFromInit:
    """A worker_init_fn that seeds NumPy from the worker's id and the number of workers."""

    def __init__(self, library: Any) -> None:
        self.library = library

    def __call__(self, worker_id: int) -> None:
        info = self.library.get_worker_info()
        np.random.seed(1000 + worker_id + 10 * info.num_workers)


def test_worker_init_fn_runs_in_each_worker_as_in_torch() -> None:
    class Init:
        def __len__(self) -> int:
            return 4

        def __getitem__(self, index: int) -> float:
            return float(np.random.rand())

    loader = crd.DataLoader(
        Init(), batch_size=None, num_workers=2, worker_init_fn=SeedFromInit(crd)
    )
    reference = tud.DataLoader(
        Init(), batch_size=None, num_workers=2, worker_init_fn=SeedFromInit(tud)
    )
    assert list(loader) == list(reference)


@pytest.mark.parametrize("persistent", [True, False])
def test_persistent_workers_live_from_one_epoch_to_the_next(persistent: bool) -> None:
    loader = crd.DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=persistent)
    first, second = [sorted({pid for b in loader for pid in b.tolist()}) for _ in range(2)]
    assert (first == second) == persistent
    assert os.getpid() not in first
    stream = crd.DataLoader(iterable(crd, crd, n=5), num_workers=2, persistent_workers=persistent)
    assert [as_list(list(stream)) for _ in range(2)] == [[[0], [1], [2], [3], [4]]] * 2


# ---- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_workers", [0, 2])
def test_an_error_in_a_worker_is_raised_again_with_its_type(num_workers: int) -> None:
    loader = crd.DataLoader(Failing(crd), batch_size=2, num_workers=num_workers)
    reference = tud.DataLoader(Failing(tud), batch_size=2, num_workers=num_workers)
    for each in (loader, reference):
        with pytest.raises(KeyError, match="sample 5 is missing"):
            list(each)
    if num_workers:
        with pytest.raises(KeyError, match=r"worker 0 raised KeyError(.|\n)*Traceback"):
            list(loader)


def fail_to_start(worker_id: int) -> None:
    raise ValueError(f"worker {worker_id} cannot start")


def test_an_error_in_worker_init_fn_is_raised() -> None:
    loader = crd.DataLoader(Pids(), num_workers=2, worker_init_fn=fail_to_start)
    with pytest.raises(
        ValueError, match=r"worker 0 raised ValueError in worker_init_fn(.|\n)*cannot start"
    ):
        list(loader)


def test_a_worker_that_dies_is_reported() -> None:
    # PyTorch's words ("exited unexpectedly"); torch's own loader is left out here because its
    # SIGCHLD handler raises wherever the main process happens to be, which made this flaky.
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(crd.DataLoader(Failing(crd, die=True), batch_size=2, num_workers=2))


def test_a_timeout_stops_the_wait_as_in_torch() -> None:
    for module in (crd, tud):
        with pytest.raises(RuntimeError, match="timed out"):
            list(module.DataLoader(Slow(), num_workers=1, timeout=0.3))


def test_a_batch_that_cannot_travel_is_an_error_not_a_hang() -> None:
    loader = crd.DataLoader(Pids(), batch_size=2, num_workers=1, collate_fn=lambda s: lambda: s)
    with pytest.raises(Exception, match="sending the batch to the main process"):
        list(loader)


class Large:
    def __len__(self) -> int:
        return 64

    def __getitem__(self, index: int) -> np.ndarray:
        return np.zeros((128, 256), np.float32)


def our_workers(before: frozenset = frozenset()) -> set:
    """The live worker processes of chainrule DataLoaders, other than those in ``before``."""
    live = {p for p in multiprocessing.active_children() if "DataLoader worker" in p.name}
    return live - before


def test_leaving_an_epoch_early_stops_the_workers_at_once() -> None:
    gc.collect()
    before = frozenset(our_workers())  # an earlier test's loader may not be collected yet
    started = time.monotonic()
    for count, _ in enumerate(crd.DataLoader(Large(), batch_size=8, num_workers=2)):
        assert len(our_workers(before)) == 2
        if count == 1:
            break
    gc.collect()
    assert our_workers(before) == set()
    assert time.monotonic() - started < 4.0  # no wait on answers nobody will read
    persistent = crd.DataLoader(Large(), batch_size=8, num_workers=2, persistent_workers=True)
    next(iter(persistent))
    assert len(our_workers(before)) == 2
    del persistent
    gc.collect()
    assert our_workers(before) == set()
