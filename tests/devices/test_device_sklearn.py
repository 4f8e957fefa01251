"""chainrule.sklearn's estimators with ``device="cuda"``: the network trains and predicts on the
GPU (CuPy, else the emulator of tests/devices/conftest.py, which refuses a stray NumPy call as
CuPy does) while X, y, the predictions and the fitted attributes stay NumPy on the host.

Each test fits the same estimator on "cpu" (proven against scikit-learn in tests/test_sklearn.py)
and on "cuda" and asserts that they agree: in float64 to 1e-10, a bound far below any real
difference (one changed step moves the weights by ~1e-3) and above the GPU's own roundings.
"""

from __future__ import annotations

import copy
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import chainrule as cr
from chainrule import backend
from chainrule.sklearn import InvalidParameterError, MLPClassifier, MLPRegressor
from chainrule.sklearn import network as sklearn_network

ATOL = 1e-10

RNG = np.random.default_rng(17)
X = RNG.standard_normal((90, 5))
LABELS = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)  # three classes
BINARY = np.where(X[:, 2] + X[:, 3] > 0, "yes", "no")
MULTILABEL = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0], axis=1).astype(int)
TARGETS = np.stack([np.sin(X[:, 0]) + X[:, 1], X[:, 2] * X[:, 3]], axis=1)
COUNTS = RNG.poisson(np.exp(0.5 * X[:, 0])).astype(float)
WEIGHTS = RNG.uniform(0.5, 2.0, len(X))


@pytest.fixture(autouse=True)
def quiet() -> Iterator[None]:
    """The few epochs of these fits do not converge; that is not what is tested."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# (estimator, parameters, y, fit keyword arguments), each fitted on both devices.
CASES = {
    "classifier-adam": (MLPClassifier, {"solver": "adam"}, LABELS, {}),
    "classifier-sgd-nesterov-invscaling": (
        MLPClassifier,
        {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.1},
        LABELS,
        {},
    ),
    "classifier-lbfgs": (MLPClassifier, {"solver": "lbfgs", "activation": "tanh"}, LABELS, {}),
    "binary-sgd-weighted-early-stopping": (
        MLPClassifier,
        {"solver": "sgd", "early_stopping": True, "learning_rate_init": 0.05},
        BINARY,
        {"sample_weight": WEIGHTS},
    ),
    "multilabel-adam": (
        MLPClassifier,
        {"solver": "adam", "activation": "logistic"},
        MULTILABEL,
        {},
    ),
    "multilabel-lbfgs-weighted": (
        MLPClassifier,
        {"solver": "lbfgs"},
        MULTILABEL,
        {"sample_weight": WEIGHTS},
    ),
    "regressor-adam": (MLPRegressor, {"solver": "adam", "batch_size": 32}, TARGETS, {}),
    "regressor-sgd-weighted": (
        MLPRegressor,
        {"solver": "sgd", "learning_rate_init": 0.01},
        TARGETS,
        {"sample_weight": WEIGHTS},
    ),
    "regressor-lbfgs": (MLPRegressor, {"solver": "lbfgs", "alpha": 0.1}, TARGETS, {}),
    "poisson-sgd": (MLPRegressor, {"solver": "sgd", "loss": "poisson"}, COUNTS, {}),
    "poisson-lbfgs": (MLPRegressor, {"solver": "lbfgs", "loss": "poisson"}, COUNTS, {}),
}


def make(Estimator: type, device: str, **parameters: Any) -> Any:  # noqa: N803 - a class
    settings = {"hidden_layer_sizes": (7, 4), "max_iter": 8, "random_state": 0}
    return Estimator(**{**settings, **parameters}, device=device)


def assert_on_host(model: Any) -> None:
    """Every fitted array is NumPy; every loss a Python float."""
    for array in [*model.coefs_, *model.intercepts_]:
        assert type(array) is np.ndarray
    assert type(model.loss_) is float
    assert all(type(value) is float for value in getattr(model, "loss_curve_", []))


def assert_trained_on_cuda(model: Any) -> None:
    """The network the estimator trained lives on the GPU (the computation ran there)."""
    for parameter in model._network.parameters():
        assert parameter.device == "cuda:0"


def assert_same_fit(cpu: Any, cuda: Any, atol: float = ATOL) -> None:
    assert cuda.n_iter_ == cpu.n_iter_ and cuda.t_ == cpu.t_
    for ours, theirs in zip([*cuda.coefs_, *cuda.intercepts_], [*cpu.coefs_, *cpu.intercepts_]):
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    np.testing.assert_allclose(cuda.loss_, cpu.loss_, rtol=0, atol=atol)
    for name in ("loss_curve_", "validation_scores_"):
        if getattr(cpu, name, None) is not None:
            np.testing.assert_allclose(getattr(cuda, name), getattr(cpu, name), atol=atol)


def assert_same_predictions(cpu: Any, cuda: Any, X: Any, y: Any, atol: float = ATOL) -> None:  # noqa: N803
    prediction = cuda.predict(X)
    assert type(prediction) is np.ndarray
    if isinstance(cpu, MLPClassifier):
        np.testing.assert_array_equal(prediction, cpu.predict(X))
        for method in ("predict_proba", "predict_log_proba"):
            ours, theirs = getattr(cuda, method)(X), getattr(cpu, method)(X)
            assert type(ours) is np.ndarray
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    else:
        np.testing.assert_allclose(prediction, cpu.predict(X), rtol=0, atol=atol)
    np.testing.assert_allclose(cuda.score(X, y), cpu.score(X, y), rtol=0, atol=atol)


@pytest.mark.parametrize("case", list(CASES))
def test_fit_on_cuda_equals_fit_on_cpu(case: str) -> None:
    Estimator, parameters, y, fit_options = CASES[case]
    cpu = make(Estimator, "cpu", **parameters).fit(X, y, **fit_options)
    cuda = make(Estimator, "cuda", **parameters).fit(X, y, **fit_options)
    assert_trained_on_cuda(cuda)
    assert_on_host(cuda)
    assert_same_fit(cpu, cuda)
    assert_same_predictions(cpu, cuda, X, y)


def test_float32_trains_in_float32_on_cuda() -> None:
    """float32 data trains in float32 on both devices; the GPU's float32 roundings differ from
    NumPy's, so the bound is float32's: 1e-5 after eight epochs."""
    X32, y32 = X.astype(np.float32), TARGETS.astype(np.float32)
    cpu = make(MLPRegressor, "cpu").fit(X32, y32)
    cuda = make(MLPRegressor, "cuda").fit(X32, y32)
    assert cuda.coefs_[0].dtype == np.float32
    assert_on_host(cuda)
    assert_same_fit(cpu, cuda, atol=1e-5)
    assert_same_predictions(cpu, cuda, X32, y32, atol=1e-5)


def test_sparse_input_trains_on_cuda_as_dense_on_cpu() -> None:
    sparse = scipy.sparse.csr_matrix(np.where(np.abs(X) > 0.8, X, 0.0))
    cpu = make(MLPClassifier, "cpu").fit(sparse.toarray(), LABELS)
    cuda = make(MLPClassifier, "cuda").fit(sparse, LABELS)
    assert_trained_on_cuda(cuda)
    assert_same_fit(cpu, cuda)
    assert_same_predictions(cpu, cuda, sparse.tocsc(), LABELS)


def test_a_model_fitted_on_cpu_predicts_on_cuda_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = make(MLPClassifier, "cpu").fit(X, LABELS)
    cuda = copy.deepcopy(cpu).set_params(device="cuda")  # predictions follow the parameter
    copied_from = []  # the devices of the logits that prediction brought back to the host

    def to_host(tensor: cr.Tensor) -> np.ndarray:
        copied_from.append(str(tensor.device))
        return backend.to_numpy(tensor.array)

    monkeypatch.setattr(sklearn_network, "to_host", to_host)
    assert_same_predictions(cpu, cuda, X, LABELS)
    assert set(copied_from) == {"cpu", "cuda:0"}
    copied_from.clear()
    cuda.predict(X)
    assert copied_from == ["cuda:0"]


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_warm_start_on_cuda_continues_like_cpu(solver: str) -> None:
    models = [
        make(MLPRegressor, device, solver=solver, warm_start=True) for device in ("cpu", "cuda")
    ]
    for model in models:
        model.fit(X, TARGETS).fit(X, TARGETS)
    assert_trained_on_cuda(models[1])
    assert_same_fit(*models)
    # The device may change between warm fits: the weights carry over.
    switched = make(MLPRegressor, "cpu", solver=solver, warm_start=True).fit(X, TARGETS)
    switched.set_params(device="cuda").fit(X, TARGETS)
    assert_trained_on_cuda(switched)
    assert_same_fit(models[0], switched)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_on_cuda_continues_like_cpu(solver: str) -> None:
    cpu, cuda, switched = (make(MLPClassifier, d, solver=solver) for d in ("cpu", "cuda", "cpu"))
    for call in range(3):
        for model in (cpu, cuda, switched):
            model.partial_fit(X[call::3], LABELS[call::3], classes=[0, 1, 2])
        if call == 1:  # on to the GPU with the optimiser's momentum / moments
            switched.set_params(device="cuda")
    for model in (cuda, switched):
        assert_trained_on_cuda(model)
        for state in model._optimizer.optimizer.state.values():
            arrays = [value for value in state.values() if backend.is_array(value)]
            assert arrays and all(backend.device_type_of(a) == "cuda" for a in arrays)
        assert_same_fit(cpu, model)
        assert_same_predictions(cpu, model, X, LABELS)


def test_a_model_trained_on_cuda_pickles_to_the_host_and_continues_alike() -> None:
    model = make(MLPRegressor, "cuda", solver="sgd").partial_fit(X, TARGETS)
    loaded = pickle.loads(pickle.dumps(model))
    assert all(p.device == "cpu" for p in loaded._network.parameters())
    assert all(
        type(value) is np.ndarray
        for state in loaded._optimizer.optimizer.state.values()
        for value in state.values()
    )
    assert_trained_on_cuda(model)  # pickling left the original on the GPU
    model.partial_fit(X, TARGETS)
    loaded.partial_fit(X, TARGETS)  # moved back to the GPU, with its momentum
    assert_trained_on_cuda(loaded)
    assert_same_fit(model, loaded)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", cr.device("cuda")])
def test_device_is_a_scikit_learn_parameter(device: Any) -> None:
    model = MLPRegressor(device=device)
    assert model.get_params()["device"] is device
    assert clone(model).get_params()["device"] == device
    assert "device=" in repr(model)
    assert MLPRegressor().get_params()["device"] == "cpu"
    assert MLPRegressor().set_params(device=device).device is device


def test_grid_search_over_an_estimator_on_cuda_chooses_as_on_cpu() -> None:
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(3,), (6,)]}
    searches = [
        GridSearchCV(make(MLPClassifier, device, max_iter=4), grid, cv=2).fit(X, LABELS)
        for device in ("cpu", "cuda")
    ]
    cpu, cuda = searches
    assert cuda.best_params_ == cpu.best_params_
    assert cuda.best_estimator_.device == "cuda"
    np.testing.assert_allclose(
        cuda.cv_results_["mean_test_score"], cpu.cv_results_["mean_test_score"], atol=ATOL
    )


@pytest.mark.parametrize("device", ["mps", "bogus", "cuda:x", "", "CPU", 0, None])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_bad_devices_are_refused_at_fit_naming_the_value(Estimator: type, device: Any) -> None:  # noqa: N803
    model = Estimator(max_iter=1).set_params(device=device)  # set_params never checks
    message = f"{Estimator.__name__}: the 'device' parameter must be 'cpu' or 'cuda'"
    with pytest.raises(InvalidParameterError, match=message) as error:
        model.fit(X, TARGETS[:, 0] if Estimator is MLPRegressor else LABELS)
    assert str(error.value).endswith(f"got {device!r}")
    fitted = Estimator(max_iter=1).fit(X, TARGETS[:, 0] if Estimator is MLPRegressor else LABELS)
    with pytest.raises(InvalidParameterError, match="'device' parameter"):
        fitted.set_params(device=device).predict(X)


def test_cuda_without_cupy_says_how_to_install_it() -> None:
    cr.cuda.emulate(False)
    model = MLPClassifier(max_iter=1, device="cuda")
    if cr.cuda.is_available():  # a real GPU: "cuda" works
        assert model.fit(X, LABELS).coefs_[0].shape == (5, 100)
        return
    with pytest.raises(RuntimeError, match=r"MLPClassifier\(device='cuda'\).*chainrule\[gpu\]"):
        model.fit(X, LABELS)
