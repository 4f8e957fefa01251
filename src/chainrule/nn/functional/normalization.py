"""Batch norm, instance norm, layer norm and group norm: checks and running statistics around
the fused operations of ``ops.norm``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.autograd.grad_mode import is_grad_enabled
from chainrule.nn.input_checks import InputShapeError, check_input, require_tensor
from chainrule.ops import elementwise, norm
from chainrule.ops.division import rsqrt
from chainrule.ops.vector_norm import vector_norm
from chainrule.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "normalize", "rms_norm"]


def _data(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else value


def _check_channels(value: Any, name: str, channels: int, shape: tuple, where: str) -> None:
    if value is not None and tuple(value.shape) != (channels,):
        raise OpError(
            f"{where}: {name} must have shape ({channels},) for input of shape {shape} "
            f"({channels} channels), got {tuple(value.shape)}"
        )


def batch_norm(
    input: Tensor,  # noqa: A002
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = γ (x − μ)/√(σ² + ε) + β per channel, for x of shape (N, C, *).

    In ``training`` mode μ and σ² are the batch's statistics over N and * (biased variance),
    and the running statistics, where given, are updated in place:
    r ← (1 − momentum)·r + momentum·s, with the unbiased variance σ²·M/(M − 1) for
    ``running_var`` (M values per channel). Otherwise the running statistics are used, and the
    gradient treats them as constants. ``weight`` γ and ``bias`` β are (C,) or None.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[1.0, 10.0], [3.0, 30.0]])  # (N, C) = (2, 2)
    >>> y = F.batch_norm(x, None, None, training=True)
    >>> [[round(v, 3) for v in row] for row in y.tolist()]
    [[-1.0, -1.0], [1.0, 1.0]]

    ```
    """
    where = "batch_norm"
    used = running_mean if isinstance(running_mean, Tensor) else None
    check_input(where, input, weight, bias, used, floating=True)
    if input.ndim < 2:
        raise OpError(f"{where}: expected input of shape (N, C, *), got {input.shape}")
    channels = input.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        _check_channels(value, name, channels, input.shape, where)
    for name, value in (("weight", weight), ("bias", bias)):
        _check_channels(value, name, channels, input.shape, where)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(
                f"{where}: running_mean and running_var are required when training=False"
            )
        mean, var = _data(running_mean), _data(running_var)
        return norm.BatchNorm.apply(input, mean, var, weight, bias, eps=eps, batch_stats=False)
    count = input.array.size // channels if channels else 0
    if count == 1:
        raise ValueError(
            f"{where}: expected more than 1 value per channel when training, got input of "
            f"shape {input.shape}"
        )
    if count == 0:  # an empty batch: an empty result, running statistics untouched (PyTorch)
        xp = backend.xp
        neutral_mean = xp.zeros(channels, dtype=input.dtype)
        neutral_var = xp.ones(channels, dtype=input.dtype)
        return norm.BatchNorm.apply(
            input, neutral_mean, neutral_var, weight, bias, eps=eps, batch_stats=False
        )
    mean, var = backend.computed_on(input.array, norm.batch_statistics, input.array)
    if running_mean is not None or running_var is not None:
        if momentum is None:
            raise TypeError(
                f"{where}: momentum must be a number, got {momentum!r} (a cumulative average "
                "needs the batch count: BatchNorm modules handle momentum=None)"
            )
        _blend(running_mean, mean, momentum)
        _blend(running_var, var * (count / (count - 1)), momentum)
    return norm.BatchNorm.apply(input, mean, var, weight, bias, eps=eps, batch_stats=True)


def _blend(running: Tensor | None, batch: Any, momentum: float) -> None:
    """running ← (1 − momentum)·running + momentum·batch, in place (a buffer, no graph)."""
    if running is None:
        return
    data = _data(running)
    data *= 1 - momentum
    data += backend.module_of(data).asarray(batch * momentum, dtype=data.dtype)


def instance_norm(
    input: Tensor,  # noqa: A002
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = γ (x − μ)/√(σ² + ε) + β for x of shape (N, C, *), with μ and σ² (biased) of each
    sample's each channel over * (Ulyanov et al., 2016); ``weight`` γ and ``bias`` β are (C,)
    or None.

    With ``use_input_stats`` (the default) the statistics are the input's own and the running
    statistics, where given, move towards their mean over the batch: r ← (1 − momentum)·r +
    momentum·mean_n(s_n), the variance unbiased (M values per channel: σ²·M/(M − 1)).
    Otherwise the running statistics normalise every sample, as constants.
    ∂C/∂x is group norm's with one channel per group.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0, 3.0], [10.0, 30.0]]])  # (N, C, L) = (1, 2, 2)
    >>> [[round(v, 3) for v in row] for row in F.instance_norm(x)[0].tolist()]
    [[-1.0, 1.0], [-1.0, 1.0]]

    ```
    """
    where = "instance_norm"
    check_input(where, input, floating=True, weight=weight, bias=bias)
    if input.ndim < 2:
        raise OpError(f"{where}: expected input of shape (N, C, *), got {input.shape}")
    channels = input.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        _check_channels(value, name, channels, input.shape, where)
    for name, value in (("weight", weight), ("bias", bias)):
        _check_channels(value, name, channels, input.shape, where)
    if weight is not None:
        # PyTorch repeats γ for every sample, a copy: γ written in place after the call leaves
        # the backward alone there, and so here (found by the in-place fuzzer).
        weight = weight.clone()
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(
                f"{where}: running_mean and running_var are required when use_input_stats=False"
            )
        mean, var = _data(running_mean), _data(running_var)
        return norm.BatchNorm.apply(input, mean, var, weight, bias, eps=eps, batch_stats=False)
    size = math.prod(input.shape[2:])
    if size == 1:
        raise ValueError(
            f"{where}: expected more than 1 spatial element when using the input's statistics, "
            f"got input of shape {input.shape}"
        )
    batch = input.shape[0]
    rows = input.reshape(batch, channels, size)
    if running_mean is not None or running_var is not None:
        # Each (sample, channel) row's own statistics, averaged over the batch.
        mean = rows.array.mean(axis=2, dtype=rows.dtype)
        var = rows.array.var(axis=2, dtype=rows.dtype) * (size / (size - 1))
        _blend(running_mean, mean.mean(axis=0), momentum)
        _blend(running_var, var.mean(axis=0), momentum)
    out = norm.LayerNorm.apply(rows, None, None, normalized_ndim=1, eps=eps).reshape(input.shape)
    return _affine(out, weight, bias)


def _affine(out: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """out·γ + β with per-channel (C,) γ and β broadcast over (N, C, *)."""
    view = (1, out.shape[1]) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(view)
    if bias is not None:
        out = out + bias.reshape(view)
    return out


def layer_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = γ (x − μ)/√(σ² + ε) + β with μ, σ² (biased) over the trailing ``normalized_shape``
    dimensions of each sample; ``weight`` γ and ``bias`` β have shape ``normalized_shape``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    >>> [[round(v, 3) for v in row] for row in F.layer_norm(x, (3,)).tolist()]
    [[-1.225, 0.0, 1.225], [-1.225, 0.0, 1.225]]

    ```
    """
    where = "layer_norm"
    check_input(where, input, floating=True, weight=weight, bias=bias)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(shape)
    if count == 0 or input.ndim < count or input.shape[input.ndim - count :] != shape:
        raise OpError(
            f"{where}: input of shape {input.shape} does not end with normalized_shape "
            f"{list(shape)}; expected (*, {', '.join(map(str, shape))})"
        )
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != shape:
            raise OpError(
                f"{where}: {name} must have normalized_shape {shape}, got {tuple(value.shape)}"
            )
    return norm.LayerNorm.apply(input, weight, bias, normalized_ndim=count, eps=eps)


def group_norm(
    input: Tensor,  # noqa: A002
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = γ (x − μ)/√(σ² + ε) + β for x of shape (N, C, *), with μ and σ² (biased) per sample
    and per group of C/G consecutive channels, over the group's channels and *; ``weight`` γ
    and ``bias`` β are (C,) or None. The result has the shape of x.

    ∂C/∂x = (g − mean(g) − x̂ mean(g x̂))/σ with g = γ ∂C/∂y and means over each group;
    ∂C/∂γ = Σ ∂C/∂y x̂, ∂C/∂β = Σ ∂C/∂y with sums over N and *.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0], [3.0], [10.0], [30.0]]])  # (N, C, L) = (1, 4, 1)
    >>> [round(v, 3) for v in F.group_norm(x, num_groups=2).reshape(-1).tolist()]
    [-1.0, 1.0, -1.0, 1.0]

    ```
    """
    where = "group_norm"
    check_input(where, input, floating=True, weight=weight, bias=bias)
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"{where}: num_groups must be a positive int, got {num_groups!r}")
    if input.ndim < 2:
        raise OpError(f"{where}: expected input of shape (N, C, *), got {input.shape}")
    batch, channels = input.shape[0], input.shape[1]
    if channels % num_groups:
        raise OpError(
            f"{where}: the {channels} channels of input of shape {input.shape} cannot be split "
            f"into num_groups={num_groups} equal groups"
        )
    for name, value in (("weight", weight), ("bias", bias)):
        _check_channels(value, name, channels, input.shape, where)
    # Each (sample, group) is one row of its C/G channels times the trailing positions: layer
    # norm over that row is group norm, and its fused backward is the closed form above.
    width = channels // num_groups * math.prod(input.shape[2:])
    rows = input.reshape(batch, num_groups, width)
    out = norm.LayerNorm.apply(rows, None, None, normalized_ndim=1, eps=eps).reshape(input.shape)
    return _affine(out, weight, bias)


def normalize(
    input: Tensor,  # noqa: A002
    p: float = 2.0,
    dim: int = 1,
    eps: float = 1e-12,
    out: Tensor | None = None,
) -> Tensor:
    """x / max(‖x‖ₚ, ε) with the p-norm taken along ``dim``: every vector along ``dim`` scaled
    to unit length (zero vectors stay zero). The result has the shape of ``input``; where
    the norm is below ε its gradient is that of x/ε (the floor is a clamp, as in PyTorch).
    ``out``, where given, receives the result (of the same shape; no gradient flows through it).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=cr.float64)
    >>> F.normalize(x).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    >>> F.normalize(x, p=1.0, dim=1)[0].tolist()
    [0.42857142857142855, 0.5714285714285714]

    ```
    """
    require_tensor(input, "normalize")
    rank = max(input.ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"normalize: Dimension out of range (expected to be in range of [{-rank}, "
            f"{rank - 1}], but got {dim})"
        )
    norms = elementwise.clamp(vector_norm(input, p, dim, keepdim=True), min=eps)
    if out is None:
        return input / norms
    require_tensor(out, "normalize", "out", 5)
    if is_grad_enabled() and (input.requires_grad or out.requires_grad):
        raise RuntimeError(
            "normalize(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    result = input / norms
    if out.shape != result.shape:  # PyTorch resizes a mismatched out (deprecated there)
        raise OpError(
            f"normalize: out has shape {out.shape} but the result has shape {result.shape}"
        )
    out.array[...] = result.array
    return out


def rms_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """y = x / √(mean(x²) + ε) · γ, the mean over the trailing ``normalized_shape`` dimensions
    of each sample (Zhang & Sennrich, 2019: layer norm without centring or shift); ``weight``
    γ has shape ``normalized_shape`` or is None. ε = None means the machine epsilon of the
    input's dtype (float32's for float16 and bfloat16, which are computed in float32, as in
    PyTorch). The result has the shape and dtype of ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> y = F.rms_norm(cr.tensor([[3.0, 4.0], [1.0, 1.0]]), (2,), eps=0.0)
    >>> [[round(v, 4) for v in row] for row in y.tolist()]
    [[0.8485, 1.1314], [1.0, 1.0]]

    ```
    """
    where = "rms_norm"
    check_input(where, input, floating=True)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(shape)
    if count == 0:
        raise InputShapeError(
            f"{where}: Expected normalized_shape to be at least 1-dimensional, i.e., containing "
            f"at least one element, but got normalized_shape = {list(shape)}"
        )
    if input.ndim < count or input.shape[input.ndim - count :] != shape:
        raise InputShapeError(
            f"{where}: Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}"
        )
    if weight is not None and tuple(weight.shape) != shape:
        raise InputShapeError(
            f"{where}: Expected weight to be of same shape as normalized_shape, but got weight "
            f"of shape {list(weight.shape)} and normalized_shape = {list(shape)}"
        )
    wide = "float64" if input.dtype.name == "float64" else "float32"
    if eps is None:
        eps = float(numpy.finfo(wide).eps)
    x = input if input.dtype.name == wide else input.to(wide)
    axes = tuple(range(-count, 0))
    scale = rsqrt((x * x).mean(dim=axes, keepdim=True) + eps)
    out = x * scale
    if weight is not None:  # applied in the wide dtype too: one rounding at the end
        out = out * (weight if weight.dtype == out.dtype else weight.to(out.dtype))
    return out if out.dtype == input.dtype else out.to(input.dtype)
