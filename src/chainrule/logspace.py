"""``logspace``: numbers evenly spaced on a logarithmic scale."""

from __future__ import annotations

from typing import Any

from chainrule import backend, devices, dtypes
from chainrule.creation import linspace
from chainrule.tensor import Tensor


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` numbers from base**start to base**end whose exponents are evenly spaced (both
    ends included), in ``dtype`` (the default float dtype by default).

    >>> import chainrule as cr
    >>> cr.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    devices.check(device, "logspace")
    exponents = linspace(start, end, steps, dtype=dtypes.float64).array
    powers = backend.xp.power(float(base), exponents)
    out = Tensor._make(powers.astype(dtypes.to_dtype(dtype)), False, None)
    return out.requires_grad_() if requires_grad else out
