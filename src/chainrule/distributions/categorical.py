"""``Categorical(probs=None, logits=None)``: a distribution over the class indices
0 … K − 1, given the K class probabilities or logits along the last dimension.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import arange, full
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import lazy_property
from chainrule.distributions.probabilities import logits_to_probs, probs_to_logits
from chainrule.ops.axes import broadcast_tensors
from chainrule.ops.sampling import multinomial
from chainrule.size import Size
from chainrule.tensor import Tensor

__all__ = ["Categorical"]


def class_parameter(where: str, probs: Any, logits: Any) -> tuple[str, Tensor]:
    """The one parameter given, by name, refusing both, neither, a non-tensor or a scalar."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{where}: either `probs` or `logits` must be specified, but not both.")
    name, value = ("probs", probs) if probs is not None else ("logits", logits)
    if not isinstance(value, Tensor):
        raise ValueError(
            f"{where}: `{name}` must be a chainrule tensor, got {type(value).__name__}"
        )
    if value.dim() < 1:
        raise ValueError(f"{where}: `{name}` parameter must be at least one-dimensional.")
    return name, value


class Categorical(Distribution):
    """K classes per distribution, from ``probs`` (non-negative, normalised here to sum to 1
    along the last dimension) or ``logits`` (normalised here: logits − logsumexp(logits)).
    The batch shape is the parameter's shape less its last dimension; samples and
    ``log_prob`` values are class indices (int64).

    ``log_prob(value)`` picks the normalised logit of each class index: shape
    ``value.shape`` broadcast with the batch shape. ``sample`` draws with chainrule's
    generator; it has no ``rsample``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Categorical
    >>> d = Categorical(logits=cr.tensor([[0.0, 0.0], [0.0, 1e9]]))
    >>> d.probs
    tensor([[0.5, 0.5],
            [0.0, 1.0]])
    >>> d.log_prob(cr.tensor([0, 1]))
    tensor([-0.6931,  0.0000])
    >>> d.entropy()  # −0.0 as in PyTorch: −(0 · log 0 + 1 · log 1)
    tensor([ 0.6931, -0.0000])

    ```
    """

    arg_constraints = {  # noqa: RUF012
        "probs": constraints.simplex,
        "logits": constraints.independent(constraints.real, 1),
    }
    has_enumerate_support = True

    def __init__(
        self, probs: Tensor | None = None, logits: Tensor | None = None, validate_args: Any = None
    ) -> None:
        name, value = class_parameter(type(self).__name__, probs, logits)
        if name == "probs":
            self.probs = value / value.sum(-1, keepdim=True)
            self._param = self.probs
        else:
            self.logits = value - value.logsumexp(dim=-1, keepdim=True)
            self._param = self.logits
        self._num_events = self._param.size()[-1]
        batch_shape = self._param.size()[:-1] if self._param.dim() > 1 else Size()
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Categorical:
        events = (self._num_events,)
        new = self._expanded(Categorical, batch_shape, _instance, ("probs", "logits"), events)
        new._param = new.__dict__.get("logits", new.__dict__.get("probs"))  # the later one set
        new._num_events = self._num_events
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self) -> Tensor:
        """Normalised logits: log probs (probabilities clamped to [ε, 1 − ε] first)."""
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:
        """Normalised probabilities: softmax of the logits over the last dimension."""
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> Size:
        return self._param.size()

    @property
    def mean(self) -> Tensor:
        """NaN: class indices have no meaningful mean (as in PyTorch)."""
        return full(self._extended_shape(), numpy.nan, dtype=self.probs.dtype)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(dim=-1)

    @property
    def variance(self) -> Tensor:
        """NaN, as the mean."""
        return full(self._extended_shape(), numpy.nan, dtype=self.probs.dtype)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Class indices (int64) of shape ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        count = Size(sample_shape).numel()
        with no_grad():
            rows = self.probs.reshape(-1, self._num_events)
            drawn = multinomial(rows, count, True).T  # (count, rows)
        return drawn.reshape(shape)

    def log_prob(self, value: Tensor) -> Tensor:
        """The normalised logit of class ``value``: shape ``value.shape`` broadcast with
        ``batch_shape``."""
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        index, log_pmf = broadcast_tensors(index, self.logits)
        return log_pmf.gather(-1, index[..., :1]).squeeze(-1)

    def entropy(self) -> Tensor:
        """−Σ_k p_k log p_k over the classes, of shape ``batch_shape``."""
        # −inf logits (probability 0) are moved to the dtype's lowest value, so 0 · logit is 0.
        lowest = float(numpy.finfo(self.logits.dtype).min)
        p_log_p = self.logits.clamp(min=lowest) * self.probs
        return -p_log_p.sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        """The class indices 0 … K − 1 along a new first dimension: shape (K,) + batch_shape
        (expanded) or (K, 1, …, 1)."""
        values = arange(self._num_events).view((-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = values.expand((-1, *self._batch_shape))
        return values
