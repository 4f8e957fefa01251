"""Samplers: the order in which a :class:`~chainrule.data.DataLoader` visits a data set's indices.

A sampler is an iterable of indices (``BatchSampler``: of lists of indices), as in
``torch.utils.data``. Randomness comes from ``generator`` (a ``numpy.random.Generator``) when
one is given, otherwise from chainrule's global generator, so :func:`chainrule.manual_seed`
makes every epoch reproducible. The random streams are NumPy's, so the orders differ from
PyTorch's for the same seed; their distribution is the same.

The built-in samplers also give an epoch's order as one index array, which the DataLoader
slices into batches without a Python loop over indices.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy

from chainrule import backend
from chainrule.random import Generator, default_generator
from chainrule.tensor import Tensor


def numpy_generator(generator: Any, where: str) -> numpy.random.Generator | None:
    """The NumPy generator behind ``generator``: a :class:`chainrule.Generator` (PyTorch's
    ``generator=torch.Generator().manual_seed(42)``), a ``numpy.random.Generator``, or None
    (the global generator)."""
    if generator is None or isinstance(generator, numpy.random.Generator):
        return generator
    if isinstance(generator, Generator):
        return generator.numpy
    raise TypeError(
        f"{where}: generator must be a chainrule.Generator, a numpy.random.Generator or None, "
        f"got {type(generator).__module__}.{type(generator).__name__}"
    )


def _draw(generator: numpy.random.Generator | None) -> numpy.random.Generator:
    return default_generator() if generator is None else generator


def _positive_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def _bool(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a bool, got {value!r}")
    return value


class Sampler:
    """Base class of samplers: subclasses define ``__iter__`` (and ``__len__`` when the
    number of indices is known).

    ```pycon
    >>> import chainrule as cr
    >>> class Backwards(cr.data.Sampler):
    ...     def __init__(self, data_source):
    ...         self.n = len(data_source)
    ...     def __iter__(self):
    ...         return iter(range(self.n - 1, -1, -1))
    >>> list(Backwards(range(4)))
    [3, 2, 1, 0]

    ```
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, in order.

    ```pycon
    >>> import chainrule as cr
    >>> list(cr.data.SequentialSampler(range(4)))
    [0, 1, 2, 3]

    ```
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def epoch_order(self) -> numpy.ndarray:
        """One epoch's indices as an int64 array."""
        return numpy.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices of ``data_source`` in random order, a fresh order each epoch.

    Without ``replacement``, each epoch is a random permutation (several, one after the
    other, then part of one, when ``num_samples`` exceeds the data set); with it,
    ``num_samples`` independent uniform draws. ``num_samples`` defaults to the data set's size.

    ```pycon
    >>> import chainrule as cr
    >>> import numpy
    >>> sampler = cr.data.RandomSampler(range(5), generator=numpy.random.default_rng(0))
    >>> sorted(sampler), len(cr.data.RandomSampler(range(5), replacement=True, num_samples=8))
    ([0, 1, 2, 3, 4], 8)

    ```
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: numpy.random.Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = _bool(replacement, "replacement", "RandomSampler")
        self._num_samples = None
        if num_samples is not None:
            self._num_samples = _positive_int(num_samples, "num_samples", "RandomSampler")
        self.generator = numpy_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        """Indices per epoch."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def epoch_order(self) -> numpy.ndarray:
        """One epoch's indices as an int64 array."""
        n, count, rng = len(self.data_source), self.num_samples, _draw(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=count, dtype=numpy.int64)
        whole, part = divmod(count, n) if n else (0, 0)
        pieces = [rng.permutation(n) for _ in range(whole)]
        if part or not pieces:
            pieces.append(rng.permutation(n)[:part])
        return pieces[0] if len(pieces) == 1 else numpy.concatenate(pieces)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices``, in a random order each epoch.

    ```pycon
    >>> import chainrule as cr
    >>> import numpy
    >>> sampler = cr.data.SubsetRandomSampler([2, 4, 6], generator=numpy.random.default_rng(0))
    >>> sorted(sampler), len(sampler)
    ([2, 4, 6], 3)

    ```
    """

    def __init__(
        self, indices: Sequence[int], generator: numpy.random.Generator | None = None
    ) -> None:
        self.indices = indices
        self.generator = numpy_generator(generator, "SubsetRandomSampler")

    def epoch_order(self) -> numpy.ndarray:
        """One epoch's indices as an int64 array."""
        chosen = numpy.asarray(self.indices, dtype=numpy.int64)
        return chosen[_draw(self.generator).permutation(len(chosen))]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in 0..len(weights)-1, index i drawn with probability
    weights[i] / sum(weights); without ``replacement`` no index is drawn twice in an epoch.

    ```pycon
    >>> import chainrule as cr
    >>> import numpy
    >>> rng = numpy.random.default_rng(0)
    >>> list(cr.data.WeightedRandomSampler([0.0, 1.0, 0.0], num_samples=3, generator=rng))
    [1, 1, 1]
    >>> sorted(cr.data.WeightedRandomSampler([1, 1, 1], 3, replacement=False, generator=rng))
    [0, 1, 2]

    ```
    """

    def __init__(
        self,
        weights: Sequence[float] | Tensor | numpy.ndarray,
        num_samples: int,
        replacement: bool = True,
        generator: numpy.random.Generator | None = None,
    ) -> None:
        where = "WeightedRandomSampler"
        self.num_samples = _positive_int(num_samples, "num_samples", where)
        if not isinstance(replacement, bool):  # a ValueError here, as in PyTorch
            raise ValueError(f"{where}: replacement must be a bool, got {replacement!r}")
        self.replacement = replacement
        array = weights.array if isinstance(weights, Tensor) else weights
        self.weights = numpy.asarray(backend.to_numpy(numpy.asarray(array)), dtype=numpy.float64)
        if self.weights.ndim != 1:
            raise ValueError(
                f"{where}: weights must be one-dimensional, got shape {self.weights.shape}"
            )
        if not numpy.isfinite(self.weights).all() or (self.weights < 0).any():
            raise ValueError(f"{where}: weights must be finite and non-negative")
        if self.weights.sum() <= 0:
            raise ValueError(f"{where}: weights must not all be zero")
        if not replacement and num_samples > numpy.count_nonzero(self.weights):
            raise ValueError(
                f"{where}: cannot draw {num_samples} distinct indices without replacement from "
                f"{numpy.count_nonzero(self.weights)} indices of non-zero weight"
            )
        self.generator = numpy_generator(generator, where)

    def epoch_order(self) -> numpy.ndarray:
        """One epoch's indices as an int64 array."""
        p = self.weights / self.weights.sum()
        draws = _draw(self.generator).choice(
            len(p), size=self.num_samples, replace=self.replacement, p=p
        )
        return draws.astype(numpy.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """The indices of ``sampler`` grouped into lists of ``batch_size``; the last, shorter
    list is left out when ``drop_last``.

    ```pycon
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]

    ```
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """The share of ``dataset`` that replica ``rank`` of ``num_replicas`` reads each epoch.

    Every replica draws the same permutation (seeded by ``seed + epoch``: call
    :meth:`set_epoch` at the start of each epoch for a new one) and takes every
    ``num_replicas``-th index from position ``rank``. Without ``drop_last`` the permutation is
    padded with its own first indices so that every replica gets ``ceil(n / num_replicas)``;
    with it, the tail that does not divide evenly is dropped.

    ``num_replicas`` and ``rank`` default to the world size and rank of the process group
    (:func:`chainrule.distributed.init`), or to 1 and 0 when there is none. The shards follow
    PyTorch's arithmetic; the permutation is NumPy's (``default_rng(seed + epoch)``).

    ```pycon
    >>> import chainrule as cr
    >>> shards = [cr.data.DistributedSampler(range(5), num_replicas=2, rank=r) for r in (0, 1)]
    >>> [len(shard) for shard in shards]
    [3, 3]
    >>> sorted(set(shards[0]) | set(shards[1]))
    [0, 1, 2, 3, 4]

    ```
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        where = "DistributedSampler"
        from chainrule.distributed import process_group  # imports no MPI: cheap

        group = process_group._group
        if num_replicas is None:
            num_replicas = 1 if group is None else group.size
        if rank is None:
            rank = 0 if group is None else group.rank
        self.num_replicas = _positive_int(num_replicas, "num_replicas", where)
        if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
            raise ValueError(f"{where}: rank must be an int, got {rank!r}")
        if not 0 <= rank < self.num_replicas:
            raise ValueError(
                f"{where}: rank {rank} is out of range for num_replicas={self.num_replicas} "
                f"(0 <= rank < {self.num_replicas})"
            )
        self.dataset, self.rank, self.epoch = dataset, int(rank), 0
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of epoch ``epoch`` (the same on every replica)."""
        self.epoch = int(epoch)

    def epoch_order(self) -> numpy.ndarray:
        """This replica's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = numpy.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = numpy.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n and n:
            order = numpy.resize(order, self.total_size)  # repeats the order from its start
        return order[self.rank : self.total_size : self.num_replicas].astype(numpy.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order().tolist())

    def __len__(self) -> int:
        return self.num_samples


ARRAY_SAMPLERS = (
    SequentialSampler,
    RandomSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    DistributedSampler,
)
"""Samplers whose ``epoch_order`` gives their whole epoch as one index array."""
