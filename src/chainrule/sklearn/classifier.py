"""MLPClassifier: scikit-learn's multilayer-perceptron classifier, trained by chainrule."""

from __future__ import annotations

from typing import Any

import numpy
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from chainrule.sklearn.base import BaseMultilayerPerceptron
from chainrule.sklearn.objectives import LogisticCrossEntropy, SoftmaxCrossEntropy


class MLPClassifier(ClassifierMixin, BaseMultilayerPerceptron):
    """A multilayer perceptron classifier with scikit-learn's API, parameters and defaults.

    Multiclass targets get a softmax output and the cross-entropy loss; binary targets one
    logistic output and the binary cross-entropy; a multilabel indicator matrix (n_samples,
    n_labels) one logistic output per label. The loss is averaged over the samples of a batch,
    plus α/(2·n_batch)·Σ‖W‖² on the weights.

    Parameters (those of ``sklearn.neural_network.MLPClassifier``, same meaning and defaults):
        hidden_layer_sizes: units of each hidden layer, default (100,).
        activation: hidden activation, 'identity', 'logistic', 'tanh' or 'relu' (default).
        solver: 'adam' (default), 'sgd', or 'lbfgs' (full batch, SciPy's L-BFGS-B).
        alpha: strength of the L2 penalty, default 1e-4.
        batch_size: samples per step of 'sgd'/'adam'; 'auto' = min(200, n_samples).
        learning_rate: 'sgd' schedule, 'constant', 'invscaling' or 'adaptive'.
        learning_rate_init, power_t: step size of 'sgd'/'adam' (1e-3), 'invscaling' exponent.
        max_iter: epochs for 'sgd'/'adam', iterations for 'lbfgs' (default 200).
        shuffle, random_state: reshuffle every epoch; seed of weights, shuffles and splits.
        tol, n_iter_no_change: stop when the loss (or validation score) has not improved by
            tol for n_iter_no_change consecutive epochs; for 'lbfgs', tol is the gradient tolerance.
        verbose, warm_start: print progress; continue from the fitted weights.
        momentum, nesterovs_momentum: 'sgd' momentum (0.9) and Nesterov's variant (True).
        early_stopping, validation_fraction: hold out that fraction (stratified) and stop on
            its accuracy; the best weights are kept.
        beta_1, beta_2, epsilon: Adam's moment decays and ε.
        max_fun: the most loss evaluations of 'lbfgs'.
        device: where the network trains and predicts (chainrule's addition, as skorch's
            ``device``): 'cpu' (default, NumPy) or 'cuda' (an NVIDIA GPU through CuPy,
            ``pip install "chainrule[gpu]"``). X, y, the predictions and every fitted attribute
            stay NumPy arrays on the host; only the network's parameters, the optimiser's
            state and the computation live on the device. Checked at fit, like the others.

    Attributes:
        classes_: the class labels (n_classes,); for multilabel y, arange(n_labels).
        coefs_, intercepts_: NumPy arrays per layer, (fan_in, fan_out) and (fan_out,).
        loss_, best_loss_, loss_curve_: last, best and per-epoch training loss ('sgd'/'adam').
        validation_scores_, best_validation_score_: with early_stopping.
        n_iter_, t_: epochs of the last fit; samples seen over all fits.
        n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_.

    Example:
        ```pycon
        >>> import numpy
        >>> from chainrule.sklearn import MLPClassifier
        >>> X = numpy.random.default_rng(0).normal(size=(100, 2))
        >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
        >>> clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=1000, random_state=0).fit(X, y)
        >>> clf.predict_proba(X[:2]).shape  # (2, n_classes), rows summing to 1
        (2, 2)
        >>> clf.score(X, y) > 0.9
        True

        ```
    """

    def __init__(
        self,
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
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over (X, y) from the current weights; ``classes`` (every label that any
        call will see) is required on the first call, as in scikit-learn. Returns self."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(
                    "MLPClassifier.partial_fit: classes must be passed on the first call "
                    "(all the labels that later calls may contain, e.g. numpy.unique(y_all))"
                )
            self._label_binarizer = LabelBinarizer()
            multilabel = type_of_target(y).startswith("multilabel")
            self._label_binarizer.fit(y if multilabel else classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not numpy.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"MLPClassifier.partial_fit: classes={classes!r} differs from the classes of "
                f"the first call, {self.classes_!r}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(numpy.float64, numpy.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and set(classes) != set(self.classes_):
                raise ValueError(
                    "MLPClassifier: warm_start needs y to have the classes of the previous "
                    f"fit, {self.classes_!r}; y has {classes!r}"
                )
            unknown = numpy.setdiff1d(classes, self.classes_)
            if len(unknown):
                raise ValueError(
                    f"MLPClassifier: y has classes {unknown!r} that are not in classes_ "
                    f"{self.classes_!r}"
                )
        return X, self._label_binarizer.transform(y)

    def _make_objective(self) -> SoftmaxCrossEntropy | LogisticCrossEntropy:
        if self._label_binarizer.y_type_ == "multiclass":
            return SoftmaxCrossEntropy()
        return LogisticCrossEntropy()

    def _validation_score(
        self, z: numpy.ndarray, indicator: numpy.ndarray, sample_weight: Any
    ) -> float:
        if not numpy.isfinite(z).all():
            return numpy.nan
        y_true = self._label_binarizer.inverse_transform(indicator)
        return float(accuracy_score(y_true, self._labels(z), sample_weight=sample_weight))

    def _labels(self, z: numpy.ndarray) -> numpy.ndarray:
        scores = self._make_objective().output(z)
        return self._label_binarizer.inverse_transform(
            scores.ravel() if scores.shape[1] == 1 else scores
        )

    def predict(self, X: Any) -> numpy.ndarray:
        """The predicted labels (n_samples,), or (n_samples, n_labels) for multilabel fits."""
        return self._labels(self._logits(X))

    def predict_proba(self, X: Any) -> numpy.ndarray:
        """Class probabilities (n_samples, n_classes) in the order of ``classes_``; for a
        multilabel fit, the probability of each label (n_samples, n_labels)."""
        z = self._logits(X)
        objective = self._make_objective()
        if isinstance(objective, LogisticCrossEntropy) and self.n_outputs_ == 1:
            return objective.pair_proba(z)[:, 0, :]
        return objective.output(z)

    def predict_log_proba(self, X: Any) -> numpy.ndarray:
        """log of :meth:`predict_proba`, computed from the logits (finite where the
        probabilities underflow to 0)."""
        z = self._logits(X)
        objective = self._make_objective()
        if isinstance(objective, SoftmaxCrossEntropy):
            return objective.log_proba(z)
        pairs = objective.pair_log_proba(z)
        return pairs[:, 0, :] if self.n_outputs_ == 1 else pairs[..., 1]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
