"""Quantiles: ``quantile`` and ``nanquantile`` (nan left out), by sorting and interpolating
between the two order statistics around rank q·(n − 1).

A composition of sort, gather and lerp with constant ranks and weights, so the gradient goes
to the one or two elements that the quantile reads, weighted as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError, not_a_tensor
from chainrule.ops.fused_arithmetic import lerp
from chainrule.ops.indexing import gather
from chainrule.ops.movement import normalise_axis
from chainrule.ops.sorting import sort
from chainrule.tensor import Tensor

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _checked_q(q: Any, input: Tensor, where: str) -> tuple[Any, bool]:  # noqa: A002
    """q as an array of the input's dtype (at most 1-d), and whether it was a scalar."""
    xp = backend.xp
    dtype = input.array.dtype
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise OpError(f"{where}() q must be a scalar or 1D tensor, got {q.ndim}D")
        if q.array.dtype != dtype:
            raise OpError(
                f"{where}() q tensor must be same dtype as the input tensor, got {q.dtype} and "
                f"{input.dtype}"
            )
        values, scalar = q.array, q.ndim == 0
    elif isinstance(q, (int, float)) and not isinstance(q, bool):
        values, scalar = xp.asarray(q, dtype=dtype), True
    elif isinstance(q, Sequence):
        values, scalar = xp.asarray(q, dtype=dtype), False
    else:
        raise not_a_tensor(where, "q", q)
    if values.size and not bool(((values >= 0) & (values <= 1)).all()):
        raise OpError(f"{where}() q values must be in the range [0, 1]")
    return values.reshape(-1), scalar


def _quantile(
    input: Tensor,  # noqa: A002
    q: Any,
    dim: int | None,
    keepdim: bool,
    interpolation: str,
    skip_nan: bool,
) -> Tensor:
    where = "nanquantile" if skip_nan else "quantile"
    if not isinstance(input, Tensor):
        raise not_a_tensor(where, "input", input)
    if not dtypes.is_floating(input.array.dtype):
        raise OpError(f"{where}() input tensor must be either float or double dtype")
    if interpolation not in INTERPOLATIONS:
        raise OpError(
            f"{where}() interpolation must be one of {', '.join(INTERPOLATIONS)}. Got "
            f"'{interpolation}'"
        )
    if input.numel() == 0:
        raise OpError(f"{where}() input tensor must be non-empty")
    qs, scalar = _checked_q(q, input, where)
    xp = backend.module_of(input.array)  # ranks and indices on the input's device
    qs = xp.asarray(qs)
    # Along the last axis, nan sorted to the end of each slice.
    if dim is None:
        rows = input.reshape(-1)
        kept_shape = [1] * input.ndim if keepdim else []
    else:
        axis = normalise_axis(dim, max(input.ndim, 1), where)
        rows = input.reshape(1) if input.ndim == 0 else input.movedim(axis, -1)
        kept_shape = list(input.shape)
        if keepdim:
            kept_shape[axis] = 1
        elif input.ndim:
            del kept_shape[axis]
    ordered = sort(rows, -1).values
    n = ordered.shape[-1]
    missing = xp.isnan(ordered.array)
    if skip_nan:
        last = (n - missing.sum(-1, keepdims=True)).astype(qs.dtype) - 1
        unreadable = last < 0  # every element nan: the answer is nan
    else:
        last = xp.full(missing.shape[:-1] + (1,), n - 1, dtype=qs.dtype)
        unreadable = missing.any(-1, keepdims=True)  # a nan among them: the answer is nan
    # The ranks (Q, …, 1), in the input's precision, as PyTorch computes them.
    ranks = qs.reshape((-1,) + (1,) * ordered.ndim) * last
    ranks = xp.where(unreadable, xp.asarray(n - 1, dtype=qs.dtype), ranks)
    if interpolation == "nearest":
        ranks = xp.round(ranks)  # half to even, as torch.round
    below = xp.floor(ranks)
    above = xp.minimum(xp.ceil(ranks), n - 1)
    if interpolation in ("lower", "nearest"):
        above = below
    elif interpolation == "higher":
        below = above
    weight = ranks - below
    if interpolation == "midpoint":
        weight = xp.where(weight > 0, xp.asarray(0.5, dtype=qs.dtype), weight)
    source = ordered.unsqueeze(0).expand(len(qs), *ordered.shape)
    index_shape = (len(qs), *ordered.shape[:-1], 1)

    def picked(positions: Any) -> Tensor:
        index = xp.broadcast_to(positions.astype(xp.int64), index_shape)
        return gather(source, -1, Tensor._make(xp.ascontiguousarray(index), False, None))

    low = picked(below)
    out = (
        low
        if interpolation in ("lower", "higher", "nearest")
        else lerp(
            low,
            picked(above),
            Tensor._make(xp.broadcast_to(weight, index_shape).copy(), False, None),
        )
    )
    out = out.reshape(len(qs), *kept_shape)
    return out.reshape(*kept_shape) if scalar else out


def quantile(
    input: Tensor,  # noqa: A002
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The q-th quantiles of input along ``dim`` (all elements by default): for each q in
    [0, 1] (a number or a 1-d tensor, whose axis comes first in the result) the value at rank
    q·(n − 1) of the sorted slice, between two neighbours by ``interpolation`` (linear, lower,
    higher, midpoint or nearest). A slice holding nan gives nan.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.quantile(cr.tensor([1.0, 2.0, 3.0, 4.0]), 0.4).item(), 4)
    2.2
    >>> cr.quantile(cr.tensor([1.0, 2.0, 3.0, 10.0]), cr.tensor([0.5, 1.0])).tolist()
    [2.5, 10.0]

    ```
    """
    return _quantile(input, q, dim, keepdim, interpolation, skip_nan=False)


def nanquantile(
    input: Tensor,  # noqa: A002
    q: Any,
    dim: int | None = None,
    keepdim: bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """:func:`quantile` of the elements that are not nan (nan where a slice holds only nan).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nanquantile(cr.tensor([1.0, float("nan"), 3.0]), 0.5).item()
    2.0

    ```
    """
    return _quantile(input, q, dim, keepdim, interpolation, skip_nan=True)
