"""``Cauchy(loc, scale)``: the Lorentz distribution, density
1 / (π scale (1 + ((x − loc) / scale)²)): no mean, infinite variance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule.creation import full, rand
from chainrule.distributions.location_scale import LocationScale
from chainrule.tensor import Tensor

__all__ = ["Cauchy"]


class Cauchy(LocationScale):
    """The Cauchy distribution of median ``loc`` and half width ``scale`` > 0 (numbers or
    tensors, broadcast together). ``mean`` is NaN and ``variance`` inf, as in PyTorch.

    ``rsample`` is loc + scale·tan(π(u − ½)), u ~ U[0, 1) from chainrule's generator.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Cauchy
    >>> d = Cauchy(cr.tensor([0.0, 1.0]), 1.0)
    >>> d.cdf(cr.tensor([1.0, 1.0]))
    tensor([0.75, 0.50])
    >>> d.log_prob(cr.tensor([0.0, 0.0]))  # −log π, −log 2π
    tensor([-1.1447, -1.8379])

    ```
    """

    def expand(self, batch_shape: Any, _instance: Any = None) -> Cauchy:
        return self._expanded(Cauchy, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self) -> Tensor:
        """NaN: the integral defining the mean does not converge."""
        return full(self._extended_shape(), numpy.nan, dtype=self.loc.dtype)

    @property
    def variance(self) -> Tensor:
        """inf, as PyTorch gives it."""
        return full(self._extended_shape(), numpy.inf, dtype=self.loc.dtype)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc + scale·tan(π(u − ½)), of shape ``sample_shape + batch_shape``."""
        u = rand(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + (math.pi * (u - 0.5)).tan() * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        """−log π − log scale − log(1 + ((value − loc) / scale)²)."""
        if self._validate_args:
            self._validate_sample(value)
        standardised = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (standardised**2).log1p()

    def cdf(self, value: Tensor) -> Tensor:
        """atan((value − loc) / scale) / π + ½."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value: Tensor) -> Tensor:
        """loc + scale·tan(π(value − ½))."""
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self) -> Tensor:
        """log(4π) + log scale, of shape ``batch_shape``."""
        return math.log(4 * math.pi) + self.scale.log()
