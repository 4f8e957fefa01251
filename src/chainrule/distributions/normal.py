"""``Normal(loc, scale)``: the Gaussian distribution of mean ``loc`` and standard deviation
``scale``, with reparameterised samples loc + scale·ε.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.creation import randn
from chainrule.distributions.location_scale import LocationScale
from chainrule.ops.elementwise import log
from chainrule.ops.erf import erf
from chainrule.ops.erfinv import erfinv
from chainrule.tensor import Tensor

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))  # rounded as PyTorch rounds it


class Normal(LocationScale):
    """The normal distribution N(loc, scale²), one per element of the broadcast parameters.

    ``loc`` and ``scale`` are numbers or tensors (broadcast together; numbers take the
    tensors' dtype, float32 by default). ``rsample`` is loc + scale·ε with ε ~ N(0, 1) from
    chainrule's generator, so gradients reach both parameters.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Normal
    >>> d = Normal(cr.tensor([0.0, 1.0]), 2.0)
    >>> d.log_prob(cr.tensor([0.0, 1.0]))  # −log 2 − ½ log 2π
    tensor([-1.6121, -1.6121])
    >>> d.entropy()
    tensor([2.1121, 2.1121])

    ```
    """

    def expand(self, batch_shape: Any, _instance: Any = None) -> Normal:
        return self._expanded(Normal, batch_shape, _instance, ("loc", "scale"))

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale.pow(2)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc + scale·ε, ε ~ N(0, 1) of shape ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        eps = randn(shape, dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value: Tensor) -> Tensor:
        """−(value − loc)² / (2 scale²) − log scale − ½ log 2π."""
        if self._validate_args:
            self._validate_sample(value)
        variance = self.scale.pow(2)
        return -((value - self.loc) ** 2) / (2 * variance) - log(self.scale) - _LOG_SQRT_2PI

    def cdf(self, value: Tensor) -> Tensor:
        """½ (1 + erf((value − loc) / (scale √2)))."""
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value: Tensor) -> Tensor:
        """The quantile at probability ``value``: loc + scale·√2·erfinv(2·value − 1)."""
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self) -> Tensor:
        """½ + ½ log 2π + log scale, of shape ``batch_shape``."""
        return 0.5 + _HALF_LOG_2PI + log(self.scale)
