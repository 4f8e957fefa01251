"""What MLPClassifier and MLPRegressor share: parameters, fit, partial_fit and the solvers.

Training runs on chainrule: the network is a ``chainrule.nn.Sequential`` of ``Linear`` layers,
the loss is computed with chainrule operations and ``backward()`` gives the gradients, which
chainrule's ``SGD`` and ``Adam`` apply (with scikit-learn's update rules, see
:mod:`chainrule.sklearn.optimizers`) or which ``chainrule.optim.scipy_minimize`` hands to
SciPy's L-BFGS-B. The loop, its stopping rule and its attributes follow scikit-learn's.

Precision: like scikit-learn, the estimators compute in the precision of the data they are
given, float32 for float32 arrays and float64 for everything else (float64 arrays, integers,
lists). Pass float32 arrays to train in float32, chainrule's default and about twice as fast.
"""

# ruff: noqa: N803, N806 - X, Y, X_val: scikit-learn's names for the data matrices

from __future__ import annotations

import numbers
import warnings
from typing import Any, ClassVar

import numpy
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, shuffle
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from chainrule import nn
from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import from_numpy
from chainrule.optim.scipy_bridge import scipy_minimize
from chainrule.sklearn import network as mlp_network
from chainrule.sklearn import parameters as p
from chainrule.sklearn.optimizers import SklearnAdam, SklearnSGD
from chainrule.tensor import Tensor

STOCHASTIC_SOLVERS = ("sgd", "adam")
AUTO_BATCH_SIZE = 200


class BaseMultilayerPerceptron(BaseEstimator):
    """The shared machinery; use :class:`MLPClassifier` or :class:`MLPRegressor`.

    Subclasses provide ``_validate_input`` (checked X and the target as an (n, n_outputs)
    matrix), ``_make_objective`` (the output activation and loss) and ``_validation_score``.
    """

    _constraints: ClassVar[dict[str, p.Constraint]] = {
        "hidden_layer_sizes": p.layer_sizes(),
        "activation": p.one_of("identity", "logistic", "tanh", "relu"),
        "solver": p.one_of("lbfgs", "sgd", "adam"),
        "alpha": p.real(0),
        "batch_size": p.either(p.one_of("auto"), p.integer(1)),
        "learning_rate": p.one_of("constant", "invscaling", "adaptive"),
        "learning_rate_init": p.real(0, low_open=True),
        "power_t": p.real(0),
        "max_iter": p.integer(1),
        "shuffle": p.boolean(),
        "random_state": p.random_state(),
        "tol": p.real(0),
        "verbose": p.verbosity(),
        "warm_start": p.boolean(),
        "momentum": p.real(0, 1, high_open=False),
        "nesterovs_momentum": p.boolean(),
        "early_stopping": p.boolean(),
        "validation_fraction": p.real(0, 1),
        "beta_1": p.real(0, 1),
        "beta_2": p.real(0, 1),
        "epsilon": p.real(0, low_open=True),
        "n_iter_no_change": p.either(p.integer(1), p.Constraint("inf", lambda v: v == numpy.inf)),
        "max_fun": p.integer(1),
    }

    # ---- fitting -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> BaseMultilayerPerceptron:
        """Train on X (n_samples, n_features), dense or sparse, and targets y (n_samples,) or
        (n_samples, n_outputs), with optional non-negative ``sample_weight`` (n_samples,).

        Starts from fresh weights unless ``warm_start``. Returns self.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _partial_fit_available(self) -> bool:
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                f"partial_fit is only available for the stochastic solvers 'sgd' and 'adam'; "
                f"solver={self.solver!r} is not stochastic"
            )
        return True

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Any:
        p.check_parameters(self, self._constraints)
        if self.early_stopping and incremental:
            raise ValueError(f"{self._name}.partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if not first_pass:  # keep training in the precision of the fitted weights
            X = X.astype(self.coefs_[0].dtype, copy=False)
        sample_weight = self._check_sample_weight(sample_weight, X)
        layer_units = [X.shape[1], *self._hidden_layer_sizes(), Y.shape[1]]
        rng = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, X.dtype, rng)
        network = self._training_network(layer_units, first_pass)
        objective = self._make_objective()
        target = objective.target(Y, X.dtype)
        if self.solver in STOCHASTIC_SOLVERS:
            self._fit_stochastic(network, objective, X, Y, target, sample_weight, rng, incremental)
        else:
            self._fit_lbfgs(network, objective, X, target, sample_weight)
        if not all(numpy.isfinite(w).all() for w in [*self.coefs_, *self.intercepts_]):
            raise ValueError(
                f"{self._name}: the solver produced non-finite weights; the input may contain "
                "large values and need scaling (e.g. sklearn.preprocessing.StandardScaler)"
            )
        return self

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _hidden_layer_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        return [int(sizes)] if p._is_int(sizes) else [int(size) for size in sizes]

    def _check_sample_weight(self, sample_weight: Any, X: Any) -> numpy.ndarray | None:
        if sample_weight is None:
            return None
        n = X.shape[0]
        if isinstance(sample_weight, numbers.Real):
            sample_weight = numpy.full(n, sample_weight)
        weight = check_array(
            sample_weight, ensure_2d=False, dtype=X.dtype, input_name="sample_weight"
        )
        if weight.shape != (n,):
            raise ValueError(
                f"{self._name}: sample_weight must have shape ({n},), one weight per sample of "
                f"X, got {weight.shape}"
            )
        if (weight < 0).any():
            raise ValueError(f"{self._name}: sample_weight must be non-negative")
        if not weight.any():
            raise ValueError(
                f"{self._name}: sample_weight are all zero; at least one weight must be non-zero"
            )
        return weight

    def _initialize(
        self, layer_units: list[int], dtype: Any, rng: numpy.random.RandomState
    ) -> None:
        """Fresh weights and bookkeeping, as scikit-learn sets them on a first fit."""
        self.n_iter_, self.t_ = 0, 0
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._make_objective().out_activation
        self.coefs_, self.intercepts_ = mlp_network.glorot_init(
            layer_units, self.activation, rng, dtype
        )
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        for stale in (
            "_network",
            "_optimizer",
            "loss_curve_",
            "best_loss_",
            "validation_scores_",
            "best_validation_score_",
        ):
            self.__dict__.pop(stale, None)
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -numpy.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = numpy.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _training_network(self, layer_units: list[int], first_pass: bool) -> nn.Sequential:
        """The chainrule network, holding the current ``coefs_`` and ``intercepts_``."""
        fitted_units = [self.coefs_[0].shape[0], *(b.shape[0] for b in self.intercepts_)]
        if layer_units != fitted_units:
            raise ValueError(
                f"{self._name}: cannot continue training a network of layer sizes "
                f"{fitted_units} on data and hidden_layer_sizes that need {layer_units}; "
                "fit from scratch (warm_start=False) to change them"
            )
        network = getattr(self, "_network", None)
        if network is None:
            network = mlp_network.build_network(layer_units, self.activation, self.coefs_[0].dtype)
            self._network = network
        mlp_network.write_weights(network, self.coefs_, self.intercepts_)
        return network

    # ---- the stochastic solvers -------------------------------------------------------------

    def _make_optimizer(self, parameters: list[Tensor]) -> SklearnSGD | SklearnAdam:
        if self.solver == "sgd":
            return SklearnSGD(
                parameters,
                self.learning_rate_init,
                self.learning_rate,
                self.momentum,
                self.nesterovs_momentum,
                self.power_t,
            )
        return SklearnAdam(
            parameters, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
        )

    def _fit_stochastic(self, network, objective, X, Y, target, sample_weight, rng, incremental):
        kind = SklearnSGD if self.solver == "sgd" else SklearnAdam
        if not incremental or not isinstance(getattr(self, "_optimizer", None), kind):
            self._optimizer = self._make_optimizer(list(network.parameters()))
        if self.early_stopping:
            stratify = Y if is_classifier(self) and Y.shape[1] == 1 else None
            weights = () if sample_weight is None else (sample_weight,)
            split = train_test_split(
                X,
                target,
                Y,
                *weights,
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            X, X_val, target, _, _, Y_val = split[:6]
            sample_weight, weight_val = split[6:] if weights else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError(
                    f"{self._name}: the validation set has {X_val.shape[0]} sample(s), too few "
                    "to score; increase validation_fraction or the number of samples"
                )
        n = X.shape[0]
        batch_size = self._batch_size(n)
        order = numpy.arange(n)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    order = shuffle(order, random_state=rng)  # reshuffles the last order
                total = 0.0
                for start in range(0, n, batch_size):
                    rows = (
                        order[start : start + batch_size]
                        if self.shuffle
                        else slice(start, start + batch_size)
                    )
                    weight = None if sample_weight is None else sample_weight[rows]
                    batch_loss = self._step(
                        network, objective, mlp_network.dense_rows(X, rows), target[rows], weight
                    )
                    total += batch_loss * len(target[rows])
                self.n_iter_ += 1
                self.loss_ = total / n
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if self.early_stopping:
                    self._track_validation(network, X_val, Y_val, weight_val)
                else:
                    self._track_training_loss()
                self._optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    if self._optimizer.trigger_stopping(
                        self._no_improvement_message(), self.verbose
                    ):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"{self._name}: stochastic optimizer: maximum iterations "
                        f"({self.max_iter}) reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        if self.early_stopping:
            mlp_network.write_weights(network, self._best_coefs, self._best_intercepts)
        self.coefs_, self.intercepts_ = mlp_network.read_weights(network)

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(AUTO_BATCH_SIZE, n)
        if self.batch_size > n:
            warnings.warn(
                f"{self._name}: batch_size={self.batch_size} is larger than the {n} training "
                f"samples; it is clipped to {n}",
                stacklevel=5,
            )
        return int(min(self.batch_size, n))

    def _step(self, network, objective, X_batch, target, weight) -> float:
        """One update on a batch; returns its loss as scikit-learn reports it."""
        weight_total = len(target) if weight is None else float(weight.sum())
        if weight_total == 0:  # an all-zero-weight batch carries no gradient: skip it
            return 0.0
        self._optimizer.zero_grad()
        data = objective.loss(network(from_numpy(X_batch)), target, weight)
        loss = data
        penalty = self._penalty(network, weight_total)
        if penalty is not None:
            loss = data + penalty
        loss.backward()
        self._optimizer.step()
        reported = objective.reported(data.item(), target, weight)
        return reported + (penalty.item() if penalty is not None else 0.0)

    def _penalty(self, network: nn.Sequential, weight_total: float) -> Tensor | None:
        """α / (2·Σw) · Σ_l ‖W_l‖²: L2 on the weights (not the biases), scaled by the batch's
        total sample weight (its size when unweighted), as scikit-learn does."""
        if self.alpha == 0:
            return None
        squares = None
        for layer in mlp_network.linear_layers(network):
            square = (layer.weight * layer.weight).sum()
            squares = square if squares is None else squares + square
        return squares * (self.alpha / (2.0 * weight_total))

    def _track_training_loss(self) -> None:
        last = self.loss_curve_[-1]
        if last > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, last)

    def _track_validation(self, network, X_val, Y_val, weight_val) -> None:
        with no_grad():
            z = numpy.concatenate(
                [
                    network(
                        from_numpy(mlp_network.dense_rows(X_val, slice(start, start + 1024)))
                    ).numpy()
                    for start in range(0, X_val.shape[0], 1024)
                ]
            )
        score = self._validation_score(z, Y_val, weight_val)
        self.validation_scores_.append(score)
        if self.verbose:
            print(f"Validation score: {score:f}")
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_coefs, self._best_intercepts = mlp_network.read_weights(network)

    def _no_improvement_message(self) -> str:
        what = (
            "Validation score did not improve"
            if self.early_stopping
            else ("Training loss did not improve")
        )
        return f"{what} more than tol={self.tol:f} for {self.n_iter_no_change} consecutive epochs."

    # ---- L-BFGS -------------------------------------------------------------------------------

    def _fit_lbfgs(self, network, objective, X, target, sample_weight) -> None:
        X = from_numpy(mlp_network.dense_rows(X, slice(None)))
        weight_total = len(target) if sample_weight is None else float(sample_weight.sum())

        def objective_value() -> Tensor:
            data = objective.loss(network(X), target, sample_weight)
            penalty = self._penalty(network, weight_total)
            return data if penalty is None else data + penalty

        iterations = [0]

        def report(intermediate_result: Any) -> None:
            iterations[0] += 1
            print(f"Iteration {iterations[0]}, loss = {intermediate_result.fun:.8f}")

        result = scipy_minimize(
            network,
            objective_value,
            method="L-BFGS-B",
            callback=report if self.verbose else None,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        if result.status != 0:
            warnings.warn(
                f"{self._name}: lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}): {result.message}. Increase max_iter (or max_fun), "
                "or scale the data (e.g. sklearn.preprocessing.StandardScaler).",
                ConvergenceWarning,
                stacklevel=4,
            )
        with no_grad():
            data = objective.loss(network(X), target, sample_weight).item()
            penalty = self._penalty(network, weight_total)
        self.loss_ = objective.reported(data, target, sample_weight) + (
            penalty.item() if penalty is not None else 0.0
        )
        self.coefs_, self.intercepts_ = mlp_network.read_weights(network)

    # ---- prediction ----------------------------------------------------------------------------

    def _logits(self, X: Any) -> numpy.ndarray:
        """z_L (n, n_outputs) for X, after scikit-learn's checks of X against the fit."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=(numpy.float64, numpy.float32), reset=False
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        return mlp_network.logits(self.coefs_, self.intercepts_, self.activation, X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags
