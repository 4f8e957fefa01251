"""What ``fit``, ``evaluate`` and ``predict`` accept as data, and the checks made before training.

Data may be a :class:`~chainrule.data.DataLoader`, a map-style
:class:`~chainrule.data.Dataset` (usually a ``TensorDataset``), or a pair ``(x, y)`` of arrays
or tensors. Everything becomes a loader whose batches are tuples ``(*inputs, target)``.
Tensor-backed data sets are checked whole before the first step, so that bad data fail before
training starts with the data set, the tensor and the row named.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, devices
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset
from chainrule.tensor import Tensor


def _as_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    array = numpy.asarray(value)
    if array.dtype == numpy.float64:
        array = array.astype(numpy.float32)  # float32 by default, as chainrule.tensor does
    return Tensor(backend.xp.asarray(array))


def check_batch_size(batch_size: Any, where: str) -> int:
    """A positive int, or a ValueError naming ``where`` and the value."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer)):
        raise ValueError(f"{where}: batch_size must be a positive integer, got {batch_size!r}")
    if batch_size <= 0:
        raise ValueError(f"{where}: batch_size must be a positive integer, got {batch_size}")
    return int(batch_size)


def as_loader(
    data: Any, name: str, where: str, batch_size: int, shuffle: bool, seed: int | None
) -> DataLoader:
    """``data`` as a DataLoader; ``name`` (e.g. 'train_data') appears in error messages."""
    if isinstance(data, DataLoader):
        loader = data
    else:
        if isinstance(data, (tuple, list)) and not isinstance(data, Dataset):
            if len(data) < 2:
                raise ValueError(
                    f"{where}: {name} as a sequence must be (inputs..., targets), "
                    f"got {len(data)} item(s)"
                )
            lengths = [len(item) for item in data]
            if len(set(lengths)) != 1:
                raise ValueError(
                    f"{where}: {name} has inputs and targets of different lengths {lengths}"
                )
            data = TensorDataset(*(_as_tensor(item) for item in data))
        if not isinstance(data, Dataset) and not (
            hasattr(data, "__getitem__") and hasattr(data, "__len__")
        ):
            raise TypeError(
                f"{where}: {name} must be a DataLoader, a Dataset or a pair (x, y), "
                f"got {type(data).__name__}"
            )
        if len(data) == 0:
            raise ValueError(f"{where}: {name} is empty")
        loader = DataLoader(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    if len(loader.dataset) == 0:
        raise ValueError(f"{where}: {name} is empty")
    return loader


def place_model(model: Any, optimizer: Any, device: Any, where: str) -> devices.device | None:
    """Where ``fit``/``evaluate``/``predict`` put each batch: ``device`` when given, after
    moving the model (in place) and the optimizer's state there; else the device of the
    model's parameters when it is not the CPU (a model moved to a GPU by hand); else None,
    and batches are used as they come."""
    if device is None:
        parameters = getattr(model, "parameters", None)
        first = next(iter(parameters()), None) if callable(parameters) else None
        if first is None or type(first.array) is numpy.ndarray:
            return None
        return devices.of_array(first.array)
    device = devices.check(device, where)
    if callable(getattr(model, "to", None)):
        model.to(device)
    state = getattr(optimizer, "state", None)
    if isinstance(state, dict):
        # The buffers of steps made elsewhere go with their parameters, as load_state_dict
        # would place them; an update mixing devices would fail.
        for p, values in state.items():
            if isinstance(p, Tensor) and isinstance(values, dict):
                module = backend.module_of(p.array)
                for key, value in values.items():
                    values[key] = _moved_array(value, module)
    return device


def _moved_array(value: Any, module: Any) -> Any:
    if backend.is_array(value):
        return backend.transfer(value, module)
    if isinstance(value, (list, tuple)):
        return type(value)(_moved_array(item, module) for item in value)
    return value


def to_device(batch: Any, device: devices.device) -> Any:
    """``batch`` with each tensor in it (in tuples, lists and dicts too) moved to ``device``
    with ``Tensor.to`` (itself when it is there already); other values as they are."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)) and not hasattr(batch, "_fields"):
        return type(batch)(to_device(item, device) for item in batch)
    if isinstance(batch, dict):
        return {key: to_device(item, device) for key, item in batch.items()}
    return batch


def tensor_columns(dataset: Any) -> list[numpy.ndarray] | None:
    """The arrays behind a tensor-backed data set (a Subset taken), or None for other kinds."""
    indices = None
    while isinstance(dataset, Subset):
        chosen = numpy.asarray(dataset.indices)
        indices = chosen if indices is None else chosen[indices]
        dataset = dataset.dataset
    if not isinstance(dataset, TensorDataset):
        return None
    columns = [backend.to_numpy(t.array if isinstance(t, Tensor) else t) for t in dataset.tensors]
    return columns if indices is None else [column[indices] for column in columns]


def check_finite(columns: list[numpy.ndarray], name: str, where: str) -> None:
    """ValueError naming the first row with a NaN or infinite value in any floating column."""
    for position, column in enumerate(columns):
        if column.dtype.kind not in "fc":
            continue
        bad = ~numpy.isfinite(column.reshape(len(column), -1)).all(axis=1)
        if bad.any():
            row = int(numpy.argmax(bad))
            role = "targets" if position == len(columns) - 1 else f"inputs[{position}]"
            values = column[row].ravel()
            offender = values[~numpy.isfinite(values)][0]
            raise ValueError(
                f"{where}: {name} has a non-finite value ({offender}) in its {role} at row "
                f"{row} ({int(bad.sum())} row(s) in all); remove or impute them before training"
            )
