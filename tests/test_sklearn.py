"""chainrule.sklearn's MLPClassifier and MLPRegressor against scikit-learn's own MLPs.

The estimators draw scikit-learn's initial weights, shuffles and splits from the same
random_state and take the same update steps, so in float64 their training trajectories must
equal scikit-learn's to rounding: that is the main comparison. scikit-learn's estimator checks
run on the default configurations, as scikit-learn runs them on its own MLPs (max_iter=100).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn import neural_network
from sklearn.datasets import (
    load_digits,
    load_iris,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import chainrule
from chainrule.sklearn import InvalidParameterError, MLPClassifier, MLPRegressor

IRIS_X, IRIS_Y = load_iris(return_X_y=True)
IRIS_X = StandardScaler().fit_transform(IRIS_X)
MULTILABEL_X, MULTILABEL_Y = make_multilabel_classification(n_samples=120, random_state=0)
REGRESSION_X, REGRESSION_Y = make_regression(
    n_samples=240, n_features=6, n_targets=2, noise=1.0, random_state=0
)
REGRESSION_Y = REGRESSION_Y / REGRESSION_Y.std(axis=0)
SAMPLE_WEIGHT = np.random.default_rng(0).integers(0, 4, len(IRIS_Y)).astype(float)


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # Short runs are the point of most tests here; the warning itself is tested below.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# ---- scikit-learn's estimator checks ------------------------------------------------------------

# Every check passes; none is expected to fail. (Checks that need pandas report a skip from
# scikit-learn itself when pandas is not installed.)
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# ---- the same training trajectory as scikit-learn -------------------------------------------

TRAJECTORIES = {
    "adam multiclass": ("classifier", IRIS_X, IRIS_Y, {"max_iter": 15}, None),
    "adam weighted": ("classifier", IRIS_X, IRIS_Y, {"max_iter": 10, "batch_size": 40}, "w"),
    "sgd nesterov invscaling": (
        "classifier",
        IRIS_X,
        IRIS_Y,
        {
            "solver": "sgd",
            "learning_rate": "invscaling",
            "learning_rate_init": 0.2,
            "batch_size": 32,
            "max_iter": 15,
        },
        None,
    ),
    "sgd adaptive, plain momentum": (
        "classifier",
        IRIS_X,
        IRIS_Y,
        {
            "solver": "sgd",
            "learning_rate": "adaptive",
            "nesterovs_momentum": False,
            "learning_rate_init": 0.3,
            "tol": 0.05,
            "n_iter_no_change": 2,
            "max_iter": 30,
            "activation": "tanh",
        },
        None,
    ),
    "sgd diverging: log-loss of clipped probabilities": (
        "classifier",
        load_iris().data,  # unscaled, with a large step: some probabilities fall below ε
        IRIS_Y,
        {
            "solver": "sgd",
            "learning_rate": "adaptive",
            "learning_rate_init": 0.5,
            "activation": "tanh",
            "tol": 0.01,
            "n_iter_no_change": 2,
            "max_iter": 40,
        },
        None,
    ),
    "binary logistic, two layers": (
        "classifier",
        IRIS_X,
        IRIS_Y == 1,
        {"activation": "logistic", "hidden_layer_sizes": (7, 5), "max_iter": 10},
        None,
    ),
    "multilabel": ("classifier", MULTILABEL_X, MULTILABEL_Y, {"max_iter": 10}, None),
    "early stopping multiclass": (
        "classifier",
        IRIS_X,
        IRIS_Y,
        {"early_stopping": True, "learning_rate_init": 0.01, "batch_size": 16, "max_iter": 40},
        None,
    ),
    "early stopping binary (stratified)": (
        "classifier",
        IRIS_X,
        IRIS_Y == 2,
        {"early_stopping": True, "learning_rate_init": 0.01, "batch_size": 16, "max_iter": 40},
        None,
    ),
    "regression, two outputs, strong alpha": (
        "regressor",
        REGRESSION_X,
        REGRESSION_Y,
        {"alpha": 0.5, "max_iter": 10},
        None,
    ),
    "regression sgd without momentum, no shuffle": (
        "regressor",
        REGRESSION_X,
        REGRESSION_Y[:, 0],
        {
            "solver": "sgd",
            "momentum": 0.0,
            "shuffle": False,
            "learning_rate_init": 0.01,
            "max_iter": 10,
        },
        None,
    ),
    "regression early stopping, weighted": (
        "regressor",
        REGRESSION_X[:150],
        REGRESSION_Y[:150],
        {"early_stopping": True, "learning_rate_init": 0.01, "max_iter": 20},
        "w",
    ),
    "poisson": (
        "regressor",
        REGRESSION_X,
        np.abs(REGRESSION_Y[:, 0]),
        {"loss": "poisson", "max_iter": 10},
        None,
    ),
    "lbfgs regression": (
        "regressor",
        REGRESSION_X,
        REGRESSION_Y[:, 0],
        {"solver": "lbfgs", "hidden_layer_sizes": (10,), "max_iter": 30},
        None,
    ),
}


def _pair(kind: str, **params):
    """(chainrule's estimator, scikit-learn's) with the same parameters."""
    if kind == "classifier":
        return MLPClassifier(**params), neural_network.MLPClassifier(**params)
    return MLPRegressor(**params), neural_network.MLPRegressor(**params)


def _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-12):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.out_activation_ == theirs.out_activation_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    for name in ("loss_curve_", "validation_scores_"):
        if hasattr(theirs, name) and getattr(theirs, name) is not None:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol, atol)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol, atol)
    for name in ("best_loss_", "best_validation_score_"):
        if getattr(theirs, name, None) is None:
            assert getattr(ours, name, None) is None
        else:
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), rtol, atol)
    for ours_array, theirs_array in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        assert ours_array.shape == theirs_array.shape
        assert ours_array.dtype == theirs_array.dtype
        np.testing.assert_allclose(ours_array, theirs_array, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", list(TRAJECTORIES))
def test_float64_training_follows_scikit_learn_step_for_step(case):
    kind, X, y, params, weighted = TRAJECTORIES[case]
    sample_weight = SAMPLE_WEIGHT[: len(y)] if weighted else None
    ours, theirs = _pair(kind, random_state=3, **params)
    ours.fit(X, y, sample_weight=sample_weight)
    theirs.fit(X, y, sample_weight=sample_weight)
    _assert_same_fit(ours, theirs)
    if params.get("learning_rate") == "adaptive":  # the schedule divided η at least once
        assert ours._optimizer.learning_rate < params["learning_rate_init"]
    if kind == "classifier":
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-9)
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-9)


def test_warm_start_and_partial_fit_continue_like_scikit_learn():
    ours, theirs = _pair("classifier", random_state=0, max_iter=5, warm_start=True)
    for model in (ours, theirs):
        model.fit(IRIS_X, IRIS_Y).fit(IRIS_X, IRIS_Y)  # 5 epochs, then 5 more, new optimizer
    _assert_same_fit(ours, theirs)

    ours, theirs = _pair("regressor", random_state=0, solver="sgd", learning_rate="invscaling")
    halves = np.array_split(np.arange(len(REGRESSION_Y)), 2)
    for _ in range(3):
        for rows in halves:  # the optimizer (momentum, schedule) carries across the calls
            ours.partial_fit(REGRESSION_X[rows], REGRESSION_Y[rows])
            theirs.partial_fit(REGRESSION_X[rows], REGRESSION_Y[rows])
    _assert_same_fit(ours, theirs)
    assert ours.n_iter_ == 1 and ours.t_ == 3 * len(REGRESSION_Y)
    assert len(ours.loss_curve_) == 6


def test_float32_input_trains_in_float32_close_to_scikit_learn():
    X = IRIS_X.astype(np.float32)
    ours, theirs = _pair("classifier", random_state=0, max_iter=20)
    ours.fit(X, IRIS_Y)
    theirs.fit(X, IRIS_Y)
    assert all(a.dtype == np.float32 for a in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-4)


def test_predictions_follow_coefs_copied_from_scikit_learn():
    # The forward pass alone: scikit-learn's fitted weights give scikit-learn's outputs.
    theirs = neural_network.MLPClassifier((8, 6), activation="tanh", max_iter=30, random_state=1)
    theirs.fit(IRIS_X, IRIS_Y)
    ours = MLPClassifier((8, 6), activation="tanh", max_iter=1, random_state=5).fit(IRIS_X, IRIS_Y)
    ours.coefs_ = [c.copy() for c in theirs.coefs_]
    ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
    np.testing.assert_allclose(ours.predict_proba(IRIS_X), theirs.predict_proba(IRIS_X), atol=1e-12)
    np.testing.assert_allclose(
        ours.predict_log_proba(IRIS_X), theirs.predict_log_proba(IRIS_X), atol=1e-9
    )


def test_verbose_output_matches_scikit_learn(capsys):
    params = {"random_state": 0, "max_iter": 60, "tol": 0.1, "n_iter_no_change": 2, "verbose": True}
    ours, theirs = _pair("regressor", **params)
    ours.fit(REGRESSION_X, REGRESSION_Y)
    ours_output = capsys.readouterr().out
    theirs.fit(REGRESSION_X, REGRESSION_Y)
    theirs_output = capsys.readouterr().out
    assert ours_output.splitlines()[:-1] == theirs_output.splitlines()[:-1]  # the epochs
    assert ours_output.splitlines()[-1].endswith("Stopping.")
    assert ours.n_iter_ < 60


# ---- quality, layout and API, compared with scikit-learn --------------------------------------


def test_accuracy_and_r2_similar_to_scikit_learn():
    # chainrule in float32 (its default precision) against scikit-learn in float64.
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    ours = MLPClassifier((64,), max_iter=30, random_state=0)
    theirs = neural_network.MLPClassifier((64,), max_iter=30, random_state=0)
    ours_score = ours.fit(X_train.astype(np.float32), y_train).score(X_test, y_test)
    theirs_score = theirs.fit(X_train, y_train).score(X_test, y_test)
    assert ours_score > 0.9 and abs(ours_score - theirs_score) < 0.02

    X_train, X_test, y_train, y_test = train_test_split(
        REGRESSION_X, REGRESSION_Y[:, 0], random_state=0
    )
    ours = MLPRegressor(
        hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0
    )
    theirs = neural_network.MLPRegressor(
        hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0
    )
    ours_r2 = ours.fit(X_train.astype(np.float32), y_train).score(X_test, y_test)
    theirs_r2 = theirs.fit(X_train, y_train).score(X_test, y_test)
    assert ours_r2 > 0.95 and abs(ours_r2 - theirs_r2) < 0.02


@pytest.mark.parametrize(
    ("kind", "inputs", "targets"),
    [
        ("classifier", IRIS_X, IRIS_Y),
        ("classifier", IRIS_X, IRIS_Y == 0),
        ("classifier", MULTILABEL_X, MULTILABEL_Y),
        ("regressor", REGRESSION_X, REGRESSION_Y),
        ("regressor", REGRESSION_X, REGRESSION_Y[:, 0]),
    ],
    ids=["multiclass", "binary", "multilabel", "two outputs", "one output"],
)
def test_fitted_attributes_have_scikit_learns_shapes(kind, inputs, targets):
    ours, theirs = _pair(kind, hidden_layer_sizes=(5, 4), max_iter=2, random_state=0)
    ours.fit(inputs, targets)
    theirs.fit(inputs, targets)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert all(c.flags.c_contiguous for c in ours.coefs_)
    for name in ("n_features_in_", "n_layers_", "n_outputs_", "out_activation_", "n_iter_"):
        assert getattr(ours, name) == getattr(theirs, name)
    assert ours.predict(inputs).shape == theirs.predict(inputs).shape
    if kind == "classifier":
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        assert ours.predict_proba(inputs).shape == theirs.predict_proba(inputs).shape


def test_string_labels_probabilities_and_log_probabilities():
    labels = np.array(["setosa", "versicolor", "virginica"])[IRIS_Y]
    ours = MLPClassifier((10,), max_iter=50, random_state=0).fit(IRIS_X, labels)
    theirs = neural_network.MLPClassifier((10,), max_iter=50, random_state=0)
    theirs.fit(IRIS_X, labels)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.predict(IRIS_X), theirs.predict(IRIS_X))
    assert ours.predict(IRIS_X).dtype == labels.dtype
    proba = ours.predict_proba(IRIS_X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_log_proba(IRIS_X), np.log(proba), atol=1e-12)
    assert ours.score(IRIS_X, labels) == theirs.score(IRIS_X, labels)

    binary = MLPClassifier((10,), max_iter=20, random_state=0).fit(IRIS_X, labels == "setosa")
    np.testing.assert_array_equal(binary.classes_, [False, True])
    np.testing.assert_allclose(binary.predict_proba(IRIS_X).sum(axis=1), 1.0, rtol=1e-12)


def test_log_probabilities_stay_finite_where_probabilities_underflow():
    model = MLPClassifier((3,), max_iter=1, random_state=0).fit(IRIS_X, IRIS_Y == 0)
    model.coefs_[-1] *= 1e4  # logits of order 1e4: σ and 1 − σ round to exactly 1 and 0
    proba = model.predict_proba(IRIS_X)
    log_proba = model.predict_log_proba(IRIS_X)
    assert (proba == 0).any()
    assert np.isfinite(log_proba).all()
    np.testing.assert_allclose(np.exp(log_proba), proba, atol=1e-300)


def test_partial_fit_classes_rules_match_scikit_learn():
    for model in (MLPClassifier(random_state=0), neural_network.MLPClassifier(random_state=0)):
        with pytest.raises(ValueError, match="classes"):
            model.partial_fit(IRIS_X, IRIS_Y)
        model.partial_fit(IRIS_X[:50], IRIS_Y[:50], classes=[0, 1, 2])  # only class 0 seen
        np.testing.assert_array_equal(model.classes_, [0, 1, 2])
        assert model.predict_proba(IRIS_X).shape == (150, 3)
        model.partial_fit(IRIS_X[50:], IRIS_Y[50:])  # classes may be left out later
        with pytest.raises(ValueError, match="classes"):
            model.partial_fit(IRIS_X, IRIS_Y, classes=[0, 1])
        with pytest.raises(ValueError):
            model.partial_fit(IRIS_X, IRIS_Y + 1)  # label 3 is new
    ours, theirs = _pair("classifier", random_state=0)
    for model in (ours, theirs):
        model.partial_fit(IRIS_X, IRIS_Y, classes=np.unique(IRIS_Y))
        model.partial_fit(IRIS_X, IRIS_Y)
    _assert_same_fit(ours, theirs)


def test_partial_fit_exists_for_stochastic_solvers_only():
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    assert hasattr(MLPRegressor(solver="adam"), "partial_fit")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as error:
        MLPRegressor(solver="lbfgs").partial_fit(REGRESSION_X, REGRESSION_Y)
    assert "'lbfgs' is not stochastic" in str(error.value.__cause__)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(REGRESSION_X, REGRESSION_Y)


def test_random_state_makes_fits_reproducible():
    fits = [
        MLPClassifier((6,), max_iter=5, random_state=seed).fit(IRIS_X, IRIS_Y).coefs_[0]
        for seed in (7, 7, 8)
    ]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])
    generator = np.random.RandomState(7)  # a RandomState instance is used, and advanced
    first = MLPClassifier((6,), max_iter=5, random_state=generator).fit(IRIS_X, IRIS_Y)
    np.testing.assert_array_equal(first.coefs_[0], fits[0])


def test_fitting_leaves_chainrules_random_stream_alone():
    chainrule.manual_seed(0)
    expected = chainrule.rand(4).numpy()
    chainrule.manual_seed(0)
    MLPClassifier((6,), max_iter=2, random_state=0).fit(IRIS_X, IRIS_Y)
    np.testing.assert_array_equal(chainrule.rand(4).numpy(), expected)


def test_lbfgs_converges_on_a_small_problem_like_scikit_learn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # must converge within max_iter
        ours = MLPClassifier((10,), solver="lbfgs", alpha=1e-2, max_iter=500, random_state=0)
        ours.fit(IRIS_X, IRIS_Y)
        theirs = neural_network.MLPClassifier(
            (10,), solver="lbfgs", alpha=1e-2, max_iter=500, random_state=0
        ).fit(IRIS_X, IRIS_Y)
    assert ours.n_iter_ < 500
    assert ours.score(IRIS_X, IRIS_Y) >= 0.98
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-3)
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")


def test_convergence_warning_when_max_iter_is_reached():
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        MLPClassifier((5,), max_iter=3, random_state=0).fit(IRIS_X, IRIS_Y)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier((5,), solver="lbfgs", max_iter=2, random_state=0).fit(IRIS_X, IRIS_Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours, theirs = _pair("classifier", hidden_layer_sizes=(5,), tol=0.5, random_state=0)
        ours.fit(IRIS_X, IRIS_Y)
        theirs.fit(IRIS_X, IRIS_Y)
    # No epoch after the first improves the loss by tol: stop once n_iter_no_change are counted.
    assert ours.n_iter_ == theirs.n_iter_ == ours.n_iter_no_change + 2


def test_sparse_input_trains_like_dense_input():
    X = IRIS_X * (np.abs(IRIS_X) > 0.5)  # about half zeros
    dense = MLPClassifier((8,), max_iter=5, random_state=0).fit(X, IRIS_Y)
    for to_sparse in (sparse.csr_matrix, sparse.csc_array):
        model = MLPClassifier((8,), max_iter=5, random_state=0).fit(to_sparse(X), IRIS_Y)
        np.testing.assert_allclose(model.coefs_[0], dense.coefs_[0], rtol=1e-12)
        np.testing.assert_allclose(
            model.predict_proba(to_sparse(X)), dense.predict_proba(X), rtol=1e-12
        )


def test_zero_sample_weights_equal_removing_the_samples():
    weight = (np.arange(len(IRIS_Y)) % 3 != 0).astype(float)
    kept = weight > 0
    params = {"hidden_layer_sizes": (6,), "solver": "lbfgs", "max_iter": 30, "random_state": 0}
    weighted = MLPClassifier(**params).fit(IRIS_X, IRIS_Y, sample_weight=weight)
    removed = MLPClassifier(**params).fit(IRIS_X[kept], IRIS_Y[kept])
    np.testing.assert_allclose(weighted.coefs_[0], removed.coefs_[0], rtol=1e-6, atol=1e-8)


def test_bad_sample_weights_are_refused():
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(240,\)"):
        model.fit(REGRESSION_X, REGRESSION_Y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        model.fit(REGRESSION_X, REGRESSION_Y, sample_weight=-np.ones(240))
    with pytest.raises(ValueError, match=r"weight.*zero"):
        model.fit(REGRESSION_X, REGRESSION_Y, sample_weight=np.zeros(240))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("hidden_layer_sizes", (10, 0)),
        ("activation", "softplus"),
        ("solver", "newton"),
        ("alpha", -1.0),
        ("batch_size", 0),
        ("learning_rate", "cosine"),
        ("learning_rate_init", 0.0),
        ("max_iter", 0),
        ("momentum", 1.5),
        ("validation_fraction", 1.0),
        ("beta_2", 1.0),
        ("epsilon", 0.0),
        ("n_iter_no_change", 0),
        ("shuffle", "yes"),
    ],
)
def test_bad_parameters_are_refused_at_fit_like_scikit_learn(name, value):
    for Estimator in (MLPClassifier, neural_network.MLPClassifier):
        model = Estimator(max_iter=1).set_params(**{name: value})  # set_params never checks
        with pytest.raises(ValueError):
            model.fit(IRIS_X, IRIS_Y)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter must be"):
        MLPClassifier().set_params(**{name: value}).fit(IRIS_X, IRIS_Y)


def test_warm_start_needs_the_same_network_and_classes():
    model = MLPClassifier((4,), max_iter=2, warm_start=True).fit(IRIS_X, IRIS_Y)
    with pytest.raises(ValueError, match="layer sizes"):
        model.set_params(hidden_layer_sizes=(5,)).fit(IRIS_X, IRIS_Y)
    model.set_params(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match="classes"):
        model.fit(IRIS_X[:100], IRIS_Y[:100])


def test_non_finite_weights_raise_like_scikit_learn():
    X = IRIS_X * 1e300
    for Estimator in (MLPRegressor, neural_network.MLPRegressor):
        with pytest.raises(ValueError, match="non-finite"), np.errstate(all="ignore"):
            Estimator(hidden_layer_sizes=(4,), solver="sgd", max_iter=2, random_state=0).fit(
                X, IRIS_Y
            )


def test_pipeline_and_grid_search_choose_what_scikit_learn_chooses():
    grid = {"mlpclassifier__alpha": [1e-4, 1.0], "mlpclassifier__hidden_layer_sizes": [(3,), (12,)]}
    searches = []
    for Estimator in (MLPClassifier, neural_network.MLPClassifier):
        pipeline = make_pipeline(StandardScaler(), Estimator(max_iter=40, random_state=0))
        searches.append(GridSearchCV(pipeline, grid, cv=3).fit(IRIS_X, IRIS_Y))
    ours, theirs = searches
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], atol=1e-12
    )
    assert ours.score(IRIS_X, IRIS_Y) == theirs.score(IRIS_X, IRIS_Y)


def test_pickled_model_predicts_and_continues_training_alike():
    model = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", random_state=0).partial_fit(
        REGRESSION_X, REGRESSION_Y
    )
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict(REGRESSION_X), model.predict(REGRESSION_X))
    model.partial_fit(REGRESSION_X, REGRESSION_Y)
    copy.partial_fit(REGRESSION_X, REGRESSION_Y)  # with the momentum it was pickled with
    np.testing.assert_array_equal(copy.coefs_[0], model.coefs_[0])


def test_feature_names_are_recorded_from_a_dataframe():
    import pandas  # a test dependency: scikit-learn's own checks of feature names need it

    frame = pandas.DataFrame(IRIS_X, columns=["a", "b", "c", "d"])
    model = MLPClassifier((4,), max_iter=2).fit(frame, IRIS_Y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(IRIS_X)


# ---- packaging ---------------------------------------------------------------------------------


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_import_chainrule_does_not_import_scikit_learn():
    result = _run("import sys, chainrule; print('sklearn' in sys.modules, 'scipy' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_missing_scikit_learn_names_the_extra():
    result = _run("import sys; sys.modules['sklearn'] = None; import chainrule.sklearn")
    assert result.returncode != 0
    assert 'pip install "chainrule[sklearn]"' in result.stderr


def test_too_old_scikit_learn_is_refused_with_the_version_needed():
    result = _run(
        "import sys, types; old = types.ModuleType('sklearn'); old.__version__ = '1.5.2'; "
        "sys.modules['sklearn'] = old; import chainrule.sklearn"
    )
    assert result.returncode != 0
    assert "needs scikit-learn >= 1.6, found 1.5.2" in result.stderr
