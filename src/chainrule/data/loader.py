"""DataLoader: a map-style data set served in batches, shuffled afresh every epoch.

Array data (a :class:`TensorDataset`, or :class:`Subset` s of one) is read a whole batch at a
time with one fancy-indexing per tensor; any other data set is read sample by sample and the
samples are joined by :func:`default_collate`, as ``torch.utils.data.DataLoader`` does.
"""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy

from chainrule.creation import tensor
from chainrule.data.dataset import Dataset, Subset
from chainrule.ops.movement import stack
from chainrule.random import default_generator
from chainrule.tensor import Tensor


def default_collate(batch: Sequence[Any]) -> Any:
    """Join a list of B samples into one batch, the way PyTorch's ``default_collate`` does.

    Tensors and NumPy arrays of one shape stack into a (B, ...) tensor; Python ints become an
    int64 tensor (B,), Python floats a float64 tensor (B,) (PyTorch's choice), NumPy scalars
    keep their dtype; strings stay as they are; tuples and lists of fields are collated field
    by field into a list (a named tuple keeps its type), dicts key by key.

    >>> [t.tolist() for t in default_collate([(1, 2.0), (3, 4.0)])]
    [[1, 3], [2.0, 4.0]]
    """
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if isinstance(first, numpy.ndarray):
        return tensor(numpy.stack(batch))
    if isinstance(first, numpy.generic):
        return tensor(numpy.array(batch))
    if isinstance(first, bool):
        return tensor(batch)
    if isinstance(first, numbers.Integral):
        return tensor(batch, dtype=numpy.int64)
    if isinstance(first, numbers.Real):
        return tensor(batch, dtype=numpy.float64)
    if isinstance(first, (str, bytes)):
        return batch
    if isinstance(first, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, collections.abc.Sequence):
        sizes = {len(sample) for sample in batch}
        if len(sizes) > 1:
            raise ValueError(
                f"default_collate: the samples of a batch have different numbers of fields "
                f"{sorted(sizes)}; every sample must have the same"
            )
        fields = [default_collate(column) for column in zip(*batch)]
        if isinstance(first, tuple) and hasattr(first, "_fields"):
            return type(first)(*fields)
        return fields
    raise TypeError(
        "default_collate: samples must be tensors, NumPy arrays, numbers, strings, or "
        f"tuples, lists or dicts of them; got {type(first).__name__}"
    )


class DataLoader:
    """Batches of ``dataset``: ``for x, y in DataLoader(data, batch_size=32, shuffle=True)``.

    Each ``iter(loader)`` is one epoch over every sample once. With ``shuffle`` the order is a
    fresh random permutation each epoch: drawn from ``numpy.random.default_rng(seed)``, held
    by the loader, when ``seed`` is given (so the sequence of epochs is fixed by the seed), or
    from chainrule's global generator (:func:`chainrule.manual_seed`) when it is None.

    Args:
        dataset: a map-style data set (``__getitem__`` and ``__len__``), not empty.
        batch_size: samples per batch, a positive int; the last batch may be smaller.
        shuffle: a new random order every epoch instead of 0, 1, 2, ...
        drop_last: leave out a last batch smaller than ``batch_size``; a data set smaller
            than one batch is then an error rather than (as in PyTorch) an empty epoch.
        seed: the seed of the shuffling; None uses the global generator.
        collate_fn: joins a list of samples into a batch; None means :func:`default_collate`,
            and for a :class:`TensorDataset` (or a :class:`Subset` of one) reading whole
            batches by index instead of sample by sample.
        num_workers, pin_memory: accepted so that PyTorch scripts run unchanged; loading
            always happens in this process (array batches are one indexing per tensor).

    ``len(loader)`` is the number of batches in an epoch. Batches of a TensorDataset are lists
    of tensors, one (B, ...) tensor per tensor of the data set, as in PyTorch.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        _check_arguments(dataset, batch_size, drop_last, seed, collate_fn, num_workers)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self._custom_collate = collate_fn is not None
        self._rng = numpy.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        if self.shuffle:
            rng = self._rng if self._rng is not None else default_generator()
            order = rng.permutation(n)
        else:
            order = numpy.arange(n)
        read = None if self._custom_collate else _batch_reader(self.dataset)
        if read is None:
            read = self._read_samples
        return _Epoch(order, self.batch_size, len(self), read)

    def _read_samples(self, indices: numpy.ndarray) -> Any:
        return self.collate_fn([self.dataset[i] for i in indices.tolist()])

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size="
            f"{self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


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


def _check_arguments(
    dataset: Any,
    batch_size: Any,
    drop_last: bool,
    seed: Any,
    collate_fn: Any,
    num_workers: Any,
) -> None:
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise TypeError(
            "DataLoader: dataset must be a map-style data set with __getitem__ and "
            f"__len__, got {type(dataset).__name__}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
    n = len(dataset)
    if n == 0:
        raise ValueError("DataLoader: the data set is empty (len(dataset) == 0)")
    if drop_last and n < batch_size:
        raise ValueError(
            f"DataLoader: drop_last=True with batch_size {batch_size} larger than the "
            f"{n} samples of the data set would give no batches at all"
        )


def _batch_reader(dataset: Any) -> Callable[[numpy.ndarray], Any] | None:
    """A function reading a batch of ``dataset`` by index array, when it has one: the
    data set's ``get_batch``, reached through any chain of Subsets by composing their indices.
    """
    outer_to_inner = None
    while isinstance(dataset, Subset):
        indices = numpy.asarray(dataset.indices, dtype=numpy.int64)
        outer_to_inner = indices if outer_to_inner is None else indices[outer_to_inner]
        dataset = dataset.dataset
    get_batch = getattr(dataset, "get_batch", None)
    if not callable(get_batch):
        return None
    if outer_to_inner is None:
        return get_batch
    mapping = outer_to_inner
    return lambda indices: get_batch(mapping[indices])
