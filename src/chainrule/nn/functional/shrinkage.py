"""Thresholding and shrinkage: threshold, hardshrink and softshrink, each one operation of
``ops.shrinkage``. ``threshold`` takes ``inplace=True`` as in PyTorch, and so has a
trailing-underscore twin."""

from __future__ import annotations

from chainrule.autograd.function import OpError
from chainrule.ops import shrinkage as ops
from chainrule.ops.inplace import modify
from chainrule.ops.shrinkage import hardshrink
from chainrule.tensor import Tensor

__all__ = ["hardshrink", "softshrink", "threshold", "threshold_"]


def threshold(
    input: Tensor,  # noqa: A002
    threshold: float,
    value: float,
    inplace: bool = False,
) -> Tensor:
    """x where x > ``threshold``, else ``value``, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.threshold(cr.tensor([-1.0, 0.5, 2.0]), 0.5, -9.0).tolist()
    [-9.0, -9.0, 2.0]

    ```
    """
    return _thresholded(input, threshold, value, inplace)


def _thresholded(input: Tensor, bound: float, value: float, inplace: bool) -> Tensor:  # noqa: A002
    # Apart from threshold, whose argument of the same name hides it.
    def compute(x: Tensor) -> Tensor:
        return ops.Threshold.apply(x, threshold=bound, value=value)

    return modify(input, "threshold_", compute) if inplace else compute(input)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    """:func:`threshold`, written into ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([-1.0, 2.0])
    >>> F.threshold_(x, 0.0, 0.0) is x, x.tolist()
    (True, [0.0, 2.0])

    ```
    """
    return _thresholded(input, threshold, value, inplace=True)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """x − λ where x > λ, x + λ where x < −λ, else 0: shrinks every input towards 0 by λ
    (λ ≥ 0), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.softshrink(cr.tensor([-1.0, 0.25, 2.0])).tolist()
    [-0.5, 0.0, 1.5]

    ```
    """
    ops.check_floating(input, "softshrink")
    if not lambd >= 0:
        raise OpError(f"softshrink: lambd must be >= 0, got {lambd}")
    return ops.Softshrink.apply(input, lambd=lambd)
