"""Pooling layers: max, average and adaptive (average and max) pooling over 1, 2 or 3 spatial
dimensions (adaptive max pooling over 1 or 2).

They hold only their options; the math is in :mod:`chainrule.nn.functional.conv` and
:mod:`chainrule.nn.functional.adaptive_max_pool`.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import OpError
from chainrule.nn import functional as F
from chainrule.nn.input_checks import check_input
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

_size = int | tuple[int, ...]


class _Pool(Module):
    """Checks the input's rank and names the layer; subclasses set ``_spatial`` and ``_dims``."""

    _spatial: int
    _dims: str

    def _check(self, input: Tensor) -> None:  # noqa: A002
        n = self._spatial
        check_input(self, input, floating=True)
        if input.ndim not in (n + 1, n + 2):
            raise OpError(
                f"{self!r}: expected input of shape (N, C, {self._dims}) or (C, {self._dims}), "
                f"got {input.shape}"
            )


class _MaxPoolNd(_Pool):
    def __init__(
        self,
        kernel_size: _size,
        stride: _size | None = None,
        padding: _size = 0,
        dilation: _size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        self._check(input)
        max_pool = getattr(F, f"max_pool{self._spatial}d")  # the F function of this many dims
        return max_pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """The maximum of each window along L: (N, C, L) or (C, L) → (…, L_out).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.MaxPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 5.0]]])).tolist()
    [[[3.0, 5.0]]]

    ```
    """

    _spatial, _dims = 1, "L"


class MaxPool2d(_MaxPoolNd):
    """The maximum of each window: (N, C, H, W) or (C, H, W) → (…, H_out, W_out).

    ``stride`` defaults to ``kernel_size``; padding counts as −∞. Where windows overlap, an
    element's gradient is the sum over the windows whose (first) maximum it is.

    ```pycon
    >>> from chainrule import randn
    >>> MaxPool2d(2)(randn(64, 16, 28, 28)).shape
    chainrule.Size([64, 16, 14, 14])

    ```
    """

    _spatial, _dims = 2, "H, W"


class MaxPool3d(_MaxPoolNd):
    """The maximum of each window: (N, C, D, H, W) or (C, D, H, W) → (…, D_out, H_out, W_out).

    ``stride`` defaults to ``kernel_size``; padding counts as −∞. ``return_indices`` adds
    each maximum's flat position d·H·W + h·W + w.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.MaxPool3d(2)(cr.zeros(2, 3, 4, 6, 8)).shape
    chainrule.Size([2, 3, 2, 3, 4])

    ```
    """

    _spatial, _dims = 3, "D, H, W"


class AvgPool1d(_Pool):
    """The mean of each window along L: (N, C, L) or (C, L) → (…, L_out).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.AvgPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 5.0]]])).tolist()
    [[[2.0, 3.5]]]

    ```
    """

    _spatial, _dims = 1, "L"

    def __init__(
        self,
        kernel_size: _size,
        stride: _size | None = None,
        padding: _size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        # PyTorch keeps AvgPool1d's sizes as 1-tuples, which shows in its repr.
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check(input)
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(_Pool):
    """AvgPool2d and AvgPool3d: average pooling with a ``divisor_override``. Neither derives
    from the other because the ONNX exporter picks a converter by a layer's class and its
    bases, and AvgPool2d's would write a 3-d layer as a 2-d one."""

    def __init__(
        self,
        kernel_size: _size,
        stride: _size | None = None,
        padding: _size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check(input)
        avg_pool = getattr(F, f"avg_pool{self._spatial}d")  # the F function of this many dims
        return avg_pool(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """The mean of each window: (N, C, H, W) or (C, H, W) → (…, H_out, W_out).

    Zero padding counts in the divisor when ``count_include_pad``; ``divisor_override``
    replaces the divisor.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> cr.nn.AvgPool2d(2)(x).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]

    ```
    """

    _spatial, _dims = 2, "H, W"


class AvgPool3d(_AvgPoolNd):
    """The mean of each window: (N, C, D, H, W) or (C, D, H, W) → (…, D_out, H_out, W_out).

    The options are AvgPool2d's: ``count_include_pad`` and ``divisor_override`` set the
    divisor.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> cr.nn.AvgPool3d(2)(x).tolist()
    [[[[[3.5]]]]]

    ```
    """

    _spatial, _dims = 3, "D, H, W"


class _AdaptiveAvgPoolNd(_Pool):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check(input)
        return getattr(F, f"adaptive_avg_pool{self._spatial}d")(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average over ``output_size`` bins along L: (N, C, L) or (C, L) → (…, output_size).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool1d(1)(cr.tensor([[[1.0, 2.0, 3.0, 6.0]]])).tolist()
    [[[3.0]]]

    ```
    """

    _spatial, _dims = 1, "L"


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average over a grid of bins: (N, C, H, W) or (C, H, W) → (…, *output_size).

    ``AdaptiveAvgPool2d(1)`` is global average pooling; None in ``output_size`` keeps that
    dimension's size.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool2d((1, 1))(cr.zeros(2, 3, 7, 7)).shape
    chainrule.Size([2, 3, 1, 1])

    ```
    """

    _spatial, _dims = 2, "H, W"


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average over a grid of bins: (N, C, D, H, W) or (C, D, H, W) → (…, *output_size).

    ``AdaptiveAvgPool3d(1)`` is global average pooling; None in ``output_size`` keeps that
    dimension's size.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool3d((1, None, 2))(cr.zeros(2, 3, 5, 6, 7)).shape
    chainrule.Size([2, 3, 1, 6, 2])

    ```
    """

    _spatial, _dims = 3, "D, H, W"


class _AdaptiveMaxPoolNd(_Pool):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """The maximum over ``output_size`` bins along L: (N, C, L) or (C, L) → (…, output_size);
    with ``return_indices`` also each maximum's position in L.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveMaxPool1d(2)(cr.tensor([[[1.0, 4.0, 2.0, 3.0, 0.0]]])).tolist()
    [[[4.0, 3.0]]]

    ```
    """

    _spatial, _dims = 1, "L"

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """The maximum over a grid of bins: (N, C, H, W) or (C, H, W) → (…, *output_size).

    None in ``output_size`` keeps that dimension's size; ``return_indices`` adds each
    maximum's flat position h·W + w.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.AdaptiveMaxPool2d((1, None))(cr.zeros(2, 3, 7, 5)).shape
    chainrule.Size([2, 3, 1, 5])

    ```
    """

    _spatial, _dims = 2, "H, W"

    def forward(self, input: Tensor) -> Any:  # noqa: A002
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


def _single(value: Any) -> Any:
    return (value,) if isinstance(value, int) else tuple(value)
