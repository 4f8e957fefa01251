"""Normalisation layers: BatchNorm1d, BatchNorm2d, BatchNorm3d (with running statistics),
InstanceNorm1d, InstanceNorm2d and InstanceNorm3d, LayerNorm, RMSNorm and GroupNorm."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.input_checks import check_input
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def _scale_and_shift(
    module: Module, shape: tuple[int, ...], scale: bool, shift: bool, dtype: Any
) -> None:
    """Register γ (``weight``, ones) and β (``bias``, zeros) of ``shape``, or None for each
    that the layer goes without, as PyTorch's normalisation layers do."""
    dtype = dtypes.to_dtype(dtype)
    if scale:
        module.weight = Parameter(backend.xp.ones(shape, dtype=dtype))
    else:
        module.register_parameter("weight", None)
    if scale and shift:
        module.bias = Parameter(backend.xp.zeros(shape, dtype=dtype))
    else:
        module.register_parameter("bias", None)


def _reset_scale_and_shift(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """y = γ (x − μ)/√(σ² + ε) + β per channel of x (N, C, *).

    Training: μ, σ² are the batch's statistics, and the buffers ``running_mean`` and
    ``running_var`` (unbiased) move towards them: r ← (1 − momentum)·r + momentum·s, or with
    ``momentum=None`` the plain average of all batches so far (``num_batches_tracked`` counts
    them). Eval: the running statistics are used, unless ``track_running_stats`` is false, in
    which case there are none and the batch's own statistics are used in both modes.
    ``weight`` γ starts at 1 and ``bias`` β at 0 (learnable if ``affine``).
    """

    _expected_shapes: tuple[tuple[str, ...], ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.has_bias = affine and bias
        _scale_and_shift(self, (num_features,), affine, bias, dtype)
        dtype = dtypes.to_dtype(dtype)
        xp = backend.xp
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype)))
            count = Tensor(xp.zeros((), dtype=dtypes.int64))
            self.register_buffer("num_batches_tracked", count)
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)
        self.reset_parameters()
        self._place(device)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_scale_and_shift(self)

    def _check_input(self, input: Tensor) -> None:  # noqa: A002
        shapes = self._expected_shapes
        if (
            input.ndim not in [len(shape) for shape in shapes]
            or input.shape[1] != self.num_features
        ):
            described = " or ".join(
                "(" + ", ".join(shape).replace("C", str(self.num_features)) + ")"
                for shape in shapes
            )
            raise OpError(
                f"{type(self).__name__}({self.num_features}): expected input of shape "
                f"{described}, got {input.shape}"
            )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        # The running statistics take part in eval mode, and in training when they are tracked.
        used = self.running_mean if not self.training or self.track_running_stats else None
        check_input(self, input, self.weight, self.bias, used, floating=True)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # the cumulative average: batch k weighs 1/k
                factor = 1.0 / int(self.num_batches_tracked.array)
        # Without running statistics the batch's own are used in eval mode too.
        use_batch = self.training or self.running_mean is None
        return F.batch_norm(
            input,
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.has_bias}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L): statistics per channel over N (and L).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> bn = cr.nn.BatchNorm1d(3)
    >>> y = bn(cr.randn(8, 3))  # training: normalised with the batch's statistics
    >>> y.shape, bool(y.mean(0).abs().max() < 1e-5), bn.running_mean.shape
    (chainrule.Size([8, 3]), True, chainrule.Size([3]))

    ```
    """

    _expected_shapes = (("N", "C"), ("N", "C", "L"))


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W): statistics per channel over N, H and W.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.nn.BatchNorm2d(4)(cr.randn(2, 4, 5, 5)).shape
    chainrule.Size([2, 4, 5, 5])

    ```
    """

    _expected_shapes = (("N", "C", "H", "W"),)


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W): statistics per channel over N, D, H and W.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> bn = cr.nn.BatchNorm3d(2)
    >>> y = bn(cr.randn(2, 2, 3, 4, 5))
    >>> y.shape, bool(y.mean((0, 2, 3, 4)).abs().max() < 1e-5)
    (chainrule.Size([2, 2, 3, 4, 5]), True)

    ```
    """

    _expected_shapes = (("N", "C", "D", "H", "W"),)


class _InstanceNorm(_BatchNorm):
    """y = γ (x − μ)/√(σ² + ε) + β with μ, σ² (biased) of each sample's each channel over its
    spatial positions (Ulyanov et al., 2016), for (N, C, *spatial) or unbatched (C, *spatial).

    PyTorch's defaults differ from batch norm's: no ``affine`` γ, β and no running statistics.
    With ``track_running_stats`` the buffers follow the batch's mean statistics in training
    and normalise in eval mode; without, the input's own statistics are used in both modes.
    ``num_batches_tracked`` is registered but, as in PyTorch, never counted.
    """

    _spatial: int

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias
        )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        # PyTorch checks the running statistics' dtype against neither kind of input.
        check_input(self, input, self.weight, self.bias, floating=True)
        n = self._spatial
        if input.ndim not in (n + 1, n + 2):
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected {n + 1}-D or {n + 2}-D "
                f"input, got {input.ndim}-D input of shape {input.shape}"
            )
        channels = input.shape[-n - 1]
        if channels != self.num_features:
            message = (
                f"{type(self).__name__}({self.num_features}): expected input with "
                f"{self.num_features} channels at dimension {input.ndim - n - 1}, got shape "
                f"{input.shape}"
            )
            if self.affine or self.track_running_stats:
                raise ValueError(message)
            # Nothing per channel to apply: PyTorch normalises anyway, with a warning.
            warnings.warn(message + " (num_features is unused: affine=False)", stacklevel=2)
        batched = input.ndim == n + 2
        x = input if batched else input.unsqueeze(0)
        out = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            0.0 if self.momentum is None else self.momentum,
            self.eps,
        )
        return out if batched else out.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm over (N, C, L) or (C, L): statistics per sample and channel over L.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.nn.InstanceNorm1d(3)(cr.randn(2, 3, 10)).shape
    chainrule.Size([2, 3, 10])

    ```
    """

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm over (N, C, H, W) or (C, H, W): statistics per sample and channel over
    H and W (style transfer's normalisation).

    ```pycon
    >>> from chainrule import randn
    >>> InstanceNorm2d(3)(randn(8, 3, 32, 32)).shape
    chainrule.Size([8, 3, 32, 32])

    ```
    """

    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance norm over (N, C, D, H, W) or (C, D, H, W).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.nn.InstanceNorm3d(2)(cr.randn(1, 2, 3, 4, 5)).shape
    chainrule.Size([1, 2, 3, 4, 5])

    ```
    """

    _spatial = 3


class LayerNorm(Module):
    """y = γ (x − μ)/√(σ² + ε) + β with μ, σ² over the trailing ``normalized_shape``
    dimensions of each sample (Ba et al., 2016); γ, β of that shape start at 1 and 0.

    ```pycon
    >>> import chainrule as cr
    >>> y = cr.nn.LayerNorm(4)(cr.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> [round(v, 4) for v in y[0].tolist()]
    [-1.3416, -0.4472, 0.4472, 1.3416]

    ```
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.has_bias = elementwise_affine and bias
        _scale_and_shift(self, self.normalized_shape, elementwise_affine, bias, dtype)
        self._place(device)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        check_input(self, input, self.weight, self.bias, floating=True)
        count = len(self.normalized_shape)
        if input.ndim < count or input.shape[input.ndim - count :] != self.normalized_shape:
            raise OpError(
                f"LayerNorm({self.normalized_shape}): expected input of shape "
                f"(*, {', '.join(map(str, self.normalized_shape))}), got {input.shape}"
            )
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.has_bias}"
        )


class RMSNorm(Module):
    """y = x / √(mean(x²) + ε) · γ with the mean over the trailing ``normalized_shape``
    dimensions of each sample (Zhang & Sennrich, 2019); γ (``weight``, of that shape) starts
    at 1. ``eps=None`` means the machine epsilon of the input's dtype.

    ```pycon
    >>> import chainrule as cr
    >>> norm = cr.nn.RMSNorm(2)
    >>> norm
    RMSNorm((2,), eps=None, elementwise_affine=True)
    >>> [round(v, 4) for v in norm(cr.tensor([[3.0, 4.0]]))[0].tolist()]
    [0.8485, 1.1314]

    ```
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            ones = backend.xp.ones(self.normalized_shape, dtype=dtypes.to_dtype(dtype))
            self.weight = Parameter(ones)
        else:
            self.register_parameter("weight", None)
        self._place(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        check_input(self, input, floating=True)
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class GroupNorm(Module):
    """y = γ (x − μ)/√(σ² + ε) + β for x of shape (N, C, *), with μ and σ² (biased) per sample
    and per group of C/G consecutive channels (Wu & He, 2018); γ, β of shape (C,) start at 1
    and 0. The same in training and eval mode: no running statistics.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.nn.GroupNorm(2, 4)(cr.randn(3, 4, 5)).shape  # 2 groups of 2 channels
    chainrule.Size([3, 4, 5])

    ```
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        for what, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GroupNorm: {what} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        self.has_bias = affine and bias
        _scale_and_shift(self, (num_channels,), affine, bias, dtype)
        self._place(device)

    def reset_parameters(self) -> None:
        _reset_scale_and_shift(self)

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        check_input(self, input, self.weight, self.bias, floating=True)
        name = f"GroupNorm({self.num_groups}, {self.num_channels})"
        # PyTorch's conditions: at least (N, C); C must be num_channels only when there are
        # per-channel weights to apply, and divisible by num_groups in any case.
        if input.ndim < 2 or (self.affine and input.shape[1] != self.num_channels):
            raise OpError(
                f"{name}: expected input of shape (N, {self.num_channels}, *), got {input.shape}"
            )
        if input.shape[1] % self.num_groups:
            raise OpError(
                f"{name}: the {input.shape[1]} channels of input of shape {input.shape} cannot "
                f"be split into {self.num_groups} equal groups"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
            f"affine={self.affine}, bias={self.has_bias}"
        )
