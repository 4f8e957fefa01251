"""``Uniform(low, high)``: the continuous uniform distribution on [low, high), with
reparameterised samples low + u·(high − low).
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.creation import rand
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.ops.elementwise import log, where
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Uniform"]


class Uniform(Distribution):
    """Uniform on [low, high), one per element of the broadcast bounds (numbers or tensors;
    low < high is checked when validation is on).

    ``rsample`` is low + u·(high − low), u ~ U[0, 1) from chainrule's generator, so gradients
    reach both bounds. ``log_prob`` is −log(high − low) inside [low, high) and −inf outside.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Uniform
    >>> d = Uniform(0.0, cr.tensor([2.0, 4.0]))
    >>> d.log_prob(cr.tensor([1.0, 3.0]))
    tensor([-0.6931, -1.3863])
    >>> Uniform(0.0, 2.0, validate_args=False).log_prob(cr.tensor(5.0))  # outside
    tensor(-inf)
    >>> d.mean, d.entropy()
    (tensor([1., 2.]), tensor([0.6931, 1.3863]))

    ```
    """

    has_rsample = True

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:  # type: ignore[override]
        return {
            "low": constraints.less_than(self.high),
            "high": constraints.greater_than(self.low),
        }

    def __init__(self, low: Tensor | float, high: Tensor | float, validate_args: Any = None):
        self.low, self.high = broadcast_parameters("Uniform", "low", "high")(low, high)
        both_numbers = not isinstance(low, Tensor) and not isinstance(high, Tensor)
        batch_shape = Size() if both_numbers else self.low.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Uniform:
        return self._expanded(Uniform, batch_shape, _instance, ("low", "high"))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        """NaN: every point of the interval is as likely."""
        return numpy.nan * self.high

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low).pow(2) / 12

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """low + u·(high − low), u ~ U[0, 1) of shape ``sample_shape + batch_shape``."""
        u = rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Tensor) -> Tensor:
        """−log(high − low) where low ≤ value < high, −inf elsewhere."""
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (self.high > value)
        # A constant 0 / −inf added, so the width's gradient is the same inside and outside.
        log_indicator = where(inside, 0.0, -numpy.inf).to(self.low.dtype)
        return log_indicator - log(self.high - self.low)

    def cdf(self, value: Tensor) -> Tensor:
        """(value − low) / (high − low), clamped to [0, 1]."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value: Tensor) -> Tensor:
        """low + value·(high − low)."""
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        """log(high − low), of shape ``batch_shape``."""
        return log(self.high - self.low)
