"""``NegativeBinomial(total_count, probs=None, logits=None)``: the number of successes before
``total_count`` failures, each trial a success with probability ``probs``.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import tensor
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.gamma import Gamma
from chainrule.distributions.parameters import broadcast_parameters, lazy_property
from chainrule.distributions.probabilities import (
    SuccessProbability,
    chosen_parameter,
)
from chainrule.nn.functional import logsigmoid
from chainrule.ops.elementwise import where
from chainrule.random import default_generator
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["NegativeBinomial"]


class NegativeBinomial(SuccessProbability, Distribution):
    """P(X = k) = Γ(k + r)/(k! Γ(r)) · p^k (1 − p)^r for k = 0, 1, … with ``total_count``
    r ≥ 0 (real) and ``probs`` p in [0, 1) or ``logits``, broadcast together: mean
    r·p/(1 − p). Samples are Poisson draws of Gamma(r, (1 − p)/p) rates; no ``rsample`` and,
    as in PyTorch, no ``entropy``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import NegativeBinomial
    >>> d = NegativeBinomial(2.0, probs=cr.tensor([0.5, 0.25]))
    >>> d.mean, d.variance
    (tensor([2.0000, 0.6667]), tensor([4.0000, 0.8889]))
    >>> d.log_prob(cr.tensor([0.0, 1.0]))  # 2 log ½; log 2 + log ¼ + 2 log ¾
    tensor([-1.3863, -1.2685])

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "total_count": constraints.greater_than_eq(0),
        "probs": constraints.half_open_interval(0.0, 1.0),
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self,
        total_count: Tensor | float,
        probs: Tensor | float | None = None,
        logits: Tensor | float | None = None,
        validate_args: Any = None,
    ) -> None:
        name, value = chosen_parameter("NegativeBinomial", probs, logits)
        count, param = broadcast_parameters("NegativeBinomial", "total_count", name)(
            total_count, value
        )
        self.total_count = count.type_as(param)
        setattr(self, name, param)
        self._param = param
        super().__init__(param.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> NegativeBinomial:
        names = ("total_count", "probs", "logits")
        new = self._expanded(NegativeBinomial, batch_shape, _instance, names)
        new._param = new.__dict__["probs" if "probs" in self.__dict__ else "logits"]
        return new

    @property
    def param_shape(self) -> Size:
        return self._param.size()

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.logits.exp()

    @property
    def mode(self) -> Tensor:
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self) -> Tensor:
        return self.mean / (-self.logits).sigmoid()

    @lazy_property
    def _gamma(self) -> Gamma:
        # The Poisson rate's distribution: r failures' worth of odds p/(1 − p).
        return Gamma(self.total_count, (-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Poisson(λ) counts with λ ~ Gamma(r, (1 − p)/p): shape ``sample_shape +
        batch_shape``, in the parameters' dtype, outside the graph."""
        with no_grad():
            rate = self._gamma.sample(sample_shape)
            counts = default_generator().poisson(rate.array.astype(numpy.float64))
            return tensor(counts, dtype=self._param.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        """r log(1 − p) + k log p + log Γ(k + r) − log k! − log Γ(r), taken as 0 where
        k + r = 0."""
        if self._validate_args:
            self._validate_sample(value)
        r, logits = self.total_count, self.logits
        unnormalised = r * logsigmoid(-logits) + value * logsigmoid(logits)
        normaliser = -(r + value).lgamma() + (1.0 + value).lgamma() + r.lgamma()
        normaliser = where(r + value == 0.0, 0.0, normaliser)
        return unnormalised - normaliser
