"""Padding layers: a border of zeros or a constant, or one that reflects, replicates or wraps
the input, over 1, 2 or 3 trailing dimensions. They hold only their widths; the math is
:func:`chainrule.nn.functional.pad`.

``padding`` is an int (the same width on every side) or a tuple ordered as ``F.pad`` orders
it: (left, right) for 1-d, then (top, bottom), then (front, back). Negative widths crop.
"""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


class _PadNd(Module):
    """Pads with ``F.pad(input, padding, mode)``; subclasses set ``_spatial`` and ``_mode``."""

    _spatial: int
    _mode: str

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(padding, bool) or not isinstance(padding, (int, Sequence)):
            raise TypeError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        if isinstance(padding, int):
            self.padding = (padding,) * (2 * self._spatial)
            return
        if isinstance(padding, str) or not all(
            isinstance(width, int) and not isinstance(width, bool) for width in padding
        ):
            raise TypeError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        # As PyTorch: a tuple is kept as given, its length checked by F.pad at call time.
        self.padding = tuple(padding)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dimension with ``value``: (*, W) → (*, W + left + right).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ConstantPad1d((1, 2), 9.0)(cr.tensor([[1.0, 2.0]])).tolist()
    [[9.0, 1.0, 2.0, 9.0, 9.0]]

    ```
    """

    _spatial = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dimensions with ``value``: (*, H, W) → (*, H + top + bottom,
    W + left + right).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ConstantPad2d(1, -1.0)(cr.ones(1, 2, 2)).shape
    chainrule.Size([1, 4, 4])

    ```
    """

    _spatial = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dimensions with ``value``: (*, D, H, W) → (*, D + front + back,
    H + top + bottom, W + left + right).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ConstantPad3d((1, 0, 0, 1, 2, 2), 0.5)(cr.ones(1, 1, 2, 2, 2)).shape
    chainrule.Size([1, 1, 6, 3, 3])

    ```
    """

    _spatial = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dimension with zeros: (*, W) → (*, W + left + right).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ZeroPad1d((2, 1))(cr.tensor([[1.0, 2.0]])).tolist()
    [[0.0, 0.0, 1.0, 2.0, 0.0]]

    ```
    """

    _spatial = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two dimensions with zeros: (*, H, W) → (*, H + top + bottom,
    W + left + right).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ZeroPad2d((1, 1, 0, 1))(cr.ones(1, 2, 2)).tolist()
    [[[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]

    ```
    """

    _spatial = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three dimensions with zeros: (*, D, H, W) → (*, D + front + back,
    H + top + bottom, W + left + right).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ZeroPad3d(1)(cr.ones(1, 1, 2, 2, 2)).shape
    chainrule.Size([1, 1, 4, 4, 4])

    ```
    """

    _spatial = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dimension of (N, C, W) or (C, W) with its reflection about the edge
    (the edge itself not repeated); each width must be below W.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReflectionPad1d(2)(cr.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]

    ```
    """

    _spatial, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Pads (N, C, H, W) or (C, H, W) with the reflection of the last two dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReflectionPad2d((1, 1, 2, 0))(cr.ones(1, 3, 3)).shape
    chainrule.Size([1, 5, 5])

    ```
    """

    _spatial, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Pads (N, C, D, H, W) or (C, D, H, W) with the reflection of the last three dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReflectionPad3d(1)(cr.ones(1, 1, 2, 2, 2)).shape
    chainrule.Size([1, 1, 4, 4, 4])

    ```
    """

    _spatial, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dimension of (N, C, W) or (C, W) by repeating its edge values.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReplicationPad1d((1, 2))(cr.tensor([[1.0, 2.0]])).tolist()
    [[1.0, 1.0, 2.0, 2.0, 2.0]]

    ```
    """

    _spatial, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Pads (N, C, H, W) or (C, H, W) by repeating the edges of the last two dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReplicationPad2d(1)(cr.tensor([[[1.0, 2.0]]])).tolist()
    [[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]

    ```
    """

    _spatial, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Pads (N, C, D, H, W) or (C, D, H, W) by repeating the edges of the last three
    dimensions.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.ReplicationPad3d((0, 1, 0, 1, 0, 1))(cr.ones(2, 1, 2, 2, 2)).shape
    chainrule.Size([2, 1, 3, 3, 3])

    ```
    """

    _spatial, _mode = 3, "replicate"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        n = self._spatial
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(
                f"{type(self).__name__}: expected {n + 1}D or {n + 2}D input "
                f"(got {input.ndim}D input of shape {input.shape})"
            )
        return super().forward(input)


class CircularPad1d(_CircularPadNd):
    """Pads the last dimension of (N, C, W) or (C, W) by wrapping around: the left border
    comes from the right end and the right border from the left end.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.CircularPad1d((2, 1))(cr.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[2.0, 3.0, 1.0, 2.0, 3.0, 1.0]]

    ```
    """

    _spatial = 1


class CircularPad2d(_CircularPadNd):
    """Pads (N, C, H, W) or (C, H, W) by wrapping the last two dimensions around (a torus).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.CircularPad2d(1)(cr.ones(1, 1, 3, 3)).shape
    chainrule.Size([1, 1, 5, 5])

    ```
    """

    _spatial = 2


class CircularPad3d(_CircularPadNd):
    """Pads (N, C, D, H, W) or (C, D, H, W) by wrapping the last three dimensions around.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.CircularPad3d(1)(cr.ones(1, 1, 2, 2, 2)).shape
    chainrule.Size([1, 1, 4, 4, 4])

    ```
    """

    _spatial = 3
