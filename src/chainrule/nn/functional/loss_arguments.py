"""The checks every loss function makes of its arguments, with PyTorch's rules and messages
that name the loss and the argument: the reduction, PyTorch's deprecated ``size_average`` and
``reduce``, arguments that are not tensors, weights and target shapes."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.ops.loss_reduction import REDUCTIONS
from chainrule.tensor import Tensor


def check_reduction(reduction: str, where: str, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(
            f"{where}: reduction must be one of {', '.join(allowed)}, got {reduction!r}"
        )


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated size_average/reduce pair, translated to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(
        "size_average and reduce are deprecated; use reduction='mean', 'sum' or 'none'",
        DeprecationWarning,
        stacklevel=3,
    )
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def check_tensor(value: Any, name: str, position: int, where: str, constant: bool = False) -> None:
    """A TypeError naming the argument unless ``value`` is a Tensor; with ``constant``, numbers
    and numeric arrays pass too (a target that is a constant).

    PyTorch's message, e.g. "mse_loss(): argument 'target' (position 2) must be Tensor, not
    str", instead of an error about a missing attribute further in.
    """
    if isinstance(value, Tensor) or (constant and _is_numeric(value)):
        return
    raise TypeError(
        f"{where}(): argument '{name}' (position {position}) must be Tensor, not "
        f"{type(value).__name__}"
    )


def _is_numeric(value: Any) -> bool:
    if isinstance(value, numbers.Number):
        return True
    if isinstance(value, (str, bytes)):
        return False
    if isinstance(value, backend.ndarray):
        return value.dtype.kind in "biuf"
    if isinstance(value, (list, tuple)):
        try:
            return backend.as_array(value).dtype.kind in "biuf"
        except (TypeError, ValueError):
            return False
    return False


def warn_if_broadcast(input: Tensor, target: Any, where: str) -> None:  # noqa: A002
    shape = getattr(target, "shape", ())
    if tuple(shape) != input.shape:
        warnings.warn(
            f"{where}: target shape {tuple(shape)} differs from input shape {input.shape}; "
            "they will be broadcast, which is rarely what a loss should do",
            stacklevel=3,
        )


def check_same_shape(input: Tensor, target: Any, where: str) -> None:  # noqa: A002
    shape = tuple(getattr(target, "shape", ()))
    if shape != input.shape:
        raise ValueError(f"{where}: target shape {shape} must equal the input shape {input.shape}")


def constant_array(value: Any, dtype: Any) -> Any:
    """A weight as a constant array of the input's dtype (None stays None)."""
    if value is None:
        return None
    data = value.array if isinstance(value, Tensor) else backend.as_array(value)
    return data.astype(dtype, copy=False)


def check_weight(weight: Any, shape: tuple, name: str, where: str) -> None:
    """``weight`` (an array, or None) must broadcast to the input's ``shape``."""
    if weight is None:
        return
    try:
        broadcast = backend.xp.broadcast_shapes(weight.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise OpError(
            f"{where}: {name} of shape {tuple(weight.shape)} does not broadcast to the input's "
            f"shape {tuple(shape)}"
        )


def broadcast_shape(shapes: list[tuple], names: list[str], where: str) -> tuple:
    """The shape the arguments broadcast to, or PyTorch's error naming them and their shapes."""
    try:
        return tuple(backend.xp.broadcast_shapes(*shapes))
    except ValueError:
        described = ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, shapes))
        raise OpError(f"{where}: the shapes do not broadcast together: {described}") from None
