"""Between probabilities and logits, as discrete distributions need them: softmax or sigmoid
one way, a logarithm of probabilities kept away from 0 and 1 the other.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.distributions.parameters import lazy_property
from chainrule.ops.elementwise import log
from chainrule.ops.exponential import log1p
from chainrule.ops.smooth_activations import sigmoid
from chainrule.ops.softmax import softmax
from chainrule.tensor import Tensor

__all__ = [
    "SuccessProbability",
    "chosen_parameter",
    "clamp_probs",
    "logits_to_probs",
    "probs_to_logits",
]


def clamp_probs(probs: Tensor) -> Tensor:
    """``probs`` clamped to [ε, 1 − ε], ε the machine epsilon of its dtype, so that their
    logarithms (and those of 1 − probs) stay finite.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions.probabilities import clamp_probs
    >>> clamp_probs(cr.tensor([0.0, 0.5], dtype=cr.float64))[0].item()
    2.220446049250313e-16

    ```
    """
    eps = float(numpy.finfo(probs.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: softmax over the last dimension (shape kept), or the
    sigmoid of each element for ``is_binary``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions.probabilities import logits_to_probs
    >>> logits_to_probs(cr.tensor([0.0, 0.0]))
    tensor([0.5, 0.5])

    ```
    """
    if is_binary:
        return sigmoid(logits)
    return softmax(logits, -1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits from probabilities (clamped first): log p, or log p − log(1 − p) for
    ``is_binary``. Same shape as ``probs``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions.probabilities import probs_to_logits
    >>> probs_to_logits(cr.tensor([0.5]), is_binary=True)
    tensor([0.])

    ```
    """
    clamped = clamp_probs(probs)
    if is_binary:
        return log(clamped) - log1p(-clamped)
    return log(clamped)


def chosen_parameter(where: str, probs: Any, logits: Any) -> tuple[str, Any]:
    """The one of ``probs`` and ``logits`` given, with its name; both or neither is an error
    that names the distribution ``where``."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{where}: either `probs` or `logits` must be specified, but not both.")
    return ("probs", probs) if probs is not None else ("logits", logits)


class SuccessProbability:
    """For the families of one success probability p per trial (Bernoulli, Geometric,
    Binomial, NegativeBinomial), given as ``probs`` or ``logits``: the other one is made from
    it on first use and kept."""

    @lazy_property
    def logits(self) -> Tensor:
        """log p − log(1 − p), p clamped to [ε, 1 − ε] first."""
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        """sigmoid(logits)."""
        return logits_to_probs(self.logits, is_binary=True)
