"""Transposed convolution with PyTorch's signatures, for batched (N, C, *spatial) and unbatched
(C, *spatial) inputs.

The arguments are checked here, naming the function in every error; the arithmetic is in
:mod:`chainrule.ops.conv_transpose`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule.autograd.function import OpError
from chainrule.nn.functional.conv import _check_input, _tuple
from chainrule.nn.input_checks import check_input, require_tensor
from chainrule.ops.conv_transpose import ConvTransposeNd, transposed_length
from chainrule.tensor import Tensor

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

_size = int | Sequence[int]


def conv_transpose1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: _size = 1,
    padding: _size = 0,
    output_padding: _size = 0,
    groups: int = 1,
    dilation: _size = 1,
) -> Tensor:
    """1-D transposed convolution: (N, C_in, L) → (N, C_out, L_out), the input gradient of a
    conv1d with the same weight and options.

    weight (C_in, C_out / groups, k), bias (C_out,); L_out = (L − 1)·stride − 2·padding +
    dilation·(k − 1) + output_padding + 1. Note the order: ``groups`` before ``dilation``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, w = cr.ones(2, 3, 5), cr.ones(3, 4, 3)  # (N, C_in, L), (C_in, C_out, k)
    >>> F.conv_transpose1d(x, w, stride=2).shape  # (5 − 1)·2 + 3
    chainrule.Size([2, 4, 11])

    ```
    """
    return _conv_transpose(
        "conv_transpose1d",
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: _size = 1,
    padding: _size = 0,
    output_padding: _size = 0,
    groups: int = 1,
    dilation: _size = 1,
) -> Tensor:
    """2-D transposed convolution ("deconvolution"): (N, C_in, H, W) → (N, C_out, H_out, W_out).

    Each input element scatters W[c] times itself into the output, at stride steps:
    z[n, o] = b[o] + Σ_c Σ_(i,j) x[n, c, h, w] · W[c, o, i, j] at (h·s + i·d − p, w·s + j·d − p),
    so a stride-2 layer doubles the size: H_out = (H − 1)·stride − 2·padding + dilation·(kH −
    1) + output_padding + 1. ``output_padding`` (< stride or < dilation) picks one of the
    sizes that a stride-s convolution maps to H.

    ```pycon
    >>> from chainrule import randn
    >>> conv_transpose2d(randn(8, 16, 7, 7), randn(16, 8, 4, 4), stride=2, padding=1).shape
    chainrule.Size([8, 8, 14, 14])

    ```
    """
    return _conv_transpose(
        "conv_transpose2d",
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def conv_transpose3d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: _size = 1,
    padding: _size = 0,
    output_padding: _size = 0,
    groups: int = 1,
    dilation: _size = 1,
) -> Tensor:
    """3-D transposed convolution: (N, C_in, D, H, W) → (N, C_out, D_out, H_out, W_out), the
    input gradient of a conv3d with the same weight and options.

    weight (C_in, C_out / groups, kD, kH, kW), bias (C_out,); D_out = (D − 1)·stride −
    2·padding + dilation·(kD − 1) + output_padding + 1, and likewise H_out and W_out.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, w = cr.ones(2, 4, 3, 5, 5), cr.ones(4, 2, 2, 2, 2)
    >>> F.conv_transpose3d(x, w, stride=2).shape
    chainrule.Size([2, 2, 6, 10, 10])

    ```
    """
    return _conv_transpose(
        "conv_transpose3d",
        3,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


def _conv_transpose(
    op: str,
    spatial: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> Tensor:
    _check_input(op, spatial, x)
    require_tensor(weight, op, "weight", 2)
    if bias is not None:
        require_tensor(bias, op, "bias", 3)
    check_input(op, x, weight=weight, bias=bias)
    if weight.ndim != spatial + 2:
        raise OpError(
            f"{op}: weight must have shape (in_channels, out_channels / groups, {spatial} kernel "
            f"sizes), got shape {weight.shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise OpError(f"{op}: groups must be a positive int, got {groups!r}")
    in_channels, group_out, *kernel = weight.shape
    if x.shape[-spatial - 1] != in_channels or in_channels % groups:
        raise OpError(
            f"{op}: weight of shape {weight.shape} with groups={groups} expects input with "
            f"{in_channels} channels (divisible by groups), got input of shape {x.shape}"
        )
    if bias is not None and bias.shape != (group_out * groups,):
        raise OpError(f"{op}: bias must have shape ({group_out * groups},), got {bias.shape}")
    if isinstance(padding, str):
        # PyTorch has no 'same' or 'valid' for transposed convolutions either.
        raise TypeError(f"{op}: padding must be an int or a tuple of {spatial} ints, not str")
    stride = _tuple(stride, spatial, "stride", op, 1)
    padding = _tuple(padding, spatial, "padding", op, 0)
    output_padding = _tuple(output_padding, spatial, "output_padding", op, 0)
    dilation = _tuple(dilation, spatial, "dilation", op, 1)
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        raise OpError(
            f"{op}: output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding}, stride={stride} and dilation={dilation}"
        )
    size = x.shape[-spatial:]
    out_size = tuple(
        transposed_length(*args)
        for args in zip(size, kernel, stride, padding, dilation, output_padding)
    )
    if any(n <= 0 for n in out_size):
        raise OpError(
            f"{op}: input of shape {x.shape} gives output size {out_size} with weight of shape "
            f"{weight.shape}, stride={stride}, padding={padding}: too small"
        )
    return ConvTransposeNd.apply(
        x,
        weight,
        bias,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        out_size=out_size,
    )
