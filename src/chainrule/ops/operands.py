"""What the element-wise math functions check at the door, with PyTorch's errors.

- :func:`check_operands`: each operand a Tensor (or a Python number, where the function takes
  one), and at least one a Tensor; a NumPy array, a list or a string is refused with a
  TypeError naming the function and the argument, as PyTorch does.
- :func:`not_implemented_for`: the error for a dtype that has no kernel in PyTorch (``floor``
  of a bool tensor, ``frac`` of an integer one). PyTorch raises NotImplementedError, a
  RuntimeError, and says which kernel and dtype; this says which function, dtype and fix.
- :func:`check_integer_divisor`: PyTorch's ``ZeroDivisionError`` (a RuntimeError) for an
  integer divided by zero, where NumPy would warn and give 0.
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import not_a_tensor
from chainrule.tensor import Tensor


class IntegerDivisionByZeroError(RuntimeError, ZeroDivisionError):
    """An integer tensor divided by zero: a RuntimeError as in PyTorch, and Python's
    ZeroDivisionError, so that either ``except`` clause catches it."""


def check_operands(op: str, names: tuple[str, ...], *values: Any, scalars: bool = True) -> None:
    """Raise for the first of ``values`` that is not a Tensor (nor a number, with ``scalars``),
    or when none of them is a Tensor."""
    for name, value in zip(names, values):
        if isinstance(value, Tensor):
            continue
        if not (scalars and isinstance(value, numbers.Number)):
            raise not_a_tensor(op, name, value)
    if not any(isinstance(value, Tensor) for value in values):
        raise not_a_tensor(op, names[0], values[0])


def not_implemented_for(op: str, dtype: Any, fix: str = "convert it with .float()") -> Exception:
    """PyTorch's error for a dtype the operation has no kernel for."""
    return NotImplementedError(
        f"{op}: not implemented for tensors of dtype {dtypes.torch_name(dtype)} ({dtype}), as "
        f"in PyTorch; {fix}"
    )


def check_integer_divisor(op: str, divisor: Any) -> None:
    """Raise, as PyTorch does, where ``divisor`` of an integer division holds a zero."""
    if not backend.xp.all(divisor):
        raise IntegerDivisionByZeroError(
            f"ZeroDivisionError: {op}: integer division by zero (the divisor holds a 0); "
            "divide floating-point tensors to get inf or nan instead"
        )
