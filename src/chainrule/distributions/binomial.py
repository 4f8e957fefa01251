"""``Binomial(total_count, probs=None, logits=None)``: the number of successes in
``total_count`` independent trials of success probability ``probs`` (or sigmoid(``logits``)).
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.creation import arange, tensor
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.distributions.probabilities import (
    SuccessProbability,
    chosen_parameter,
)
from chainrule.ops.elementwise import where
from chainrule.random import default_generator
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Binomial"]


def same_total_count(total_count: Tensor, what: str) -> int:
    """The one total count of a batch, refusing a batch whose counts differ."""
    largest = int(total_count.max().item())
    if int(total_count.min().item()) != largest:
        raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
    return largest


class Binomial(SuccessProbability, Distribution):
    """The binomial distribution: ``total_count`` n (whole numbers ≥ 0) and ``probs`` p in
    [0, 1] or ``logits``, broadcast together (the batch shape is the probability's shape);
    P(X = k) = C(n, k) p^k (1 − p)^(n−k), mean np, variance np(1 − p). Samples are whole
    numbers in the probability's dtype; no ``rsample``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Binomial
    >>> d = Binomial(4, probs=cr.tensor([0.5, 0.25]))
    >>> d.log_prob(cr.tensor([2.0, 0.0]))  # log(6/16), 4 log ¾
    tensor([-0.9808, -1.1507])
    >>> d.mean, d.mode
    (tensor([2., 1.]), tensor([2., 1.]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "total_count": constraints.nonnegative_integer,
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    has_enumerate_support = True

    def __init__(
        self,
        total_count: Tensor | float = 1,
        probs: Tensor | float | None = None,
        logits: Tensor | float | None = None,
        validate_args: Any = None,
    ) -> None:
        name, value = chosen_parameter("Binomial", probs, logits)
        count, param = broadcast_parameters("Binomial", "total_count", name)(total_count, value)
        self.total_count = count.type_as(param)
        setattr(self, name, param)
        self._param = param
        super().__init__(param.size(), validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Binomial:
        new = self._expanded(Binomial, batch_shape, _instance, ("total_count", "probs", "logits"))
        new._param = new.__dict__["probs" if "probs" in self.__dict__ else "logits"]
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self.total_count)

    @property
    def param_shape(self) -> Size:
        return self._param.size()

    @property
    def mean(self) -> Tensor:
        return self.total_count * self.probs

    @property
    def mode(self) -> Tensor:
        mode = ((self.total_count + 1) * self.probs).floor()
        return where(mode > self.total_count, self.total_count, mode)

    @property
    def variance(self) -> Tensor:
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Success counts drawn by NumPy from chainrule's generator: shape ``sample_shape +
        batch_shape``, in the probability's dtype, outside the graph."""
        shape = tuple(self._extended_shape(sample_shape))
        count = numpy.broadcast_to(self.total_count.detach().array.astype(numpy.int64), shape)
        probs = numpy.broadcast_to(self.probs.detach().array.astype(numpy.float64), shape)
        return tensor(default_generator().binomial(count, probs), dtype=self._param.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        """log C(n, k) + k·logit − n·softplus(logit): log p^k (1 − p)^(n−k) from the logits,
        finite at p = 0 and 1."""
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        log_choose = (n + 1).lgamma() - (value + 1).lgamma() - (n - value + 1).lgamma()
        # softplus(l) = max(l, 0) + log(1 + e^(−|l|)); max(l, 0) as (l + |l|)/2 takes the
        # gradient ½ at l = 0 (p = ½), as PyTorch's formula does.
        softplus = 0.5 * (logits + logits.abs()) + (-logits.abs()).exp().log1p()
        return log_choose + value * logits - n * softplus

    def entropy(self) -> Tensor:
        """−Σₖ P(k) log P(k) over k = 0…n (one n for the whole batch), of shape
        ``batch_shape``."""
        same_total_count(self.total_count, "entropy")
        log_prob = self.log_prob(self.enumerate_support(False))
        return -(log_prob.exp() * log_prob).sum(0)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """0, 1, …, n along a new first dimension: shape (n + 1,) + batch_shape, or (n + 1,
        1, …) without ``expand``."""
        count = same_total_count(self.total_count, "enumerate_support")
        values = arange(1 + count, dtype=self._param.dtype)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1, *self._batch_shape)) if expand else values
