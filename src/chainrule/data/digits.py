"""scikit-learn's 8×8 handwritten digits: 1,797 images of 0-9, shipped inside scikit-learn."""

from __future__ import annotations

import numpy

from chainrule.data.dataset import TensorDataset
from chainrule.data.split import train_test_datasets
from chainrule.optional import require

# The images hold gray levels 0..16.
_MAX_GRAY = 16.0


def digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """The digits as ``(train, test)``: x (N, 64) float32 in [0, 1], y (N,) int64 in 0..9.

    Each row is an 8×8 image read row by row, its gray levels divided by 16. The split is
    stratified by digit and fixed by ``seed``; ``test_fraction`` of the 1,797 images (rounded
    up) are held out. Needs scikit-learn (``pip install "chainrule[sklearn]"``); nothing is
    downloaded.

    ```pycon
    >>> train, test = digits()  # doctest: +SKIP
    >>> len(train), len(test), train.tensors[0].shape[1]  # doctest: +SKIP
    (1437, 360, 64)

    ```
    """
    datasets = require("sklearn.datasets", "chainrule.data.digits")
    bunch = datasets.load_digits()
    x = (numpy.asarray(bunch.data, dtype=numpy.float32) / _MAX_GRAY).astype(numpy.float32)
    y = numpy.asarray(bunch.target, dtype=numpy.int64)
    return train_test_datasets(x, y, test_fraction, seed, stratify=True, where="digits")
