"""Output activations and losses of the estimators, one class per canonical pair.

Each pair is canonical (output activation g matched to its loss), so the gradient of the
loss with respect to the logits z is g(z) − y for every one of them, as in scikit-learn:

    softmax + cross-entropy        multiclass           out_activation_ = 'softmax'
    logistic + binary cross-entropy binary, multilabel   out_activation_ = 'logistic'
    identity + ½ squared error     regression           out_activation_ = 'identity'
    exp + ½ Poisson deviance       count regression     out_activation_ = 'exp'

``loss`` returns the training objective as a chainrule tensor: the (sample-weighted) mean
over samples of the per-sample loss summed over outputs. Its gradient is scikit-learn's.
``reported`` turns that value into the number scikit-learn reports in ``loss_curve_``, which
for the squared error is averaged over the outputs rather than summed (the two agree for one
output; scikit-learn's gradient is that of the sum).
"""

from __future__ import annotations

import numpy

from chainrule.creation import from_numpy
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's convention
from chainrule.ops.activation import log_softmax, sigmoid, softmax
from chainrule.ops.elementwise import exp
from chainrule.tensor import Tensor


def weighted_mean(per_sample: Tensor, weight: numpy.ndarray | None) -> Tensor:
    """Σ_i w_i ℓ_i / Σ_i w_i for per-sample losses ℓ (n,), or their mean when w is None."""
    if weight is None:
        return per_sample.mean()
    return (per_sample * from_numpy(weight)).sum() / float(weight.sum())


def _tensor(array: numpy.ndarray) -> Tensor:
    return from_numpy(numpy.ascontiguousarray(array))


class SoftmaxCrossEntropy:
    """−Σ_c y_c log softmax(z)_c: one of C > 2 classes per sample."""

    out_activation = "softmax"

    def target(self, indicator: numpy.ndarray, dtype: numpy.dtype) -> numpy.ndarray:
        """Class indices (n,) from the one-hot indicator matrix (n, C)."""
        return indicator.argmax(axis=1)

    def loss(self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None) -> Tensor:
        if weight is None:
            return F.cross_entropy(z, _tensor(target))
        return weighted_mean(F.cross_entropy(z, _tensor(target), reduction="none"), weight)

    def reported(self, value: float, target: numpy.ndarray, weight: numpy.ndarray | None) -> float:
        return value

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

    def loss(self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None) -> Tensor:
        if weight is None:
            return F.binary_cross_entropy_with_logits(z, _tensor(target), reduction="sum") / len(
                target
            )
        per_entry = F.binary_cross_entropy_with_logits(z, _tensor(target), reduction="none")
        return weighted_mean(per_entry.sum(dim=1), weight)

    def reported(self, value: float, target: numpy.ndarray, weight: numpy.ndarray | None) -> float:
        return value

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

    def loss(self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None) -> Tensor:
        if weight is None:
            return F.mse_loss(z, _tensor(target), reduction="sum") * (0.5 / len(target))
        per_entry = F.mse_loss(z, _tensor(target), reduction="none")
        return weighted_mean(per_entry.sum(dim=1), weight) * 0.5

    def reported(self, value: float, target: numpy.ndarray, weight: numpy.ndarray | None) -> float:
        return value / target.shape[1]  # scikit-learn averages over the outputs

    def output(self, z: numpy.ndarray) -> numpy.ndarray:
        return z


class HalfPoissonDeviance:
    """Σ_k [y_k log(y_k / μ_k) − y_k + μ_k] with μ = exp(z): counts, y ≥ 0 (log link).

    The objective drops Σ_k (y_k log y_k − y_k), which does not depend on the weights;
    ``reported`` adds it back, so the reported value is the deviance scikit-learn reports.
    """

    out_activation = "exp"

    def target(self, values: numpy.ndarray, dtype: numpy.dtype) -> numpy.ndarray:
        return values.astype(dtype, copy=False)

    def loss(self, z: Tensor, target: numpy.ndarray, weight: numpy.ndarray | None) -> Tensor:
        y = _tensor(target)
        return weighted_mean((exp(z) - y * z).sum(dim=1), weight)

    def reported(self, value: float, target: numpy.ndarray, weight: numpy.ndarray | None) -> float:
        with numpy.errstate(divide="ignore", invalid="ignore"):
            y_log_y = numpy.where(target > 0, target * numpy.log(target), 0.0)
        constant = numpy.average(y_log_y - target, weights=weight, axis=0).sum()
        return value + float(constant)

    def output(self, z: numpy.ndarray) -> numpy.ndarray:
        return exp(_tensor(z)).numpy()
