"""Reductions along the last axis of an (N, C) float array whose rows are short: class scores.

NumPy reduces each row of a C-contiguous array on its own, which costs it several nanoseconds
an element when the rows hold a few classes: the maximum of each row of a (1024, 10) float32
array took 54 µs on a 2-core Intel Xeon (NumPy 2.4), 5 ns an element. Reducing over the rows
of the transposed copy instead, one whole row of N at a time, took 5 µs, the copy included;
``benchmarks/short_rows.py`` measures the shapes. Sums take a product with a vector of ones,
which runs in BLAS.

The maximum is the same value either way (a maximum is exact); only a row that holds both
−0 and +0 may give the other zero. The sums round as BLAS adds, not as NumPy's pairwise sum.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend
from chainrule.ops.broadcast import ones_vector

TRANSPOSED_ROWS = 32
"""The fewest rows for which the maximum goes through the transposed copy ..."""

TRANSPOSED_WIDEST = 24
"""... and the most classes: from 32 rows and up to 24 classes the copy took 0.1-0.8 of the
time of NumPy's row by row maximum, in float32 and float64, for up to 8192 rows."""


def row_max(rows: Any) -> Any:
    """The maximum of each row of ``rows`` (N, C), as an (N, 1) column."""
    count, width = rows.shape
    if (
        count >= TRANSPOSED_ROWS
        and 2 <= width <= TRANSPOSED_WIDEST
        and type(rows) is numpy.ndarray
        and rows.dtype.char in "fd"
    ):
        return numpy.maximum.reduce(numpy.ascontiguousarray(rows.T), axis=0)[:, None]
    if rows.dtype.kind == "f" and type(rows) is numpy.ndarray:
        # With an initial value NumPy takes a faster loop on longer rows (the same maximum):
        # 63 against 165 µs on 1600 rows of 128 float32.
        return rows.max(axis=1, keepdims=True, initial=-numpy.inf)
    return rows.max(axis=1, keepdims=True)


def max_along(z: Any, dim: int) -> Any:
    """The maximum of ``z`` along ``dim``, kept as an axis of length 1 (−∞ along an empty
    axis): through :func:`row_max` when ``dim`` is the last axis of a C-contiguous array."""
    if z.ndim >= 2 and dim in (-1, z.ndim - 1) and z.size and z.flags.c_contiguous:
        return row_max(z.reshape(-1, z.shape[-1])).reshape(*z.shape[:-1], 1)
    return z.max(axis=dim, keepdims=True, initial=-backend.xp.inf)


def on_last_axis_rows(z: Any, dim: int) -> bool:
    """Whether ``dim`` is the last axis of a C-contiguous float32 or float64 NumPy array of
    at least two dimensions and some elements: rows that the helpers here take whole."""
    return (
        type(z) is numpy.ndarray
        and z.ndim >= 2
        and dim in (-1, z.ndim - 1)
        and z.size > 0
        and z.dtype.char in "fd"
        and z.flags.c_contiguous
    )


def sum_along(z: Any, dim: int) -> Any:
    """Σ of ``z`` along ``dim``, kept as an axis of length 1: through :func:`row_sums` on
    :func:`on_last_axis_rows` of at least 16 rows (from there the product took 0.1-0.9 of the
    time of NumPy's sum, for 2 to 1000 classes)."""
    if on_last_axis_rows(z, dim) and z.size >= 16 * z.shape[-1]:
        return row_sums(z.reshape(-1, z.shape[-1])).reshape(*z.shape[:-1], 1)
    return backend.xp.add.reduce(z, axis=dim, keepdims=True)


def row_sums(rows: Any) -> Any:
    """Σ over the columns of ``rows`` (N, C), as an (N, 1) column: a product with a vector of
    ones, which runs in BLAS, rather than a sum along the short last axis, which costs NumPy
    about three times as long on a batch of class scores."""
    return (rows @ ones_vector(rows.shape[1], rows.dtype))[:, None]


EINSUM_WIDEST_PRODUCT = 64
"""From this many columns on, :func:`dots_along` takes ``einsum``'s sum of products (43
against 91 µs for 1600 rows of 128 float32, 59 against 150 µs for 256 rows of 1000); below,
the product and the sum through BLAS were as fast or faster (10 classes, 32 columns)."""


def dots_along(a: Any, b: Any, dim: int) -> Any:
    """Σ a·b along ``dim``, kept as an axis of length 1, for a and b of one shape: by
    ``einsum`` on wide rows of the last axis (one pass, no product array), else as the
    product's :func:`sum_along`."""
    if (
        on_last_axis_rows(a, dim)
        and a.shape[-1] >= EINSUM_WIDEST_PRODUCT
        and on_last_axis_rows(b, dim)
        and a.dtype == b.dtype
    ):
        width = a.shape[-1]
        rows = numpy.einsum("ij,ij->i", a.reshape(-1, width), b.reshape(-1, width))
        return rows.reshape(*a.shape[:-1], 1)
    return sum_along(a * b, dim)
