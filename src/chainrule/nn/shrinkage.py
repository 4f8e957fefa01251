"""Thresholding and shrinkage as modules: Threshold, Hardshrink and Softshrink. Each calls
:mod:`chainrule.nn.functional`."""

from __future__ import annotations

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Threshold(Module):
    """x where x > ``threshold``, else ``value``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Threshold(0.5, -1.0)(cr.tensor([0.25, 2.0])).tolist()
    [-1.0, 2.0]

    ```
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"threshold={self.threshold}, value={self.value}{inplace}"


class Hardshrink(Module):
    """0 where −λ ≤ x ≤ λ, else x.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Hardshrink(1.0)(cr.tensor([-2.0, 0.5])).tolist()
    [-2.0, 0.0]

    ```
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x − λ where x > λ, x + λ where x < −λ, else 0.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Softshrink(1.0)(cr.tensor([-3.0, 0.5, 2.0])).tolist()
    [-2.0, 0.0, 1.0]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softshrink(input, self.lambd)
