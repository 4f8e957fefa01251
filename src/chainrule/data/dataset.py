"""Data sets, as ``torch.utils.data`` has them: map-style (a length and an item for every index)
and iterable-style (:class:`IterableDataset`, a stream of samples).

A :class:`TensorDataset` also hands out whole batches through :meth:`TensorDataset.get_batch`,
one fancy-indexing of each tensor, so that a :class:`~chainrule.data.DataLoader` over array data
does no Python work per sample.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy

from chainrule import backend
from chainrule.creation import as_tensor
from chainrule.tensor import Tensor


class NoLengthError(TypeError, NotImplementedError):
    """``len()`` of a data set that defines none. A TypeError, as ``len()`` of an object without
    a length is in Python (and in PyTorch, whose Dataset has no ``__len__``), so that
    ``list(dataset)`` and other consumers of a length hint iterate without one; and a
    NotImplementedError, for code that asks the base class for what a subclass must define."""


class Dataset:
    """A map-style data set: ``dataset[i]`` is sample i, for 0 <= i < ``len(dataset)``.

    Subclasses define ``__getitem__`` and ``__len__``. ``a + b`` chains two data sets into a
    :class:`ConcatDataset`.

    ```pycon
    >>> import chainrule as cr
    >>> class Squares(cr.data.Dataset):
    ...     def __getitem__(self, index):
    ...         return index * index
    ...     def __len__(self):
    ...         return 4
    >>> [Squares()[i] for i in range(len(Squares()))]
    [0, 1, 4, 9]

    ```
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NoLengthError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples that are rows of tensors: ``dataset[i] == (t[i] for t in tensors)``.

    Every tensor must have the same size in its first dimension, the number of samples.
    NumPy arrays are accepted and wrapped (without a copy) as tensors.

    A :class:`~chainrule.data.DataLoader` reads batches through :meth:`get_batch`, not
    ``__getitem__``: a subclass that changes samples must override ``get_batch`` too.

    ```pycon
    >>> import chainrule as cr
    >>> data = TensorDataset(cr.zeros(5, 3), cr.arange(5))
    >>> len(data), tuple(data[1][0].shape), data.get_batch([0, 4])[1].tolist()
    (5, (3,), [0, 4])

    ```
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        converted = []
        for position, value in enumerate(tensors):
            if not isinstance(value, (Tensor, numpy.ndarray)):
                raise TypeError(
                    f"TensorDataset: argument {position} must be a Tensor or a NumPy array, "
                    f"got {type(value).__name__}"
                )
            if value.ndim == 0:
                raise ValueError(
                    f"TensorDataset: argument {position} is 0-dimensional; every tensor needs "
                    "a first dimension that counts the samples"
                )
            converted.append(as_tensor(value))
        sizes = [t.shape[0] for t in converted]
        if len(set(sizes)) > 1:
            raise ValueError(
                "TensorDataset: every tensor must have the same size in dimension 0 (the "
                f"number of samples), got sizes {sizes} for shapes "
                f"{[tuple(t.shape) for t in converted]}"
            )
        self.tensors: tuple[Tensor, ...] = tuple(converted)

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: Any) -> list[Tensor]:
        """The samples at ``indices`` (B,), already collated: one (B, ...) tensor per tensor.

        The same list that ``default_collate([dataset[i] for i in indices])`` builds, from one
        fancy-indexing of each tensor instead of B lookups and a stack.
        """
        index = backend.as_array(indices, dtype=numpy.int64)
        return [t[index] for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``subset[i] == dataset[indices[i]]``.

    ```pycon
    >>> import chainrule as cr
    >>> data = cr.data.TensorDataset(cr.arange(10))
    >>> subset = cr.data.Subset(data, [7, 2])
    >>> len(subset), subset[0][0].item()
    (2, 7)

    ```
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several data sets one after the other: the samples of the first, then the second, ...

    ```pycon
    >>> import chainrule as cr
    >>> a = cr.data.TensorDataset(cr.arange(3))
    >>> b = cr.data.TensorDataset(cr.arange(10, 12))
    >>> both = cr.data.ConcatDataset([a, b])
    >>> len(both), both[3][0].item(), both[-1][0].item()
    (5, 10, 11)

    ```
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one data set, got none")
        self.cumulative_sizes: list[int] = []
        total = 0
        for dataset in self.datasets:
            total += len(dataset)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        length = len(self)
        if not -length <= index < length:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {length} samples")
        index %= length
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


class StackDataset(Dataset):
    """Several data sets side by side: sample i is a tuple of their samples i (positional
    arguments) or a dict of them (keyword arguments). All must have the same length.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.data.TensorDataset(cr.arange(3))
    >>> y = cr.data.TensorDataset(cr.arange(3) * 10)
    >>> pairs = cr.data.StackDataset(x, y)
    >>> len(pairs), [part[0].item() for part in pairs[2]]
    (3, [2, 20])
    >>> sorted(cr.data.StackDataset(x=x, y=y)[0])
    ['x', 'y']

    ```
    """

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError(
                "StackDataset: give the data sets as positional or as keyword arguments, not both"
            )
        datasets = args or tuple(kwargs.values())
        if not datasets:
            raise ValueError("StackDataset: expected at least one data set")
        lengths = [len(dataset) for dataset in datasets]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset: the data sets have different lengths {lengths}")
        self.datasets: tuple | dict = args or kwargs
        self._length = lengths[0]

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __len__(self) -> int:
        return self._length


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``. ``a + b`` chains two streams.

    A :class:`~chainrule.data.DataLoader` with worker processes iterates a copy of the data
    set in every worker; to split the stream between them, read
    :func:`~chainrule.data.get_worker_info` inside ``__iter__``.

    ```pycon
    >>> import chainrule as cr
    >>> class Countdown(cr.data.IterableDataset):
    ...     def __iter__(self):
    ...         return iter([3, 2, 1])
    >>> [n for n in Countdown()], [n for n in Countdown() + Countdown()]
    ([3, 2, 1], [3, 2, 1, 3, 2, 1])

    ```
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: Dataset) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable data sets one after the other.

    ```pycon
    >>> import chainrule as cr
    >>> class Stream(cr.data.IterableDataset):
    ...     def __init__(self, items):
    ...         self.items = items
    ...     def __iter__(self):
    ...         return iter(self.items)
    >>> [item for item in cr.data.ChainDataset([Stream([1, 2]), Stream([3])])]
    [1, 2, 3]

    ```
    """

    def __init__(self, datasets: Iterable[IterableDataset]) -> None:
        self.datasets = list(datasets)

    def __iter__(self) -> Iterator[Any]:
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        return sum(len(dataset) for dataset in self.datasets)  # type: ignore[arg-type]
