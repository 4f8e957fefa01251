"""``Gamma(concentration, rate)`` and its special case ``Chi2(df)`` = Gamma(df/2, 1/2).

Samples are NumPy's standard gamma draws from chainrule's generator, divided by the rate;
``rsample`` differentiates them through the implicit reparameterisation gradient
dx/dα = −(∂F/∂α)/(∂F/∂x) of the standard gamma CDF F (chainrule.ops.incomplete_gamma), so
gradients reach the concentration as well as the rate.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from chainrule.creation import tensor
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.ops.exponential import xlogy
from chainrule.ops.incomplete_gamma import gammainc, reparameterized_gamma
from chainrule.random import default_generator
from chainrule.tensor import Tensor

__all__ = ["Chi2", "Gamma", "standard_gamma"]


def standard_gamma(concentration: Tensor) -> Tensor:
    """Draws of Gamma(α, 1), one per element of ``concentration`` (same shape and dtype),
    at least the dtype's smallest normal number, with gradients dx/dα into
    ``concentration``."""
    alpha = numpy.asarray(concentration.detach().array, dtype=numpy.float64)
    # NumPy gives a float, not an array, for a 0-d concentration.
    draws = numpy.asarray(default_generator().standard_gamma(alpha), dtype=concentration.dtype)
    # A tiny α gives draws that underflow; 0 would leave the support's logarithm at −inf.
    draws = numpy.maximum(draws, numpy.finfo(concentration.dtype).tiny)
    return reparameterized_gamma(concentration, draws)


class Gamma(Distribution):
    """The gamma distribution of shape ``concentration`` α > 0 and ``rate`` β > 0 (numbers or
    tensors, broadcast: the batch shape): density β^α x^(α−1) e^(−βx) / Γ(α) on x ≥ 0, mean
    α/β, variance α/β².

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Gamma
    >>> d = Gamma(cr.tensor([1.0, 2.0]), 2.0)
    >>> d.log_prob(cr.tensor([1.0, 1.0]))  # α log β + (α − 1) log x − βx − log Γ(α)
    tensor([-1.3069, -0.6137])
    >>> d.mean, d.variance
    (tensor([0.5, 1.0]), tensor([0.25, 0.50]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "concentration": constraints.positive,
        "rate": constraints.positive,
    }
    support = constraints.nonnegative
    has_rsample = True

    def __init__(
        self,
        concentration: Tensor | float,
        rate: Tensor | float,
        validate_args: Any = None,
    ) -> None:
        self.concentration, self.rate = broadcast_parameters("Gamma", "concentration", "rate")(
            concentration, rate
        )
        numbers_only = isinstance(concentration, numbers.Number) and isinstance(
            rate, numbers.Number
        )
        batch_shape = () if numbers_only else self.concentration.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Gamma:
        return self._expanded(Gamma, batch_shape, _instance, ("concentration", "rate"))

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """X / rate, X ~ Gamma(concentration, 1) differentiable in the concentration: shape
        ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        draws = standard_gamma(self.concentration.expand(shape))
        return draws / self.rate.expand(shape)

    def log_prob(self, value: Tensor | float) -> Tensor:
        """α log β + (α − 1) log x − βx − log Γ(α), with 0·log 0 = 0 (x = 0 at α = 1)."""
        value = _as_tensor(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        alpha, rate = self.concentration, self.rate
        return xlogy(alpha, rate) + xlogy(alpha - 1, value) - rate * value - alpha.lgamma()

    def cdf(self, value: Tensor | float) -> Tensor:
        """P(α, β·x), the regularised lower incomplete gamma function."""
        value = _as_tensor(value, self.rate)
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(self.concentration, self.rate * value)

    def entropy(self) -> Tensor:
        """α − log β + log Γ(α) + (1 − α) ψ(α), of shape ``batch_shape``."""
        alpha = self.concentration
        return alpha - self.rate.log() + alpha.lgamma() + (1.0 - alpha) * alpha.digamma()


def _as_tensor(value: Any, like: Tensor) -> Tensor:
    # PyTorch's torch.as_tensor(value, dtype=rate.dtype): numbers and tensors alike.
    if isinstance(value, Tensor):
        return value if value.dtype == like.dtype else value.to(like.dtype)
    return tensor(value, dtype=like.dtype)


class Chi2(Gamma):
    """The chi-squared distribution of ``df`` > 0 degrees of freedom: Gamma(df/2, 1/2), the
    sum of df squared standard normals, mean df, variance 2·df.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Chi2
    >>> d = Chi2(cr.tensor([2.0, 4.0]))
    >>> d.mean, d.variance, d.df
    (tensor([2., 4.]), tensor([4., 8.]), tensor([2., 4.]))
    >>> d.log_prob(cr.tensor([1.0, 1.0]))
    tensor([-1.1931, -1.8863])

    ```
    """

    arg_constraints = {"df": constraints.positive}  # noqa: RUF012

    def __init__(self, df: Tensor | float, validate_args: Any = None) -> None:
        super().__init__(0.5 * df, 0.5, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Chi2:
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self) -> Tensor:
        """The degrees of freedom: twice the concentration."""
        return self.concentration * 2
