"""chainrule.metrics against scikit-learn on the same random inputs: values, warnings, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.exceptions
import sklearn.metrics as skm

import chainrule as cr
from chainrule import metrics

SET_WISE = ["precision", "recall", "f1_score"]
AVERAGES = ["binary", "micro", "macro", "weighted", None]
ZERO_DIVISIONS = ["warn", 0, 1, np.nan]


def _run(function, *args, warning, **kwargs):
    """(result or the exception's type, whether ``warning`` was emitted)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = function(*args, **kwargs)
        except ValueError as error:
            result = type(error)
    return result, any(issubclass(w.category, warning) for w in caught)


def _same(ours, theirs):
    if isinstance(theirs, type):
        assert ours is theirs
    else:
        assert np.shape(ours) == np.shape(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def _classification_case(rng):
    """Labels with a random number of classes, some missing from y_pred, sometimes weights."""
    n = int(rng.integers(1, 40))
    n_classes = int(rng.integers(1, 6))
    y_true = rng.integers(0, n_classes, n)
    if rng.random() < 0.3:  # predictions that never use some classes
        y_pred = rng.choice(rng.integers(0, n_classes + 1, 2), n)
    else:
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes + 1, n))
    weight = rng.random(n) if rng.random() < 0.3 else None
    labels = None
    if rng.random() < 0.3:  # a subset or superset, in shuffled order, possibly absent labels
        labels = rng.permutation(n_classes + 2)[: int(rng.integers(1, n_classes + 3))]
    return y_true, y_pred, weight, labels


@pytest.mark.parametrize("name", SET_WISE)
def test_set_wise_scores_match_sklearn(name):
    ours_fn = getattr(metrics, name)
    theirs_fn = getattr(skm, name if name == "f1_score" else f"{name}_score")
    rng = np.random.default_rng(1)
    for _ in range(150):
        y_true, y_pred, weight, labels = _classification_case(rng)
        for average in AVERAGES:
            zero_division = ZERO_DIVISIONS[int(rng.integers(4))]
            kwargs = dict(
                average=average, labels=labels, sample_weight=weight, zero_division=zero_division
            )
            ours, our_warning = _run(
                ours_fn, y_true, y_pred, warning=metrics.UndefinedMetricWarning, **kwargs
            )
            theirs, their_warning = _run(
                theirs_fn,
                y_true,
                y_pred,
                warning=sklearn.exceptions.UndefinedMetricWarning,
                **kwargs,
            )
            _same(ours, theirs)
            assert our_warning == their_warning, (y_true, y_pred, kwargs)


def test_binary_pos_label_and_string_labels_match_sklearn():
    rng = np.random.default_rng(2)
    for _ in range(30):
        names = np.array(["cat", "dog"])
        y_true = names[rng.integers(0, 2, 20)]
        y_pred = names[rng.integers(0, 2, 20)]
        for pos_label in ["cat", "dog"]:
            for name in SET_WISE:
                ours = getattr(metrics, name)(y_true, y_pred, pos_label=pos_label)
                theirs = getattr(skm, name if name == "f1_score" else f"{name}_score")(
                    y_true, y_pred, pos_label=pos_label
                )
                assert ours == pytest.approx(theirs, abs=1e-12)
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        metrics.precision(["cat", "dog"], ["dog", "dog"])


def test_pos_label_ignored_outside_binary_warns_as_sklearn():
    with pytest.warns(UserWarning, match="pos_label=0 is ignored"):
        ours = metrics.recall([0, 1, 1], [0, 1, 0], average="macro", pos_label=0)
    assert ours == pytest.approx(skm.recall_score([0, 1, 1], [0, 1, 0], average="macro"))


def test_accuracy_matches_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(100):
        y_true, y_pred, weight, _ = _classification_case(rng)
        for normalize in (True, False):
            ours = metrics.accuracy(y_true, y_pred, normalize=normalize, sample_weight=weight)
            theirs = skm.accuracy_score(y_true, y_pred, normalize=normalize, sample_weight=weight)
            assert ours == pytest.approx(theirs, rel=1e-12)
    assert metrics.accuracy_score is metrics.accuracy
    assert metrics.precision_score is metrics.precision
    assert metrics.recall_score is metrics.recall


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(4)
    for _ in range(150):
        y_true, y_pred, weight, labels = _classification_case(rng)
        if rng.random() < 0.3:
            weight = rng.integers(0, 4, len(y_true))  # integer weights keep integer counts
        for normalize in ("true", "pred", "all", None):
            kwargs = dict(labels=labels, sample_weight=weight, normalize=normalize)
            ours, our_warning = _run(
                metrics.confusion_matrix, y_true, y_pred, warning=UserWarning, **kwargs
            )
            theirs, their_warning = _run(
                skm.confusion_matrix, y_true, y_pred, warning=UserWarning, **kwargs
            )
            _same(ours, theirs)
            assert our_warning == their_warning
            if not isinstance(theirs, type):
                assert ours.dtype == theirs.dtype


def test_float_and_column_labels_are_accepted():
    y_true = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)  # a BCE target column
    y_pred = np.array([0, 1, 0, 0])
    assert metrics.accuracy(y_true, y_pred) == skm.accuracy_score(y_true.ravel(), y_pred)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true.ravel(), y_pred)
    )


def test_tensors_give_the_same_results_as_arrays():
    rng = np.random.default_rng(5)
    y_true = rng.integers(0, 3, 50)
    y_pred = rng.integers(0, 3, 50)
    t_true, t_pred = cr.tensor(y_true), cr.tensor(y_pred)
    assert metrics.accuracy(t_true, t_pred) == metrics.accuracy(y_true, y_pred)
    assert metrics.f1_score(t_true, t_pred, average="macro") == skm.f1_score(
        y_true, y_pred, average="macro"
    )
    np.testing.assert_array_equal(
        metrics.confusion_matrix(t_true, t_pred), skm.confusion_matrix(y_true, y_pred)
    )
    target = rng.normal(size=(50, 2))
    output = cr.tensor(rng.normal(size=(50, 2)), requires_grad=True)  # straight from a model
    expected = skm.mean_squared_error(target, output.detach().numpy())
    assert metrics.mean_squared_error(cr.tensor(target), output) == pytest.approx(expected)


def _regression_case(rng):
    n = int(rng.integers(1, 30))
    shape = (n,) if rng.random() < 0.5 else (n, int(rng.integers(1, 4)))
    y_true = rng.normal(size=shape)
    if rng.random() < 0.2:  # constant targets: R² is 0/0 or x/0
        y_true = np.full(shape, 1.5)
    y_pred = y_true + rng.normal(size=shape) * rng.choice([0.0, 0.1, 2.0])
    weight = rng.random(n) + 0.1 if rng.random() < 0.3 else None
    outputs = 1 if len(shape) == 1 else shape[1]
    choices = ["raw_values", "uniform_average"]
    if outputs > 1:
        choices.append(rng.random(outputs))
    return y_true, y_pred, weight, choices


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error"])
def test_errors_match_sklearn(name):
    rng = np.random.default_rng(6)
    for _ in range(100):
        y_true, y_pred, weight, choices = _regression_case(rng)
        for multioutput in choices:
            kwargs = dict(sample_weight=weight, multioutput=multioutput)
            ours = getattr(metrics, name)(y_true, y_pred, **kwargs)
            theirs = getattr(skm, name)(y_true, y_pred, **kwargs)
            _same(ours, theirs)


def test_r2_matches_sklearn():
    rng = np.random.default_rng(7)
    for _ in range(150):
        y_true, y_pred, weight, choices = _regression_case(rng)
        for multioutput in [*choices, "variance_weighted"]:
            for force_finite in (True, False):
                kwargs = dict(
                    sample_weight=weight, multioutput=multioutput, force_finite=force_finite
                )
                ours, our_warning = _run(
                    metrics.r2_score,
                    y_true,
                    y_pred,
                    warning=metrics.UndefinedMetricWarning,
                    **kwargs,
                )
                theirs, their_warning = _run(
                    skm.r2_score,
                    y_true,
                    y_pred,
                    warning=sklearn.exceptions.UndefinedMetricWarning,
                    **kwargs,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in the check
                    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
                assert our_warning == their_warning


def test_regression_column_against_flat_predictions():
    y_true = np.array([1.0, 2.0, 4.0])
    y_pred = np.array([[1.5], [2.0], [3.0]])  # model outputs (n, 1) against a flat target
    assert metrics.r2_score(y_true, y_pred) == pytest.approx(skm.r2_score(y_true, y_pred))


# ---- errors ---------------------------------------------------------------------------------

ALL = [
    "accuracy",
    "precision",
    "recall",
    "f1_score",
    "confusion_matrix",
    "mean_squared_error",
    "mean_absolute_error",
    "r2_score",
]


@pytest.mark.parametrize("name", ALL)
def test_mismatched_lengths_name_both_lengths_and_the_function(name):
    with pytest.raises(ValueError, match=rf"{name}: y_true has 3 samples but y_pred has 2"):
        getattr(metrics, name)([0, 1, 1], [0, 1])


@pytest.mark.parametrize("name", ALL)
def test_empty_inputs_are_refused(name):
    with pytest.raises(ValueError, match=rf"{name}: y_true and y_pred are empty"):
        getattr(metrics, name)([], [])


@pytest.mark.parametrize("name", SET_WISE)
def test_binary_average_on_multiclass_data_is_refused(name):
    with pytest.raises(ValueError, match=rf"{name}: the targets are multiclass \(3 labels\)"):
        getattr(metrics, name)([0, 1, 2], [0, 1, 1])
    with pytest.raises(ValueError):  # scikit-learn refuses it as well
        skm.f1_score([0, 1, 2], [0, 1, 1])


def test_bad_classification_arguments():
    with pytest.raises(ValueError, match=r"continuous values such as 0\.3"):
        metrics.accuracy([0.3, 1.0], [0, 1])
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, 1\); got shape \(2, 3\)"):
        metrics.f1_score(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="average must be one of"):
        metrics.precision([0, 1], [0, 1], average="samples")
    with pytest.raises(ValueError, match="zero_division must be"):
        metrics.recall([0, 1], [0, 1], zero_division=2)
    with pytest.raises(ValueError, match="normalize must be one of"):
        metrics.confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match=r"none of labels \[5, 6\] occurs in y_true"):
        metrics.confusion_matrix([0, 1], [0, 1], labels=[5, 6])
    with pytest.raises(ValueError, match="y_true holds strings but y_pred numbers"):
        metrics.accuracy(["a", "b"], [0, 1])
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(2,\)"):
        metrics.accuracy([0, 1], [0, 1], sample_weight=[1.0])
    with pytest.raises(ValueError, match="NaN or infinity"):
        metrics.accuracy([0.0, np.nan], [0, 1])


def test_bad_regression_arguments():
    with pytest.raises(ValueError, match="r2_score: y_true has 2 outputs but y_pred has 3"):
        metrics.r2_score(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="mean_squared_error: y_pred contains NaN"):
        metrics.mean_squared_error([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="multioutput must be one of"):
        metrics.mean_absolute_error([1.0, 2.0], [1.0, 2.0], multioutput="variance_weighted")
    with pytest.raises(ValueError, match="one weight per output"):
        metrics.mean_squared_error(np.zeros((3, 2)), np.zeros((3, 2)), multioutput=[1.0])
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, outputs\)"):
        metrics.r2_score(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))
