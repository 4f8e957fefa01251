"""``Bernoulli(probs=None, logits=None)``: a 0/1 outcome per element, 1 with probability
``probs`` (or sigmoid(``logits``)).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import arange
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.distributions.probabilities import (
    SuccessProbability,
    chosen_parameter,
)
from chainrule.nn.functional.classification_losses import binary_cross_entropy_with_logits
from chainrule.ops.elementwise import where
from chainrule.ops.sampling import bernoulli
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Bernoulli"]


class Bernoulli(SuccessProbability, Distribution):
    """One Bernoulli trial per element of ``probs`` (in [0, 1]) or ``logits`` (any real):
    the batch shape is the parameter's shape, and samples are 0.0 or 1.0 in its dtype.

    ``log_prob(value)`` is −binary_cross_entropy_with_logits(logits, value), so it is
    differentiable in the parameter (and in ``value``); ``entropy`` is the cross entropy of
    the distribution with itself.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Bernoulli
    >>> d = Bernoulli(probs=cr.tensor([0.25, 0.5]))
    >>> d.log_prob(cr.tensor([1.0, 0.0]))  # log 0.25, log 0.5
    tensor([-1.3863, -0.6931])
    >>> d.mean, d.variance
    (tensor([0.25, 0.50]), tensor([0.1875, 0.2500]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(
        self,
        probs: Tensor | float | None = None,
        logits: Tensor | float | None = None,
        validate_args: Any = None,
    ) -> None:
        name, value = chosen_parameter("Bernoulli", probs, logits)
        (param,) = broadcast_parameters("Bernoulli", name)(value)
        setattr(self, name, param)
        self._param = param
        batch_shape = Size() if isinstance(value, numbers.Number) else param.size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Bernoulli:
        new = self._expanded(Bernoulli, batch_shape, _instance, ("probs", "logits"))
        new._param = new.__dict__.get("logits", new.__dict__.get("probs"))  # the later one set
        return new

    @property
    def param_shape(self) -> Size:
        return self._param.size()

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where probs > ½, 0 where below, NaN at exactly ½ (no single mode)."""
        probs = self.probs.detach()
        above = (probs >= 0.5).to(probs.dtype)
        return where(probs == 0.5, numpy.nan, above)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """0.0 / 1.0 outcomes of shape ``sample_shape + batch_shape``, outside the graph."""
        shape = self._extended_shape(sample_shape)
        with no_grad():
            return bernoulli(self.probs.expand(shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """value·log p + (1 − value)·log(1 − p), computed from the logits."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_parameters("Bernoulli", "logits", "value")(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self) -> Tensor:
        """−p log p − (1 − p) log(1 − p), of shape ``batch_shape``."""
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """0.0 and 1.0 along a new first dimension: shape (2,) + batch_shape (expanded)."""
        values = arange(2, dtype=self._param.dtype).view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1, *self._batch_shape))
        return values
