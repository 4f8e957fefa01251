"""Convolution layers: the weight and bias of a convolution, and a check of the input's shape."""

from __future__ import annotations

import math
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

_size = int | tuple[int, ...]


class _ConvNd(Module):
    """The parameters and checks that Conv1d and Conv2d share; subclasses set ``_spatial``."""

    _spatial: int
    _dims: str  # the spatial dimensions' letters in messages: "L" or "H, W"

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
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                self._fail(f"padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                self._fail("padding='same' is not supported for strided convolutions")
            self.padding: tuple[int, ...] | str = padding
        else:
            self.padding = self._tuple(padding, "padding", 0)
        self.padding_mode = padding_mode
        dtype = dtypes.to_dtype(dtype)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(backend.xp.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(backend.xp.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

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
        if padding_mode != "zeros":
            # The other modes need a differentiable pad; only PyTorch's default is implemented.
            self._fail(f"padding_mode={padding_mode!r} is not supported, only 'zeros'")

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
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) or (C_in, L) → (N, C_out, L_out).

    ``weight`` (out_channels, in_channels / groups, k) and ``bias`` (out_channels,) start as
    PyTorch's do: kaiming_uniform_(a=√5), i.e. uniform in ±1/√fan_in with fan_in =
    in_channels / groups · k.
    """

    _spatial, _dims = 1, "L"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check(input)
        return F.conv1d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W) → (N, C_out, H_out, W_out).

    ``weight`` (out_channels, in_channels / groups, kH, kW) and ``bias`` (out_channels,) start
    uniform in ±1/√fan_in with fan_in = in_channels / groups · kH · kW (PyTorch's default).

    >>> Conv2d(1, 16, 3, padding=1)(randn(64, 1, 28, 28)).shape
    (64, 16, 28, 28)
    """

    _spatial, _dims = 2, "H, W"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        self._check(input)
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )
