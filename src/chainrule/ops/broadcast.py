"""Undoing broadcasting: the one place where a gradient is summed back to its input's shape."""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of an array, or ``()`` for a Python scalar."""
    return getattr(value, "shape", ())


# Below this many rows a plain sum is cheaper than setting up the product with ones.
_BLAS_MIN = 32


def expand_to(grad: Any, shape: tuple[int, ...]) -> Any:
    """``grad`` broadcast to ``shape`` as a new, writable array (the backward of a reduction).

    A fresh array rather than a broadcast view: on the small arrays where per-call cost
    dominates, ``full`` is three times cheaper than ``broadcast_to``, and the result can be
    stored as a leaf's gradient without a copy.
    """
    return backend.xp.full(shape, grad, dtype=grad.dtype)


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast.

    If ``x`` of shape (3, 1) was broadcast to (4, 3, 5), each element of ``x`` was used 4·5
    times, so ∂C/∂x is ∂C/∂out summed over axes 0 and 2 and reshaped to (3, 1).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    kept_ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    size = _product(shape)
    if not kept_ones and grad.dtype.kind == "f" and size > 0:
        return sum_rows(grad.reshape(-1, size)).reshape(shape)
    summed = backend.xp.sum(grad, axis=tuple(range(lead)) + kept_ones, keepdims=True)
    return summed.reshape(shape)


def sum_rows(rows: Any) -> Any:
    """Σ over the rows of a 2-D float array: the bias gradient of a layer over a batch.

    From 32 rows on, a product with a vector of ones runs in BLAS, several times faster than
    ``sum(axis=0)`` on tall arrays; below that the plain sum is cheaper to set up.
    """
    if rows.shape[0] < _BLAS_MIN or not backend.is_array(rows):
        # (A tensor, in a backward that records a graph: the cached vector of ones belongs to
        # an array module, and the plain sum is differentiable as it stands.)
        # The ufunc's own reduce: ndarray.sum passes through a Python wrapper first, which
        # costs a fifth of the call on a small gradient. (CuPy's ufuncs have reduce too.)
        return backend.xp.add.reduce(rows, axis=0)
    return ones_vector(rows.shape[0], rows.dtype) @ rows


# Vectors of ones by (array module, length, dtype): making one with ``ones`` costs as much as
# the product it feeds on a small gradient. Lengths are batch sizes and class counts, few in
# a run; past this many the cache starts afresh, and long vectors are not kept at all.
_ones: dict[tuple, Any] = {}
_ONES_KEPT, _ONES_LONGEST = 64, 65536


def ones_vector(n: int, dtype: Any) -> Any:
    """A vector of ``n`` ones of ``dtype``, shared between callers: never write into it (on
    NumPy it is read-only)."""
    xp = backend.xp
    key = (xp, n, dtype)
    ones = _ones.get(key)
    if ones is None:
        ones = xp.ones(n, dtype=dtype)
        if n > _ONES_LONGEST:
            return ones
        if isinstance(ones, numpy.ndarray):
            ones.flags.writeable = False
        if len(_ones) >= _ONES_KEPT:
            _ones.clear()
        _ones[key] = ones
    return ones


def _product(shape: tuple[int, ...]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size
