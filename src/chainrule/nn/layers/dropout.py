"""Dropout as a layer: active in training mode, the identity in eval mode."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.functional.dropout import check_probability
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) while
    training; pass the input through unchanged in eval mode. ``inplace`` is accepted for
    compatibility; the result is always a new tensor."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        check_probability(p, "Dropout")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
