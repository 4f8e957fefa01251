"""``chainrule predict MODEL DATA.csv``: a saved model's predictions for the rows of a CSV file.

The model file of ``chainrule train`` says which columns the model reads (see
:mod:`chainrule.cli.model_file`); the CSV file must have them, named in its header, in any
order; its target column may be there or not, and is ignored. A model trained on a built-in
data set reads every column, in order, so the file must have exactly as many columns as the
model has features. The features are used as they are, as ``chainrule train`` used them.

The predictions are a CSV table, one row per data row, in order: for a classifier the class
(named after the target column, or ``class``) and each class's probability ``p_0``, ``p_1``...;
for a regression the predicted values. They go to stdout, or with ``--out`` to a file written
atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy

from chainrule.cli.arguments import positive_int
from chainrule.cli.model_file import ModelCard, open_model
from chainrule.cli.paths import input_file, output_file


def add_parser(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict the rows of a CSV file with a model saved by chainrule train",
        description=(
            "Read a model file written by chainrule train and a CSV file of the same feature "
            "columns (the target column may be absent), and write one prediction per row: the "
            "class and the class probabilities, or the predicted values."
        ),
    )
    predict.add_argument("model", metavar="MODEL.safetensors", help="the model file")
    predict.add_argument("data", metavar="DATA.csv", help="the rows to predict, with a header")
    predict.add_argument(
        "--out", metavar="FILE.csv", help="write the predictions here (default: stdout)"
    )
    predict.add_argument(
        "--batch-size", type=positive_int, default=256, help="rows per forward pass (256)"
    )


def run(args: argparse.Namespace) -> int:
    from chainrule.train import predict

    out = None if args.out is None else output_file(args.out, "predictions file (--out)")
    model, card = open_model(args.model)
    x = read_features(input_file(args.data, "data file"), card)
    outputs = predict(model, x, batch_size=args.batch_size)
    header, columns = prediction_columns(outputs, card)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    if out is None:
        sys.stdout.write(text.getvalue())
    else:
        from chainrule.files import write_text_atomic

        write_text_atomic(out, text.getvalue())
        print(f"wrote {len(x)} predictions to {out}")
    return 0


def read_features(path: Path, card: ModelCard) -> numpy.ndarray:
    """The model's feature columns of a CSV file, as float32 (rows, features); errors name
    the file, and the row (as an editor numbers it: the header is row 1) and the column."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise ValueError(f"{path}: the file is empty (no header row)")
        positions = _feature_positions(path, header, card)
        rows, lines = [], []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines, as from_csv skips them
            if len(row) != len(header):
                raise ValueError(
                    f"{path}, row {reader.line_num}: {len(row)} cell{'s' * (len(row) != 1)}, "
                    f"but the header has {len(header)} columns"
                )
            rows.append([row[i].strip() for i in positions])
            lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    names = [header[i] for i in positions]
    return _numbers(path, rows, lines, names).astype(numpy.float32)


def _feature_positions(path: Path, header: list[str], card: ModelCard) -> list[int]:
    """Where each of the model's features sits among the file's columns."""
    if card.feature_names is None:
        if len(header) != card.features:
            raise ValueError(
                f"{path}: {len(header)} columns, but the model reads {card.features} features; "
                f"a model trained on {card.recipe.data!r} reads every column, in order"
            )
        return list(range(len(header)))
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"{path}: the header names {duplicates} more than once")
    missing = [name for name in card.feature_names if name not in header]
    extra = [name for name in header if name not in card.feature_names and name != card.target]
    if missing or extra:
        found = f"no column {missing}" if missing else f"the unknown columns {extra}"
        if missing and extra:
            found += f" and the unknown columns {extra}"
        raise ValueError(
            f"{path}: {found}; the model reads the columns {card.feature_names} (the target "
            f"column {card.target!r} may be there or not)"
        )
    return [header.index(name) for name in card.feature_names]


def _numbers(
    path: Path, rows: list[list[str]], lines: list[int], names: list[str]
) -> numpy.ndarray:
    """The cells as float64 (rows, columns), or a ValueError naming the first bad cell."""
    try:
        table = numpy.array(rows, dtype=str).astype(numpy.float64)
    except ValueError:
        table = None
    if table is not None and numpy.isfinite(table).all():
        return table
    for row, line in zip(rows, lines):  # only to name the culprit
        for cell, name in zip(row, names):
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or not numpy.isfinite(value):
                what = "the cell is empty" if not cell else f"{cell!r} is not a finite number"
                raise ValueError(f"{path}, row {line}, column {name!r}: {what}")
    raise AssertionError("unreachable: some cell failed to convert")  # pragma: no cover


def prediction_columns(outputs: numpy.ndarray, card: ModelCard) -> tuple[list[str], list[Any]]:
    """The header and columns of the predictions table for the model's raw outputs."""
    if card.task in ("classification", "binary"):
        if card.task == "binary":  # one logit: the probability of class 1
            positive = 1.0 / (1.0 + numpy.exp(-outputs.reshape(-1).astype(numpy.float64)))
            probabilities = numpy.stack([1.0 - positive, positive], axis=1)
        else:
            shifted = outputs - outputs.max(axis=1, keepdims=True)
            weights = numpy.exp(shifted.astype(numpy.float64))
            probabilities = weights / weights.sum(axis=1, keepdims=True)
        classes = probabilities.argmax(axis=1)
        header = [card.target or "class"] + [f"p_{k}" for k in range(probabilities.shape[1])]
        columns = [classes.tolist()] + [_numbers_text(p) for p in probabilities.T]
        return header, columns
    values = outputs.reshape(len(outputs), -1)
    name = card.target or "prediction"
    if values.shape[1] == 1:
        return [name], [_numbers_text(values[:, 0])]
    header = [f"{name}_{i}" for i in range(values.shape[1])]
    return header, [_numbers_text(column) for column in values.T]


def _numbers_text(values: numpy.ndarray) -> list[str]:
    # Nine significant digits give every float32 back exactly.
    return [f"{value:.9g}" for value in values.tolist()]
