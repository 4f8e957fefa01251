"""The fully connected layer's math."""

from __future__ import annotations

from chainrule.ops import linalg
from chainrule.tensor import Tensor

__all__ = ["linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """y = x Wᵀ + b for x of shape (*, in_features), W (out_features, in_features), b
    (out_features,); y has shape (*, out_features)."""
    return linalg.Linear.apply(input, weight, bias)
