"""``HalfNormal(scale)``: the distribution of |X| for X ~ Normal(0, scale), on [0, ∞), with
reparameterised samples |scale·ε|.

PyTorch builds it as a Normal transformed by abs; here it is written out, with that Normal
kept as ``base_dist``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import zeros_like
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import Normal
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor

__all__ = ["HalfNormal"]


class HalfNormal(Distribution):
    """|X|, X ~ N(0, ``scale``²) with ``scale`` > 0 a number or a tensor (the batch shape):
    twice the Normal's density on [0, ∞).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import HalfNormal
    >>> d = HalfNormal(cr.tensor([1.0, 2.0]))
    >>> d.log_prob(cr.tensor([0.0, 0.0]))  # log 2 − ½ log 2π − log scale
    tensor([-0.2258, -0.9189])
    >>> d.mean  # scale·√(2/π)
    tensor([0.7979, 1.5958])

    ```
    """

    arg_constraints = {"scale": constraints.positive}  # noqa: RUF012
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, scale: Tensor | float, validate_args: Any = None) -> None:
        self.base_dist = Normal(0, scale, validate_args=False)
        super().__init__(self.base_dist.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> HalfNormal:
        return self._expanded(HalfNormal, batch_shape, _instance, ("base_dist",))

    @property
    def scale(self) -> Tensor:
        """The standard deviation of the Normal folded at 0."""
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def mode(self) -> Tensor:
        return zeros_like(self.scale)

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2) * (1 - 2 / math.pi)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """|scale·ε|, of shape ``sample_shape + batch_shape``."""
        return self.base_dist.rsample(sample_shape).abs()

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with no_grad():
            return self.base_dist.sample(sample_shape).abs()

    def log_prob(self, value: Tensor) -> Tensor:
        """The Normal's log density + log 2 for value ≥ 0, −inf below."""
        if self._validate_args:
            self._validate_sample(value)
        log_prob = self.base_dist.log_prob(value) + math.log(2)
        return where(value >= 0, log_prob, -numpy.inf)

    def cdf(self, value: Tensor) -> Tensor:
        """2·Φ(value / scale) − 1."""
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob: Tensor) -> Tensor:
        """The Normal's icdf at (prob + 1) / 2."""
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self) -> Tensor:
        """The Normal's entropy − log 2, of shape ``batch_shape``."""
        return self.base_dist.entropy() - math.log(2)
