"""The three solvers, run on chainrule: scikit-learn's mini-batch loop for 'sgd' and 'adam',
and L-BFGS-B through ``chainrule.optim.scipy_minimize`` for 'lbfgs'.

Each takes the estimator, whose parameters it reads and whose fitted attributes (``loss_``,
``loss_curve_``, ``n_iter_``, ``t_``, ``coefs_``, ...) it sets as scikit-learn's solvers do,
and the chainrule network holding the current weights. Every gradient comes from
``backward()`` through the network and the objective (:mod:`chainrule.sklearn.objectives`).
The network may live on a GPU: each batch (the whole of X for 'lbfgs') is copied there, and
the losses come back as floats.

The stochastic loop, per epoch: reshuffle (the previous order, as scikit-learn does), one
step per batch of ``batch_size`` samples, then the stopping rule. An epoch counts as no
improvement when the training loss is not below the best by ``tol`` (or, with
``early_stopping``, the validation score not above the best by ``tol``); after more than
``n_iter_no_change`` such epochs in a row the 'adaptive' schedule divides η by 5, and
otherwise training stops. ``max_iter`` epochs without stopping raise a ConvergenceWarning.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle

from chainrule import nn
from chainrule.autograd.grad_mode import no_grad
from chainrule.optim.scipy_bridge import scipy_minimize
from chainrule.sklearn import network as mlp_network
from chainrule.sklearn.objectives import l2_penalty
from chainrule.sklearn.optimizers import SklearnAdam, SklearnSGD
from chainrule.tensor import Tensor

AUTO_BATCH_SIZE = 200


# ---- 'sgd' and 'adam' ---------------------------------------------------------------------------


def fit_stochastic(
    model: Any,
    network: nn.Sequential,
    objective: Any,
    X: Any,
    indicator: numpy.ndarray,
    target: numpy.ndarray,
    sample_weight: numpy.ndarray | None,
    rng: numpy.random.RandomState,
    incremental: bool,
) -> None:
    """Train ``network`` by mini-batches for up to ``max_iter`` epochs (one if
    ``incremental``). ``indicator`` is the (n, n_outputs) target matrix, used to stratify the
    early-stopping split; ``target`` is what the objective trains on."""
    optimizer = _optimizer(model, network, incremental)
    device = mlp_network.device_of(network)
    validation = None
    if model.early_stopping:
        X, target, sample_weight, validation = _hold_out(
            model, X, indicator, target, sample_weight, rng
        )
    n = X.shape[0]
    batch_size = _batch_size(model, n)
    order = numpy.arange(n)
    try:
        model.n_iter_ = 0
        for _ in range(model.max_iter):
            if model.shuffle:
                order = shuffle(order, random_state=rng)
            model.loss_ = _epoch(
                model, network, objective, X, target, sample_weight, order, batch_size, device
            )
            model.n_iter_ += 1
            model.t_ += n
            model.loss_curve_.append(model.loss_)
            if model.verbose:
                print(f"Iteration {model.n_iter_}, loss = {model.loss_:.8f}")
            if validation is None:
                _track_training_loss(model)
            else:
                _track_validation(model, network, *validation)
            optimizer.iteration_ends(model.t_)
            if model._no_improvement_count > model.n_iter_no_change:
                if optimizer.trigger_stopping(_no_improvement_message(model), model.verbose):
                    break
                model._no_improvement_count = 0
            if incremental:
                break
            if model.n_iter_ == model.max_iter:
                warnings.warn(
                    f"{type(model).__name__}: stochastic optimizer: maximum iterations "
                    f"({model.max_iter}) reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=5,
                )
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.", stacklevel=5)
    if validation is not None:  # keep the weights of the best validation score
        mlp_network.write_weights(network, model._best_coefs, model._best_intercepts)
    model.coefs_, model.intercepts_ = mlp_network.read_weights(network)


def _optimizer(model: Any, network: nn.Sequential, incremental: bool) -> SklearnSGD | SklearnAdam:
    """A fresh optimizer, except that partial_fit keeps the one it has (momentum, schedule)."""
    kind = SklearnSGD if model.solver == "sgd" else SklearnAdam
    if incremental and isinstance(getattr(model, "_optimizer", None), kind):
        return model._optimizer
    parameters = list(network.parameters())
    if model.solver == "sgd":
        model._optimizer = SklearnSGD(
            parameters,
            model.learning_rate_init,
            model.learning_rate,
            model.momentum,
            model.nesterovs_momentum,
            model.power_t,
        )
    else:
        model._optimizer = SklearnAdam(
            parameters, model.learning_rate_init, model.beta_1, model.beta_2, model.epsilon
        )
    return model._optimizer


def _hold_out(model, X, indicator, target, sample_weight, rng) -> tuple:
    """Split off ``validation_fraction`` of the samples (stratified for single-output
    classification): (X, target, sample_weight) to train on, and the validation set."""
    stratify = indicator if is_classifier(model) and indicator.shape[1] == 1 else None
    weights = () if sample_weight is None else (sample_weight,)
    split = train_test_split(
        X,
        target,
        indicator,
        *weights,
        random_state=rng,
        test_size=model.validation_fraction,
        stratify=stratify,
    )
    X_train, X_val, target_train, _, _, indicator_val = split[:6]
    weight_train, weight_val = split[6:] if weights else (None, None)
    if X_val.shape[0] < 2:
        raise ValueError(
            f"{type(model).__name__}: the validation set has {X_val.shape[0]} sample(s), too "
            "few to score; increase validation_fraction or the number of samples"
        )
    return X_train, target_train, weight_train, (X_val, indicator_val, weight_val)


def _batch_size(model: Any, n: int) -> int:
    if model.batch_size == "auto":
        return min(AUTO_BATCH_SIZE, n)
    if model.batch_size > n:
        warnings.warn(
            f"{type(model).__name__}: batch_size={model.batch_size} is larger than the {n} "
            f"training samples; it is clipped to {n}",
            stacklevel=6,
        )
    return int(min(model.batch_size, n))


def _epoch(model, network, objective, X, target, sample_weight, order, batch_size, device) -> float:
    """One pass in batches (whole batches indexed at once); returns the epoch's loss, the
    batch losses averaged with the batch sizes as weights."""
    n = X.shape[0]
    total = 0.0
    for start in range(0, n, batch_size):
        rows = (
            order[start : start + batch_size] if model.shuffle else slice(start, start + batch_size)
        )
        batch = mlp_network.to_device(mlp_network.dense_rows(X, rows), device)
        weight = None if sample_weight is None else sample_weight[rows]
        total += _step(model, network, objective, batch, target[rows], weight) * len(batch)
    return total / n


def _step(model, network, objective, X_batch: Tensor, target, weight) -> float:
    """One update from one batch (X_batch on the network's device); returns the batch's loss
    as scikit-learn reports it."""
    weight_total = len(target) if weight is None else float(weight.sum())
    if weight_total == 0:  # a batch whose weights are all zero has no gradient: skip it
        return 0.0
    model._optimizer.zero_grad()
    data, reported = objective.loss(network(X_batch), target, weight)
    penalty = l2_penalty(network, model.alpha, weight_total)
    (data if penalty is None else data + penalty).backward()
    model._optimizer.step()
    return reported + (0.0 if penalty is None else penalty.item())


def _track_training_loss(model: Any) -> None:
    last = model.loss_curve_[-1]
    if last > model.best_loss_ - model.tol:
        model._no_improvement_count += 1
    else:
        model._no_improvement_count = 0
    model.best_loss_ = min(model.best_loss_, last)


def _track_validation(model, network, X_val, indicator_val, weight_val) -> None:
    score = model._validation_score(mlp_network.evaluate(network, X_val), indicator_val, weight_val)
    model.validation_scores_.append(score)
    if model.verbose:
        print(f"Validation score: {score:f}")
    if score < model.best_validation_score_ + model.tol:  # False for NaN: no improvement
        model._no_improvement_count += 1
    else:
        model._no_improvement_count = 0
    if score > model.best_validation_score_:
        model.best_validation_score_ = score
        model._best_coefs, model._best_intercepts = mlp_network.read_weights(network)


def _no_improvement_message(model: Any) -> str:
    what = "Validation score" if model.early_stopping else "Training loss"
    return (
        f"{what} did not improve more than tol={model.tol:f} for "
        f"{model.n_iter_no_change} consecutive epochs."
    )


# ---- 'lbfgs' ----------------------------------------------------------------------------------


def fit_lbfgs(
    model: Any,
    network: nn.Sequential,
    objective: Any,
    X: Any,
    target: numpy.ndarray,
    sample_weight: numpy.ndarray | None,
) -> None:
    """Minimise the full-batch objective with SciPy's L-BFGS-B: at most ``max_iter``
    iterations and ``max_fun`` evaluations, stopping when the projected gradient is below
    ``tol``; a ConvergenceWarning if it stops for any other reason."""
    inputs = mlp_network.to_device(
        mlp_network.dense_rows(X, slice(None)), mlp_network.device_of(network)
    )
    weight_total = len(target) if sample_weight is None else float(sample_weight.sum())

    def full_batch_loss() -> Tensor:
        data, _ = objective.loss(network(inputs), target, sample_weight)
        penalty = l2_penalty(network, model.alpha, weight_total)
        return data if penalty is None else data + penalty

    iterations = [0]

    def report(intermediate_result: Any) -> None:  # SciPy passes the state under this name
        iterations[0] += 1
        print(f"Iteration {iterations[0]}, loss = {intermediate_result.fun:.8f}")

    result = scipy_minimize(
        network,
        full_batch_loss,
        method="L-BFGS-B",
        callback=report if model.verbose else None,
        options={"maxfun": model.max_fun, "maxiter": model.max_iter, "gtol": model.tol},
    )
    model.n_iter_ = min(int(result.nit), model.max_iter)
    if result.status != 0:
        warnings.warn(
            f"{type(model).__name__}: lbfgs failed to converge after {result.nit} "
            f"iteration(s) (status={result.status}): {result.message}. Increase max_iter (or "
            "max_fun), or scale the data (e.g. sklearn.preprocessing.StandardScaler).",
            ConvergenceWarning,
            stacklevel=5,
        )
    with no_grad():
        _, reported = objective.loss(network(inputs), target, sample_weight)
        penalty = l2_penalty(network, model.alpha, weight_total)
    model.loss_ = reported + (0.0 if penalty is None else penalty.item())
    model.coefs_, model.intercepts_ = mlp_network.read_weights(network)
