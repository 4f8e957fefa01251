"""Softmax and log-softmax along a dimension, as modules."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``dim``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Softmax(dim=1)(cr.zeros(2, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]

    ```
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax(x) along ``dim``, computed without forming softmax.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.LogSoftmax(dim=0)(cr.zeros(2)).tolist()]
    [-0.6931, -0.6931]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.log_softmax(input, self.dim)
