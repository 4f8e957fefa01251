"""clamp_min and clamp_max: :func:`~chainrule.ops.elementwise.clamp` with one bound, under
PyTorch's names (``x.clamp_min(eps)`` keeps a denominator away from zero). The bound may be a
number or a tensor (broadcast); the gradient is clamp's: 1 where x is within the bound, and to a
tensor bound where the bound is the result.
"""

from __future__ import annotations

import numbers
from typing import Any

from chainrule.autograd.function import not_a_tensor
from chainrule.ops.elementwise import clamp
from chainrule.tensor import Tensor


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    """max(x, min), element-wise and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.clamp_min(cr.tensor([-1.0, 0.5, 2.0]), 0.0).tolist()
    [0.0, 0.5, 2.0]

    ```
    """
    _check("clamp_min", "min", input, min)
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    """min(x, max), element-wise and broadcast.

    ```pycon
    >>> import chainrule as cr
    >>> cr.clamp_max(cr.tensor([-1.0, 0.5, 2.0]), 1.0).tolist()
    [-1.0, 0.5, 1.0]

    ```
    """
    _check("clamp_max", "max", input, max)
    return clamp(input, max=max)


def _check(op: str, name: str, input: Any, bound: Any) -> None:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(op, "input", input)
    if not isinstance(bound, (Tensor, numbers.Number)):  # None too: the bound is required
        raise not_a_tensor(op, name, bound, expected="Tensor or a number")
