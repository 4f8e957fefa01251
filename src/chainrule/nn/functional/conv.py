"""Convolution and pooling with PyTorch's signatures, for batched (N, C, *spatial) and unbatched
(C, *spatial) inputs.

These functions check their arguments and name themselves in every error; the arithmetic is in
:mod:`chainrule.ops.conv`, :mod:`chainrule.ops.max_pooling` and :mod:`chainrule.ops.pooling`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.nn.input_checks import check_input, require_tensor
from chainrule.ops import conv, max_pooling, pooling
from chainrule.ops.im2col import output_length
from chainrule.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "conv1d",
    "conv2d",
    "conv3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
]

_size = int | Sequence[int]


def conv1d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: _size = 1,
    padding: _size | str = 0,
    dilation: _size = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation, as in PyTorch): (N, C_in, L) → (N, C_out, L_out).

    weight (C_out, C_in / groups, k), bias (C_out,); L_out = ⌊(L + 2·padding − dilation·(k − 1)
    − 1) / stride⌋ + 1. ``padding`` is an int, a tuple, ``"valid"`` (0) or ``"same"`` (L_out =
    L, stride 1 only).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, w = cr.ones(2, 3, 10), cr.ones(4, 3, 3)  # (N, C_in, L), (C_out, C_in, k)
    >>> y = F.conv1d(x, w, padding=1)
    >>> y.shape, y[0, 0, :3].tolist()  # 3·2 at the padded edge, 3·3 inside
    (chainrule.Size([2, 4, 10]), [6.0, 9.0, 9.0])

    ```
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: _size = 1,
    padding: _size | str = 0,
    dilation: _size = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation): (N, C_in, H, W) → (N, C_out, H_out, W_out).

    out[n, o] = b[o] + Σ_c Σ_(i,j) W[o, c, i, j] · x_padded[n, g·C_in/groups + c, h·s + i·d,
    w·s + j·d] over the input channels of o's group; each output size is ⌊(size + 2·padding −
    dilation·(k − 1) − 1) / stride⌋ + 1. The result's memory is channels-first (C_out, N, ...),
    which the next layers read fastest; its values and shape are PyTorch's.

    ```pycon
    >>> from chainrule import randn
    >>> conv2d(randn(8, 3, 32, 32), randn(16, 3, 3, 3), padding=1).shape
    chainrule.Size([8, 16, 32, 32])

    ```
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    bias: Tensor | None = None,
    stride: _size = 1,
    padding: _size | str = 0,
    dilation: _size = 1,
    groups: int = 1,
) -> Tensor:
    """3-D convolution (cross-correlation): (N, C_in, D, H, W) → (N, C_out, D_out, H_out, W_out).

    weight (C_out, C_in / groups, kD, kH, kW), bias (C_out,); each output size is ⌊(size +
    2·padding − dilation·(k − 1) − 1) / stride⌋ + 1. ``padding`` is an int, a 3-tuple,
    ``"valid"`` or ``"same"`` (stride 1 only); unbatched (C_in, D, H, W) input works too.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x, w = cr.ones(2, 3, 4, 5, 6), cr.ones(8, 3, 3, 3, 3)
    >>> y = F.conv3d(x, w, padding="same")
    >>> y.shape, y[0, 0, 1, 1, 1].item()  # an inner point sums 3·3·3·3 ones
    (chainrule.Size([2, 8, 4, 5, 6]), 81.0)

    ```
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def max_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: _size,
    stride: _size | None = None,
    padding: _size = 0,
    dilation: _size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each window along L: (N, C, L) → (N, C, L_out); stride defaults to the
    kernel size. With ``return_indices`` also the position in L of each maximum.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0, 5.0, 2.0, 0.0, 3.0, 4.0]]])
    >>> F.max_pool1d(x, 2).tolist()
    [[[5.0, 2.0, 4.0]]]
    >>> F.max_pool1d(x, 2, return_indices=True)[1].tolist()
    [[[1, 2, 5]]]

    ```
    """
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: _size,
    stride: _size | None = None,
    padding: _size = 0,
    dilation: _size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each window: (N, C, H, W) → (N, C, H_out, W_out), padding counting as −∞.

    The gradient goes to the first maximum of each window in row-major order, as in PyTorch.
    With ``return_indices`` also each maximum's flat position h·W + w (int64).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]

    ```
    """
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: _size,
    stride: _size | None = None,
    padding: _size = 0,
    dilation: _size = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each window: (N, C, D, H, W) → (N, C, D_out, H_out, W_out), padding
    counting as −∞ and stride defaulting to the kernel size.

    With ``return_indices`` also each maximum's flat position d·H·W + h·W + w (int64).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> F.max_pool3d(x, 2).tolist()
    [[[[[7.0]]]]]
    >>> F.max_pool3d(x, (1, 2, 2), return_indices=True)[1].flatten().tolist()
    [3, 7]

    ```
    """
    return _max_pool(
        "max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def avg_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: _size,
    stride: _size | None = None,
    padding: _size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window along L: (N, C, L) → (N, C, L_out).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0, 3.0, 2.0, 6.0]]])
    >>> F.avg_pool1d(x, 2).tolist()
    [[[2.0, 4.0]]]

    ```
    """
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: _size,
    stride: _size | None = None,
    padding: _size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window: (N, C, H, W) → (N, C, H_out, W_out).

    Zero padding counts in the divisor when ``count_include_pad``; ``divisor_override``
    replaces the divisor altogether.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.avg_pool2d(x, 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]

    ```
    """
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input: Tensor,  # noqa: A002
    kernel_size: _size,
    stride: _size | None = None,
    padding: _size = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window: (N, C, D, H, W) → (N, C, D_out, H_out, W_out).

    Zero padding counts in the divisor when ``count_include_pad``; ``divisor_override``
    replaces the divisor altogether.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> F.avg_pool3d(x, 2).tolist(), F.avg_pool3d(x, 2, divisor_override=1).item()
    ([[[[[3.5]]]]], 28.0)

    ```
    """
    return _avg_pool(
        "avg_pool3d",
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def adaptive_avg_pool1d(input: Tensor, output_size: _size) -> Tensor:  # noqa: A002
    """Average over L_out bins [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉): (N, C, L) → (N, C, L_out).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0, 3.0, 2.0, 6.0, 4.0, 8.0]]])
    >>> F.adaptive_avg_pool1d(x, 3).tolist()
    [[[2.0, 4.0, 6.0]]]

    ```
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: _size | Sequence[int | None]) -> Tensor:  # noqa: A002
    """Average over an output_size grid of bins: (N, C, H, W) → (N, C, *output_size).

    Bin i along H covers rows [⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉); None keeps that dimension's size.
    ``adaptive_avg_pool2d(x, 1)`` is global average pooling.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.adaptive_avg_pool2d(cr.ones(2, 3, 7, 5), (2, 2)).shape
    chainrule.Size([2, 3, 2, 2])
    >>> F.adaptive_avg_pool2d(cr.ones(2, 3, 7, 5), 1).shape  # global average pooling
    chainrule.Size([2, 3, 1, 1])

    ```
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: _size | Sequence[int | None]) -> Tensor:  # noqa: A002
    """Average over an output_size grid of bins: (N, C, D, H, W) → (N, C, *output_size).

    Bin i along D covers [⌊i·D/D_out⌋, ⌈(i+1)·D/D_out⌉), and likewise along H and W; None
    keeps that dimension's size.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.adaptive_avg_pool3d(cr.ones(2, 3, 5, 7, 4), (2, None, 1)).shape
    chainrule.Size([2, 3, 2, 7, 1])

    ```
    """
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


# ---- argument checks -----------------------------------------------------------------------------


def _tuple(value: Any, n: int, name: str, op: str, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of n ints, as a tuple of n ints ≥ minimum."""
    values = (value,) * n if isinstance(value, int) else tuple(value) if _is_seq(value) else None
    if values is None or len(values) != n or not all(isinstance(v, int) for v in values):
        raise OpError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        kind = "positive" if minimum > 0 else "non-negative"
        raise OpError(f"{op}: {name} must be {kind}, got {value!r}")
    return values


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _check_input(op: str, spatial: int, x: Tensor) -> None:
    require_tensor(x, op)
    if x.ndim not in (spatial + 1, spatial + 2):
        dims = {1: "L", 2: "H, W"}.get(spatial, "D, H, W")
        raise OpError(
            f"{op}: expected input of shape (N, C, {dims}) or (C, {dims}), got shape {x.shape}"
        )
    check_input(op, x, floating=True)


def _conv(
    op: str,
    spatial: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Tensor:
    _check_input(op, spatial, x)
    require_tensor(weight, op, "weight", 2)
    if bias is not None:
        require_tensor(bias, op, "bias", 3)
    check_input(op, x, weight=weight, bias=bias)
    if weight.ndim != spatial + 2:
        raise OpError(
            f"{op}: weight must have shape (out_channels, in_channels / groups, "
            f"{spatial} kernel sizes), got shape {weight.shape}"
        )
    if not isinstance(groups, int) or groups <= 0:
        raise OpError(f"{op}: groups must be a positive int, got {groups!r}")
    out_channels, group_channels, *kernel = weight.shape
    channels = x.shape[-spatial - 1]
    if channels != group_channels * groups or out_channels % groups:
        raise OpError(
            f"{op}: weight of shape {weight.shape} with groups={groups} expects input with "
            f"{group_channels * groups} channels and out_channels divisible by groups, got input "
            f"of shape {x.shape}"
        )
    if bias is not None and bias.shape != (out_channels,):
        raise OpError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")
    stride = _tuple(stride, spatial, "stride", op, 1)
    dilation = _tuple(dilation, spatial, "dilation", op, 1)
    pads = _conv_padding(op, padding, spatial, kernel, stride, dilation)
    size = x.shape[-spatial:]
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, pads))
    if any(p < d * (k - 1) + 1 for p, k, d in zip(padded, kernel, dilation)):
        raise OpError(
            f"{op}: padded input size {padded} is smaller than the dilated kernel "
            f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))} (input of shape "
            f"{x.shape}, weight of shape {weight.shape})"
        )
    return conv.ConvNd.apply(
        x, weight, bias, stride=stride, padding=pads, dilation=dilation, groups=groups
    )


def _conv_padding(
    op: str, padding: Any, spatial: int, kernel: list, stride: tuple, dilation: tuple
) -> tuple[tuple[int, int], ...]:
    """(before, after) per dimension; "same" puts the odd element after, as PyTorch does."""
    if padding == "valid":
        return ((0, 0),) * spatial
    if padding == "same":
        if any(s != 1 for s in stride):
            raise OpError(f"{op}: padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if isinstance(padding, str):
        raise OpError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    return tuple((p, p) for p in _tuple(padding, spatial, "padding", op, 0))


def _pool_args(
    op: str,
    spatial: int,
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple:
    _check_input(op, spatial, x)
    kernel = _tuple(kernel_size, spatial, "kernel_size", op, 1)
    stride = kernel if stride is None or stride == [] else _tuple(stride, spatial, "stride", op, 1)
    padding = _tuple(padding, spatial, "padding", op, 0)
    dilation = _tuple(dilation, spatial, "dilation", op, 1)
    for p, k, d in zip(padding, kernel, dilation):
        if 2 * p > d * (k - 1) + 1:
            raise OpError(
                f"{op}: padding must be at most half of the effective kernel size, got "
                f"padding={padding}, kernel_size={kernel} and dilation={dilation}"
            )
    size = x.shape[-spatial:]
    out_size = tuple(
        output_length(n, k, s, (p, p), d, ceil_mode)
        for n, k, s, p, d in zip(size, kernel, stride, padding, dilation)
    )
    if min(out_size) <= 0:
        raise OpError(
            f"{op}: input of shape {x.shape} gives output size {out_size} with "
            f"kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}: "
            "too small"
        )
    return kernel, stride, padding, dilation


def _max_pool(
    op: str,
    spatial: int,
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Tensor | tuple[Tensor, Tensor]:
    args = _pool_args(op, spatial, x, kernel_size, stride, padding, dilation, ceil_mode)
    kernel, stride, padding, dilation = args
    out = max_pooling.max_pool(x, kernel, stride, padding, dilation, bool(ceil_mode))
    if not return_indices:
        return out
    indices = backend.computed_on(
        x.array, max_pooling.max_pool_indices, x.array, out.array, *args, bool(ceil_mode)
    )
    return out, Tensor(indices)


def _avg_pool(
    op: str,
    spatial: int,
    x: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Tensor:
    if divisor_override is not None and (
        not isinstance(divisor_override, int) or divisor_override <= 0
    ):
        raise OpError(f"{op}: divisor_override must be a positive int, got {divisor_override!r}")
    # Average pooling has no dilation; the check for the padding is then PyTorch's k/2.
    kernel, stride, padding, _ = _pool_args(
        op, spatial, x, kernel_size, stride, padding, 1, ceil_mode
    )
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise OpError(
            f"{op}: padding must be at most half of the kernel size, got padding={padding} "
            f"and kernel_size={kernel}"
        )
    return pooling.avg_pool(
        x, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override
    )


def _adaptive_avg_pool(op: str, spatial: int, x: Tensor, output_size: Any) -> Tensor:
    _check_input(op, spatial, x)
    size = x.shape[-spatial:]
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size,) * spatial
    if not _is_seq(output_size) or len(output_size) != spatial:
        raise OpError(
            f"{op}: output_size must be an int or a tuple of {spatial} ints, got {output_size!r}"
        )
    out_size = tuple(n if m is None else m for n, m in zip(size, output_size))
    if not all(isinstance(m, int) and m >= 0 for m in out_size):
        raise OpError(f"{op}: output_size must hold non-negative ints, got {output_size!r}")
    if any(n == 0 for n in size):
        raise OpError(f"{op}: expected non-empty spatial dimensions, got input of shape {x.shape}")
    if all(m > 0 and n % m == 0 for n, m in zip(size, out_size)):
        # Equal bins: average pooling with kernel = stride = size / output_size.
        kernel = tuple(n // m for n, m in zip(size, out_size))
        return pooling.avg_pool(x, kernel, kernel, (0,) * spatial, False, True, None)
    return pooling.AdaptiveAvgPoolNd.apply(x, out_size)
