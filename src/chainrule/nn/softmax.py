"""Softmax, log-softmax and softmin along a dimension, and softmax over the channels of each
position (Softmax2d), as modules."""

from __future__ import annotations

from chainrule.autograd.function import OpError
from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``dim``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Softmax(dim=1)(cr.zeros(2, 4)).tolist()
    [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]]

    ```
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax(x) along ``dim``, computed without forming softmax.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.LogSoftmax(dim=0)(cr.zeros(2)).tolist()]
    [-0.6931, -0.6931]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.log_softmax(input, self.dim)


class Softmin(Softmax):
    """exp(−x) / Σ exp(−x) along ``dim``.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.nn.Softmin(dim=0)(cr.tensor([0.0, 1.0])).tolist()]
    [0.7311, 0.2689]

    ```
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__(dim)  # type: ignore[arg-type]

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.softmin(input, self.dim)


class Softmax2d(Module):
    """Softmax over the channels at each position of a (N, C, H, W) or (C, H, W) input.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Softmax2d()(cr.zeros(1, 2, 1, 1)).flatten().tolist()
    [0.5, 0.5]

    ```
    """

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        if isinstance(input, Tensor) and input.ndim not in (3, 4):
            raise OpError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D instead")
        return F.softmax(input, -3)
