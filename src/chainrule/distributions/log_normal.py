"""``LogNormal(loc, scale)``: the distribution of e^X for X ~ Normal(loc, scale), on the
positive reals, with reparameterised samples exp(loc + scale·ε).

PyTorch builds it as a Normal transformed by exp; here it is written out, with that Normal
kept as ``base_dist``.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import Normal
from chainrule.tensor import Tensor

__all__ = ["LogNormal"]


class LogNormal(Distribution):
    """exp(X), X ~ N(``loc``, ``scale``²): numbers or tensors, broadcast together (the batch
    shape). ``loc`` and ``scale`` are those of log X, not its mean and deviation.

    ``log_prob(y)`` is the Normal's log density at log y, less log y (the change of
    variable); ``rsample`` is exp of the Normal's ``rsample``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import LogNormal
    >>> d = LogNormal(cr.tensor([0.0, 1.0]), 1.0)
    >>> d.log_prob(cr.tensor([1.0, 1.0]))
    tensor([-0.9189, -1.4189])
    >>> d.mean  # exp(loc + scale² / 2)
    tensor([1.6487, 4.4817])

    ```
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}  # noqa: RUF012
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: Any = None):
        # The Normal checks the parameters first, and its error names it, as PyTorch's does.
        self.base_dist = Normal(loc, scale, validate_args=validate_args)
        super().__init__(self.base_dist.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> LogNormal:
        return self._expanded(LogNormal, batch_shape, _instance, ("base_dist",))

    @property
    def loc(self) -> Tensor:
        """The mean of log X."""
        return self.base_dist.loc

    @property
    def scale(self) -> Tensor:
        """The standard deviation of log X."""
        return self.base_dist.scale

    @property
    def mean(self) -> Tensor:
        return (self.loc + self.scale.pow(2) / 2).exp()

    @property
    def mode(self) -> Tensor:
        return (self.loc - self.scale.square()).exp()

    @property
    def variance(self) -> Tensor:
        """(e^(scale²) − 1)·e^(2 loc + scale²)."""
        scale_squared = self.scale.pow(2)
        return scale_squared.expm1() * (2 * self.loc + scale_squared).exp()

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """exp(loc + scale·ε), of shape ``sample_shape + batch_shape``."""
        return self.base_dist.rsample(sample_shape).exp()

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with no_grad():
            return self.base_dist.sample(sample_shape).exp()

    def log_prob(self, value: Tensor) -> Tensor:
        """Normal(loc, scale).log_prob(log value) − log value."""
        if self._validate_args:
            self._validate_sample(value)
        x = value.log()
        return -x + self.base_dist.log_prob(x)

    def cdf(self, value: Tensor) -> Tensor:
        """The Normal's cdf at log value."""
        return self.base_dist.cdf(value.log())

    def icdf(self, value: Tensor) -> Tensor:
        """exp of the Normal's icdf."""
        return self.base_dist.icdf(value).exp()

    def entropy(self) -> Tensor:
        """The Normal's entropy + loc, of shape ``batch_shape``."""
        return self.base_dist.entropy() + self.loc
