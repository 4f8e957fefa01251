"""The layout in which a fully connected layer's forward product x·Wᵀ reaches NumPy's BLAS.

x (B, I) and the weight W (O, I) are both stored row by row, so x·Wᵀ multiplies two matrices
along their rows: BLAS's "transposed right factor" case. On OpenBLAS's SkylakeX kernels (Intel
CPUs with AVX-512) that case is slow for small batches: x·Wᵀ of a 32-64-128 layer took 8.2 µs
where the same product with x copied column by column first (x in Fortran order, both factors
transposed for BLAS) took 5.2 µs, copy included, on a 2-core Intel Xeon with OpenBLAS 0.3.31
(``benchmarks/blas_layout.py`` measures the shapes). :func:`transposed_product` takes that
route where it was measured to win there: batches of 16 to 64 rows, at least 32 inputs and 64
outputs (128 for batches under 32), at most 2¹⁹ multiply-adds. Everywhere else, and on any
other kernels or BLAS (AMD's Zen, MKL, CuPy), it is the plain product.

The choice depends on the shapes and on OpenBLAS's kernels only, so a product of given shapes
rounds the same way every time on a machine, in eager mode and in a compiled step alike.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, blas_threads

FAST_CORES = ("SkylakeX",)
"""OpenBLAS's names of the kernels on which the copy was measured to pay."""

UP_TO = 1 << 19
"""The largest product (B·I·O multiply-adds) that takes the copy."""

_UNSET: Any = object()
_copying: Any = _UNSET  # whether this machine's BLAS takes the copy at all


def copies_input(batch: int, inputs: int, outputs: int) -> bool:
    """Whether x·Wᵀ of these sizes copies x to column order first, on SkylakeX kernels."""
    return (
        16 <= batch <= 64
        and inputs >= 32
        and outputs >= (64 if batch >= 32 else 128)
        and batch * inputs * outputs <= UP_TO
    )


def _machine_copies() -> bool:
    global _copying
    if _copying is _UNSET:
        _copying = blas_threads.core_name() in FAST_CORES
    return _copying


def transposed_product(x: Any, weight: Any) -> Any:
    """x·Wᵀ, (B, O), for x (B, I) and W (O, I): ``blas_threads.dot(x, weight.T)``, with x
    copied to column order first where :func:`copies_input` says so on SkylakeX kernels."""
    batch, inputs = x.shape
    if (
        16 <= batch <= 64  # first: most calls (tiny or large batches) stop at this test
        and copies_input(batch, inputs, weight.shape[0])
        and type(x) is numpy.ndarray
        and backend.xp is numpy
        and x.dtype == numpy.float32
        and _machine_copies()
    ):
        x = numpy.asfortranarray(x)
    return blas_threads.dot(x, weight.T)
