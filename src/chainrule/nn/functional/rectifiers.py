"""Activations: the operations of ``ops.activation`` and compositions of primitives."""

from __future__ import annotations

from chainrule.ops import elementwise
from chainrule.ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from chainrule.tensor import Tensor

__all__ = ["identity", "leaky_relu", "log_softmax", "relu", "sigmoid", "softmax", "tanh"]


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:  # noqa: A002
    """x where x > 0, else negative_slope·x."""
    return elementwise.where(input > 0, input, input * negative_slope)


def identity(input: Tensor) -> Tensor:  # noqa: A002
    return input
