"""Output activations and losses of the estimators, one class per canonical pair.

Each pair is canonical (output activation g matched to its loss), so the gradient of the
loss with respect to the logits z is g(z) − y for every one of them, as in scikit-learn:

    softmax + cross-entropy          multiclass          out_activation_ = 'softmax'
    logistic + binary cross-entropy  binary, multilabel  out_activation_ = 'logistic'
    identity + ½ squared error       regression          out_activation_ = 'identity'
    exp + ½ Poisson deviance         count regression    out_activation_ = 'exp'

``loss(z, target, weight)`` returns two things:

- the training objective, a chainrule tensor: the (sample-weighted) mean over samples of the
  per-sample loss summed over outputs, computed from the logits; its gradient is
  scikit-learn's;
- the value scikit-learn reports for the same batch in ``loss_curve_``, a float. It differs
  from the objective in two of scikit-learn's conventions, kept so that the stopping rule
  sees the same numbers: the log-losses are computed from probabilities clipped to
  [ε, 1 − ε] (machine ε), which caps each entry at −log ε (36.04 in float64); the squared
  error is averaged over the outputs where the objective sums them (its gradient is that of
  the sum); and the Poisson deviance includes the terms in y alone.

The logits z live where the network computes (the CPU or a GPU); the targets and sample
weights are host arrays, copied to z's device for the objective. The reported values are
floats, and ``output`` and friends map host logits (predictions) to host arrays.
"""

from __future__ import annotations

import numpy

from chainrule import backend, nn
from chainrule.creation import from_numpy
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's convention
from chainrule.ops.elementwise import exp
from chainrule.ops.smooth_activations import sigmoid
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.sklearn.network import linear_layers
from chainrule.tensor import Tensor


def weighted_mean(per_sample: Tensor, weight: numpy.ndarray | None) -> Tensor:
    """Σ_i w_i ℓ_i / Σ_i w_i for per-sample losses ℓ (n,), or their mean when w is None."""
    if weight is None:
        return per_sample.mean()
    return (per_sample * _tensor(weight, per_sample)).sum() / float(weight.sum())


def l2_penalty(network: nn.Sequential, alpha: float, weight_total: float) -> Tensor | None:
    """α / (2·Σw) · Σ_l ‖W_l‖²: L2 on the weights, not the biases, scaled by the batch's total
    sample weight Σw (its size when unweighted), as scikit-learn scales it; None when α = 0."""
    if alpha == 0:
        return None
    squares = None
    for layer in linear_layers(network):
        square = (layer.weight * layer.weight).sum()
        squares = square if squares is None else squares + square
    return squares * (alpha / (2.0 * weight_total))


def _tensor(array: numpy.ndarray, like: Tensor | None = None) -> Tensor:
    """A host array as a tensor, on the device of ``like`` when given (copied to a GPU)."""
    tensor = from_numpy(numpy.ascontiguousarray(array))
    if like is None or type(like.array) is numpy.ndarray:
        return tensor
    return tensor.to(like.device)


def _capped_log_loss(per_entry: numpy.ndarray, weight: numpy.ndarray | None) -> float:
    """scikit-learn's reported log-loss from exact per-entry losses (n, k): each entry capped
    at −log ε, as clipping the probabilities to [ε, 1 − ε] caps it, summed over k, averaged."""
    per_entry = backend.to_numpy(per_entry)  # a batch's losses, copied from a GPU
    cap = -numpy.log(numpy.finfo(per_entry.dtype).eps)
    per_sample = numpy.minimum(per_entry, cap).reshape(len(per_entry), -1).sum(axis=1)
    return float(numpy.average(per_sample, weights=weight))


class SoftmaxCrossEntropy:
    """−Σ_c y_c log softmax(z)_c: one of C > 2 classes per sample."""

    out_activation = "softmax"

    def target(self, indicator: numpy.ndarray, dtype: numpy.dtype) -> numpy.ndarray:
        """Class indices (n,) from the one-hot indicator matrix (n, C)."""
        return indicator.argmax(axis=1)

    def loss(
        self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None
    ) -> tuple[Tensor, float]:
        per_sample = F.cross_entropy(z, _tensor(target, z), reduction="none")
        return weighted_mean(per_sample, weight), _capped_log_loss(per_sample.array, weight)

    def output(self, z: numpy.ndarray) -> numpy.ndarray:
        """Class probabilities (n, C)."""
        return softmax(_tensor(z), dim=1).numpy()

    def log_proba(self, z: numpy.ndarray) -> numpy.ndarray:
        """Log class probabilities (n, C), from the logits (finite where softmax underflows)."""
        return log_softmax(_tensor(z), dim=1).numpy()


class LogisticCrossEntropy:
    """−Σ_k [y_k log σ(z_k) + (1 − y_k) log(1 − σ(z_k))]: binary (one output) or multilabel."""

    out_activation = "logistic"

    def target(self, indicator: numpy.ndarray, dtype: numpy.dtype) -> numpy.ndarray:
        return indicator.astype(dtype)

    def loss(
        self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None
    ) -> tuple[Tensor, float]:
        per_entry = F.binary_cross_entropy_with_logits(z, _tensor(target, z), reduction="none")
        objective = weighted_mean(per_entry.sum(dim=1), weight)
        return objective, _capped_log_loss(per_entry.array, weight)

    def output(self, z: numpy.ndarray) -> numpy.ndarray:
        """σ(z) (n, n_outputs): the probability of the positive class of each output."""
        return sigmoid(_tensor(z)).numpy()

    def pair_proba(self, z: numpy.ndarray) -> numpy.ndarray:
        """[1 − σ(z), σ(z)] (n, n_outputs, 2), as a softmax over (0, z) so rows sum to 1."""
        return softmax(_tensor(_with_zero(z)), dim=-1).numpy()

    def pair_log_proba(self, z: numpy.ndarray) -> numpy.ndarray:
        """[log(1 − σ(z)), log σ(z)] (n, n_outputs, 2), finite for any finite z."""
        return log_softmax(_tensor(_with_zero(z)), dim=-1).numpy()


def _with_zero(z: numpy.ndarray) -> numpy.ndarray:
    """(0, z) pairs (n, k, 2): σ(z) is softmax((0, z))[1], the two-class softmax."""
    return numpy.stack([numpy.zeros_like(z), z], axis=-1)


class HalfSquaredError:
    """½ Σ_k (z_k − y_k)²: least squares with the identity output."""

    out_activation = "identity"

    def target(self, values: numpy.ndarray, dtype: numpy.dtype) -> numpy.ndarray:
        return values.astype(dtype, copy=False)

    def loss(
        self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None
    ) -> tuple[Tensor, float]:
        if weight is None:
            objective = F.mse_loss(z, _tensor(target, z), reduction="sum") * (0.5 / len(target))
        else:
            per_entry = F.mse_loss(z, _tensor(target, z), reduction="none")
            objective = weighted_mean(per_entry.sum(dim=1), weight) * 0.5
        return objective, objective.item() / target.shape[1]  # scikit-learn: mean over outputs

    def output(self, z: numpy.ndarray) -> numpy.ndarray:
        return z


class HalfPoissonDeviance:
    """Σ_k [y_k log(y_k / μ_k) − y_k + μ_k] with μ = exp(z): counts, y ≥ 0 (log link).

    The objective drops Σ_k (y_k log y_k − y_k), which does not depend on the weights; the
    reported value adds it back: it is the deviance scikit-learn reports.
    """

    out_activation = "exp"

    def target(self, values: numpy.ndarray, dtype: numpy.dtype) -> numpy.ndarray:
        return values.astype(dtype, copy=False)

    def loss(
        self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None
    ) -> tuple[Tensor, float]:
        y = _tensor(target, z)
        objective = weighted_mean((exp(z) - y * z).sum(dim=1), weight)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            y_log_y = numpy.where(target > 0, target * numpy.log(target), 0.0)
        constant = numpy.average(y_log_y - target, weights=weight, axis=0).sum()
        return objective, objective.item() + float(constant)

    def output(self, z: numpy.ndarray) -> numpy.ndarray:
        return exp(_tensor(z)).numpy()
