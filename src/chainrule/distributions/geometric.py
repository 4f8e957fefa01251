"""``Geometric(probs=None, logits=None)``: the number of failures before the first success
of Bernoulli trials of success probability ``probs`` (or sigmoid(``logits``)).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import rand, zeros_like
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.distributions.probabilities import (
    SuccessProbability,
    chosen_parameter,
)
from chainrule.nn.functional.classification_losses import binary_cross_entropy_with_logits
from chainrule.ops.elementwise import where
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Geometric"]


class Geometric(SuccessProbability, Distribution):
    """P(X = k) = (1 − p)^k · p for k = 0, 1, 2, … with p = ``probs`` in (0, 1] or
    sigmoid(``logits``); the batch shape is the parameter's shape, samples are whole
    numbers in its dtype. It has no ``rsample``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Geometric
    >>> d = Geometric(probs=cr.tensor([0.5, 0.25]))
    >>> d.log_prob(cr.tensor([0.0, 1.0]))  # log ½, log(¾ · ¼)
    tensor([-0.6931, -1.6740])
    >>> d.mean, d.variance
    (tensor([1., 3.]), tensor([ 2., 12.]))

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "probs": constraints.unit_interval,
        "logits": constraints.real,
    }
    support = constraints.nonnegative_integer

    def __init__(
        self,
        probs: Tensor | float | None = None,
        logits: Tensor | float | None = None,
        validate_args: Any = None,
    ) -> None:
        name, value = chosen_parameter("Geometric", probs, logits)
        (param,) = broadcast_parameters("Geometric", name)(value)
        setattr(self, name, param)
        batch_shape = Size() if isinstance(value, numbers.Number) else param.size()
        super().__init__(batch_shape, validate_args=validate_args)
        # p = 0 lies in the unit interval but gives no distribution: no success ever.
        if self._validate_args and name == "probs":
            positive = param > 0
            if not bool(positive.all()):
                raise ValueError(
                    f"Expected parameter probs ({type(param).__name__} of shape "
                    f"{tuple(param.shape)}) of distribution {self!r} to be positive but found "
                    f"invalid values:\n{param.detach()[~positive]}"
                )

    def expand(self, batch_shape: Any, _instance: Any = None) -> Geometric:
        return self._expanded(Geometric, batch_shape, _instance, ("probs", "logits"))

    @property
    def mean(self) -> Tensor:
        return 1.0 / self.probs - 1.0

    @property
    def mode(self) -> Tensor:
        return zeros_like(self.probs)

    @property
    def variance(self) -> Tensor:
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """⌊log u / log(1 − p)⌋, u uniform on [tiny, 1): shape ``sample_shape +
        batch_shape``, outside the graph."""
        shape = self._extended_shape(sample_shape)
        tiny = float(numpy.finfo(self.probs.dtype).tiny)
        with no_grad():
            u = rand(shape, dtype=self.probs.dtype).clamp(min=tiny)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value: Tensor) -> Tensor:
        """value·log(1 − p) + log p."""
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_parameters("Geometric", "value", "probs")(value, self.probs)
        # At p = 1 the value 0 has probability 1: 0·log 0 is taken as 0, not NaN.
        probs = where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self) -> Tensor:
        """(−p log p − (1 − p) log(1 − p)) / p, of shape ``batch_shape``."""
        cross_entropy = binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")
        return cross_entropy / self.probs
