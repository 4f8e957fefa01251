"""Small synthetic data sets, generated on the spot and fixed by a seed.

``xor`` and ``linear`` are the seed articles' data; ``spirals`` and ``moons`` are the classic
2-D classification tasks that no linear model separates. Features are float32, class labels
int64, and every generator draws from ``numpy.random.default_rng(seed)`` alone.
"""

from __future__ import annotations

import math
import numbers

import numpy

from chainrule.creation import from_numpy
from chainrule.data.dataset import TensorDataset
from chainrule.data.split import train_test_datasets
from chainrule.tensor import Tensor


def xor() -> TensorDataset:
    """The XOR truth table of the seed articles: x (4, 2) float32, y (4, 1) float32.

    ```pycon
    >>> [float(v) for v in xor().tensors[1].flatten()]
    [0.0, 1.0, 1.0, 0.0]

    ```
    """
    x = numpy.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=numpy.float32)
    y = numpy.array([[0], [1], [1], [0]], dtype=numpy.float32)
    return TensorDataset(from_numpy(x), from_numpy(y))


def linear(
    n: int = 100, w: float = 3.0, b: float = 0.0, noise: float = 1.0, seed: int = 0
) -> TensorDataset:
    """Points on a noisy line, the seed article's ``y = 3x + rand``: x (n, 1), y (n, 1) float32.

    x is uniform on [0, 1) and y = w·x + b + noise·u with u uniform on [0, 1), exactly the
    article's ``X = rand(100, 1); y = 3 * X + rand(100, 1)`` with the defaults. The noise is
    not centred, as in the article: the least-squares line is y = w·x + (b + noise/2).

    ```pycon
    >>> x, y = linear(n=5).tensors
    >>> x.shape, str(y.dtype)
    (chainrule.Size([5, 1]), 'float32')

    ```
    """
    _check_count(n, 1, "n", "linear")
    _check_non_negative(noise, "noise", "linear")
    rng = numpy.random.default_rng(_check_seed(seed, "linear"))
    x = rng.random((n, 1))
    y = w * x + b + noise * rng.random((n, 1))
    return TensorDataset(_features(x), _features(y))


def spirals(
    n: int = 300,
    classes: int = 3,
    noise: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[TensorDataset, TensorDataset]:
    """Interleaved spiral arms, one per class: ``(train, test)`` with x (N, 2), y (N,) int64.

    The ``n`` points are shared out between the arms as evenly as possible. Along arm k of m
    points the radius r steps evenly through 1/m, 2/m, ..., 1 while the angle turns through
    4 radians from 2πk/classes, plus Gaussian noise of standard deviation ``noise`` (radians);
    the point is r·(cos angle, sin angle). The test part is a stratified ``test_fraction``
    of the points.

    ```pycon
    >>> import chainrule as cr
    >>> train, test = cr.data.spirals(n=300, classes=3)
    >>> len(train), len(test), tuple(train[0][0].shape)
    (240, 60, (2,))
    >>> sorted(set(train.tensors[1].tolist()))
    [0, 1, 2]

    ```
    """
    _check_count(classes, 2, "classes", "spirals")
    _check_count(n, 2 * classes, "n", "spirals")
    _check_non_negative(noise, "noise", "spirals")
    rng = numpy.random.default_rng(_check_seed(seed, "spirals"))
    sizes = [n // classes + (k < n % classes) for k in range(classes)]
    points, labels = [], []
    for k, size in enumerate(sizes):
        # Starting at 1/size rather than 0 keeps the arms from sharing a point at the centre.
        radius = numpy.arange(1, size + 1) / size
        angle = 2 * math.pi * k / classes + 4.0 * radius + rng.normal(0.0, noise, size)
        points.append(numpy.stack([radius * numpy.cos(angle), radius * numpy.sin(angle)], 1))
        labels.append(numpy.full(size, k))
    return _split(
        numpy.concatenate(points), numpy.concatenate(labels), test_fraction, rng, "spirals"
    )


def moons(
    n: int = 400, noise: float = 0.1, test_fraction: float = 0.2, seed: int = 0
) -> tuple[TensorDataset, TensorDataset]:
    """Two interleaving half circles: ``(train, test)`` with x (N, 2), y (N,) int64.

    Class 0 lies on the upper unit half circle (cos θ, sin θ), class 1 on the lower one
    shifted into its mouth, (1 − cos θ, 0.5 − sin θ), θ evenly spaced in [0, π]; each point
    gets Gaussian noise of standard deviation ``noise`` on both coordinates. Half the ``n``
    points (rounded down) are class 0. The test part is a stratified ``test_fraction``.

    ```pycon
    >>> import chainrule as cr
    >>> train, test = cr.data.moons(n=100)
    >>> len(train), len(test), tuple(train.tensors[0].shape), sorted(set(test.tensors[1].tolist()))
    (80, 20, (80, 2), [0, 1])

    ```
    """
    _check_count(n, 4, "n", "moons")
    _check_non_negative(noise, "noise", "moons")
    rng = numpy.random.default_rng(_check_seed(seed, "moons"))
    upper = numpy.linspace(0.0, math.pi, n // 2)
    lower = numpy.linspace(0.0, math.pi, n - n // 2)
    points = numpy.concatenate(
        [
            numpy.stack([numpy.cos(upper), numpy.sin(upper)], 1),
            numpy.stack([1.0 - numpy.cos(lower), 0.5 - numpy.sin(lower)], 1),
        ]
    )
    points = points + rng.normal(0.0, noise, points.shape)
    labels = numpy.repeat([0, 1], [upper.size, lower.size])
    return _split(points, labels, test_fraction, rng, "moons")


# ---- shared helpers --------------------------------------------------------------------------


def _split(
    x: numpy.ndarray,
    y: numpy.ndarray,
    test_fraction: float,
    rng: numpy.random.Generator,
    where: str,
) -> tuple[TensorDataset, TensorDataset]:
    # The split's seed comes from the data's own generator, so that one seed fixes both.
    split_seed = int(rng.integers(2**63))
    return train_test_datasets(
        x.astype(numpy.float32), y.astype(numpy.int64), test_fraction, split_seed, True, where
    )


def _features(array: numpy.ndarray) -> Tensor:
    return from_numpy(numpy.ascontiguousarray(array, dtype=numpy.float32))


def _check_count(value: int, minimum: int, name: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an int of at least {minimum}, got {value!r}")


def _check_non_negative(value: float, name: str, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{where}: {name} must be a non-negative number, got {value!r}")


def _check_seed(seed: int, where: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{where}: seed must be a non-negative int, got {seed!r}")
    return int(seed)
