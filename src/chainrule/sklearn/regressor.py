"""MLPRegressor: scikit-learn's multilayer-perceptron regressor, trained by chainrule."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import validate_data

from chainrule.sklearn import parameters as p
from chainrule.sklearn.base import BaseMultilayerPerceptron
from chainrule.sklearn.objectives import HalfPoissonDeviance, HalfSquaredError


class MLPRegressor(RegressorMixin, BaseMultilayerPerceptron):
    """A multilayer perceptron regressor with scikit-learn's API, parameters and defaults.

    The output layer is linear (``loss='squared_error'``, the default) and the loss is half
    the squared error, ½·mean over samples and outputs, plus α/(2·n_batch)·Σ‖W‖². With
    ``loss='poisson'`` the output is exp(z) (log link) and the loss half the Poisson
    deviance, for counts y ≥ 0. Several outputs: y of shape (n_samples, n_outputs).

    Parameters: ``loss`` as above; the others are :class:`MLPClassifier`'s, with the same
    meaning and defaults (early stopping scores R² on the held-out fraction, unstratified),
    ``device`` included ('cpu', or 'cuda' to train and predict on a GPU through CuPy).

    Attributes: those of :class:`MLPClassifier` without ``classes_``; ``out_activation_`` is
    'identity' (or 'exp' for the Poisson loss).

    Example:
        ```pycon
        >>> import numpy
        >>> from chainrule.sklearn import MLPRegressor
        >>> X = numpy.random.default_rng(0).uniform(-1, 1, size=(200, 1))
        >>> y = numpy.sin(3 * X[:, 0])
        >>> reg = MLPRegressor(hidden_layer_sizes=(64,), max_iter=1000, random_state=0)
        >>> reg.fit(X[:150], y[:150]).score(X[150:], y[150:]) > 0.5  # R² on held-out points
        True

        ```
    """

    _constraints: ClassVar[dict[str, p.Constraint]] = {
        **BaseMultilayerPerceptron._constraints,
        "loss": p.one_of("squared_error", "poisson"),
    }

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: Any = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        device: Any = "cpu",
    ) -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device

    @available_if(BaseMultilayerPerceptron._partial_fit_available)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over (X, y) from the current weights (fresh ones on the first call)."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(numpy.float64, numpy.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("MLPRegressor: loss='poisson' needs targets y >= 0")
        return X, y.reshape(len(y), -1)

    def _make_objective(self) -> HalfSquaredError | HalfPoissonDeviance:
        return HalfPoissonDeviance() if self.loss == "poisson" else HalfSquaredError()

    def _validation_score(
        self, z: numpy.ndarray, target: numpy.ndarray, sample_weight: Any
    ) -> float:
        prediction = self._make_objective().output(z)
        if not numpy.isfinite(prediction).all():
            return numpy.nan
        return float(r2_score(target, prediction, sample_weight=sample_weight))

    def predict(self, X: Any) -> numpy.ndarray:
        """Predicted targets (n_samples,), or (n_samples, n_outputs) when fitted on several."""
        z = self._logits(X)
        objective = HalfPoissonDeviance() if self.out_activation_ == "exp" else HalfSquaredError()
        prediction = objective.output(z)
        return prediction.ravel() if prediction.shape[1] == 1 else prediction
