"""DataLoader: a data set served in batches, with ``torch.utils.data.DataLoader``'s arguments.

A sampler chooses the indices of each epoch (a fresh random order each epoch with
``shuffle=True``), a batch sampler groups them, and each batch is read by index. Array data
(a :class:`TensorDataset`, or :class:`Subset` s of one) is read a whole batch at a time with one
fancy-indexing per tensor, the epoch's order sliced without a Python loop over indices; any
other data set is read sample by sample and the samples are joined by :func:`default_collate`.
With ``num_workers > 0`` the batches are read in worker processes (:mod:`.workers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy

from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import IterableDataset
from chainrule.data.fetch import IterableFetcher, MapFetcher
from chainrule.data.loader_arguments import (
    check_batch_size,
    check_callables,
    check_dataset,
    check_seed,
    check_size,
    check_workers,
    start_method,
)
from chainrule.data.sampler import (
    ARRAY_SAMPLERS,
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    numpy_generator,
)
from chainrule.data.workers import WorkerPool, WorkerSpec
from chainrule.random import default_generator

__all__ = ["DataLoader", "default_collate", "default_convert"]


class DataLoader:
    """Batches of ``dataset``: ``for x, y in DataLoader(data, batch_size=32, shuffle=True)``.

    Each ``iter(loader)`` is one epoch. With ``shuffle`` the order is a fresh random
    permutation each epoch, drawn from ``generator`` (a ``numpy.random.Generator``), or from
    ``numpy.random.default_rng(seed)`` held by the loader when ``seed`` is given (so the
    sequence of epochs is fixed by the seed), or else from chainrule's global generator
    (:func:`chainrule.manual_seed`).

    Args:
        dataset: a map-style data set (``__getitem__``, and ``__len__`` unless a sampler is
            given), not empty, or an :class:`IterableDataset`.
        batch_size: samples per batch, a positive int; the last batch may be smaller. None
            turns batching off: each sample comes alone, its arrays made tensors
            (:func:`default_convert`).
        shuffle: a new random order every epoch instead of 0, 1, 2, ...
        sampler: the indices of an epoch (instead of ``shuffle``).
        batch_sampler: lists of indices, one per batch (instead of ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: how many worker processes read batches; 0 reads them in this process.
        collate_fn: joins a list of samples into a batch; None means :func:`default_collate`,
            and for a :class:`TensorDataset` (or a :class:`Subset` of one) reading whole
            batches by index instead of sample by sample.
        pin_memory, pin_memory_device: accepted, and do nothing: the batches stay in ordinary
            host memory, and ``batch.to("cuda")`` (or ``fit(..., device="cuda")``, which does
            it for each batch) copies them to the GPU.
        drop_last: leave out a last batch smaller than ``batch_size``; a data set smaller
            than one batch is then an error rather than (as in PyTorch) an empty epoch.
        timeout: seconds to wait for a batch from the workers before giving up (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker, once seeded.
        multiprocessing_context: the start method of the workers ("fork", "spawn",
            "forkserver") or a context; None uses ``multiprocessing``'s default.
        generator: the ``numpy.random.Generator`` of the shuffling and the workers' seeds.
        prefetch_factor: batches waiting per worker (default 2 with workers).
        persistent_workers: keep the workers alive from one epoch to the next.
        in_order: hand batches out in order; False gives them as the workers finish them.
        seed: chainrule's shortcut for ``generator=numpy.random.default_rng(seed)``.

    ``len(loader)`` is the number of batches in an epoch. Batches of a TensorDataset are lists
    of tensors, one (B, ...) tensor per tensor of the data set, as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> data = cr.data.TensorDataset(cr.arange(10.0).reshape(5, 2), cr.arange(5))
    >>> loader = cr.data.DataLoader(data, batch_size=2)
    >>> [(tuple(x.shape), y.tolist()) for x, y in loader]
    [((2, 2), [0, 1]), ((2, 2), [2, 3]), ((1, 2), [4])]
    >>> shuffled = cr.data.DataLoader(data, batch_size=5, shuffle=True, seed=0)
    >>> sorted(next(iter(shuffled))[1].tolist())
    [0, 1, 2, 3, 4]

    ```
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: numpy.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | None = None,
    ) -> None:
        check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        check_callables(collate_fn, worker_init_fn)
        iterable = isinstance(dataset, IterableDataset)
        check_dataset(dataset, iterable, shuffle, sampler, batch_sampler)
        if sampler is not None and shuffle:
            raise ValueError(
                "DataLoader: sampler and shuffle=True are mutually exclusive; the sampler "
                "decides the order (use RandomSampler for a random one)"
            )
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler is mutually exclusive with batch_size, "
                    "shuffle, sampler and drop_last; the batch sampler decides them all"
                )
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError(
                    "DataLoader: batch_size=None turns batching off, so drop_last=True has "
                    "nothing to drop; leave drop_last=False"
                )
        else:
            check_batch_size(batch_size)
        generator = numpy_generator(generator, "DataLoader")
        if seed is not None:
            check_seed(seed, generator)
            generator = numpy.random.default_rng(seed)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = start_method(multiprocessing_context, num_workers)
        self.in_order = in_order
        self.persistent_workers = persistent_workers
        self.generator = generator
        self.seed = seed
        self._iterable = iterable
        self._auto_batching = batch_size is not None or batch_sampler is not None
        self._default_collate = collate_fn is None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_batching else default_convert
        self.collate_fn = collate_fn
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self._default_batches = batch_sampler is None and batch_size is not None
        if not iterable and sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else None
            sampler = sampler or SequentialSampler(dataset)
            check_size(dataset, self.batch_size, self.drop_last)
        self.sampler = sampler
        if not iterable and self._default_batches:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
        self.batch_sampler = batch_sampler
        self._pool: WorkerPool | None = None

    # ---- an epoch --------------------------------------------------------------------------

    def __len__(self) -> int:
        if self._iterable:
            try:
                n = len(self.dataset)
            except NotImplementedError:  # Dataset's __len__: a stream without a length
                raise TypeError(
                    f"DataLoader: the {type(self.dataset).__name__} stream has no length"
                ) from None
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers > 0:
            return self._epoch_in_workers()
        if self._iterable:
            fetcher = IterableFetcher(
                self.dataset, self.batch_size, self.drop_last, self.collate_fn
            )
            return _Stream(fetcher)
        fetcher = MapFetcher(
            self.dataset, self._auto_batching, self.collate_fn, self._default_collate
        )
        order = self._epoch_order()
        if order is not None:
            read = fetcher.read or fetcher.fetch  # a TensorDataset's get_batch, called directly
            return _Epoch(order, self.batch_size, self._batches(len(order)), read)
        indices = self.batch_sampler if self._auto_batching else self.sampler
        return _Stream(_FromIndices(iter(indices), fetcher), _length(self))

    def _epoch_order(self) -> numpy.ndarray | None:
        """The epoch's indices as one array, when the batches are slices of it: the default
        batching over a built-in sampler."""
        if self._default_batches and type(self.sampler) in ARRAY_SAMPLERS:
            return self.sampler.epoch_order()
        return None

    def _batches(self, n: int) -> int:
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _epoch_in_workers(self) -> Any:
        pool = self._pool
        if pool is None:
            rng = self.generator if self.generator is not None else default_generator()
            spec = WorkerSpec(
                dataset=self.dataset,
                iterable=self._iterable,
                batched=self._auto_batching,
                batch_size=self.batch_size,
                drop_last=self.drop_last,
                collate_fn=self.collate_fn,
                read_batches=self._default_collate,
                worker_init_fn=self.worker_init_fn,
                num_workers=self.num_workers,
                base_seed=int(rng.integers(0, 2**62)),
            )
            pool = WorkerPool(
                spec, self.multiprocessing_context, self.timeout, self.prefetch_factor
            )
            if self.persistent_workers:
                self._pool = pool
        last = not self.persistent_workers  # a pool of one epoch stops when it ends
        if self._iterable:
            return pool.epoch(None, _length(self), self.in_order, last)
        order = self._epoch_order()
        if order is not None:
            size = self.batch_size
            tasks: Iterator[Any] = (
                order[k * size : (k + 1) * size] for k in range(self._batches(len(order)))
            )
        else:
            tasks = iter(self.batch_sampler if self._auto_batching else self.sampler)
        return pool.epoch(tasks, _length(self), self.in_order, last)

    def __repr__(self) -> str:
        size = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (
            f"DataLoader({type(self.dataset).__name__} of {size}, batch_size="
            f"{self.batch_size}, shuffle={isinstance(self.sampler, RandomSampler)}, "
            f"drop_last={self.drop_last}, num_workers={self.num_workers})"
        )


def _length(loader: DataLoader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


class _Epoch:
    """One pass over a fixed order: batch k holds ``order[k·B : (k+1)·B]``."""

    def __init__(
        self, order: numpy.ndarray, batch_size: int, batches: int, read: Callable[[Any], Any]
    ) -> None:
        self.order, self.batch_size, self.batches, self.read = order, batch_size, batches, read
        self.next_batch = 0

    def __iter__(self) -> _Epoch:
        return self

    def __len__(self) -> int:
        return self.batches - self.next_batch

    def __next__(self) -> Any:
        if self.next_batch >= self.batches:
            raise StopIteration
        start = self.next_batch * self.batch_size
        self.next_batch += 1
        return self.read(self.order[start : start + self.batch_size])


class _FromIndices:
    """Fetches at the indices (or lists of indices) an iterator gives, one per call."""

    def __init__(self, indices: Iterator[Any], fetcher: MapFetcher) -> None:
        self.indices, self.fetcher = indices, fetcher

    def fetch(self) -> Any:
        return self.fetcher.fetch(next(self.indices))


class _Stream:
    """An epoch of batches read one ``fetch()`` at a time until it raises StopIteration."""

    def __init__(self, fetcher: Any, batches: int | None = None) -> None:
        self.fetcher, self.batches, self.done = fetcher, batches, 0

    def __iter__(self) -> _Stream:
        return self

    def __len__(self) -> int:
        if self.batches is None:
            raise TypeError("this DataLoader's data set has no length")
        return self.batches - self.done

    def __next__(self) -> Any:
        batch = self.fetcher.fetch()
        self.done += 1
        return batch
