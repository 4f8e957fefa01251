"""Tables of numbers from a CSV file, as train and test data sets for a named target column."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy

from chainrule.data.dataset import TensorDataset
from chainrule.data.split import train_test_datasets

TASKS = ("auto", "classification", "regression")

# "auto" reads a target as class labels when it holds whole numbers >= 0 taking at most this
# many distinct values, and no more than half as many values as there are rows.
AUTO_MAX_CLASSES = 20


def from_csv(
    path: str | os.PathLike,
    target: str,
    test_fraction: float = 0.2,
    seed: int = 0,
    task: str = "auto",
) -> tuple[TensorDataset, TensorDataset]:
    """Read a CSV table of numbers and return ``(train, test)`` data sets of ``(x, y)``.

    The first row names the columns; every other row holds one number per column. ``target``
    names the column to predict, and the features x (N, D) float32 are all the other columns,
    in file order. Blank lines are skipped.

    Args:
        path: the CSV file.
        target: the name of the target column.
        test_fraction: share of the rows held out for testing (rounded up), in [0, 1).
        seed: fixes the random split (stratified by class for classification).
        task: "classification": y (N,) int64 class indices, so every target must be a whole
            number >= 0 (the labels are kept as they are, not renumbered); "regression":
            y (N, 1) float32; "auto": classification when every target is a whole number
            >= 0 and there are at most ``AUTO_MAX_CLASSES`` distinct values, and at most
            half as many as rows; regression otherwise.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: an unknown ``task``; no ``target`` column (the message lists the columns);
            an empty file or no data rows; a row with the wrong number of cells; a cell that is
            empty, not a number, or not finite; a class label that is not a whole number >= 0.
            Each names the file, and the row as an editor numbers it (the header is row 1) and
            the column where there is one.

    ```pycon
    >>> import chainrule as cr
    >>> import pathlib, tempfile, numpy
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = pathlib.Path(folder.name) / "table.csv"
    >>> rows = [[i, 2 * i, i % 2] for i in range(10)]
    >>> numpy.savetxt(path, rows, fmt="%d", delimiter=",", header="a,b,label", comments="")
    >>> train, test = cr.data.from_csv(path, target="label")
    >>> len(train), len(test), tuple(train.tensors[0].shape), train.tensors[1].dtype == cr.int64
    (8, 2, (8, 2), True)
    >>> folder.cleanup()

    ```
    """
    if task not in TASKS:
        raise ValueError(f"from_csv: task must be one of {TASKS}, got {task!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"from_csv: no such file: {str(path)!r}")
    header, rows, line_numbers = _read(path)
    if target not in header:
        raise ValueError(f"from_csv: {path}: no column named {target!r}; the columns are {header}")
    if len(header) < 2:
        raise ValueError(f"from_csv: {path}: the target {target!r} is the only column")
    table = _numbers(path, header, rows, line_numbers)
    column = header.index(target)
    x = numpy.delete(table, column, axis=1).astype(numpy.float32)
    values = table[:, column]
    if task == "auto":
        task = "classification" if _looks_like_classes(values) else "regression"
    if task == "classification":
        _check_labels(path, target, values, line_numbers)
        y = values.astype(numpy.int64)
        return train_test_datasets(x, y, test_fraction, seed, stratify=True, where="from_csv")
    y = values.astype(numpy.float32).reshape(-1, 1)
    return train_test_datasets(x, y, test_fraction, seed, stratify=False, where="from_csv")


def _read(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """The header's names, the data rows' cells, and each data row's line number."""
    # utf-8-sig drops the byte-order mark that spreadsheet programs put before the header.
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None or not any(name.strip() for name in header):
            raise ValueError(f"from_csv: {path}: the file is empty (no header row)")
        header = [name.strip() for name in header]
        _check_header(path, header)
        rows, line_numbers = [], []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise ValueError(
                    f"from_csv: {path}, row {reader.line_num}: {len(row)} cells, but the "
                    f"header has {len(header)} columns {header}"
                )
            rows.append(row)
            line_numbers.append(reader.line_num)
    if not rows:
        raise ValueError(f"from_csv: {path}: no data rows after the header")
    return header, rows, line_numbers


def _check_header(path: Path, header: list[str]) -> None:
    for position, name in enumerate(header, 1):
        if not name:
            raise ValueError(f"from_csv: {path}: column {position} of the header has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"from_csv: {path}: the header names {duplicates} more than once")


def _numbers(
    path: Path, header: list[str], rows: list[list[str]], line_numbers: list[int]
) -> numpy.ndarray:
    """The cells as a float64 array (rows, columns), or an error naming the first bad cell."""
    cells = numpy.char.strip(numpy.array(rows, dtype=str))
    try:
        table = cells.astype(numpy.float64)
    except ValueError:
        table = None
    if table is not None and numpy.isfinite(table).all():
        return table
    # Cell by cell only when the fast conversion fails: to name the culprit, or to accept a
    # spelling that Python's float() reads and NumPy's does not.
    table = numpy.empty(cells.shape)
    for i, (row, line) in enumerate(zip(cells, line_numbers)):
        for j, (name, cell) in enumerate(zip(header, row.tolist())):
            where = f"from_csv: {path}, row {line}, column {name!r}"
            if not cell:
                raise ValueError(f"{where}: the cell is empty")
            try:
                table[i, j] = float(cell)
            except ValueError:
                raise ValueError(f"{where}: {cell!r} is not a number") from None
            if not numpy.isfinite(table[i, j]):
                raise ValueError(f"{where}: {cell!r} is not a finite number")
    return table


def _looks_like_classes(values: numpy.ndarray) -> bool:
    if not (numpy.all(values >= 0) and numpy.all(values == numpy.round(values))):
        return False
    distinct = numpy.unique(values).size
    return distinct <= AUTO_MAX_CLASSES and distinct <= len(values) / 2


def _check_labels(path: Path, target: str, values: numpy.ndarray, line_numbers: list[int]) -> None:
    bad = numpy.flatnonzero((values < 0) | (values != numpy.round(values)))
    if bad.size:
        first = bad[0]
        raise ValueError(
            f"from_csv: {path}, row {line_numbers[first]}, column {target!r}: class labels "
            f"must be whole numbers >= 0, got {values[first]:g} (use task='regression' for a "
            "numeric target)"
        )
