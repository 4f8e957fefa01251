"""Splitting data sets: :func:`random_split` (PyTorch's) and the seeded, stratified
train/test split that the built-in data sets use."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy

from chainrule.creation import from_numpy
from chainrule.data.dataset import Dataset, Subset, TensorDataset
from chainrule.data.sampler import numpy_generator
from chainrule.random import default_generator


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: numpy.random.Generator | None = None,
    *,
    seed: int | None = None,
) -> list[Subset]:
    """Cut ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    ``lengths`` are either sample counts that add up to ``len(dataset)``, or fractions that add
    up to 1: then each subset gets ``floor(n · fraction)`` samples and the samples left over go
    one each to the subsets in order, as PyTorch does. The permutation comes from
    ``generator`` (a ``numpy.random.Generator``), or ``numpy.random.default_rng(seed)``, or
    else chainrule's global generator (set by :func:`chainrule.manual_seed`).

    ```pycon
    >>> [len(s) for s in random_split(list(range(10)), [0.5, 0.3, 0.2], seed=0)]
    [5, 3, 2]

    ```
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    for length in lengths:
        if isinstance(length, bool) or not isinstance(length, numbers.Real) or length < 0:
            raise ValueError(
                f"random_split: lengths must be non-negative counts or fractions, got {lengths}"
            )
    all_counts = all(isinstance(length, numbers.Integral) for length in lengths)
    if not all_counts and math.isclose(sum(lengths), 1.0) and max(lengths) <= 1:
        counts = [math.floor(n * fraction) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"random_split: fraction {lengths[i]} of {n} samples gives an empty subset",
                    stacklevel=2,
                )
    elif all_counts:
        counts = [int(length) for length in lengths]
    else:
        raise ValueError(
            f"random_split: fractions must add up to 1, got {lengths} (sum {sum(lengths)})"
        )
    if sum(counts) != n:
        raise ValueError(
            f"random_split: lengths {counts} add up to {sum(counts)}, but the data set has "
            f"{n} samples"
        )
    generator = numpy_generator(generator, "random_split")
    if generator is not None and seed is not None:
        raise ValueError("random_split: give seed or generator, not both")
    rng = generator if generator is not None else _generator(seed, "random_split")
    order = rng.permutation(n).tolist()
    subsets, start = [], 0
    for count in counts:
        subsets.append(Subset(dataset, order[start : start + count]))
        start += count
    return subsets


def train_test_indices(
    n: int,
    test_fraction: float,
    seed: int | None,
    labels: numpy.ndarray | None = None,
    where: str = "train_test_indices",
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Random train and test row indices for ``n`` samples, ``ceil(test_fraction · n)`` of
    them held out for testing (scikit-learn's count).

    With ``labels`` (n,), the split is stratified: each class keeps its share in both parts (the
    test rows are shared out between classes by largest remainder). Both index arrays come back
    in random order. ``where`` names the caller in error messages.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real):
        raise TypeError(f"{where}: test_fraction must be a number, got {test_fraction!r}")
    if not 0 <= test_fraction < 1:
        raise ValueError(f"{where}: test_fraction must lie in [0, 1), got {test_fraction}")
    n_test = math.ceil(test_fraction * n)
    if n - n_test < 1:
        raise ValueError(
            f"{where}: test_fraction {test_fraction} of {n} samples leaves none for training"
        )
    rng = _generator(seed, where)
    if labels is None:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    else:
        test, train = _stratified(numpy.asarray(labels), n_test, rng)
    return rng.permutation(train), rng.permutation(test)


def train_test_datasets(
    x: numpy.ndarray,
    y: numpy.ndarray,
    test_fraction: float,
    seed: int | None,
    stratify: bool,
    where: str,
) -> tuple[TensorDataset, TensorDataset]:
    """``(train, test)`` tensor data sets of the rows of ``x`` (N, ...) and ``y`` (N, ...),
    split by :func:`train_test_indices` (stratified by ``y`` when ``stratify``); the arrays
    keep their dtypes.
    """
    labels = y if stratify else None
    train, test = train_test_indices(len(y), test_fraction, seed, labels=labels, where=where)
    return (
        TensorDataset(from_numpy(x[train]), from_numpy(y[train])),
        TensorDataset(from_numpy(x[test]), from_numpy(y[test])),
    )


def _stratified(
    labels: numpy.ndarray, n_test: int, rng: numpy.random.Generator
) -> tuple[numpy.ndarray, numpy.ndarray]:
    classes, counts = numpy.unique(labels, return_counts=True)
    share = counts * (n_test / len(labels))
    per_class = numpy.floor(share).astype(numpy.int64)
    # Largest remainder: the rows still to hand out go to the classes with the biggest
    # fractional shares, so the total is exactly n_test.
    leftover = n_test - int(per_class.sum())
    per_class[numpy.argsort(-(share - per_class), kind="stable")[:leftover]] += 1
    test, train = [], []
    for label, count in zip(classes, per_class):
        members = rng.permutation(numpy.flatnonzero(labels == label))
        test.append(members[:count])
        train.append(members[count:])
    return numpy.concatenate(test), numpy.concatenate(train)


def _generator(seed: int | None, where: str) -> numpy.random.Generator:
    if seed is None:
        return default_generator()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{where}: seed must be a non-negative int or None, got {seed!r}")
    return numpy.random.default_rng(int(seed))
