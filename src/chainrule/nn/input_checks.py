"""The checks that layers and their functions make on the tensors they receive: a Tensor (not a
NumPy array, a list or a string), of the dtype of the parameters it meets.

Without them a NumPy array or a float64 batch fed to a float32 layer would be computed anyway,
as NumPy accepts arrays and promotes dtypes, and the mistake would show up far away (a float64
model after one optimiser step, or a gradient that never arrives). PyTorch refuses both at the
call: a TypeError that names the argument, and a RuntimeError for mixed dtypes. These checks do
the same, naming the layer (or the function) that was called.

```pycon
>>> import numpy
>>> from chainrule.nn import Linear
>>> Linear(2, 3)(numpy.ones((4, 2)))  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
TypeError: Linear(in_features=2, out_features=3, bias=True): argument 'input' (position 1)
must be Tensor, not numpy.ndarray; wrap it with chainrule.from_numpy(array)

```
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import OpError
from chainrule.tensor import Tensor

__all__ = ["InputDtypeError", "InputShapeError", "check_input", "describe", "require_tensor"]


class InputDtypeError(OpError, RuntimeError):
    """An input whose dtype does not fit the layer or function it was given to.

    PyTorch raises RuntimeError for these and chainrule's bad-input errors are ValueErrors
    (:class:`OpError`): this is both, so that either ``except`` clause catches it.
    """


class InputShapeError(OpError, RuntimeError):
    """An input whose shape (or a size or factor given with it) does not fit the function,
    where PyTorch raises RuntimeError: both, as :class:`InputDtypeError`."""


def check_input(
    where: Any,
    input: Any,  # noqa: A002
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    running_mean: Tensor | None = None,
    *,
    floating: bool = False,
) -> None:
    """Refuse an ``input`` that is not a Tensor (TypeError) or whose dtype differs from that of
    the ``weight``, ``bias`` or ``running_mean`` it meets (InputDtypeError); with ``floating``,
    refuse integer and bool inputs too.

    ``where`` is the function's name or the layer itself (described as ``Linear(in_features=2,
    ...)`` only when a check fails). The layers call this on every forward, hence the plain
    arguments rather than a dict of named tensors: half the cost.
    """
    if not isinstance(input, Tensor):
        require_tensor(input, where)
    dtype = input.array.dtype
    # NumPy's built-in dtypes are single objects: `is` settles the usual case without the
    # slower `!=`.
    if weight is not None and weight.array.dtype is not dtype and weight.array.dtype != dtype:
        raise InputDtypeError(_mismatch(where, dtype, "weight", weight.array.dtype))
    if bias is not None and bias.array.dtype is not dtype and bias.array.dtype != dtype:
        raise InputDtypeError(_mismatch(where, dtype, "bias", bias.array.dtype))
    if running_mean is not None and running_mean.array.dtype != dtype:
        raise InputDtypeError(_mismatch(where, dtype, "running_mean", running_mean.array.dtype))
    if floating and dtype.kind != "f":
        raise InputDtypeError(
            f"{describe(where)}: expected a floating-point input, got {dtype} (convert it "
            "with .float())"
        )


def require_tensor(value: Any, where: Any, argument: str = "input", position: int = 1) -> None:
    """A TypeError naming the argument unless ``value`` is a Tensor, worded as PyTorch's:
    ``linear: argument 'input' (position 1) must be Tensor, not numpy.ndarray``."""
    if isinstance(value, Tensor):
        return
    kind = type(value)
    name = (
        kind.__qualname__ if kind.__module__ == "builtins" else f"{_package(kind)}.{kind.__name__}"
    )
    hint = ""
    if name == "numpy.ndarray":
        hint = "; wrap it with chainrule.from_numpy(array)"
    elif isinstance(value, (list, tuple, int, float)):
        hint = "; make one with chainrule.tensor(...)"
    raise TypeError(
        f"{describe(where)}: argument '{argument}' (position {position}) must be Tensor, not "
        f"{name}{hint}"
    )


def _mismatch(where: Any, dtype: Any, name: str, other: Any) -> str:
    message = (
        f"{describe(where)}: input is {dtype} but {name} is {other}; they must have the same dtype"
    )
    if isinstance(where, str):
        return message
    message += f": convert the input with .to(chainrule.{other})"
    if dtype.kind == "f":
        message += f" or the layer with .to(chainrule.{dtype})"
    return message


def describe(where: Any) -> str:
    """A function's name as given, or a layer as its one-line repr (``Conv2d(1, 8, ...)``)."""
    if isinstance(where, str):
        return where
    return f"{type(where).__name__}({where.extra_repr()})"


def _package(kind: type) -> str:
    # numpy.ndarray lives in numpy._core.multiarray; PyTorch, and users, call it numpy.ndarray.
    return kind.__module__.split(".")[0]
