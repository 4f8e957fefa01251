"""What MLPClassifier and MLPRegressor share: parameters, checks, fit and prediction.

Training runs on chainrule: the network is a ``chainrule.nn.Sequential`` of ``Linear`` layers,
the loss is computed with chainrule operations and ``backward()`` gives the gradients, which
chainrule's ``SGD`` and ``Adam`` apply (with scikit-learn's update rules, see
:mod:`chainrule.sklearn.optimizers`) or which ``chainrule.optim.scipy_minimize`` hands to
SciPy's L-BFGS-B. The loop, its stopping rule and its attributes follow scikit-learn's.

Device: ``device="cuda"`` puts the network, its parameters, the optimiser's state and every
forward and backward pass on the GPU (through CuPy), as skorch's ``device=`` does. Everything
the estimator takes and gives stays on the host: X, y and sample_weight are NumPy/SciPy data,
copied to the GPU one batch at a time, and ``coefs_``, ``intercepts_``, ``loss_curve_`` and the
predictions are NumPy arrays and floats.

Precision: like scikit-learn, the estimators compute in the precision of the data they are
given, float32 for float32 arrays and float64 for everything else (float64 arrays, integers,
lists). Pass float32 arrays to train in float32, chainrule's default and about twice as fast.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, ClassVar

import numpy
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from chainrule import devices, nn
from chainrule.sklearn import network as mlp_network
from chainrule.sklearn import parameters as p
from chainrule.sklearn import solvers

STOCHASTIC_SOLVERS = ("sgd", "adam")


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
        "device": p.device(),
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
        device = self._compute_device()  # before any state changes: "cuda" may lack CuPy
        if self.early_stopping and incremental:
            raise ValueError(f"{self._name}.partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if hasattr(X, "tocsr"):  # batches are rows: CSR slices them cheaply
            X = X.tocsr()
        if not first_pass:  # keep training in the precision of the fitted weights
            X = X.astype(self.coefs_[0].dtype, copy=False)
        sample_weight = self._check_sample_weight(sample_weight, X)
        layer_units = [X.shape[1], *self._hidden_layer_sizes(), Y.shape[1]]
        rng = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, X.dtype, rng)
        network = self._training_network(layer_units, incremental, device)
        objective = self._make_objective()
        target = objective.target(Y, X.dtype)
        if self.solver in STOCHASTIC_SOLVERS:
            solvers.fit_stochastic(
                self, network, objective, X, Y, target, sample_weight, rng, incremental
            )
        else:
            solvers.fit_lbfgs(self, network, objective, X, target, sample_weight)
        if not all(numpy.isfinite(w).all() for w in [*self.coefs_, *self.intercepts_]):
            raise ValueError(
                f"{self._name}: the solver produced non-finite weights; the input may contain "
                "large values and need scaling (e.g. sklearn.preprocessing.StandardScaler)"
            )
        return self

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _compute_device(self) -> devices.device:
        """The checked ``device`` parameter as a chainrule device; for "cuda" without CuPy or a
        GPU, chainrule's RuntimeError that says how to install CuPy."""
        p.check_parameters(self, {"device": self._constraints["device"]})
        return devices.check(self.device, f"{self._name}(device={self.device!r})")

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

    def _training_network(
        self, layer_units: list[int], incremental: bool, device: devices.device
    ) -> nn.Sequential:
        """The chainrule network on ``device``, holding the current ``coefs_`` and
        ``intercepts_``."""
        fitted_units = [self.coefs_[0].shape[0], *(b.shape[0] for b in self.intercepts_)]
        if layer_units != fitted_units:
            raise ValueError(
                f"{self._name}: cannot continue training a network of layer sizes "
                f"{fitted_units} on data and hidden_layer_sizes that need {layer_units}; "
                "fit from scratch (warm_start=False) to change them"
            )
        network = getattr(self, "_network", None)
        # partial_fit keeps the network, whose parameters key the optimizer's state; fit starts
        # a new optimizer, as scikit-learn does, and so may build a new network.
        if (
            network is None
            or not incremental
            or not mlp_network.uses_activation(network, self.activation)
        ):
            network = mlp_network.build_network(layer_units, self.activation, self.coefs_[0].dtype)
            self._network = network
            self.__dict__.pop("_optimizer", None)
        if mlp_network.device_of(network) != device:
            # partial_fit after set_params(device=...): the network moves, and the optimiser's
            # state (momentum, Adam's moments) with it, so that training goes on unchanged.
            network.to(device)
            optimizer = getattr(self, "_optimizer", None)
            if optimizer is not None:
                mlp_network.move_state(optimizer.optimizer.state, device)
        mlp_network.write_weights(network, self.coefs_, self.intercepts_)
        return network

    def __getstate__(self) -> dict[str, Any]:
        """The pickled state, all on the host: a network trained on a GPU (kept for
        partial_fit) is pickled as a CPU copy with its optimiser's state, so that the estimator
        loads where there is no GPU; the next partial_fit moves them back to ``device``."""
        state = super().__getstate__()
        network = state.get("_network")
        if network is None or mlp_network.device_of(network).type == "cpu":
            return state
        state = dict(state)
        # One deepcopy of both, so that the copied state stays keyed by the copied parameters.
        network, optimizer = copy.deepcopy((network, state.get("_optimizer")))
        network.to("cpu")
        if optimizer is not None:
            mlp_network.move_state(optimizer.optimizer.state, devices.CPU)
        state["_network"], state["_optimizer"] = network, optimizer
        return state

    # ---- prediction ----------------------------------------------------------------------------

    def _logits(self, X: Any) -> numpy.ndarray:
        """z_L (n, n_outputs) for X, after scikit-learn's checks of X against the fit."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=(numpy.float64, numpy.float32), reset=False
        )
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        device = self._compute_device()
        return mlp_network.logits(self.coefs_, self.intercepts_, self.activation, X, device)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags
