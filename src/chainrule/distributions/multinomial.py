"""``Multinomial(total_count, probs=None, logits=None)``: the counts of each of K classes in
``total_count`` independent categorical draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule.creation import tensor
from chainrule.distributions import constraints
from chainrule.distributions.binomial import Binomial
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.ops.axes import broadcast_tensors
from chainrule.ops.elementwise import where
from chainrule.random import default_generator
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Multinomial"]


class Multinomial(Distribution):
    """Counts of K classes in n = ``total_count`` (one Python int for the whole batch) draws
    of the categorical distribution of ``probs`` (normalised along the last dimension) or
    ``logits``: events of shape (K,), batch shape the parameter's less its last dimension.
    P(x) = n!/Π x_i! · Π p_i^x_i; no ``rsample``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Multinomial
    >>> d = Multinomial(4, probs=cr.tensor([0.25, 0.25, 0.5]))
    >>> d.mean
    tensor([1., 1., 2.])
    >>> d.log_prob(cr.tensor([1.0, 1.0, 2.0]))  # log(12 · ¼ · ¼ · ½²)
    tensor(-1.674)

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "probs": constraints.simplex,
        "logits": constraints.independent(constraints.real, 1),
    }

    def __init__(
        self,
        total_count: int = 1,
        probs: Tensor | None = None,
        logits: Tensor | None = None,
        validate_args: Any = None,
    ) -> None:
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Multinomial:
        new = self._get_checked_instance(Multinomial, _instance)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = Binomial(total_count=self.total_count, probs=new._categorical.probs)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self) -> constraints.Constraint:
        return constraints.multinomial(self.total_count)

    @property
    def probs(self) -> Tensor:
        return self._categorical.probs

    @property
    def logits(self) -> Tensor:
        return self._categorical.logits

    @property
    def param_shape(self) -> Size:
        return self._categorical.param_shape

    @property
    def mean(self) -> Tensor:
        return self.probs * self.total_count

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Count vectors drawn by NumPy from chainrule's generator: shape ``sample_shape +
        batch_shape + (K,)``, in the probabilities' dtype, outside the graph."""
        shape = tuple(self._extended_shape(sample_shape))
        probs = self.probs.detach().array.astype(numpy.float64)
        # NumPy refuses probabilities whose sum rounds above 1: renormalise in float64.
        probs = probs / probs.sum(-1, keepdims=True)
        counts = default_generator().multinomial(self.total_count, probs, size=shape[:-1])
        return tensor(counts, dtype=self.probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        """log n! − Σ log x_i! + Σ x_i log p_i, where a class of probability 0 counted 0
        times adds 0. Shape ``sample_shape + batch_shape``."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_tensors(self.logits, value)
        logits = where((value == 0) & (logits == -numpy.inf), 0.0, logits)
        log_factorials = (value.sum(-1) + 1).lgamma() - (value + 1).lgamma().sum(-1)
        return log_factorials + (logits * value).sum(-1)

    def entropy(self) -> Tensor:
        """n·H(categorical) − log n! + Σ_i E[log x_i!], each x_i ~ Binomial(n, p_i); shape
        ``batch_shape``. log n! is exact here; PyTorch rounds it to float32."""
        n = self.total_count
        first = n * self._categorical.entropy() - math.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        weights = (support + 1).lgamma()
        probs = self._binomial.log_prob(support).exp()
        return first + (probs * weights).sum(0).sum(-1)
