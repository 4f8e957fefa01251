"""Adaptive max pooling: the maximum over each of an output_size grid of bins, for batched
(N, C, *spatial) and unbatched (C, *spatial) inputs.

The bins of one axis overlap and differ in length, so no strided view reads them; the position
of each bin's maximum is found on the raw arrays, and the values are then read with a gather,
whose gradient (a scatter-add, linear in the upstream gradient) differentiates again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn.input_checks import InputShapeError, check_input, require_tensor
from chainrule.tensor import Tensor

__all__ = ["adaptive_max_pool1d", "adaptive_max_pool2d"]

_size = int | Sequence[int | None]


def adaptive_max_pool1d(
    input: Tensor,  # noqa: A002
    output_size: int | Sequence[int],
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum over bins [⌊i·L/L_out⌋, ⌈(i+1)·L/L_out⌉): (N, C, L) → (N, C, L_out).

    The gradient goes to the first maximum of a bin; a bin holding NaN gives NaN (its last
    one), as PyTorch's kernel does. With ``return_indices`` also each maximum's position in L.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[[1.0, 5.0, 2.0, 0.0, 3.0]]])
    >>> F.adaptive_max_pool1d(x, 2).tolist()
    [[[5.0, 3.0]]]
    >>> F.adaptive_max_pool1d(x, 2, return_indices=True)[1].tolist()
    [[[1, 4]]]

    ```
    """
    op = "adaptive_max_pool1d"
    if not isinstance(output_size, int):
        if not _is_seq(output_size) or len(output_size) != 1:
            raise InputShapeError(
                f"{op}() argument 'output_size' should contain one int (got "
                f"{len(output_size) if _is_seq(output_size) else output_size!r})"
            )
        output_size = output_size[0]
    return _adaptive_max_pool(op, 1, input, (output_size,), return_indices)


def adaptive_max_pool2d(
    input: Tensor,  # noqa: A002
    output_size: _size,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum over an output_size grid of bins: (N, C, H, W) → (N, C, H_out, W_out).

    Bin i along H covers rows [⌊i·H/H_out⌋, ⌈(i+1)·H/H_out⌉); None keeps that dimension's
    size. The gradient goes to a bin's first maximum in row-major order. With
    ``return_indices`` also each maximum's flat position h·W + w (int64).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.arange(9.0).reshape(1, 1, 3, 3)
    >>> F.adaptive_max_pool2d(x, 2).tolist()
    [[[[4.0, 5.0], [7.0, 8.0]]]]
    >>> F.adaptive_max_pool2d(x, (1, None)).shape
    chainrule.Size([1, 1, 1, 3])

    ```
    """
    op = "adaptive_max_pool2d"
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size, output_size)
    if not _is_seq(output_size) or len(output_size) != 2:
        raise OpError(f"{op}: output_size must be an int or a tuple of 2 ints, got {output_size!r}")
    return _adaptive_max_pool(op, 2, input, tuple(output_size), return_indices)


def _is_seq(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _adaptive_max_pool(
    op: str, spatial: int, x: Tensor, output_size: tuple, return_indices: bool
) -> Tensor | tuple[Tensor, Tensor]:
    require_tensor(x, op)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise InputShapeError(
            f"{op}(): Expected {spatial + 1}D or {spatial + 2}D tensor, but got: {list(x.shape)}"
        )
    check_input(op, x, floating=True)
    size = tuple(x.shape[-spatial:])
    out_size = tuple(n if m is None else m for n, m in zip(size, output_size))
    if not all(isinstance(m, int) and m >= 0 for m in out_size):
        raise OpError(f"{op}: output_size must hold non-negative ints, got {output_size!r}")
    first = 1 if x.ndim == spatial + 2 else 0  # only a batch dimension may be empty
    for axis in range(first, x.ndim):
        if x.shape[axis] == 0:
            raise InputShapeError(
                f"{op}(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {list(x.shape)} with dimension {axis} being empty"
            )
    positions = backend.computed_on(x.array, _max_positions, x.array, size, out_size)
    lead = tuple(x.shape[:-spatial])
    flat_in = x.reshape(*lead, -1)
    flat_positions = positions.reshape(*lead, -1)
    out = flat_in.gather(-1, Tensor(flat_positions)).reshape(*lead, *out_size)
    if return_indices:
        return out, Tensor(positions.astype(dtypes.int64))
    return out


def _bins(size: int, out: int) -> Any:
    """(out, K) positions of each bin along one axis; a bin shorter than the longest, K,
    repeats its last position, which leaves both its maximum and its first maximum alone."""
    xp = backend.xp
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)  # ceil((i + 1)·size / out) in integers
    width = int((end - start).max()) if out else 1
    return xp.minimum(start[:, None] + xp.arange(width), end[:, None] - 1)


def _max_positions(x: Any, size: tuple, out_size: tuple) -> Any:
    """The flat position (within the spatial axes) of each bin's maximum, picked as PyTorch's
    kernel picks it: the first largest value in row-major order, or the last NaN."""
    xp = backend.xp
    lead = x.shape[: x.ndim - len(size)]
    if 0 in out_size or 0 in lead:
        return xp.zeros((*lead, *out_size), dtype=dtypes.int64)
    if len(size) == 1:
        flat = _bins(size[0], out_size[0])  # (L_out, K): positions along L are already flat
    else:
        rows, cols = _bins(size[0], out_size[0]), _bins(size[1], out_size[1])
        # (H_out, W_out, Kh·Kw) flat positions h·W + w, read row-major within each bin
        flat = rows[:, None, :, None] * size[1] + cols[None, :, None, :]
        flat = flat.reshape(out_size[0], out_size[1], -1)
    values = x.reshape(*lead, -1)[..., flat]  # (*lead, *out_size, K)
    nan = xp.isnan(values)
    first_max = xp.argmax(xp.where(nan, -xp.inf, values), axis=-1)
    last_nan = values.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
    pick = xp.where(nan.any(axis=-1), last_nan, first_max)
    return xp.take_along_axis(xp.broadcast_to(flat, values.shape), pick[..., None], -1)[..., 0]
