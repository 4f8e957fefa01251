"""Dropout as an operation of two arrays: the input and a mask drawn outside it.

Drawing the mask belongs to the caller (:func:`chainrule.nn.functional.dropout`, from the
library's generator), so that forward and backward stay pure functions of arrays, as every
operation must: the same code then runs on NumPy and CuPy, and a test can pass a known mask.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function
from chainrule.random import default_generator


class Dropout(Function):
    """∂C/∂x = m ⊙ ∂C/∂y, where the mask m is 1/(1 − p) for kept units and 0 for dropped ones

    The mask may broadcast over x: one value per channel (channel-wise dropout), or the
    scale a of alpha dropout (whose shift is a constant added after).
    """

    def forward(self, x: Any, mask: Any) -> Any:
        self.saved = (mask,)
        return x * mask

    def backward(self, grad: Any) -> tuple:
        (mask,) = self.saved
        return (grad * mask, None)

    def composite(self, x: Any, mask: Any) -> Any:
        """The same product on tensors (for ``create_graph``), with the drawn mask a constant:
        the derivative of ∂C/∂x = m ⊙ ∂C/∂y is m with respect to ∂C/∂y and 0 with respect to
        x, whatever x holds now (an in-place dropout has overwritten it)."""
        return x * mask


def draw_kept(shape: tuple[int, ...], p: float, dtype: Any) -> Any:
    """1 for each unit kept (probability 1 − p) and 0 for each dropped, as an array of
    ``shape``. Drawn from the library-wide generator, so :func:`chainrule.manual_seed`
    reproduces it."""
    # A uniform u in [0, 1) is at least p with probability exactly 1 − p.
    kept = default_generator().random(shape, dtype="float32") >= p
    return backend.as_array(kept, dtype=dtypes.to_dtype(dtype))


def draw_mask(shape: tuple[int, ...], p: float, dtype: Any) -> Any:
    """A dropout mask of ``shape``: each unit kept with probability 1 − p and then worth
    1/(1 − p), so that the output's expectation equals the input; 0 for dropped units.

    A mask of shape (N, C, 1, ...) drops whole channels: the operation broadcasts it.
    """
    mask = draw_kept(shape, p, dtype)
    if p < 1:  # p = 1 drops everything: the mask stays all 0 rather than 0·∞
        mask *= 1 / (1 - p)
    return mask
