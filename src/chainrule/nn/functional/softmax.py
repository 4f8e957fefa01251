"""Softmax, log-softmax and softmin along a dimension: the operations of ``ops.softmax``."""

from __future__ import annotations

import warnings
from typing import Any

from chainrule.autograd.function import not_a_tensor
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.tensor import Tensor

__all__ = ["log_softmax", "softmax", "softmin"]


def softmin(
    input: Tensor,  # noqa: A002
    dim: int | None = None,
    _stacklevel: int = 3,
    dtype: Any = None,
) -> Tensor:
    """exp(−x) / Σ exp(−x) along ``dim``: softmax of −x, largest where x is smallest.

    Without ``dim``, PyTorch's deprecated implicit choice (0 for 0-, 1- and 3-d inputs, else
    1), with its warning.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> [round(v, 4) for v in F.softmin(cr.tensor([1.0, 2.0, 3.0]), dim=0).tolist()]
    [0.6652, 0.2447, 0.09]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("softmin", "input", input)
    if dim is None:
        warnings.warn(
            "Implicit dimension choice for softmin has been deprecated. Change the call to "
            "include dim=X as an argument.",
            UserWarning,
            stacklevel=_stacklevel,
        )
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = input if dtype is None else input.to(dtype)
    return softmax(-x, dim)
