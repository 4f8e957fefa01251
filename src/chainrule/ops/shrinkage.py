"""Thresholding and shrinkage: activations that replace or pull towards 0 the inputs inside a
band, and pass the rest through (threshold, hardshrink, softshrink).

Each derivative is 1 outside the band and 0 inside it (at its edges too); a nan input lies
outside, so its gradient passes, as in PyTorch. Inside the band the gradient is +0 even where
the incoming one is nan or infinite, PyTorch's selection.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, OpError
from chainrule.ops.fast_where import kept_where
from chainrule.tensor import Tensor


class Threshold(Function):
    """d/dx threshold(x) = 1 where x > threshold (and at nan), else 0

    threshold(x) = x where x > threshold, else ``value``: the test is x ≤ threshold, so a nan
    input is passed through.
    """

    ties_gradients = True

    def forward(self, x: Any, threshold: float, value: float) -> Any:
        xp = backend.xp
        replaced = x <= threshold
        self.saved = (replaced,)
        # The value in x's dtype: an integer input keeps its dtype, as in PyTorch.
        return xp.where(replaced, xp.asarray(value).astype(x.dtype), x)

    def backward(self, grad: Any) -> tuple:
        (replaced,) = self.saved
        return (kept_where(~replaced, grad),)


class Hardshrink(Function):
    """d/dx hardshrink(x) = 0 where −λ ≤ x ≤ λ, else 1 (and at nan)

    hardshrink(x) = 0 where −λ ≤ x ≤ λ, else x.
    """

    ties_gradients = True

    def forward(self, x: Any, lambd: float) -> Any:
        xp = backend.xp
        inside = (x >= -lambd) & (x <= lambd)
        self.saved = (inside,)
        return xp.where(inside, xp.zeros((), x.dtype), x)

    def backward(self, grad: Any) -> tuple:
        (inside,) = self.saved
        return (kept_where(~inside, grad),)


class Softshrink(Function):
    """d/dx softshrink(x) = 0 where −λ ≤ x ≤ λ, else 1 (and at nan)

    softshrink(x) = x − λ where x > λ, x + λ where x < −λ, else 0 with the sign of x (x·0, as
    PyTorch computes it).
    """

    ties_gradients = True

    def forward(self, x: Any, lambd: float) -> Any:
        xp = backend.xp
        inside = (x >= -lambd) & (x <= lambd)
        self.saved = (inside,)
        # x − clip(x, −λ, λ) is x − λ above the band and x + λ below it, rounded as those are;
        # inside it, x − x is +0, which takes x's sign to be x·0.
        out = xp.subtract(x, xp.clip(x, -lambd, lambd))
        if type(out) is not backend.ndarray:  # NumPy gives a scalar for a 0-d input
            return xp.where(inside, x * 0, out)
        xp.copysign(out, x, out=out, where=inside)
        return out

    def backward(self, grad: Any) -> tuple:
        (inside,) = self.saved
        return (kept_where(~inside, grad),)


def check_floating(x: Any, where: str) -> None:
    """Refuse an integer or bool tensor where PyTorch has no kernel for it (anything that is not
    a tensor is left to the operation, which names it)."""
    if isinstance(x, Tensor) and x.array.dtype.kind not in "fc":
        raise OpError(f"{where}: expected a floating-point input, got {x.dtype}")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:  # noqa: A002
    """0 where −λ ≤ x ≤ λ, else x, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.hardshrink(cr.tensor([-1.0, 0.25, 0.5, 2.0])).tolist()
    [-1.0, 0.0, 0.0, 2.0]

    ```
    """
    check_floating(input, "hardshrink")
    return Hardshrink.apply(input, lambd=lambd)
