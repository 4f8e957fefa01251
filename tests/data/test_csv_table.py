"""from_csv: tables read, typed and split; every kind of bad file refused with its place named."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from chainrule.data import TensorDataset, from_csv


def write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def table(rows: int = 30, seed: int = 0) -> tuple[str, np.ndarray]:
    """A CSV whose target ``label`` sits between two features, and its numbers (rows, 3)."""
    rng = np.random.default_rng(seed)
    values = np.c_[rng.normal(size=rows).round(3), np.arange(rows) % 3, rng.random(rows).round(3)]
    lines = ["width,label,height"] + [f"{a},{int(b)},{c}" for a, b, c in values]
    return "\n".join(lines) + "\n", values


def both(pair: tuple[TensorDataset, TensorDataset]) -> tuple[np.ndarray, ...]:
    (x_train, y_train), (x_test, y_test) = ([t.numpy() for t in d.tensors] for d in pair)
    return x_train, y_train, x_test, y_test


def sorted_rows(array: np.ndarray) -> np.ndarray:
    return array[np.lexsort(array.T[::-1])]


# ---- good tables -----------------------------------------------------------------------------


def test_a_classification_table_is_read_typed_and_split(tmp_path: Path) -> None:
    text, values = table()
    x_train, y_train, x_test, y_test = both(from_csv(write(tmp_path, text), "label"))
    assert x_train.dtype == np.float32 and x_train.shape == (24, 2)
    assert y_train.dtype == np.int64 and y_train.shape == (24,)
    assert x_test.shape == (math.ceil(0.2 * 30), 2) and y_test.shape == (6,)
    assert np.bincount(y_test).tolist() == [2, 2, 2]  # stratified
    # Features are the other columns in file order; rows keep their labels.
    read = np.c_[np.r_[x_train, x_test], np.r_[y_train, y_test]].astype(np.float64)
    expected = values[:, [0, 2, 1]].astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(sorted_rows(read), sorted_rows(expected))
    reference = np.genfromtxt(write(tmp_path, text, "copy.csv"), delimiter=",", names=True)
    np.testing.assert_allclose(np.sort(read[:, 0]), np.sort(reference["width"]), rtol=1e-6)


def test_a_real_valued_target_is_regression(tmp_path: Path) -> None:
    text, values = table()
    x_train, y_train, _, y_test = both(from_csv(write(tmp_path, text), "height"))
    assert y_train.dtype == np.float32 and y_train.shape == (24, 1) and y_test.shape == (6, 1)
    np.testing.assert_allclose(np.sort(np.r_[y_train, y_test][:, 0]), np.sort(values[:, 2]), 1e-6)
    assert x_train.shape == (24, 2)


def test_auto_calls_many_distinct_whole_numbers_regression(tmp_path: Path) -> None:
    lines = ["x,count"] + [f"{i / 10},{i * 7}" for i in range(40)]
    path = write(tmp_path, "\n".join(lines))
    assert from_csv(path, "count")[0].tensors[1].shape == (32, 1)
    forced = from_csv(path, "count", task="classification")[0].tensors[1]
    assert forced.dtype == np.int64 and forced.shape == (32,)
    _, small = both(from_csv(path, "x", task="regression"))[:2]
    assert small.dtype == np.float32


def test_a_class_like_target_can_be_read_as_regression(tmp_path: Path) -> None:
    text, _ = table()
    y = from_csv(write(tmp_path, text), "label", task="regression")[0].tensors[1]
    assert y.dtype == np.float32 and y.shape == (24, 1)


def test_spacing_quotes_blank_lines_and_a_byte_order_mark_are_tolerated(tmp_path: Path) -> None:
    text = '\ufeff a , b ,y\n\n1, 2.5 ,0\n"3","4",1\n\n5,6e-1,0\n7,.5,1\n\n\n'
    path = tmp_path / "messy.csv"
    path.write_text(text, encoding="utf-8")
    x_train, y_train, x_test, y_test = both(from_csv(str(path), "y", test_fraction=0.5))
    read = sorted_rows(np.c_[np.r_[x_train, x_test], np.r_[y_train, y_test]])
    np.testing.assert_allclose(read, [[1, 2.5, 0], [3, 4, 1], [5, 0.6, 0], [7, 0.5, 1]], 1e-6)


def test_no_test_fraction_keeps_every_row_for_training(tmp_path: Path) -> None:
    text, _ = table(rows=9)
    train, test = from_csv(write(tmp_path, text), "label", test_fraction=0.0)
    assert len(train) == 9 and len(test) == 0


def test_the_split_is_fixed_by_the_seed(tmp_path: Path) -> None:
    path = write(tmp_path, table()[0])
    first, again, other = (both(from_csv(path, "label", seed=s)) for s in (1, 1, 2))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])


# ---- bad tables ------------------------------------------------------------------------------


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        from_csv(path, "y")


def test_a_missing_target_names_it_and_lists_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, table()[0])
    with pytest.raises(
        ValueError, match=r"no column named 'colour'.*\['width', 'label', 'height'\]"
    ):
        from_csv(path, "colour")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,y\n1,0\n2,zero\n", r"row 3, column 'y': 'zero' is not a number"),
        ("a,y\n1,0\n\n2,1\n,1\n", r"row 5, column 'a': the cell is empty"),
        ("a,y\n1,0\n 1,5 ,1\n", r"row 3: 3 cells, but the header has 2 columns \['a', 'y'\]"),
        ("a,y\n1,0\n2\n", r"row 3: 1 cells, but the header has 2 columns"),
        ("a,b,y\n1,nan,0\n", r"row 2, column 'b': 'nan' is not a finite number"),
        ("a,b,y\n1,2,0\n1,-inf,1\n", r"row 3, column 'b': '-inf' is not a finite number"),
        ("a,y\n", r"no data rows after the header"),
        ("a,y\n\n\n", r"no data rows after the header"),
        ("", r"the file is empty \(no header row\)"),
        ("a,a,y\n1,2,3\n", r"the header names \['a'\] more than once"),
        ("a,,y\n1,2,3\n", r"column 2 of the header has no name"),
        ("y\n1\n2\n", r"the target 'y' is the only column"),
    ],
)
def test_bad_cells_and_shapes_name_the_file_row_and_column(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"from_csv: {re.escape(str(path))}.*{message}"):
        from_csv(path, "y")


@pytest.mark.parametrize(("label", "shown"), [("-1", "-1"), ("1.5", "1.5")])
def test_class_labels_must_be_whole_numbers_from_zero(
    tmp_path: Path, label: str, shown: str
) -> None:
    path = write(tmp_path, f"a,y\n1,0\n2,1\n3,{label}\n")
    with pytest.raises(ValueError, match=rf"row 4, column 'y': class labels .* got {shown}"):
        from_csv(path, "y", task="classification")


def test_an_unknown_task_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, table()[0])
    with pytest.raises(ValueError, match=r"from_csv: task must be one of .*got 'clustering'"):
        from_csv(path, "label", task="clustering")


def test_a_bad_test_fraction_names_from_csv(tmp_path: Path) -> None:
    path = write(tmp_path, table()[0])
    with pytest.raises(ValueError, match=r"from_csv: test_fraction must lie in \[0, 1\)"):
        from_csv(path, "label", test_fraction=1.0)


@pytest.mark.parametrize(
    ("labels", "task"),
    [
        ([0, 1, 0, 1], "classification"),
        ([0, 1, 2, 3], "regression"),  # as many values as rows: not classes
        ([i % 20 for i in range(100)], "classification"),
        ([i % 21 for i in range(100)], "regression"),  # more than AUTO_MAX_CLASSES
        ([-1, 1, -1, 1], "regression"),
    ],
)
def test_the_auto_rule(tmp_path: Path, labels: list[int], task: str) -> None:
    lines = ["a,y"] + [f"{i},{label}" for i, label in enumerate(labels)]
    y = from_csv(write(tmp_path, "\n".join(lines)), "y", test_fraction=0.0)[0].tensors[1]
    expected = (np.int64, 1) if task == "classification" else (np.float32, 2)
    assert (y.dtype, y.ndim) == expected
