"""``Exponential(rate)``: the waiting time of a Poisson process of intensity ``rate``, density
rate·e^(−rate·x) on x ≥ 0, with reparameterised samples E / rate.
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.creation import rand, zeros_like
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Exponential"]


class Exponential(Distribution):
    """The exponential distribution of ``rate`` λ > 0 (a number or a tensor: the batch
    shape is its shape), mean 1/λ, on [0, ∞).

    ``rsample`` is E / λ with E = −log(1 − u), u ~ U[0, 1) from chainrule's generator, so
    gradients reach λ.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Exponential
    >>> d = Exponential(cr.tensor([1.0, 2.0]))
    >>> d.log_prob(cr.tensor([1.0, 1.0]))  # log λ − λx
    tensor([-1.0000, -1.3069])
    >>> d.mean, d.cdf(cr.tensor([0.0, 1.0]))
    (tensor([1.0, 0.5]), tensor([0.0000, 0.8647]))

    ```
    """

    arg_constraints = {"rate": constraints.positive}  # noqa: RUF012
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, rate: Tensor | float, validate_args: Any = None) -> None:
        (self.rate,) = broadcast_parameters("Exponential", "rate")(rate)
        batch_shape = Size() if isinstance(rate, numbers.Number) else self.rate.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Exponential:
        return self._expanded(Exponential, batch_shape, _instance, ("rate",))

    @property
    def mean(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def mode(self) -> Tensor:
        return zeros_like(self.rate)

    @property
    def stddev(self) -> Tensor:
        return self.rate.reciprocal()

    @property
    def variance(self) -> Tensor:
        return self.rate.pow(-2)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """E / rate, E = −log(1 − u) ~ Exponential(1), of shape ``sample_shape +
        batch_shape``."""
        u = rand(self._extended_shape(sample_shape), dtype=self.rate.dtype)
        # 1 − u lies in (0, 1]: the logarithm stays finite.
        return -(-u).log1p() / self.rate

    def log_prob(self, value: Tensor) -> Tensor:
        """log rate − rate·value."""
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value: Tensor) -> Tensor:
        """1 − exp(−rate·value)."""
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value: Tensor) -> Tensor:
        """−log(1 − value) / rate."""
        return -(-value).log1p() / self.rate

    def entropy(self) -> Tensor:
        """1 − log rate, of shape ``batch_shape``."""
        return 1.0 - self.rate.log()
