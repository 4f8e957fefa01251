"""Dropout: element-wise, channel-wise (dropout1d/2d/3d) and alpha dropout. The masks are
drawn here, from the library's generator, and applied by the pure operation of
``ops.dropout``.
"""

from __future__ import annotations

import math
import warnings

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.nn.input_checks import check_input, require_tensor
from chainrule.ops import dropout as dropout_op
from chainrule.ops.inplace import modify
from chainrule.tensor import Tensor

__all__ = [
    "alpha_dropout",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "feature_alpha_dropout",
]

# −λα of SELU, the value that SELU's outputs saturate to and that alpha dropout gives dropped
# units (Klambauer et al., 2017, "Self-Normalizing Neural Networks", section 4).
SELU_SATURATION = 1.7580993408473766


def dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Zero each element with probability ``p`` and scale the others by 1/(1 − p), so that the
    expectation is unchanged (Srivastava et al., 2014); the identity when not ``training``.

    The mask comes from the generator that :func:`chainrule.manual_seed` seeds. With
    ``inplace`` the input itself is overwritten and returned, as a recorded in-place operation.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> y = F.dropout(cr.ones(1000), p=0.5)
    >>> sorted(set(y.tolist())), F.dropout(cr.ones(3), training=False).tolist()
    ([0.0, 2.0], [1.0, 1.0, 1.0])

    ```
    """
    require_tensor(input, "dropout")
    check_probability(p, "dropout")
    if not training or p == 0:
        return input
    check_input("dropout", input, floating=True)
    mask = dropout_op.draw_mask(input.shape, p, input.dtype)
    if inplace:
        return modify(input, "dropout_", dropout_op.Dropout.apply, mask)
    return dropout_op.Dropout.apply(input, mask)


def dropout1d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Zero whole channels: each input[n, c] of a (N, C, L) or unbatched (C, L) input, with
    probability ``p``, and scale the others by 1/(1 − p) (Tompson et al., 2015: neighbouring
    positions are correlated, so dropping single elements regularises little).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> y = F.dropout1d(cr.ones(2, 8, 5), p=0.5)
    >>> bool(((y == 0).all(dim=2) | (y == 2).all(dim=2)).all())  # whole channels
    True

    ```
    """
    where = "dropout1d"
    require_tensor(input, where)
    if input.ndim not in (2, 3):
        raise OpError(
            f"{where}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {input.shape}"
        )
    return _channel_dropout(input, p, training, where, input.ndim == 3, inplace)


def dropout2d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Zero whole channels input[n, c] of a (N, C, H, W) input with probability ``p`` and scale
    the others by 1/(1 − p).

    As in PyTorch, a 3-D input is read as (N, C, L), not as an unbatched (C, H, W) image (with
    a warning; use dropout1d for that); other ranks are accepted with a warning.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> y = F.dropout2d(cr.ones(2, 8, 3, 3), p=0.5).reshape(2, 8, 9)
    >>> bool(((y == 0).all(dim=2) | (y == 2).all(dim=2)).all())  # whole channels
    True

    ```
    """
    where = "dropout2d"
    require_tensor(input, where)
    if input.ndim == 3:
        warnings.warn(
            f"{where}: a 3-D input is read as (N, C, L), dropping input[n, c] channels, not "
            "as an unbatched (C, H, W) image; use dropout1d for (N, C, L) inputs, or add a "
            "batch dimension with unsqueeze(0)",
            stacklevel=2,
        )
    elif input.ndim != 4:
        warnings.warn(
            f"{where}: expected a 3-D or 4-D input, got {input.ndim}-D; channel-wise dropout "
            "over dimension 1 is applied anyway (use dropout for element-wise dropout)",
            stacklevel=2,
        )
    return _channel_dropout(input, p, training, where, True, inplace)


def dropout3d(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
) -> Tensor:
    """Zero whole channels input[n, c] of a (N, C, D, H, W) or unbatched (C, D, H, W) input with
    probability ``p`` and scale the others by 1/(1 − p); other ranks warn and are read as
    unbatched (as in PyTorch).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> y = F.dropout3d(cr.ones(2, 8, 2, 2, 2), p=0.5).reshape(2, 8, 8)
    >>> bool(((y == 0).all(dim=2) | (y == 2).all(dim=2)).all())  # whole channels
    True

    ```
    """
    where = "dropout3d"
    require_tensor(input, where)
    if input.ndim not in (4, 5):
        warnings.warn(
            f"{where}: expected a 4-D or 5-D input, got {input.ndim}-D; it is read as "
            "unbatched, dropping input[c] channels (use dropout for element-wise dropout)",
            stacklevel=2,
        )
    return _channel_dropout(input, p, training, where, input.ndim == 5, inplace)


def alpha_dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's saturation value α' = −λα, and
    y = a·(x or α') + b with a, b chosen so that zero-mean unit-variance inputs keep their mean
    and variance: a = ((1 − p)(1 + p·α'²))^(−1/2), b = −a·α'·p (Klambauer et al., 2017).

    ∂y/∂x = a for kept elements and 0 for dropped ones. Note the default ``training=False``,
    as in PyTorch.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> x = cr.randn(100000)
    >>> y = F.alpha_dropout(x, p=0.2, training=True)
    >>> abs(y.mean().item()) < 0.05, round(y.std().item(), 1)  # still about 0 and 1
    (True, 1.0)

    ```
    """
    return _alpha_dropout(input, p, training, "alpha_dropout", False, inplace)


def feature_alpha_dropout(
    input: Tensor,  # noqa: A002
    p: float = 0.5,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Alpha dropout of whole channels input[n, c] of an (N, C, *) input.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> _ = cr.manual_seed(0)
    >>> y = F.feature_alpha_dropout(cr.ones(2, 8, 5), p=0.5, training=True)
    >>> bool((y == y[:, :, :1]).all())  # one value per channel
    True

    ```
    """
    return _alpha_dropout(input, p, training, "feature_alpha_dropout", True, inplace)


# ---- shared steps --------------------------------------------------------------------------------


def check_probability(p: float, where: str) -> None:
    """A dropout probability must lie in [0, 1]."""
    try:
        inside = 0 <= float(p) <= 1
    except (TypeError, ValueError):
        inside = False
    if not inside:
        raise ValueError(f"{where}: probability p must be a number in [0, 1], got {p!r}")


def _channel_shape(shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    """The mask shape (N, C, 1, ...) that drops whole channels of an (N, C, *) input."""
    if len(shape) < 2:
        raise OpError(f"{where}: expected an input of shape (N, C, *), got {shape}")
    return (*shape[:2], *(1,) * (len(shape) - 2))


def _channel_dropout(
    input: Tensor,  # noqa: A002
    p: float,
    training: bool,
    where: str,
    batched: bool,
    inplace: bool = False,
) -> Tensor:
    check_probability(p, where)
    if not training or p == 0:
        return input
    check_input(where, input, floating=True)
    shape = input.shape if batched else (1, *input.shape)
    mask = dropout_op.draw_mask(_channel_shape(shape, where), p, input.dtype)

    def drop(x: Tensor) -> Tensor:
        out = dropout_op.Dropout.apply(x if batched else x.unsqueeze(0), mask)
        return out if batched else out.squeeze(0)

    return modify(input, f"{where}_", drop) if inplace else drop(input)


def _alpha_dropout(
    input: Tensor,  # noqa: A002
    p: float,
    training: bool,
    where: str,
    channels: bool,
    inplace: bool = False,
) -> Tensor:
    require_tensor(input, where)
    check_probability(p, where)
    if not training or p == 0 or input.numel() == 0:
        return input
    check_input(where, input, floating=True)
    shape = _channel_shape(input.shape, where) if channels else input.shape
    if p == 1:  # everything dropped: zeros, and zero gradients
        scale, shift = backend.xp.zeros(shape, dtype=input.dtype), None
    else:
        kept = dropout_op.draw_kept(shape, p, input.dtype)
        alpha = SELU_SATURATION
        a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
        # y = a·x for kept, a·(−α) for dropped, then + a·α·p: written as x·(a·kept) + shift.
        shift = (kept - 1) * (alpha * a) + alpha * a * p
        # Drawn on the CPU, so that a seed drops the same units on every device; then moved.
        shift = Tensor(backend.transfer(shift, backend.module_of(input.array)))
        scale = kept * a

    def drop(x: Tensor) -> Tensor:
        out = dropout_op.Dropout.apply(x, scale)
        return out if shift is None else out + shift

    return modify(input, f"{where}_", drop) if inplace else drop(input)
