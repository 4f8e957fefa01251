"""Reading one batch: the part of a DataLoader that the main process and the worker processes
share.

A map-style data set is read at the indices a sampler chose: a :class:`TensorDataset` (or a
chain of :class:`Subset` s of one) a whole batch at a time, with one fancy-indexing of each
tensor; a data set with ``__getitems__`` through it; any other sample by sample, joined by the
collate function. An iterable data set is read by taking the next ``batch_size`` samples of
its stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy

from chainrule.data.dataset import Subset


class MapFetcher:
    """Reads the samples of a map-style ``dataset`` at given indices.

    With ``batched`` (automatic batching) ``fetch`` takes a list of indices and returns the
    collated batch; without, it takes one index and returns the converted sample.
    ``read_batches`` allows reading a TensorDataset through ``get_batch`` (only with the
    default collate function, whose result it is).
    """

    def __init__(
        self, dataset: Any, batched: bool, collate_fn: Callable, read_batches: bool
    ) -> None:
        self.dataset, self.batched, self.collate_fn = dataset, batched, collate_fn
        self.read = batch_reader(dataset) if batched and read_batches else None
        self.getitems = getattr(dataset, "__getitems__", None) if batched else None

    def fetch(self, indices: Any) -> Any:
        if not self.batched:
            return self.collate_fn(self.dataset[indices])
        if self.read is not None:
            return self.read(numpy.asarray(indices, dtype=numpy.int64))
        if isinstance(indices, numpy.ndarray):
            indices = indices.tolist()
        if self.getitems is not None:
            return self.collate_fn(self.getitems(indices))
        return self.collate_fn([self.dataset[i] for i in indices])


class IterableFetcher:
    """Reads the next batch (or, without ``batch_size``, the next sample) of an iterable
    data set's stream; ``fetch`` raises StopIteration when the stream has no more."""

    def __init__(
        self, dataset: Any, batch_size: int | None, drop_last: bool, collate_fn: Callable
    ) -> None:
        self.batch_size, self.drop_last, self.collate_fn = batch_size, drop_last, collate_fn
        self.stream: Iterator[Any] = iter(dataset)
        self.ended = False

    def fetch(self, _: Any = None) -> Any:
        if self.ended:
            raise StopIteration
        if self.batch_size is None:
            return self.collate_fn(next(self.stream))
        samples = []
        for sample in self.stream:
            samples.append(sample)
            if len(samples) == self.batch_size:
                return self.collate_fn(samples)
        self.ended = True
        if not samples or (self.drop_last and len(samples) < self.batch_size):
            raise StopIteration
        return self.collate_fn(samples)


def batch_reader(dataset: Any) -> Callable[[numpy.ndarray], Any] | None:
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
