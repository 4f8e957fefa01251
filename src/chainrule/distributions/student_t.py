"""``StudentT(df, loc=0., scale=1.)``: Student's t distribution, a normal whose variance is
itself drawn (inverse-gamma), heavy-tailed for few degrees of freedom ``df``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule.creation import full_like, randn
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.gamma import Chi2
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor

__all__ = ["StudentT"]

_LGAMMA_HALF = math.lgamma(0.5)


class StudentT(Distribution):
    """Student's t of ``df`` ν > 0 degrees of freedom, location ``loc`` and ``scale`` > 0
    (numbers or tensors, broadcast: the batch shape). The mean is loc for ν > 1 (nan
    otherwise), the variance scale²·ν/(ν − 2) for ν > 2, inf for 1 < ν ≤ 2, nan for ν ≤ 1.

    ``rsample`` is loc + scale·Z/√(V/ν), Z standard normal and V ~ Chi2(ν) drawn with
    its implicit gradient, so gradients reach all three parameters.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import StudentT
    >>> d = StudentT(cr.tensor([1.0, 3.0, 5.0]))
    >>> d.log_prob(cr.tensor([0.0, 0.0, 0.0]))  # the Cauchy's −log π first
    tensor([-1.1447, -1.0009, -0.9686])
    >>> d.mean, d.variance
    (tensor([nan,  0.,  0.]), tensor([   nan, 3.0000, 1.6667]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "df": constraints.positive,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(
        self,
        df: Tensor | float,
        loc: Tensor | float = 0.0,
        scale: Tensor | float = 1.0,
        validate_args: Any = None,
    ) -> None:
        self.df, self.loc, self.scale = broadcast_parameters("StudentT", "df", "loc", "scale")(
            df, loc, scale
        )
        self._chi2 = Chi2(self.df)
        super().__init__(self.df.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> StudentT:
        names = ("df", "loc", "scale", "_chi2")
        return self._expanded(StudentT, batch_shape, _instance, names)

    @property
    def mean(self) -> Tensor:
        return where(self.df > 1, self.loc, numpy.nan)

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        df = self.df
        # A denominator kept away from 0 where its branch is not taken: its gradient there
        # would be 0·inf.
        finite = self.scale.pow(2) * df / where(df > 2, df - 2, 1.0)
        return where(df > 2, finite, where(df > 1, full_like(df, numpy.inf), numpy.nan))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """loc + scale·Z·(V/ν)^(−1/2): shape ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        z = randn(shape, dtype=self.df.dtype)
        v = self._chi2.rsample(sample_shape)
        return self.loc + self.scale * z * (v / self.df).rsqrt()

    def log_prob(self, value: Tensor) -> Tensor:
        """−(ν + 1)/2 · log(1 + y²/ν) − log(scale·√(νπ)·Γ(ν/2)/Γ((ν + 1)/2)),
        y = (value − loc)/scale."""
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        y = (value - self.loc) / self.scale
        normaliser = (
            self.scale.log()
            + 0.5 * df.log()
            + 0.5 * math.log(math.pi)
            + (0.5 * df).lgamma()
            - (0.5 * (df + 1.0)).lgamma()
        )
        return -0.5 * (df + 1.0) * (y.pow(2) / df).log1p() - normaliser

    def entropy(self) -> Tensor:
        """log scale + (ν + 1)/2 · (ψ((ν + 1)/2) − ψ(ν/2)) + ½ log ν + log B(ν/2, ½), of shape
        ``batch_shape``."""
        df = self.df
        half, half_next = 0.5 * df, 0.5 * (df + 1)
        log_beta = half.lgamma() + _LGAMMA_HALF - half_next.lgamma()
        return (
            self.scale.log()
            + half_next * (half_next.digamma() - half.digamma())
            + 0.5 * df.log()
            + log_beta
        )
