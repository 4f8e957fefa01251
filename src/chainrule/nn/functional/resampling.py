"""Resampling: ``pixel_shuffle`` and ``pixel_unshuffle`` (reshapes and a permutation), and
``interpolate`` (upsampling and downsampling by nearest neighbour, (bi/tri)linear or bicubic
interpolation, or area averaging).

Interpolation is separable: along each spatial axis an output position reads one, two or four
input positions (an index gather) and weighs them with constants. Both are differentiable
operations of their own, so the gradient (the gradient scattered back with the same weights)
and the second derivative come from the chain rule. The source positions and weights follow
PyTorch's formulas, computed in the input's precision (float32 for the reduced floats) as
PyTorch does, so the same input values are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from chainrule import backend
from chainrule.nn.functional.conv import adaptive_avg_pool1d, adaptive_avg_pool2d
from chainrule.nn.input_checks import InputShapeError, check_input, require_tensor
from chainrule.ops.indexing import index_select
from chainrule.tensor import Tensor

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle"]


def _check_factor(factor: Any, name: str, where: str) -> None:
    if isinstance(factor, bool) or not isinstance(factor, int):
        raise TypeError(
            f"{where}(): argument '{name}' (position 2) must be int, not {type(factor).__name__}"
        )
    if factor <= 0:
        raise InputShapeError(f"{where} expects a positive {name}, but got {factor}")
    return None


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:  # noqa: A002
    """Rearrange (*, C·r², H, W) into (*, C, H·r, W·r), r = ``upscale_factor``: output pixel
    (h·r + i, w·r + j) of channel c is input pixel (h, w) of channel c·r² + i·r + j (the
    sub-pixel convolution's upsampling, Shi et al., 2016).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.arange(4.0).reshape(1, 4, 1, 1)
    >>> F.pixel_shuffle(x, 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]

    ```
    """
    where = "pixel_shuffle"
    require_tensor(input, where)
    _check_factor(upscale_factor, "upscale_factor", where)
    if input.ndim < 3:
        raise InputShapeError(
            f"{where} expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    r = upscale_factor
    *batch, channels, height, width = input.shape
    if channels % (r * r):
        raise InputShapeError(
            f"{where} expects its input's 'channel' dimension to be divisible by the square of "
            f"upscale_factor, but input.size(-3)={channels} is not divisible by {r * r}"
        )
    n = len(batch)
    x = input.reshape(*batch, channels // (r * r), r, r, height, width)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:  # noqa: A002
    """Rearrange (*, C, H·r, W·r) into (*, C·r², H, W), r = ``downscale_factor``: the inverse
    of :func:`pixel_shuffle`.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    >>> F.pixel_unshuffle(x, 2).reshape(-1).tolist()
    [0.0, 1.0, 2.0, 3.0]

    ```
    """
    where = "pixel_unshuffle"
    require_tensor(input, where)
    _check_factor(downscale_factor, "downscale_factor", where)
    if input.ndim < 3:
        raise InputShapeError(
            f"{where} expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    r = downscale_factor
    *batch, channels, height, width = input.shape
    for name, axis, size in (("height", -2, height), ("width", -1, width)):
        if size % r:
            raise InputShapeError(
                f"{where} expects {name} to be divisible by downscale_factor, but "
                f"input.size({axis})={size} is not divisible by {r}"
            )
    n = len(batch)
    x = input.reshape(*batch, channels, height // r, r, width // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*batch, channels * r * r, height // r, width // r)


# The spatial rank each interpolating mode needs (nearest and area take any of 1 to 3).
_RANKS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_NAMED_RANKS = {1: "3D", 2: "4D", 3: "5D"}
_MODES = "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact"


def interpolate(
    input: Tensor,  # noqa: A002
    size: int | Sequence[int] | None = None,
    scale_factor: float | Sequence[float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample the spatial dimensions of (N, C, *spatial) to ``size`` or to
    ⌊size · ``scale_factor``⌋: 1 to 3 of them for ``nearest``, ``nearest-exact`` and
    ``area``, 1 for ``linear``, 2 for ``bilinear`` and ``bicubic``, 3 for ``trilinear``.

    Output position d reads source position s(d) = (d + ½)·scale − ½ (the pixel centres;
    clamped at 0 for the linear modes), or s(d) = d·(in − 1)/(out − 1) with ``align_corners``
    (the corner pixels line up). scale is in/out, or 1/``scale_factor`` where that was given
    and ``recompute_scale_factor`` is not true. ``nearest`` takes ⌊d·scale⌋ (PyTorch's legacy
    rule), ``nearest-exact`` ⌊(d + ½)·scale⌋; ``bicubic`` is Keys' cubic convolution (a = −¾)
    with the border repeated; ``area`` averages windows (adaptive average pooling).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0, 2.0, 4.0]]])
    >>> F.interpolate(x, scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
    >>> F.interpolate(x, size=5, mode='linear', align_corners=True).tolist()
    [[[1.0, 1.5, 2.0, 3.0, 4.0]]]

    ```
    """
    where = "interpolate"
    require_tensor(input, where)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "interpolate: align_corners option can only be set with the interpolating "
                "modes: linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    spatial = input.ndim - 2
    sizes, scales = _sizes_and_scales(input, size, scale_factor, spatial)
    if recompute_scale_factor and size is not None:
        raise ValueError(
            "interpolate: recompute_scale_factor is not meaningful with an explicit size."
        )
    if mode == "area" and sizes is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        # The output size rounded down, then resampled as if that size had been asked for.
        sizes = [math.floor(float(n) * s) for n, s in zip(input.shape[2:], scales)]
        scales = None
    if antialias:
        if mode not in ("bilinear", "bicubic") or input.ndim != 4:
            raise ValueError(
                "interpolate: Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                "modes and requires a 4-D tensor as input"
            )
        raise NotImplementedError(f"interpolate: antialias=True (mode {mode!r}) is not supported")
    needed = _RANKS.get(mode)
    if needed is not None and spatial in _NAMED_RANKS and spatial != needed:
        raise NotImplementedError(
            f"interpolate: Got {_NAMED_RANKS[spatial]} input, but {mode} mode needs "
            f"{_NAMED_RANKS[needed]} input"
        )
    if spatial not in _NAMED_RANKS or (needed is None and mode not in _MODES.split(" | ")):
        raise NotImplementedError(
            f"interpolate: Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{input.ndim}D) for the modes: {_MODES} (got {mode})"
        )
    check_input(where, input, floating=True)
    if mode == "area":
        return _area(input, sizes)
    if sizes is None:  # PyTorch truncates the product in double precision
        sizes = [int(n * s) for n, s in zip(input.shape[2:], scales)]
    _check_sizes(input.shape[2:], sizes)
    # Float32 positions for float32 and the reduced floats, float64 for float64 (PyTorch's).
    precision = numpy.float64 if input.dtype.name == "float64" else numpy.float32
    out = input
    for k in range(spatial):
        scale = None if scales is None else float(scales[k])
        axis = 2 + k
        n_in, n_out = input.shape[axis], int(sizes[k])
        if mode in ("nearest", "nearest-exact"):
            index = _nearest_index(n_in, n_out, scale, mode == "nearest-exact")
            out = index_select(out, axis, _on(input, index))
            continue
        taps = (_linear if mode != "bicubic" else _cubic)(
            n_in, n_out, scale, bool(align_corners), precision
        )
        out = _weighted_gather(out, axis, taps, input)
    return out


def _area(x: Tensor, sizes: list) -> Tensor:
    """Adaptive average pooling to ``sizes``; for 3 spatial dimensions the box average is
    taken over (H, W) and then over D, as the mean of a box is the mean of its slices' means."""
    if len(sizes) == 1:
        return adaptive_avg_pool1d(x, sizes[0])
    if len(sizes) == 2:
        return adaptive_avg_pool2d(x, tuple(sizes))
    n, c, depth, height, width = x.shape
    planes = adaptive_avg_pool2d(x.reshape(n, c * depth, height, width), tuple(sizes[1:]))
    h, w = planes.shape[-2:]
    columns = planes.reshape(n, c, depth, h * w).transpose(2, 3).reshape(n, c * h * w, depth)
    out = adaptive_avg_pool1d(columns, sizes[0])
    return out.reshape(n, c, h * w, sizes[0]).transpose(2, 3).reshape(n, c, sizes[0], h, w)


def _sizes_and_scales(
    input: Tensor,  # noqa: A002
    size: Any,
    scale_factor: Any,
    spatial: int,
) -> tuple[list | None, list | None]:
    """The output sizes or the scale factors, one per spatial dimension (one is None)."""
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    name = "output size" if size is not None else "scale_factor of shape"
    given = size if size is not None else scale_factor
    if isinstance(given, (list, tuple)):
        if len(given) != spatial:
            what = "output size" if size is not None else "scale_factor"
            raise ValueError(
                f"interpolate: Input and {'output' if size is not None else 'scale_factor'} "
                f"must have the same number of spatial dimensions, but got input with spatial "
                f"dimensions of {list(input.shape[2:])} and {name} of {given}. Please provide "
                f"input tensor in (N, C, d1, d2, ...,dK) format and {what} in (o1, o2, ...,oK) "
                f"format."
            )
        values = list(given)
    else:
        values = [given] * max(spatial, 0)
    if size is not None:
        if not all(isinstance(v, (int, numpy.integer)) and not isinstance(v, bool) for v in values):
            raise TypeError(f"interpolate: size must be an int or a tuple of ints, got {size!r}")
        return [int(v) for v in values], None
    if not all(isinstance(v, (int, float, numpy.number)) for v in values):
        raise TypeError(
            f"interpolate: scale_factor must be a number or a tuple of numbers, "
            f"got {scale_factor!r}"
        )
    return None, [float(v) for v in values]


def _check_sizes(size_in: tuple, size_out: list) -> None:
    if all(n > 0 for n in size_in) and all(m > 0 for m in size_out):
        return
    names = ("D", "H", "W")[3 - len(size_in) :]
    shown_in = ", ".join(f"{a}: {n}" for a, n in zip(names, size_in))
    shown_out = ", ".join(f"{a}: {n}" for a, n in zip(names, size_out))
    raise InputShapeError(
        f"interpolate: Input and output sizes should be greater than 0, but got input "
        f"({shown_in}) and output ({shown_out})"
    )


def _on(like: Tensor, array: Any) -> Tensor:
    """A constant tensor of ``array`` where ``like``'s data lives (host or GPU)."""
    return Tensor(backend.module_of(like.array).asarray(array))


def _ratio(n_in: int, n_out: int, scale: float | None, precision: Any) -> Any:
    """Input positions per output position: 1/scale_factor where given (and positive), else
    in/out, rounded to ``precision``."""
    if scale is not None and scale > 0:
        return precision(1.0 / scale)
    return precision(n_in) / precision(n_out)


def _nearest_index(n_in: int, n_out: int, scale: float | None, exact: bool) -> Any:
    destination = numpy.arange(n_out)
    ratio = _ratio(n_in, n_out, scale, numpy.float32)
    if exact:  # (d + ½)·scale in double, then rounded to float32 before the floor
        source = numpy.floor(((destination + 0.5) * float(ratio)).astype(numpy.float32))
    elif n_out == n_in:  # PyTorch's exact paths, free of rounding
        return destination
    elif n_out == 2 * n_in:
        return destination >> 1
    else:
        source = numpy.floor(destination.astype(numpy.float32) * ratio)
    return numpy.minimum(source.astype(numpy.int64), n_in - 1)


def _source(n_in: int, n_out: int, scale: Any, align_corners: bool, precision: Any) -> Any:
    """The real source position of each output position, in ``precision``."""
    destination = numpy.arange(n_out).astype(precision)
    if align_corners:
        step = precision(n_in - 1) / precision(n_out - 1) if n_out > 1 else precision(0)
        return step * destination
    ratio = _ratio(n_in, n_out, scale, precision)
    return ratio * (destination + precision(0.5)) - precision(0.5)


def _linear(n_in: int, n_out: int, scale: Any, align_corners: bool, precision: Any) -> list:
    """(index, weight) pairs of the two neighbours of each output position."""
    source = numpy.maximum(_source(n_in, n_out, scale, align_corners, precision), precision(0))
    left = numpy.minimum(numpy.floor(source).astype(numpy.int64), n_in - 1)
    fraction = numpy.clip(source - left.astype(precision), 0, 1).astype(precision)
    right = left + (left < n_in - 1)
    return [(left, precision(1) - fraction), (right, fraction)]


def _cubic(n_in: int, n_out: int, scale: Any, align_corners: bool, precision: Any) -> list:
    """(index, weight) pairs of the four neighbours of each output position, Keys' kernel
    with a = −0.75 (PyTorch's and OpenCV's), the indices clamped to the border."""
    source = _source(n_in, n_out, scale, align_corners, precision)
    base = numpy.minimum(numpy.floor(source).astype(numpy.int64), n_in - 1)
    t = numpy.clip(source - base.astype(precision), 0, 1).astype(precision)
    a = precision(-0.75)

    def near(x: Any) -> Any:  # |x| ≤ 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Any) -> Any:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = precision(1)
    weights = [far(t + one), near(t), near(one - t), far(one - t + one)]
    return [
        (numpy.clip(base + offset, 0, n_in - 1), weight.astype(precision))
        for offset, weight in zip((-1, 0, 1, 2), weights)
    ]


def _weighted_gather(x: Tensor, axis: int, taps: list, like: Tensor) -> Tensor:
    """Σ_k weight_k[d] · x[…, index_k[d], …] along ``axis``."""
    view = (-1,) + (1,) * (x.ndim - axis - 1)
    out = None
    for index, weight in taps:
        term = index_select(x, axis, _on(like, index)) * _on(
            like, weight.astype(like.dtype)
        ).reshape(view)
        out = term if out is None else out + term
    return out
