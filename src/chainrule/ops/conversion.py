"""Copies and dtype conversions: clone, contiguous, and casts such as float() and double()."""

from __future__ import annotations

from typing import Any

from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.tensor import Tensor


class Cast(Function):
    """∂C/∂x = ∂C/∂out converted back to x's dtype (the engine converts it)"""

    def forward(self, x: Any, dtype: Any) -> Any:
        return x.astype(dtype)

    def backward(self, grad: Any) -> tuple:
        return (grad,)


class Clone(Function):
    """∂C/∂x = ∂C/∂out (a copy is the identity)"""

    def forward(self, x: Any, order: str) -> Any:
        return x.copy(order=order)

    def backward(self, grad: Any) -> tuple:
        return (grad,)


_DEVICE_NAMES = {"cpu", "cuda", "mps", "meta"}


def parse_to_arguments(args: tuple, kwargs: dict) -> Any:
    """The dtype asked for by ``.to(...)`` arguments (None if only a device was named)."""
    dtype = kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) and arg.split(":")[0] in _DEVICE_NAMES:
            if arg != "cpu":
                raise ValueError(
                    f"to: device {arg!r} is not available; this chainrule runs on the CPU (NumPy)"
                )
        else:
            dtype = arg
    return None if dtype is None else dtypes.to_dtype(dtype)


def to(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:  # noqa: A002
    """Convert to a dtype. The device name "cpu" is accepted and changes nothing, so that
    PyTorch scripts written for ``.to(device)`` run unchanged; other devices are an error."""
    dtype = parse_to_arguments(args, kwargs)
    if dtype is None or dtype == input.dtype:
        return input
    if input.requires_grad and dtype.kind != "f":
        return Tensor._make(input.array.astype(dtype), False, None)
    return Cast.apply(input, dtype=dtype)


def clone(input: Tensor) -> Tensor:  # noqa: A002
    """A copy of the data that stays in the graph."""
    return Clone.apply(input, order="K")


def contiguous(input: Tensor) -> Tensor:  # noqa: A002
    """The tensor itself when its data is C-contiguous, else a C-contiguous copy."""
    if input.array.flags.c_contiguous:
        return input
    return Clone.apply(input, order="C")
