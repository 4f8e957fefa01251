"""Convolution layers: the weight and bias of a convolution (plain or transposed), the border
(padding_mode) and a check of the input's shape."""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.input_checks import check_input
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

_size = int | tuple[int, ...]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _Convolution(Module):
    """The parameters and checks that plain and transposed convolution layers share;
    subclasses set ``_spatial``."""

    _spatial: int
    _dims: str  # the spatial dimensions' letters in messages: "L", "H, W" or "D, H, W"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size,
        stride: _size = 1,
        padding: _size | str = 0,
        dilation: _size = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self._check_arguments(in_channels, out_channels, groups, padding_mode)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = self._tuple(kernel_size, "kernel_size", 1)
        self.stride = self._tuple(stride, "stride", 1)
        self.dilation = self._tuple(dilation, "dilation", 1)
        self.padding = self._padding(padding)
        self.padding_mode = padding_mode
        dtype = dtypes.to_dtype(dtype)
        shape = self._weight_shape()
        self.weight = Parameter(backend.xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(backend.xp.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self._place(device)

    def _padding(self, padding: Any) -> tuple[int, ...] | str:
        if not isinstance(padding, str):
            return self._tuple(padding, "padding", 0)
        if padding not in ("same", "valid"):
            self._fail(f"padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
        if padding == "same" and any(s != 1 for s in self.stride):
            self._fail("padding='same' is not supported for strided convolutions")
        return padding

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    def _fail(self, message: str) -> None:
        raise ValueError(f"{type(self).__name__}: {message}")

    def _check_arguments(
        self, in_channels: int, out_channels: int, groups: int, padding_mode: str
    ) -> None:
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or value < 0:
                self._fail(f"{arg} must be a non-negative int, got {value!r}")
        if not isinstance(groups, int) or groups < 1:
            self._fail(f"groups must be a positive int, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            self._fail(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                f"divisible by groups ({groups})"
            )
        if padding_mode not in PADDING_MODES:
            self._fail(
                f"padding_mode must be one of {', '.join(map(repr, PADDING_MODES))}, got "
                f"{padding_mode!r}"
            )

    def _tuple(self, value: Any, arg: str, minimum: int) -> tuple[int, ...]:
        n = self._spatial
        values = (
            (value,) * n
            if isinstance(value, int)
            else tuple(value)
            if isinstance(value, (tuple, list))
            else ()
        )
        if len(values) != n or not all(isinstance(v, int) and v >= minimum for v in values):
            self._fail(
                f"{arg} must be an int ≥ {minimum} or a tuple of {n} such ints, got {value!r}"
            )
        return values

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a = √5 gives bounds ±1/√fan_in, fan_in = in/groups · prod(kernel):
        # PyTorch's long-standing default, so both libraries start from the same distribution.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check(self, input: Tensor) -> None:  # noqa: A002
        n = self._spatial
        if input.ndim not in (n + 1, n + 2) or input.shape[-n - 1] != self.in_channels:
            raise OpError(
                f"{self!r}: expected input of shape (N, {self.in_channels}, {self._dims}) or "
                f"({self.in_channels}, {self._dims}), got {input.shape}"
            )

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            text += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0,) * self._spatial) != (0,) * self._spatial:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _ConvNd(_Convolution):
    """Conv1d, Conv2d and Conv3d: a plain convolution, whose border ``padding_mode`` may fill."""

    def _prepare(self, input: Tensor) -> tuple[Tensor, Any]:  # noqa: A002
        """The checked input and the padding for the convolution: with a ``padding_mode``
        other than zeros, the input padded by F.pad in that mode, and no padding left to do."""
        check_input(self, input, self.weight, self.bias)
        self._check(input)
        if self.padding_mode == "zeros":
            return input, self.padding
        return F.pad(input, self._border(), mode=self.padding_mode), 0

    def _border(self) -> tuple[int, ...]:
        """F.pad's widths, last dimension first; "same" puts the odd element after."""
        if self.padding == "valid":
            return (0, 0) * self._spatial
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        else:
            pairs = [(p, p) for p in self.padding]
        return tuple(width for pair in reversed(pairs) for width in pair)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        x, padding = self._prepare(input)
        conv = getattr(F, f"conv{self._spatial}d")  # the F function of this many dimensions
        return conv(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L) → (N, C_out, L_out).

    ``padding_mode`` fills the border with zeros, or by reflecting, replicating or wrapping
    the input around (``"reflect"``, ``"replicate"``, ``"circular"``, through F.pad).

    ``weight`` (out_channels, in_channels / groups, k) and ``bias`` (out_channels,) start as
    PyTorch's do: kaiming_uniform_(a=√5), i.e. uniform in ±1/√fan_in with fan_in =
    in_channels / groups · k.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Conv1d(2, 4, kernel_size=3)(cr.zeros(8, 2, 10)).shape
    chainrule.Size([8, 4, 8])

    ```
    """

    _spatial, _dims = 1, "L"


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) → (N, C_out, H_out, W_out).

    ``weight`` (out_channels, in_channels / groups, kH, kW) and ``bias`` (out_channels,) start
    uniform in ±1/√fan_in with fan_in = in_channels / groups · kH · kW (PyTorch's default).

    ```pycon
    >>> from chainrule import randn
    >>> Conv2d(1, 16, 3, padding=1)(randn(64, 1, 28, 28)).shape
    chainrule.Size([64, 16, 28, 28])

    ```
    """

    _spatial, _dims = 2, "H, W"


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) or (C_in, D, H, W) → (…, C_out, D_out, H_out,
    W_out).

    ``weight`` (out_channels, in_channels / groups, kD, kH, kW) and ``bias`` (out_channels,)
    start uniform in ±1/√fan_in with fan_in = in_channels / groups · kD · kH · kW (PyTorch's
    default); ``padding_mode`` fills the border as in Conv1d.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.Conv3d(2, 4, 3, padding=1)(cr.zeros(1, 2, 5, 6, 7)).shape
    chainrule.Size([1, 4, 5, 6, 7])

    ```
    """

    _spatial, _dims = 3, "D, H, W"


class _ConvTransposeNd(_Convolution):
    """The transposed layers: weight (in_channels, out_channels / groups, *kernel), an
    ``output_padding``, and forward's optional ``output_size``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _size,
        stride: _size = 1,
        padding: _size = 0,
        output_padding: _size = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: _size = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'{type(self).__name__}: only "zeros" padding mode is supported, got '
                f"{padding_mode!r}"
            )
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )
        self.output_padding = self._tuple(output_padding, "output_padding", 0)

    def _padding(self, padding: Any) -> tuple[int, ...]:
        if isinstance(padding, str):
            self._fail(f"padding must be an int or a tuple of ints, got {padding!r}")
        return self._tuple(padding, "padding", 0)

    def _weight_shape(self) -> tuple[int, ...]:
        return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:  # noqa: A002
        """The output_padding that gives ``output_size`` (its last len(kernel) entries; None:
        the layer's own). Each size must lie in [smallest, smallest + stride − 1]."""
        if output_size is None:
            return self.output_padding
        n = self._spatial
        sizes = [int(size) for size in output_size]
        if len(sizes) == input.ndim:  # (N, C, *spatial) or (C, *spatial) given whole
            sizes = sizes[-n:]
        if len(sizes) != n:
            self._fail(
                f"for {input.ndim}-D input, output_size must have {n} or {input.ndim} "
                f"elements, got {len(sizes)}"
            )
        smallest = [
            (m - 1) * s - 2 * p + d * (k - 1) + 1
            for m, s, p, d, k in zip(
                input.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size
            )
        ]
        largest = [low + s - 1 for low, s in zip(smallest, self.stride)]
        if not all(low <= size <= high for low, size, high in zip(smallest, sizes, largest)):
            self._fail(
                f"requested an output size of {sizes}, but valid sizes range from {smallest} "
                f"to {largest} (for an input of {list(input.shape[-n:])})"
            )
        return tuple(size - low for size, low in zip(sizes, smallest))

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:  # noqa: A002
        check_input(self, input, self.weight, self.bias)
        self._check(input)
        output_padding = self._output_padding(input, output_size)
        conv_transpose = getattr(F, f"conv_transpose{self._spatial}d")
        return conv_transpose(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            output_padding,
            self.groups,
            self.dilation,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution: (N, C_in, L) or (C_in, L) → (…, C_out, L_out), the input
    gradient of a Conv1d with the same options; L_out = (L − 1)·stride − 2·padding +
    dilation·(k − 1) + output_padding + 1.

    ``weight`` (in_channels, out_channels / groups, k) and ``bias`` (out_channels,) start
    uniform in ±1/√fan_in with fan_in = out_channels / groups · k (PyTorch's default).
    ``forward(input, output_size)`` picks output_padding to reach ``output_size``.

    ```pycon
    >>> import chainrule as cr
    >>> up = cr.nn.ConvTranspose1d(4, 2, kernel_size=3, stride=2)
    >>> up(cr.zeros(1, 4, 5)).shape  # (5 - 1)·2 + 3
    chainrule.Size([1, 2, 11])

    ```
    """

    _spatial, _dims = 1, "L"


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution: (N, C_in, H, W) or (C_in, H, W) → (…, C_out, H_out, W_out),
    the input gradient of a Conv2d with the same options: a stride-2 layer doubles the size.

    ``weight`` (in_channels, out_channels / groups, kH, kW) starts uniform in ±1/√fan_in with
    fan_in = out_channels / groups · kH · kW, as PyTorch's.

    ```pycon
    >>> from chainrule import randn
    >>> ConvTranspose2d(16, 8, 4, stride=2, padding=1)(randn(64, 16, 7, 7)).shape
    chainrule.Size([64, 8, 14, 14])

    ```
    """

    _spatial, _dims = 2, "H, W"


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution: (N, C_in, D, H, W) or (C_in, D, H, W) → (…, C_out, D_out,
    H_out, W_out), the input gradient of a Conv3d with the same options.

    ``weight`` (in_channels, out_channels / groups, kD, kH, kW) starts uniform in ±1/√fan_in
    with fan_in = out_channels / groups · kD · kH · kW, as PyTorch's.
    ``forward(input, output_size)`` picks output_padding to reach ``output_size``.

    ```pycon
    >>> import chainrule as cr
    >>> up = cr.nn.ConvTranspose3d(4, 2, kernel_size=2, stride=2)
    >>> up(cr.zeros(1, 4, 3, 4, 5)).shape
    chainrule.Size([1, 2, 6, 8, 10])

    ```
    """

    _spatial, _dims = 3, "D, H, W"
