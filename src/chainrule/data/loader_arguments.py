"""The checks of :class:`~chainrule.data.DataLoader`'s arguments, with PyTorch's rules: which
arguments exclude which, and what each must be. Every error names the DataLoader and says
what to do instead."""

from __future__ import annotations

import multiprocessing
import numbers
from typing import Any


def check_workers(
    num_workers: Any, timeout: Any, prefetch_factor: Any, persistent_workers: bool
) -> None:
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(
            f"DataLoader: num_workers must be a non-negative int (0 loads in this process), "
            f"got {num_workers!r}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
        raise ValueError(f"DataLoader: timeout must be a non-negative number, got {timeout!r}")
    if num_workers == 0 and timeout > 0:
        raise ValueError(
            "DataLoader: timeout applies to waiting for worker processes; with num_workers=0 "
            "it must be 0"
        )
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(
            "DataLoader: prefetch_factor counts batches read ahead by worker processes; with "
            "num_workers=0 leave it None"
        )
    if prefetch_factor is not None and (
        isinstance(prefetch_factor, bool)
        or not isinstance(prefetch_factor, int)
        or prefetch_factor < 1
    ):
        raise ValueError(
            f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}"
        )
    if persistent_workers and num_workers == 0:
        raise ValueError(
            "DataLoader: persistent_workers=True keeps worker processes alive, so it needs "
            "num_workers > 0"
        )


def check_callables(collate_fn: Any, worker_init_fn: Any) -> None:
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
    if worker_init_fn is not None and not callable(worker_init_fn):
        raise TypeError(f"DataLoader: worker_init_fn must be callable, got {worker_init_fn!r}")


def check_dataset(
    dataset: Any, iterable: bool, shuffle: Any, sampler: Any, batch_sampler: Any
) -> None:
    if iterable:
        for name, value in (("shuffle", shuffle), ("sampler", sampler)):
            if value not in (None, False):
                raise ValueError(
                    f"DataLoader: an IterableDataset sets its own order, so {name} must be "
                    f"left unset, got {name}={value!r}"
                )
        if batch_sampler is not None:
            raise ValueError(
                "DataLoader: an IterableDataset sets its own order, so batch_sampler must be "
                f"left unset, got batch_sampler={batch_sampler!r}"
            )
        return
    if not hasattr(dataset, "__getitem__") or (
        sampler is None and batch_sampler is None and not hasattr(dataset, "__len__")
    ):
        raise TypeError(
            "DataLoader: dataset must be a map-style data set with __getitem__ and "
            f"__len__, or an IterableDataset, got {type(dataset).__name__}"
        )


def check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(
            f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}"
        )
    if batch_size <= 0:
        raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size}")


def check_seed(seed: Any, generator: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
    if generator is not None:
        raise ValueError("DataLoader: give seed or generator, not both")


def check_size(dataset: Any, batch_size: int | None, drop_last: bool) -> None:
    n = len(dataset)
    if n == 0:
        raise ValueError("DataLoader: the data set is empty (len(dataset) == 0)")
    if drop_last and batch_size is not None and n < batch_size:
        raise ValueError(
            f"DataLoader: drop_last=True with batch_size {batch_size} larger than the "
            f"{n} samples of the data set would give no batches at all"
        )


def start_method(context: Any, num_workers: int) -> Any:
    if context is None:
        return None
    if num_workers == 0:
        raise ValueError(
            "DataLoader: multiprocessing_context applies to worker processes; it needs "
            f"num_workers > 0, got num_workers={num_workers}"
        )
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(
                f"DataLoader: multiprocessing_context must be one of {methods}, got {context!r}"
            )
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(
            "DataLoader: multiprocessing_context must be a start method's name or a "
            f"multiprocessing context, got {context!r}"
        )
    return context
