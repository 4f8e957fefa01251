"""``Gumbel(loc, scale)``: the distribution of the maximum of many independent draws (type I
extreme values), density exp(−z − e^(−z)) / scale with z = (x − loc) / scale.

PyTorch builds it as a transformed Uniform; here it is written out, with that Uniform
(on [tiny, 1 − ε]) kept as ``base_dist`` so that samples, ``cdf`` and ``icdf`` round and
validate as PyTorch's do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import full_like
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.distributions.uniform import Uniform
from chainrule.tensor import Tensor

__all__ = ["EULER_GAMMA", "Gumbel"]

EULER_GAMMA = 0.57721566490153286060  # the Euler-Mascheroni constant: Gumbel(0, 1)'s mean


class Gumbel(Distribution):
    """The Gumbel distribution of location ``loc`` and scale ``scale`` > 0 (numbers or
    tensors, broadcast together): mean loc + γ·scale, variance (π·scale)² / 6.

    ``rsample`` is loc − scale·log(−log u), u uniform on [tiny, 1 − ε) from chainrule's
    generator, so gradients reach both parameters.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Gumbel
    >>> d = Gumbel(cr.tensor([0.0, 1.0]), 2.0)
    >>> d.log_prob(cr.tensor([0.0, 1.0]))  # −1 − log 2
    tensor([-1.6931, -1.6931])
    >>> d.cdf(cr.tensor([0.0, 1.0]))  # e^(−1)
    tensor([0.3679, 0.3679])

    ```
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}  # noqa: RUF012
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: Any = None):
        self.loc, self.scale = broadcast_parameters("Gumbel", "loc", "scale")(loc, scale)
        finfo = numpy.finfo(self.loc.dtype)
        tiny, top = float(finfo.tiny), 1 - float(finfo.eps)
        both_numbers = not isinstance(loc, Tensor) and not isinstance(scale, Tensor)
        if both_numbers:
            self.base_dist = Uniform(tiny, top, validate_args=validate_args)
        else:
            self.base_dist = Uniform(
                full_like(self.loc, tiny), full_like(self.loc, top), validate_args=validate_args
            )
        super().__init__(self.base_dist.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Gumbel:
        return self._expanded(Gumbel, batch_shape, _instance, ("loc", "scale", "base_dist"))

    @property
    def mean(self) -> Tensor:
        return self.loc + self.scale * EULER_GAMMA

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self) -> Tensor:
        return self.stddev.pow(2)

    def _from_uniform(self, u: Tensor) -> Tensor:
        return self.loc - self.scale * (-u.log()).log()

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc − scale·log(−log u), of shape ``sample_shape + batch_shape``."""
        return self._from_uniform(self.base_dist.rsample(sample_shape))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with no_grad():
            return self._from_uniform(self.base_dist.sample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """y − e^y − log scale with y = (loc − value) / scale."""
        if self._validate_args:
            self._validate_sample(value)
        y = (self.loc - value) / self.scale
        return (y - y.exp()) - self.scale.log()

    def cdf(self, value: Tensor) -> Tensor:
        """exp(−exp(−(value − loc) / scale)), read through the base Uniform's cdf as
        PyTorch does: a value so far out that this rounds to 0 or 1 leaves the Uniform's
        support and is refused when validation is on."""
        u = (-(-(value - self.loc) / self.scale).exp()).exp()
        if self._validate_args:
            self.base_dist._validate_sample(u)
        # PyTorch's composed transforms apply a sign of +1 as (p − ½) + ½; kept for its
        # rounding near 0.
        return (self.base_dist.cdf(u) - 0.5) + 0.5

    def icdf(self, value: Tensor) -> Tensor:
        """loc − scale·log(−log value), the probability first mapped onto the base
        Uniform's interval."""
        return self._from_uniform(self.base_dist.icdf((value - 0.5) + 0.5))

    def entropy(self) -> Tensor:
        """log scale + 1 + γ, of shape ``batch_shape``."""
        return self.scale.log() + (1 + EULER_GAMMA)
