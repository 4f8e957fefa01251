"""Dropout: the mask is drawn here, from the library's generator, and applied by the pure
operation of ``ops.dropout``."""

from __future__ import annotations

from chainrule.ops import dropout as dropout_op
from chainrule.tensor import Tensor

__all__ = ["dropout"]


def dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by 1/(1 − p), so that the
    expectation is unchanged (Srivastava et al., 2014); the identity when not ``training``.

    The mask comes from the generator that :func:`chainrule.manual_seed` seeds. ``inplace`` is
    accepted for compatibility; the result is always a new tensor (the input is not changed).
    """
    check_probability(p, "dropout")
    if not training or p == 0:
        return input
    mask = dropout_op.draw_mask(input.shape, p, input.dtype)
    return dropout_op.Dropout.apply(input, mask)


def check_probability(p: float, where: str) -> None:
    """A dropout probability must lie in [0, 1]."""
    try:
        inside = 0 <= float(p) <= 1
    except (TypeError, ValueError):
        inside = False
    if not inside:
        raise ValueError(f"{where}: probability p must be a number in [0, 1], got {p!r}")
