"""``Laplace(loc, scale)``: the double-exponential distribution, density
e^(−|x − loc| / scale) / (2 scale), with reparameterised samples.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.creation import rand
from chainrule.distributions.location_scale import LocationScale
from chainrule.tensor import Tensor

__all__ = ["Laplace"]


class Laplace(LocationScale):
    """The Laplace distribution of location ``loc`` and scale ``scale`` > 0 (numbers or
    tensors, broadcast together), mean loc and variance 2·scale².

    ``rsample`` is loc − scale·sign(u)·log(1 − |u|), u uniform on [ε − 1, 1) from
    chainrule's generator (ε the dtype's machine epsilon, so that |u| < 1).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Laplace
    >>> d = Laplace(0.0, cr.tensor([1.0, 2.0]))
    >>> d.log_prob(cr.tensor([1.0, -2.0]))  # −log 2b − |x|/b
    tensor([-1.6931, -2.3863])
    >>> d.cdf(cr.tensor([0.0, 0.0])), d.variance
    (tensor([0.5, 0.5]), tensor([2., 8.]))

    ```
    """

    def expand(self, batch_shape: Any, _instance: Any = None) -> Laplace:
        return self._expanded(Laplace, batch_shape, _instance, ("loc", "scale"))

    @property
    def variance(self) -> Tensor:
        return 2 * self.scale.pow(2)

    @property
    def stddev(self) -> Tensor:
        return (2**0.5) * self.scale

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc − scale·sign(u)·log(1 − |u|), of shape ``sample_shape + batch_shape``."""
        eps = float(numpy.finfo(self.loc.dtype).eps)
        u = rand(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        u = u * (2 - eps) + (eps - 1)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value: Tensor) -> Tensor:
        """−log(2 scale) − |value − loc| / scale."""
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value: Tensor) -> Tensor:
        """½ − ½ sign(value − loc)·(exp(−|value − loc| / scale) − 1)."""
        if self._validate_args:
            self._validate_sample(value)
        diff = value - self.loc
        return 0.5 - 0.5 * diff.sign() * (-diff.abs() / self.scale).expm1()

    def icdf(self, value: Tensor) -> Tensor:
        """loc − scale·sign(value − ½)·log(1 − 2|value − ½|)."""
        term = value - 0.5
        return self.loc - self.scale * term.sign() * (-2 * term.abs()).log1p()

    def entropy(self) -> Tensor:
        """1 + log(2 scale), of shape ``batch_shape``."""
        return 1 + (2 * self.scale).log()
