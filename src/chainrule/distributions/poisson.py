"""``Poisson(rate)``: the number of events of a Poisson process of intensity ``rate`` in unit
time, P(X = k) = rate^k e^(−rate) / k!.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from chainrule.creation import tensor
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.random import default_generator
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Poisson"]


class Poisson(Distribution):
    """The Poisson distribution of ``rate`` λ ≥ 0 (a number or a tensor: the batch shape is
    its shape): mean and variance λ, samples whole numbers in λ's dtype, no ``rsample``.
    As in PyTorch it has no ``entropy`` (no closed form).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Poisson
    >>> d = Poisson(cr.tensor([1.0, 4.0]))
    >>> d.log_prob(cr.tensor([0.0, 2.0]))  # −λ, 2 log 4 − 4 − log 2
    tensor([-1.0000, -1.9206])
    >>> d.mode
    tensor([1., 4.])

    ```
    """

    arg_constraints = {"rate": constraints.nonnegative}  # noqa: RUF012
    support = constraints.nonnegative_integer

    def __init__(self, rate: Tensor | float, validate_args: Any = None) -> None:
        (self.rate,) = broadcast_parameters("Poisson", "rate")(rate)
        batch_shape = Size() if isinstance(rate, numbers.Number) else self.rate.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Poisson:
        return self._expanded(Poisson, batch_shape, _instance, ("rate",))

    @property
    def mean(self) -> Tensor:
        return self.rate

    @property
    def mode(self) -> Tensor:
        return self.rate.floor()

    @property
    def variance(self) -> Tensor:
        return self.rate

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Counts drawn by NumPy from chainrule's generator: shape ``sample_shape +
        batch_shape``, in the rate's dtype, outside the graph."""
        shape = tuple(self._extended_shape(sample_shape))
        rate = numpy.broadcast_to(self.rate.detach().array.astype(numpy.float64), shape)
        return tensor(default_generator().poisson(rate), dtype=self.rate.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        """k log λ − λ − log k!, with 0·log 0 = 0 (k = 0 at λ = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_parameters("Poisson", "rate", "value")(self.rate, value)
        return value.xlogy(rate) - rate - (value + 1).lgamma()
