"""The array-module handle: every array computation in chainrule goes through ``xp``.

Today the handle is NumPy. A GPU backend swaps in CuPy, whose API mirrors NumPy's, so that the
operations in :mod:`chainrule.ops` run unchanged on either. Functions that NumPy and CuPy spell
differently (scatter-add) live here and nowhere else.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy

xp: ModuleType = numpy
"""The active array module (``numpy``; ``cupy`` once a GPU backend is selected)."""

ndarray: type = numpy.ndarray
"""The array type of the active module, for cheap ``type(x) is ndarray`` checks."""


def as_array(data: Any, dtype: Any = None) -> Any:
    """Convert ``data`` (nested lists, scalars, arrays) to an array of the active module."""
    return xp.asarray(data, dtype=dtype)


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, accumulating where ``index`` repeats an element.

    Plain ``target[index] += values`` keeps only the last of repeated indices; the gradient of
    an indexing operation needs every occurrence summed.
    """
    xp.add.at(target, index, values)


def expand_view(array: Any, shape: tuple[int, ...]) -> Any:
    """``array`` broadcast to ``shape`` as a view that may be written where it is writable, as
    PyTorch's ``expand``: an axis of size 1 stretched to n reads one element n times (stride
    0). NumPy's ``broadcast_to`` marks every such view read-only, even one element of it."""
    lead = len(shape) - array.ndim
    strides = [0] * lead + [
        0 if n == 1 and size != 1 else stride
        for n, size, stride in zip(array.shape, shape[lead:], array.strides)
    ]
    return xp.lib.stride_tricks.as_strided(
        array, shape=shape, strides=strides, writeable=array.flags.writeable
    )


def to_numpy(array: Any) -> numpy.ndarray:
    """Return ``array`` as a NumPy array (a no-op on the NumPy backend)."""
    return numpy.asarray(array)
