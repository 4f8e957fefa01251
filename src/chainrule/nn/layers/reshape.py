"""Layers that only change a tensor's shape."""

from __future__ import annotations

import math
from collections.abc import Sequence

from chainrule.autograd.function import OpError
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``, the inverse of Flatten.

    One entry of ``unflattened_size`` may be -1, inferred from the others.

    ```pycon
    >>> from chainrule import randn
    >>> Unflatten(1, (32, 7, 7))(randn(64, 1568)).shape
    chainrule.Size([64, 32, 7, 7])

    ```
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, Sequence) else None
        if not sizes or not all(isinstance(n, int) and n >= -1 for n in sizes):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        if sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: only one size can be -1, got {sizes}")
        self.dim, self.unflattened_size = dim, sizes

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        shape = input.shape
        if not -len(shape) <= self.dim < len(shape):
            raise OpError(f"{self!r}: dim {self.dim} is out of range for input of shape {shape}")
        dim = self.dim % len(shape)
        known = math.prod(n for n in self.unflattened_size if n != -1)
        fits = shape[dim] == known or (
            -1 in self.unflattened_size and known and not shape[dim] % known
        )
        if not fits:
            raise OpError(
                f"{self!r}: sizes {self.unflattened_size} do not multiply to dimension {self.dim} "
                f"of the input, which has shape {shape}"
            )
        return input.reshape(shape[:dim] + self.unflattened_size + shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
