"""``OneHotCategorical(probs=None, logits=None)``: a Categorical whose values are one-hot
vectors of length K instead of class indices; and ``OneHotCategoricalStraightThrough``, its
straight-through reparameterisation.
"""

from __future__ import annotations

from typing import Any

from chainrule.creation import eye
from chainrule.distributions import constraints
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.nn.functional import one_hot
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(Distribution):
    """K classes per distribution as in :class:`Categorical`, with values one-hot vectors:
    the event shape is (K,), samples are float one-hot vectors in the parameter's dtype, and
    ``log_prob`` reads the class from the position of each vector's 1.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import OneHotCategorical
    >>> d = OneHotCategorical(probs=cr.tensor([0.25, 0.75]))
    >>> d.event_shape, d.mean
    (chainrule.Size([2]), tensor([0.25, 0.75]))
    >>> d.log_prob(cr.tensor([0.0, 1.0]))  # log 0.75
    tensor(-0.2877)

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "probs": constraints.simplex,
        "logits": constraints.real_vector,
    }
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(
        self, probs: Tensor | None = None, logits: Tensor | None = None, validate_args: Any = None
    ) -> None:
        # The parameters are checked below, under this distribution's name and switch.
        self._categorical = Categorical(probs, logits, validate_args=False)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> OneHotCategorical:
        return self._expanded(OneHotCategorical, batch_shape, _instance, ("_categorical",))

    @property
    def _param(self) -> Tensor:
        return self._categorical._param

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
        return self._categorical.probs

    @property
    def mode(self) -> Tensor:
        """The one-hot vector of the most likely class."""
        probs = self._categorical.probs
        return one_hot(probs.argmax(dim=-1), probs.shape[-1]).to(probs.dtype)

    @property
    def variance(self) -> Tensor:
        return self._categorical.probs * (1 - self._categorical.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """One-hot vectors of shape ``sample_shape + batch_shape + (K,)``."""
        indices = self._categorical.sample(sample_shape)
        probs = self._categorical.probs
        return one_hot(indices, self._categorical._num_events).to(probs.dtype)

    def log_prob(self, value: Tensor) -> Tensor:
        """The Categorical log-probability of each vector's class: shape ``value.shape[:-1]``
        broadcast with ``batch_shape``."""
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.max(-1)[1])

    def entropy(self) -> Tensor:
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The K one-hot vectors along a new first dimension."""
        n = self.event_shape[0]
        values = eye(n, dtype=self._param.dtype)
        values = values.view((n,) + (1,) * len(self.batch_shape) + (n,))
        if expand:
            values = values.expand((n, *self.batch_shape, n))
        return values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """A :class:`OneHotCategorical` with the straight-through ``rsample``: the one-hot
    sample forward, the gradient of the probabilities backward (sample + probs − probs
    detached).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import OneHotCategoricalStraightThrough
    >>> logits = cr.zeros(3, requires_grad=True)
    >>> sample = OneHotCategoricalStraightThrough(logits=logits).rsample()
    >>> (sample * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    >>> logits.grad.shape
    chainrule.Size([3])

    ```
    """

    has_rsample = True

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())
