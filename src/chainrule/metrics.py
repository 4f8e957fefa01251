"""Classification and regression scores with scikit-learn's names, arguments and results.

Every function takes array-likes, NumPy arrays or chainrule Tensors (one label or value per
sample) and counts with ``numpy.bincount``, never a Python loop over samples.

Classification: :func:`accuracy`, :func:`precision`, :func:`recall`, :func:`f1_score` and
:func:`confusion_matrix`, for binary or multiclass labels of shape (n,) or (n, 1). Scores or
one-hot rows must be turned into labels first (``outputs.argmax(1)``, ``probs > 0.5``).

Regression: :func:`mean_squared_error`, :func:`mean_absolute_error`, :func:`r2_score` for
targets of shape (n,) or (n, outputs).

The ``*_score`` spellings (``accuracy_score``, ``precision_score``, ``recall_score``) are the
same functions under scikit-learn's names.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.tensor import Tensor

_AVERAGES = ("binary", "micro", "macro", "weighted", None)
_NORMALIZE = ("true", "pred", "all", None)


class UndefinedMetricWarning(UserWarning):
    """A score divided by zero (a class never predicted, never true, or one sample for R²).

    ```pycon
    >>> import warnings
    >>> import chainrule as cr
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     score = cr.metrics.precision([0, 0], [1, 1], average=None)
    >>> caught[0].category.__name__
    'UndefinedMetricWarning'

    ```
    """


# ---- input checks ---------------------------------------------------------------------------


def _array(values: Any, name: str, where: str) -> np.ndarray:
    if isinstance(values, Tensor):
        return backend.to_numpy(values.array)
    if type(values) is not np.ndarray and backend.is_array(values):  # a GPU array: host copy
        return backend.to_numpy(values)
    array = np.asarray(values)
    if array.dtype.kind not in "biufUSO":
        raise TypeError(f"{where}: {name} must hold labels or numbers, got dtype {array.dtype}")
    return array


def _is_text(array: np.ndarray) -> bool:
    return array.dtype.kind in "USO"


def _labels(values: Any, name: str, where: str) -> np.ndarray:
    """One class label per sample as a 1-D array; a column (n, 1) is flattened."""
    array = _array(values, name, where)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"{where}: {name} must hold one class label per sample, shape (n,) or (n, 1); got "
            f"shape {array.shape}. For scores or one-hot rows take argmax over the classes first"
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{where}: {name} contains NaN or infinity")
        fractional = array != np.round(array)
        if np.any(fractional):
            raise ValueError(
                f"{where}: {name} holds continuous values such as {array[fractional][0].item()!r}; "
                "classification metrics need class labels (threshold or argmax outputs first)"
            )
    return array


def _check_lengths(where: str, true: np.ndarray, pred: np.ndarray) -> None:
    if len(true) != len(pred):
        raise ValueError(
            f"{where}: y_true has {len(true)} samples but y_pred has {len(pred)}; "
            "they must have one entry per sample each"
        )
    if len(true) == 0:
        raise ValueError(f"{where}: y_true and y_pred are empty; at least one sample is needed")


def _class_targets(y_true: Any, y_pred: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    true = _labels(y_true, "y_true", where)
    pred = _labels(y_pred, "y_pred", where)
    _check_lengths(where, true, pred)
    if _is_text(true) != _is_text(pred):
        kinds = ("strings", "numbers") if _is_text(true) else ("numbers", "strings")
        raise ValueError(
            f"{where}: y_true holds {kinds[0]} but y_pred {kinds[1]}; labels must be one kind"
        )
    return true, pred


def _sample_weights(sample_weight: Any, n: int, where: str) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weights = _array(sample_weight, "sample_weight", where)
    if weights.shape != (n,):
        raise ValueError(
            f"{where}: sample_weight must have shape ({n},), one weight per sample; "
            f"got shape {weights.shape}"
        )
    return weights


def _locate(classes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``values`` in the sorted array ``classes`` and whether each is there."""
    if classes.size == 0 or _is_text(classes) != _is_text(values):
        return np.zeros(values.shape, dtype=np.intp), np.zeros(values.shape, dtype=bool)
    index = np.minimum(np.searchsorted(classes, values), classes.size - 1)
    return index, classes[index] == values


# ---- classification ---------------------------------------------------------------------------


def accuracy(
    y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None
) -> float:
    """The fraction of samples whose predicted label equals the true one (with
    ``normalize=False``, their number or total weight). ``y_true``, ``y_pred``: (n,).

    ```pycon
    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75

    ```
    """
    true, pred = _class_targets(y_true, y_pred, "accuracy")
    weights = _sample_weights(sample_weight, len(true), "accuracy")
    correct = true == pred
    if normalize:
        return float(np.average(correct, weights=weights))
    return float(correct.sum() if weights is None else np.dot(correct, weights))


def _set_counts(
    y_true: Any,
    y_pred: Any,
    labels: Any,
    pos_label: Any,
    average: str | None,
    sample_weight: Any,
    where: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted and true totals for each scored label: arrays of shape
    (labels,), or (1,) summed over the labels for ``average='micro'``."""
    if average not in _AVERAGES:
        raise ValueError(f"{where}: average must be one of {_AVERAGES}, got {average!r}")
    true, pred = _class_targets(y_true, y_pred, where)
    weights = _sample_weights(sample_weight, len(true), where)
    classes, codes = np.unique(np.concatenate([true, pred]), return_inverse=True)
    if average == "binary":
        if classes.size > 2:
            raise ValueError(
                f"{where}: the targets are multiclass ({classes.size} labels) but "
                "average='binary'; choose average=None, 'micro', 'macro' or 'weighted'"
            )
        if classes.size == 2 and pos_label not in classes.tolist():
            raise ValueError(
                f"{where}: pos_label={pos_label!r} is not a valid label; it should be one of "
                f"{classes.tolist()}"
            )
        labels = [pos_label]
    elif pos_label not in (None, 1):
        warnings.warn(
            f"{where}: pos_label={pos_label!r} is ignored when average={average!r}; "
            "pass labels=[pos_label] to score one class",
            UserWarning,
            stacklevel=3,
        )
    true_codes, pred_codes = codes[: len(true)], codes[len(true) :]
    hit = true_codes == pred_codes
    hit_weights = None if weights is None else weights[hit]
    tp = np.bincount(true_codes[hit], weights=hit_weights, minlength=classes.size)
    true_sum = np.bincount(true_codes, weights=weights, minlength=classes.size)
    pred_sum = np.bincount(pred_codes, weights=weights, minlength=classes.size)
    if labels is not None:
        scored = np.asarray(labels)
        if scored.ndim != 1 or scored.size == 0:
            raise ValueError(f"{where}: labels must be a non-empty 1-D list, got {labels!r}")
        # A label absent from the data scores with zero counts.
        index, found = _locate(classes, scored)
        tp, true_sum, pred_sum = (np.where(found, c[index], 0) for c in (tp, true_sum, pred_sum))
    if average == "micro":
        tp, true_sum, pred_sum = (c.sum(keepdims=True) for c in (tp, true_sum, pred_sum))
    return tp, pred_sum, true_sum


def _zero_division_value(zero_division: Any, where: str) -> float:
    if isinstance(zero_division, str) and zero_division == "warn":
        return 0.0
    number = isinstance(zero_division, (int, float, np.number))
    if number and (np.isnan(zero_division) or zero_division in (0, 1)):
        return float(zero_division)
    raise ValueError(f"{where}: zero_division must be 'warn', 0, 1 or nan, got {zero_division!r}")


def _divide(
    numerator: np.ndarray, denominator: np.ndarray, zero_division: Any, what: str, where: str
) -> np.ndarray:
    """numerator / denominator, with ``zero_division`` where the denominator is 0."""
    value = _zero_division_value(zero_division, where)
    undefined = denominator == 0
    result = numerator / np.where(undefined, 1.0, denominator)
    if np.any(undefined):
        result[undefined] = value
        if isinstance(zero_division, str):
            warnings.warn(
                f"{where}: {what} for {int(undefined.sum())} label(s), set to 0.0; pass "
                "zero_division=0, 1 or nan to choose the value and silence this warning",
                UndefinedMetricWarning,
                stacklevel=3,
            )
    return result


def _average(scores: np.ndarray, average: str | None, true_sum: np.ndarray) -> Any:
    """Per-label scores (average=None) or their mean, skipping NaN (zero_division=nan);
    'weighted' weights each label by its number of true samples."""
    if average is None:
        return scores
    defined = ~np.isnan(scores)
    if not np.any(defined):
        return float("nan")
    weights = true_sum[defined] if average == "weighted" else None
    if weights is None or weights.sum() == 0:
        return float(scores[defined].mean())
    return float(np.average(scores[defined], weights=weights))


def precision(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Any:
    """tp / (tp + fp): of the samples predicted as a class, the fraction truly in it.

    ``average='binary'`` scores ``pos_label`` (two labels at most); ``'macro'`` is the mean
    over labels, ``'weighted'`` weights that mean by each label's true count, ``'micro'`` pools
    the counts of all labels, and ``None`` returns one score per label (sorted, or in the order
    of ``labels``) as an array. A label never predicted scores ``zero_division`` ('warn' acts as
    0 and warns). ``y_true``, ``y_pred``: (n,).

    ```pycon
    >>> precision([0, 1, 1, 0], [1, 1, 1, 0])
    0.6666666666666666

    ```
    """
    tp, pred_sum, true_sum = _set_counts(
        y_true, y_pred, labels, pos_label, average, sample_weight, "precision"
    )
    undefined = "precision is undefined (no predicted samples)"
    scores = _divide(tp, pred_sum, zero_division, undefined, "precision")
    return _average(scores, average, true_sum)


def recall(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Any:
    """tp / (tp + fn): of the samples truly in a class, the fraction predicted as it.
    Arguments as :func:`precision`; a label with no true samples scores ``zero_division``.

    ```pycon
    >>> recall([0, 1, 1, 0], [1, 1, 0, 0])
    0.5

    ```
    """
    tp, _, true_sum = _set_counts(
        y_true, y_pred, labels, pos_label, average, sample_weight, "recall"
    )
    undefined = "recall is undefined (no true samples)"
    scores = _divide(tp, true_sum, zero_division, undefined, "recall")
    return _average(scores, average, true_sum)


def f1_score(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    pos_label: Any = 1,
    average: str | None = "binary",
    sample_weight: Any = None,
    zero_division: Any = "warn",
) -> Any:
    """2·tp / (2·tp + fp + fn), the harmonic mean of precision and recall. Arguments as
    :func:`precision`; a label neither true nor predicted scores ``zero_division``.

    ```pycon
    >>> f1_score([0, 1, 1, 0], [1, 1, 0, 0])
    0.5

    ```
    """
    tp, pred_sum, true_sum = _set_counts(
        y_true, y_pred, labels, pos_label, average, sample_weight, "f1_score"
    )
    undefined = "F1 is undefined (no true nor predicted samples)"
    scores = _divide(2.0 * tp, true_sum + pred_sum, zero_division, undefined, "f1_score")
    return _average(scores, average, true_sum)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    normalize: str | None = None,
) -> np.ndarray:
    """C[i, j] = number (or weight) of samples of true label i predicted as label j.

    Labels are the sorted union of both inputs, or ``labels`` in the given order (samples
    with a label outside it are left out). ``normalize='true'`` divides each row by its sum,
    ``'pred'`` each column, ``'all'`` the whole matrix (0/0 gives 0). Returns (L, L), int64
    for counts and float64 when normalised or weighted by floats.

    ```pycon
    >>> confusion_matrix([0, 1, 1], [0, 1, 0])
    array([[1, 0],
           [1, 1]])

    ```
    """
    where = "confusion_matrix"
    if normalize not in _NORMALIZE:
        raise ValueError(f"{where}: normalize must be one of {_NORMALIZE}, got {normalize!r}")
    true, pred = _class_targets(y_true, y_pred, where)
    weights = _sample_weights(sample_weight, len(true), where)
    if labels is None:
        classes, codes = np.unique(np.concatenate([true, pred]), return_inverse=True)
        true_codes, pred_codes = codes[: len(true)], codes[len(true) :]
    else:
        classes = np.asarray(labels)
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(f"{where}: labels must be a non-empty 1-D list, got {labels!r}")
        order = np.argsort(classes, kind="stable")
        if np.any(classes[order][1:] == classes[order][:-1]):
            raise ValueError(f"{where}: labels must not repeat, got {labels!r}")
        true_codes, pred_codes = (_codes_in(classes, order, y) for y in (true, pred))
        if not np.any(true_codes >= 0):
            raise ValueError(f"{where}: none of labels {classes.tolist()} occurs in y_true")
        kept = (true_codes >= 0) & (pred_codes >= 0)
        true_codes, pred_codes = true_codes[kept], pred_codes[kept]
        weights = None if weights is None else weights[kept]
    n = classes.size
    cells = np.bincount(true_codes * n + pred_codes, weights=weights, minlength=n * n)
    matrix = cells.reshape(n, n)
    if weights is None or weights.dtype.kind in "biu":
        matrix = matrix.astype(np.int64)
    if matrix.shape == (1, 1):
        warnings.warn(
            f"{where}: only one label occurs in y_true and y_pred; pass labels= with every "
            "class to get the full matrix",
            UserWarning,
            stacklevel=2,
        )
    if normalize is None:
        return matrix
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = matrix / matrix.sum(axis=axis, keepdims=True)
    return np.nan_to_num(shares)


def _codes_in(classes: np.ndarray, order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's position in the unsorted ``classes`` (sorted by ``order``), -1 if absent."""
    index, found = _locate(classes[order], values)
    return np.where(found, order[index], -1)


accuracy_score = accuracy
precision_score = precision
recall_score = recall


# ---- regression -------------------------------------------------------------------------------


def _numbers(values: Any, name: str, where: str) -> np.ndarray:
    array = _array(values, name, where)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold numbers, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{where}: {name} must have shape (n,) or (n, outputs), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: {name} contains NaN or infinity")
    return array.astype(np.float64)


def _regression_targets(
    y_true: Any, y_pred: Any, sample_weight: Any, multioutput: Any, allowed: tuple, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Any]:
    """(n, outputs) float64 targets, the sample weights and the checked ``multioutput``."""
    true = _numbers(y_true, "y_true", where)
    pred = _numbers(y_pred, "y_pred", where)
    _check_lengths(where, true, pred)
    if true.shape[1] != pred.shape[1]:
        raise ValueError(
            f"{where}: y_true has {true.shape[1]} outputs but y_pred has {pred.shape[1]}"
        )
    weights = _sample_weights(sample_weight, len(true), where)
    if isinstance(multioutput, str):
        if multioutput not in allowed:
            raise ValueError(f"{where}: multioutput must be one of {allowed} or a list of weights")
    else:
        multioutput = np.asarray(multioutput, dtype=np.float64)
        if true.shape[1] == 1 or multioutput.shape != (true.shape[1],):
            raise ValueError(
                f"{where}: multioutput weights need one weight per output of a multi-output "
                f"target ({true.shape[1]} outputs), got shape {multioutput.shape}"
            )
    return true, pred, weights, multioutput


def _combine_outputs(values: np.ndarray, multioutput: Any) -> Any:
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return values
        return float(values.mean())
    return float(np.average(values, weights=multioutput))


def mean_squared_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average"
) -> Any:
    """mean over samples of (y_true - y_pred)², per output, then averaged over outputs
    (``'raw_values'``: one per output; or a list of output weights). Shapes (n,) or (n, k).

    ```pycon
    >>> mean_squared_error([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    1.3333333333333333

    ```
    """
    allowed = ("raw_values", "uniform_average")
    true, pred, weights, multioutput = _regression_targets(
        y_true, y_pred, sample_weight, multioutput, allowed, "mean_squared_error"
    )
    errors = np.average((true - pred) ** 2, axis=0, weights=weights)
    return _combine_outputs(errors, multioutput)


def mean_absolute_error(
    y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average"
) -> Any:
    """mean over samples of |y_true - y_pred|; arguments as :func:`mean_squared_error`.

    ```pycon
    >>> mean_absolute_error([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    0.6666666666666666

    ```
    """
    allowed = ("raw_values", "uniform_average")
    true, pred, weights, multioutput = _regression_targets(
        y_true, y_pred, sample_weight, multioutput, allowed, "mean_absolute_error"
    )
    errors = np.average(np.abs(true - pred), axis=0, weights=weights)
    return _combine_outputs(errors, multioutput)


def r2_score(
    y_true: Any,
    y_pred: Any,
    *,
    sample_weight: Any = None,
    multioutput: Any = "uniform_average",
    force_finite: bool = True,
) -> Any:
    """R² = 1 - Σ(y_true - y_pred)² / Σ(y_true - mean(y_true))², per output.

    With ``force_finite`` a constant target scores 1.0 if predicted exactly, else 0.0 (instead
    of NaN / -inf). ``'variance_weighted'`` weights outputs by their variance. Fewer than two
    samples give NaN with an :class:`UndefinedMetricWarning`.

    ```pycon
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5

    ```
    """
    allowed = ("raw_values", "uniform_average", "variance_weighted")
    true, pred, weights, multioutput = _regression_targets(
        y_true, y_pred, sample_weight, multioutput, allowed, "r2_score"
    )
    if len(true) < 2:
        warnings.warn(
            "r2_score: R² is undefined for fewer than two samples; returning nan",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    column = 1.0 if weights is None else weights[:, None]
    residual = np.sum(column * (true - pred) ** 2, axis=0)
    spread = np.sum(column * (true - np.average(true, axis=0, weights=weights)) ** 2, axis=0)
    if force_finite:
        scores = np.ones(true.shape[1])
        defined = (residual != 0) & (spread != 0)
        scores[defined] = 1.0 - residual[defined] / spread[defined]
        scores[(residual != 0) & (spread == 0)] = 0.0
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = 1.0 - residual / spread
    if isinstance(multioutput, str) and multioutput == "variance_weighted":
        # All outputs constant: every weight is zero, so fall back to a plain mean.
        multioutput = spread if np.any(spread != 0) else "uniform_average"
    return _combine_outputs(scores, multioutput)
