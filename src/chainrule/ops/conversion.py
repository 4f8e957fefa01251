"""Copies and conversions: clone, contiguous, and casts such as float(), double(), to() and
type()."""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, devices, dtypes, fp_errors, legacy
from chainrule.autograd.function import Function
from chainrule.tensor import Tensor


class Cast(Function):
    """∂C/∂x = ∂C/∂out converted back to x's dtype (the engine converts it)"""

    def forward(self, x: Any, dtype: Any) -> Any:
        with fp_errors.silenced():  # out-of-range values become ±inf, as PyTorch's casts
            return x.astype(dtype)

    def backward(self, grad: Any) -> tuple:
        return (grad,)


class ToDevice(Function):
    """∂C/∂x = ∂C/∂out copied back to x's device (a copy between memories is the identity)"""

    def forward(self, x: Any, module: Any) -> Any:
        self.source = backend.module_of(x)
        return backend.transfer(x, module)

    def backward(self, grad: Any) -> tuple:
        return (backend.transfer(grad, self.source),)


class Clone(Function):
    """∂C/∂x = ∂C/∂out (a copy is the identity)"""

    def forward(self, x: Any, order: str) -> Any:
        return x.copy(order=order)

    def backward(self, grad: Any) -> tuple:
        return (grad,)


def _is_dtype(value: Any) -> bool:
    """Whether ``.to(value)`` names a dtype (rather than a device or a tensor). Beyond
    PyTorch, a dtype's name ("float64") is one too, when it names no device type."""
    if isinstance(value, numpy.dtype):
        return True
    if isinstance(value, str):
        return value.partition(":")[0] not in devices.DEVICE_TYPES
    return isinstance(value, type) and (
        issubclass(value, numpy.generic) or value in (float, int, bool)
    )


_TO_OPTIONS = ("device", "dtype", "non_blocking", "copy", "memory_format")


def parse_to(args: tuple, kwargs: dict, where: str = "to") -> tuple[Any, bool]:
    """The dtype (None to keep it) and ``copy`` flag of PyTorch's ``.to`` arguments:
    ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``, each optionally followed by
    ``non_blocking`` and ``copy``, all also by keyword (:func:`parse_to_device` gives the
    device too)."""
    dtype, copy, _ = parse_to_device(args, kwargs, where)
    return dtype, copy


def parse_to_device(args: tuple, kwargs: dict, where: str = "to") -> tuple[Any, bool, Any]:
    """The dtype (None to keep it), ``copy`` flag and device (None to keep it, else a checked
    :class:`~chainrule.devices.device`) of PyTorch's ``.to`` arguments."""
    unknown = sorted(set(kwargs) - set(_TO_OPTIONS))
    if unknown:
        raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    rest = list(args)
    if rest:
        first = rest.pop(0)
        if isinstance(first, Tensor):
            device, dtype = first.device, first.dtype
        elif _is_dtype(first):
            dtype = first
        elif first is None or isinstance(first, (str, int, devices.device)):
            device = first
            if rest and (rest[0] is None or _is_dtype(rest[0])):
                dtype = rest.pop(0)
        else:
            raise TypeError(
                f"{where}(): expected a device, a dtype or a tensor, got {type(first).__name__}"
            )
    if len(rest) > 2 or not all(isinstance(flag, bool) for flag in rest):
        raise TypeError(
            f"{where}(): after the device and dtype only non_blocking and copy (bools) may "
            f"follow, got {tuple(rest)}"
        )
    copy = bool(rest[1]) if len(rest) == 2 else bool(kwargs.get("copy", False))
    if device is not None:
        device = devices.check(device, where)
    return (None if dtype is None else dtypes.to_dtype(dtype)), copy, device


def parse_to_arguments(args: tuple, kwargs: dict) -> Any:
    """The dtype asked for by ``.to(...)`` arguments (None if only a device was named)."""
    return parse_to(args, kwargs)[0]


def to(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:  # noqa: A002
    """The tensor on another device or in another dtype, as PyTorch's ``Tensor.to``:
    ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``, with
    ``non_blocking`` (no effect here) and ``copy``.

    The tensor itself is returned when nothing changes and ``copy`` is false. A move between
    the CPU and the GPU ("cuda", through CuPy) is a copy that stays in the graph: its gradient
    is copied back. A cast stays in the graph too; one to an integer or bool dtype leaves it.
    """
    dtype, copy, device = parse_to_device(args, kwargs)
    module = None if device is None else devices.module_for(device, "to")
    if module is not None and module is not backend.module_of(input.array):
        moved = ToDevice.apply(input, module)
        if dtype is None or dtype == moved.dtype:
            return moved
        return to(moved, dtype)
    if dtype is None or dtype == input.dtype:
        return clone(input) if copy else input
    if input.requires_grad and not dtypes.is_floating(dtype):
        return Tensor._make(input.array.astype(dtype), False, None)
    return Cast.apply(input, dtype=dtype)


def tensor_type(input: Tensor, dtype: Any = None, non_blocking: bool = False, **kwargs: Any) -> Any:  # noqa: A002
    """PyTorch's ``Tensor.type``: without ``dtype``, the name of the tensor's type
    (``"torch.FloatTensor"``, PyTorch's spelling, so that ported comparisons hold); with one,
    the tensor converted to it. ``dtype`` may be a dtype, a typed constructor
    (``chainrule.LongTensor``) or its name (``"torch.LongTensor"``)."""
    if dtype is None:
        return legacy.type_name(input.dtype)
    if isinstance(dtype, str):
        target = legacy.dtype_of_type_name(dtype, "type")
    elif isinstance(dtype, legacy.TypedTensorMeta):
        target = dtype.dtype
    elif isinstance(dtype, numpy.dtype) or (
        isinstance(dtype, type) and issubclass(dtype, numpy.generic)
    ):
        target = dtypes.to_dtype(dtype)
    else:
        raise ValueError(f"invalid type: {getattr(dtype, '__name__', dtype)!r}")
    return to(input, target)


def bfloat16(input: Tensor) -> Tensor:  # noqa: A002
    """The tensor in bfloat16 (needs the optional package ``ml_dtypes``)."""
    return to(input, dtypes.bfloat16_dtype())


def clone(input: Tensor) -> Tensor:  # noqa: A002
    """A copy of the data that stays in the graph."""
    return Clone.apply(input, order="K")


def contiguous(input: Tensor) -> Tensor:  # noqa: A002
    """The tensor itself when its data is C-contiguous, else a C-contiguous copy."""
    if input.array.flags.c_contiguous:
        return input
    return Clone.apply(input, order="C")
