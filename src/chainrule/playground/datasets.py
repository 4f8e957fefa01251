"""The playground's data: two features and a 0/1 label, made from a seed or read from a CSV.

XOR is the seeds' truth table (:func:`chainrule.data.xor`); with noise above 0 it becomes four
clusters of 50 points around the table's corners. Spirals and moons are
:func:`chainrule.data.spirals` (two arms) and :func:`chainrule.data.moons`; circles (a ring
around a disc) and blobs (two Gaussian clouds) are made here. Every generated set has a test
part drawn from the same distribution; the seeds' four XOR points and a CSV have none.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy

import chainrule.data as crdata
from chainrule.playground.config import Config, ConfigError

POINTS = 250  # generated points, train and test together
MAX_CSV_ROWS = 5000


@dataclass
class Data:
    """x (N, 2) float32 and y (N, 1) float32 in {0, 1}, for training and (maybe) testing."""

    train_x: numpy.ndarray
    train_y: numpy.ndarray
    test_x: numpy.ndarray | None = None
    test_y: numpy.ndarray | None = None

    def bounds(self) -> tuple[float, float, float, float]:
        """A square (x_min, x_max, y_min, y_max) around every point, with a margin."""
        parts = [self.train_x] if self.test_x is None else [self.train_x, self.test_x]
        points = numpy.concatenate(parts).astype(numpy.float64)
        low, high = points.min(axis=0), points.max(axis=0)
        centre = (low + high) / 2
        half = max(float((high - low).max()) / 2, 0.5) * 1.25
        return (centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half)


def make(config: Config) -> Data:
    """The data set ``config`` names, generated from ``config.seed``.

    ```pycon
    >>> from chainrule.playground.config import Config
    >>> data = make(Config(dataset="moons", noise=0.1))
    >>> data.train_x.shape, data.train_y.shape, data.test_x.shape
    ((200, 2), (200, 1), (50, 2))

    ```
    """
    rng = numpy.random.default_rng(config.seed)
    if config.dataset == "xor":
        return _xor(config.noise, rng)
    if config.dataset == "circles":
        return _labelled(*_circles(POINTS, config.noise, rng), rng)
    if config.dataset == "blobs":
        return _labelled(*_blobs(POINTS, config.noise, rng), rng)
    if config.dataset == "spirals":
        train, test = crdata.spirals(n=POINTS, classes=2, noise=config.noise, seed=config.seed)
        return _from_datasets(train, test)
    if config.dataset == "moons":
        train, test = crdata.moons(n=POINTS, noise=config.noise, seed=config.seed)
        return _from_datasets(train, test)
    if config.dataset == "csv":
        x, y = parse_csv(config.csv)
        return Data(x, y)
    raise ConfigError("dataset", f"unknown data set {config.dataset!r}")


def parse_csv(text: str) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Rows of ``x1, x2, label`` (label 0 or 1); a first row of names is skipped.

    Blank lines are skipped. A row with another number of cells, a cell that is not a finite
    number, or a label other than 0 and 1 is an error naming the row as an editor numbers it.

    ```pycon
    >>> x, y = parse_csv("a,b,label\\n0,0,0\\n0,1,1\\n")
    >>> x.tolist(), y.ravel().tolist()
    ([[0.0, 0.0], [0.0, 1.0]], [0.0, 1.0])
    >>> parse_csv("0,0,0\\n0,x,1\\n")
    Traceback (most recent call last):
    ...
    chainrule.playground.config.ConfigError: CSV row 2, column 2: 'x' is not a number

    ```
    """
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), 1) if any(row)]
    if rows and not _is_number(rows[0][1][0].strip()):
        rows = rows[1:]  # the header
    if not rows:
        raise ConfigError("csv", "CSV: no data rows; expected rows of x1, x2, label")
    if len(rows) > MAX_CSV_ROWS:
        raise ConfigError("csv", f"CSV: {len(rows)} rows; the playground takes {MAX_CSV_ROWS}")
    values = numpy.empty((len(rows), 3))
    for i, (number, row) in enumerate(rows):
        if len(row) != 3:
            cells = ",".join(row)
            raise ConfigError(
                "csv", f"CSV row {number}: {len(row)} cells; expected 3 (x1, x2, label): {cells!r}"
            )
        for column, cell in enumerate(row):
            if not _is_number(cell.strip()):
                raise ConfigError(
                    "csv", f"CSV row {number}, column {column + 1}: {cell!r} is not a number"
                )
            values[i, column] = float(cell)
        if values[i, 2] not in (0.0, 1.0):
            raise ConfigError(
                "csv", f"CSV row {number}: the label is {row[2].strip()}; labels must be 0 or 1"
            )
    x = values[:, :2].astype(numpy.float32)
    return x, values[:, 2:].astype(numpy.float32)


# ---- the generated sets ------------------------------------------------------------------------


def _xor(noise: float, rng: numpy.random.Generator) -> Data:
    corners, labels = (tensor.numpy() for tensor in crdata.xor().tensors)
    if noise == 0:
        return Data(corners.copy(), labels.copy())
    picks = rng.integers(0, 4, POINTS)
    x = corners[picks] + rng.normal(0.0, noise, (POINTS, 2))
    return _labelled(x, labels[picks, 0], rng)


def _circles(n: int, noise: float, rng: numpy.random.Generator) -> tuple:
    """Label 1: a disc of radius 0.5; label 0: a ring of radius 1; Gaussian noise on both."""
    labels = rng.integers(0, 2, n)
    radius = numpy.where(labels == 1, 0.5 * numpy.sqrt(rng.random(n)), 1.0)
    angle = rng.uniform(0.0, 2 * math.pi, n)
    x = numpy.stack([radius * numpy.cos(angle), radius * numpy.sin(angle)], 1)
    return x + rng.normal(0.0, noise, x.shape), labels


def _blobs(n: int, noise: float, rng: numpy.random.Generator) -> tuple:
    """Two Gaussian clouds around (−1, −1) (label 0) and (1, 1) (label 1), spread 0.4 + noise."""
    labels = rng.integers(0, 2, n)
    centres = numpy.where(labels[:, None] == 1, 1.0, -1.0)
    return centres + rng.normal(0.0, 0.4 + noise, (n, 2)), labels


def _labelled(x: numpy.ndarray, labels: numpy.ndarray, rng: numpy.random.Generator) -> Data:
    """Shuffle and split 80/20 into train and test."""
    order = rng.permutation(len(x))
    x = x[order].astype(numpy.float32)
    y = labels[order].astype(numpy.float32).reshape(-1, 1)
    cut = len(x) * 4 // 5
    return Data(x[:cut], y[:cut], x[cut:], y[cut:])


def _from_datasets(train: crdata.TensorDataset, test: crdata.TensorDataset) -> Data:
    def arrays(dataset: crdata.TensorDataset) -> tuple[numpy.ndarray, numpy.ndarray]:
        x, y = (tensor.numpy() for tensor in dataset.tensors)
        return x.astype(numpy.float32), y.astype(numpy.float32).reshape(-1, 1)

    return Data(*arrays(train), *arrays(test))


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
