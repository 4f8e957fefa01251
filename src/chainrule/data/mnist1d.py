"""MNIST-1D (Greydanus & Kobak, 2020): ten 1-D digit templates, padded, scaled, translated,
sheared and noised into signals of length 40; generated locally by the ``mnist1d`` package.

The paper's defaults give 4,000 training and 1,000 test signals from seed 42. Nothing is
downloaded and nothing is written to disk: ``mnist1d.data.get_dataset`` would try both, so it
is never called; ``make_dataset`` builds the arrays in memory.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from chainrule.creation import from_numpy
from chainrule.data.dataset import TensorDataset
from chainrule.optional import require

# get_dataset_args() also lists "url", which only the downloading get_dataset reads.
_NOT_DATA_ARGS = frozenset({"url"})


def mnist1d(
    test_fraction: float | None = None, seed: int = 42, **data_args: Any
) -> tuple[TensorDataset, TensorDataset]:
    """Generate MNIST-1D and return ``(train, test)`` as tensor datasets of ``(x, y)``.

    x is float32 of shape (N, final_seq_length) = (N, 40) by default, y is int64 of shape (N,)
    with labels 0-9. With the defaults, train has 4,000 signals and test 1,000, exactly the
    arrays of ``make_dataset(get_dataset_args())``.

    Args:
        test_fraction: share of the ``num_samples`` signals held out for testing, in (0, 1);
            None keeps the paper's 0.2 (``train_split`` 0.8).
        seed: seed of the generator (the paper's is 42). The same arguments always give the
            same arrays.
        **data_args: any other field of ``mnist1d.data.get_dataset_args()`` to override, e.g.
            ``num_samples=10_000`` or ``shuffle_seq=True``.

    Raises:
        TypeError: for a keyword that is not a field of ``get_dataset_args()``.
        ValueError: for a ``test_fraction`` outside (0, 1), or one given together with
            ``train_split``.

    ```pycon
    >>> train, test = mnist1d()  # doctest: +SKIP
    >>> len(train), train.tensors[0].shape, test.tensors[1].dtype  # doctest: +SKIP
    (4000, (4000, 40), dtype('int64'))

    ```
    """
    data = require("mnist1d.data", "chainrule.data.mnist1d")
    args = data.get_dataset_args()
    _override(args, test_fraction, seed, data_args)
    # make_dataset reseeds Python's and NumPy's global generators; the caller's stay as they were.
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        arrays = data.make_dataset(args)
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return _tensors(arrays["x"], arrays["y"]), _tensors(arrays["x_test"], arrays["y_test"])


def _override(args: Any, test_fraction: float | None, seed: int, data_args: dict) -> None:
    known = sorted(set(vars(args)) - _NOT_DATA_ARGS)
    unknown = sorted(set(data_args) - set(known))
    if unknown:
        raise TypeError(
            f"mnist1d: unknown data argument(s) {unknown}; the fields of "
            f"mnist1d.data.get_dataset_args() are {known}"
        )
    if test_fraction is not None:
        if "train_split" in data_args:
            raise ValueError("mnist1d: give test_fraction or train_split, not both")
        if not 0 < test_fraction < 1:
            raise ValueError(f"mnist1d: test_fraction must lie in (0, 1), got {test_fraction}")
        data_args = {**data_args, "train_split": 1 - test_fraction}
    for name, value in {**data_args, "seed": seed}.items():
        setattr(args, name, value)


def _tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(
        from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        from_numpy(np.ascontiguousarray(y, dtype=np.int64)),
    )
