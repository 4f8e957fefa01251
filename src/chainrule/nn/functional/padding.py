"""Padding: ``pad`` with a constant (or cropping, with negative widths), or by reflecting,
replicating or wrapping the border; the operations are in :mod:`chainrule.ops.padding`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.nn.input_checks import InputShapeError, require_tensor
from chainrule.ops.padding import ConstantPad, IndexPad
from chainrule.tensor import Tensor

__all__ = ["pad"]

MODES = ("constant", "reflect", "replicate", "circular")


def _index_map(size: int, before: int, after: int, mode: str) -> Any:
    """For each output position along one axis, the input index it copies."""
    xp = backend.xp
    position = xp.arange(-before, size + after)
    if mode == "replicate":
        return xp.clip(position, 0, size - 1)
    if mode == "circular":
        return position % size
    # reflect about the first and last elements (not repeating them): −1 → 1, size → size − 2
    last = size - 1
    return last - xp.abs(last - xp.abs(position))


def pad(
    input: Tensor,  # noqa: A002
    pad: Sequence[int],
    mode: str = "constant",
    value: float | None = None,
) -> Tensor:
    """Pad the last len(pad)/2 dimensions of ``input``: ``pad`` = (left, right) for the last
    dimension, then (top, bottom) for the one before, and so on, as PyTorch orders it.

    ``constant`` fills with ``value`` (0 by default); ``reflect`` mirrors about the edge,
    ``replicate`` repeats the edge, ``circular`` wraps around. These three pad 1 to 3 trailing
    dimensions of an input with one or two leading (batch, channel) dimensions more. A negative
    width crops, in every mode (``circular`` crops first and wraps what is left, as PyTorch
    does).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> x = cr.tensor([[1.0, 2.0]])
    >>> F.pad(x, (1, 2)).tolist()
    [[0.0, 1.0, 2.0, 0.0, 0.0]]
    >>> F.pad(x, (0, 0, 1, 0), value=9.0).tolist()  # (top, bottom) of the first dimension
    [[9.0, 9.0], [1.0, 2.0]]
    >>> F.pad(cr.tensor([[[1.0, 2.0, 3.0]]]), (2, 0), mode='reflect').tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0]]]

    ```
    """
    where = "pad"
    require_tensor(input, where)
    widths = [int(w) for w in pad]
    if len(widths) % 2:
        raise OpError(f"{where}: pad must have an even length (pairs), got {len(widths)}")
    padded = len(widths) // 2
    if padded > input.ndim:
        raise OpError(
            f"{where}: pad {tuple(widths)} has {padded} pairs but the input has only "
            f"{input.ndim} dimensions (shape {input.shape})"
        )
    pairs = [(0, 0)] * (input.ndim - padded)
    pairs += [(widths[2 * k], widths[2 * k + 1]) for k in reversed(range(padded))]
    if mode not in MODES:
        raise ValueError(f"{where}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "constant":
        for axis, (n, (before, after)) in enumerate(zip(input.shape, pairs)):
            if n + before + after < 0:
                raise OpError(
                    f"{where}: padding {(before, after)} leaves dimension {axis} of input "
                    f"{input.shape} with a negative size {n + before + after}"
                )
        return ConstantPad.apply(input, widths=tuple(pairs), value=0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f"{where}: value={value} is only meaningful for mode='constant'")
    if not 1 <= padded <= 3 or input.ndim not in (padded + 1, padded + 2):
        raise OpError(
            f"{where}: mode {mode!r} pads 1 to 3 trailing dimensions of an input with one or two "
            f"more (batch, channel) dimensions; got pad {tuple(widths)} for input {input.shape}"
        )
    for axis, (size, (before, after)) in enumerate(zip(input.shape, pairs)):
        if (before, after) != (0, 0):
            _check_mode_widths(mode, size, before, after, axis, input.shape)
    # Negative widths crop. PyTorch's circular mode crops first and wraps what is left; the
    # other two read their border from the whole input, so they pad first and crop after.
    crops = tuple((min(before, 0), min(after, 0)) for before, after in pairs)
    cropping = any(crop != (0, 0) for crop in crops)
    out = input
    if cropping and mode == "circular":
        out = ConstantPad.apply(out, widths=crops, value=0)
    maps = []
    for axis, (size, (before, after)) in enumerate(zip(out.shape, pairs)):
        before, after = max(before, 0), max(after, 0)
        if (before, after) != (0, 0):
            maps.append((axis, _index_map(size, before, after, mode), before))
    if maps or not cropping:
        out = IndexPad.apply(out, maps=tuple(maps))
    if cropping and mode != "circular":
        out = ConstantPad.apply(out, widths=crops, value=0)
    return out


def _check_mode_widths(
    mode: str, size: int, before: int, after: int, axis: int, shape: tuple
) -> None:
    problem = None
    kept = size + min(before, 0) + min(after, 0)  # what cropping leaves
    if size == 0:
        problem = "an empty dimension has no border to copy"
    elif mode == "reflect" and max(before, after) >= size:
        problem = f"reflect needs widths smaller than the dimension's size {size}"
    elif mode == "circular" and max(before, after) > size:
        problem = (
            f"circular needs widths no larger than the dimension's size {size} (wider ones "
            "would mean wrapping around more than once)"
        )
    elif mode == "circular" and kept < 0:
        problem = "cropping more than the dimension's size leaves a negative size"
    elif mode == "circular" and max(before, after) > kept:
        problem = f"circular wraps what cropping leaves ({kept}), so widths may not exceed it"
    elif mode != "circular" and size + before + after < 1:
        problem = f"the output would have size {size + before + after}, fewer than 1"
    if problem:
        raise InputShapeError(
            f"pad: widths {(before, after)} for dimension {axis} of input {shape}: {problem}"
        )
