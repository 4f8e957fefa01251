"""The bit patterns of float arrays, for tests that compare results exactly: equal patterns
tell −0 from +0 and one NaN from another, which ``array_equal`` does not."""

from __future__ import annotations

import numpy as np


def bits(array: np.ndarray) -> np.ndarray:
    """The array's elements as unsigned integers of the same width (a C-contiguous copy)."""
    return np.ascontiguousarray(array).view(f"u{array.dtype.itemsize}")
