"""``Dirichlet(concentration)``: distributions over the probability simplex, the conjugate
prior of a categorical distribution's probabilities.

``rsample`` normalises independent gamma draws G_i ~ Gamma(α_i, 1), each differentiable in
its α_i through the implicit gamma gradient, so x = G / Σ G is differentiable in every α_i.
PyTorch's rsample draws the same distribution but differentiates each x_i through its
marginal Beta CDF instead: per sample the two gradients differ, their expectations (the
gradient of an expected value) agree.
"""

from __future__ import annotations

from typing import Any

from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.gamma import standard_gamma
from chainrule.nn.functional import one_hot
from chainrule.ops.elementwise import where
from chainrule.ops.exponential import xlogy
from chainrule.tensor import Tensor

__all__ = ["Dirichlet"]


class Dirichlet(Distribution):
    """The Dirichlet distribution of ``concentration`` α (a tensor with at least one
    dimension, all entries > 0): events are vectors of its last dimension's length K on the
    simplex, batched over the others. Density Γ(Σα) / ΠΓ(α_i) · Π x_i^(α_i − 1).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Dirichlet
    >>> d = Dirichlet(cr.tensor([1.0, 2.0, 3.0]))
    >>> d.batch_shape, d.event_shape
    (chainrule.Size([]), chainrule.Size([3]))
    >>> d.mean
    tensor([0.1667, 0.3333, 0.5000])
    >>> d.log_prob(cr.tensor([0.2, 0.3, 0.5]))
    tensor(1.5041)

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "concentration": constraints.independent(constraints.positive, 1)
    }
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Tensor, validate_args: Any = None) -> None:
        if not isinstance(concentration, Tensor) or concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = tuple(concentration.shape)
        super().__init__(shape[:-1], shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Dirichlet:
        return self._expanded(
            Dirichlet, batch_shape, _instance, ("concentration",), tuple(self.event_shape)
        )

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """G / Σ G over the last dimension, G_i ~ Gamma(α_i, 1): shape ``sample_shape +
        batch_shape + event_shape``, differentiable in the concentration."""
        shape = self._extended_shape(sample_shape)
        gammas = standard_gamma(self.concentration.expand(shape))
        return gammas / gammas.sum(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        """Σ (α_i − 1) log x_i + log Γ(Σ α_i) − Σ log Γ(α_i), of shape ``sample_shape +
        batch_shape``."""
        if self._validate_args:
            self._validate_sample(value)
        alpha = self.concentration
        return xlogy(alpha - 1.0, value).sum(-1) + alpha.sum(-1).lgamma() - alpha.lgamma().sum(-1)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        """(α − 1)₊ / Σ (α − 1)₊; where every α_i < 1 the density is largest at a corner:
        the one-hot vector of the largest α_i (PyTorch's choice)."""
        shifted = (self.concentration - 1).clamp(min=0.0)
        mode = shifted / shifted.sum(-1, keepdim=True)
        corner = one_hot(mode.argmax(-1), shifted.shape[-1]).to(mode.dtype)
        below_one = (self.concentration < 1).all(-1).unsqueeze(-1)
        return where(below_one, corner, mode)

    @property
    def variance(self) -> Tensor:
        alpha = self.concentration
        total = alpha.sum(-1, keepdim=True)
        return alpha * (total - alpha) / (total.pow(2) * (total + 1))

    def entropy(self) -> Tensor:
        """Σ log Γ(α_i) − log Γ(α₀) − (K − α₀) ψ(α₀) − Σ (α_i − 1) ψ(α_i), α₀ = Σ α_i, of
        shape ``batch_shape``."""
        alpha = self.concentration
        k = alpha.shape[-1]
        total = alpha.sum(-1)
        return (
            alpha.lgamma().sum(-1)
            - total.lgamma()
            - (k - total) * total.digamma()
            - ((alpha - 1.0) * alpha.digamma()).sum(-1)
        )
