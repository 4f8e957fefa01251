"""Resampling layers: PixelShuffle and PixelUnshuffle (channels to space and back), Upsample
and its two fixed-mode forms. They hold only their options; the math is in
:mod:`chainrule.nn.functional.resampling`."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.nn import functional as F
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

__all__ = [
    "PixelShuffle",
    "PixelUnshuffle",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r), r = ``upscale_factor``: see
    :func:`~chainrule.nn.functional.pixel_shuffle`.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.PixelShuffle(3)(cr.ones(1, 9, 4, 4)).shape
    chainrule.Size([1, 1, 12, 12])

    ```
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W), r = ``downscale_factor``: the inverse of
    :class:`PixelShuffle`.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.PixelUnshuffle(2)(cr.ones(1, 1, 4, 6)).shape
    chainrule.Size([1, 4, 2, 3])

    ```
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Upsample(Module):
    """Resamples (N, C, *spatial) to ``size`` or by ``scale_factor`` with
    :func:`~chainrule.nn.functional.interpolate` in ``mode`` (``nearest``, ``linear``,
    ``bilinear``, ``bicubic``, ``trilinear``, ``area``, ``nearest-exact``).

    ```pycon
    >>> import chainrule as cr
    >>> up = cr.nn.Upsample(scale_factor=2, mode='bilinear')
    >>> up
    Upsample(scale_factor=2.0, mode='bilinear')
    >>> up(cr.ones(1, 3, 4, 5)).shape
    chainrule.Size([1, 3, 8, 10])

    ```
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        # As PyTorch: factors kept as floats, and a zero factor counts as none given.
        if isinstance(scale_factor, tuple):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            shown = f"scale_factor={self.scale_factor!r}"
        else:
            shown = f"size={self.size!r}"
        return f"{shown}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W): ``Upsample(size, scale_factor,
    mode='nearest')``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.UpsamplingNearest2d(scale_factor=2)(cr.tensor([[[[1.0, 2.0]]]])).tolist()
    [[[[1.0, 1.0, 2.0, 2.0], [1.0, 1.0, 2.0, 2.0]]]]

    ```
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
    ) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) with the corners aligned: ``Upsample(size,
    scale_factor, mode='bilinear', align_corners=True)``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.UpsamplingBilinear2d(size=(1, 3))(cr.tensor([[[[1.0, 2.0]]]])).tolist()
    [[[[1.0, 1.5, 2.0]]]]

    ```
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale_factor: float | Sequence[float] | None = None,
    ) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
