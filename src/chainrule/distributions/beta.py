"""``Beta(concentration1, concentration0)``: distributions on [0, 1], the two-category
Dirichlet, kept inside as ``_dirichlet`` (so its rsample is the Dirichlet's first
coordinate, differentiable in both concentrations).
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.creation import tensor
from chainrule.distributions import constraints
from chainrule.distributions.dirichlet import Dirichlet
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.ops.movement import stack
from chainrule.tensor import Tensor

__all__ = ["Beta"]


class Beta(Distribution):
    """The beta distribution of ``concentration1`` a > 0 and ``concentration0`` b > 0
    (numbers or tensors, broadcast: the batch shape): density x^(a−1)(1 − x)^(b−1)/B(a, b)
    on [0, 1], mean a/(a + b).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Beta
    >>> d = Beta(cr.tensor([2.0, 1.0]), 2.0)
    >>> d.log_prob(cr.tensor([0.5, 0.5]))  # log 1.5, log 1
    tensor([0.4055, 0.0000])
    >>> d.mean, d.mode
    (tensor([0.5000, 0.3333]), tensor([0.5, 0.0]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(
        self,
        concentration1: Tensor | float,
        concentration0: Tensor | float,
        validate_args: Any = None,
    ) -> None:
        if isinstance(concentration1, numbers.Number) and isinstance(
            concentration0, numbers.Number
        ):
            both = tensor([float(concentration1), float(concentration0)])
        else:
            pair = broadcast_parameters("Beta", "concentration1", "concentration0")(
                concentration1, concentration0
            )
            both = stack(list(pair), -1)
        self._dirichlet = Dirichlet(both, validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Beta:
        new = self._get_checked_instance(Beta, _instance)
        new._dirichlet = self._dirichlet.expand(batch_shape)
        Distribution.__init__(new, batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def concentration1(self) -> Tensor:
        return self._dirichlet.concentration[..., 0]

    @property
    def concentration0(self) -> Tensor:
        return self._dirichlet.concentration[..., 1]

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self) -> Tensor:
        a, b = self.concentration1, self.concentration0
        total = a + b
        return a * b / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """The first coordinate of a Dirichlet((a, b)) sample: shape ``sample_shape +
        batch_shape``."""
        return self._dirichlet.rsample(sample_shape)[..., 0]

    def log_prob(self, value: Tensor) -> Tensor:
        """The Dirichlet's log density at (x, 1 − x)."""
        if self._validate_args:
            self._validate_sample(value)
        return self._dirichlet.log_prob(stack([value, 1.0 - value], -1))

    def entropy(self) -> Tensor:
        """The Dirichlet's entropy, of shape ``batch_shape``."""
        return self._dirichlet.entropy()
