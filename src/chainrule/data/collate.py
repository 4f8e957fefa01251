"""Joining samples into batches: :func:`default_collate` (a list of samples -> one batch) and
:func:`default_convert` (one sample, arrays made tensors), as ``torch.utils.data`` has them."""

from __future__ import annotations

import collections.abc
import numbers
from collections.abc import Sequence
from typing import Any

import numpy

from chainrule.creation import tensor
from chainrule.ops.movement import stack
from chainrule.tensor import Tensor


def default_collate(batch: Sequence[Any]) -> Any:
    """Join a list of B samples into one batch, the way PyTorch's ``default_collate`` does.

    Tensors and NumPy arrays of one shape stack into a (B, ...) tensor; Python ints become an
    int64 tensor (B,), Python floats a float64 tensor (B,) (PyTorch's choice), NumPy scalars
    keep their dtype; strings stay as they are; tuples and lists of fields are collated field
    by field into a list (a named tuple keeps its type), dicts key by key.

    ```pycon
    >>> [t.tolist() for t in default_collate([(1, 2.0), (3, 4.0)])]
    [[1, 3], [2.0, 4.0]]

    ```
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


def default_convert(sample: Any) -> Any:
    """One sample with its NumPy arrays and scalars made tensors, for a DataLoader that does
    not batch (``batch_size=None``): tuples become lists and named tuples, dicts and lists
    keep their type, as in PyTorch; anything else is left as it is.

    ```pycon
    >>> default_convert((numpy.arange(2), "a"))
    [tensor([0, 1]), 'a']

    ```
    """
    if isinstance(sample, Tensor):
        return sample
    if isinstance(sample, (numpy.ndarray, numpy.generic)):
        if sample.dtype.kind in "biuf":
            return tensor(numpy.asarray(sample))
        return sample
    if isinstance(sample, collections.abc.Mapping):
        converted = {key: default_convert(sample[key]) for key in sample}
        try:
            return type(sample)(converted)  # type: ignore[call-arg]
        except TypeError:  # a mapping type that cannot be built from a dict
            return converted
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(field) for field in sample))
    if isinstance(sample, (tuple, list)):
        return [default_convert(field) for field in sample]
    return sample
