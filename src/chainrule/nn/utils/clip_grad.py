"""Gradient clipping: by the joint norm of all gradients, or element by element.

Both functions change ``.grad`` in place between ``backward()`` and ``step()``::

    loss.backward()
    total = chainrule.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]

# Added to the total norm before dividing, so that a zero gradient never divides by zero.
_NORM_EPSILON = 1e-6


def _gradients(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """The ``.grad`` tensors of ``parameters`` (one tensor, or an iterable), skipping None."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(array: Any, norm_type: float) -> Any:
    """The p-norm of all elements of ``array`` (0-d array, the array's dtype)."""
    xp = backend.module_of(array)  # outside Function.apply backend.xp is NumPy, even on a GPU
    flat = array.reshape(-1)
    if norm_type == math.inf:
        return xp.abs(flat).max() if flat.size else xp.zeros((), dtype=flat.dtype)
    if norm_type == 2:
        return xp.sqrt(flat @ flat)  # a dot product: BLAS, no temporary
    if norm_type == 1:
        return xp.abs(flat).sum()
    return (xp.abs(flat) ** norm_type).sum() ** (1 / norm_type)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``; return that norm, taken before clipping, as a 0-d tensor.

    The norm is that of all gradients concatenated into one vector (``inf``: the largest
    absolute value). Every gradient is multiplied, in place, by min(1, max_norm / (norm + 10⁻⁶)).
    ``foreach`` is accepted for compatibility and changes nothing.

    ```pycon
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> w.grad = cr.tensor([3.0, 4.0])
    >>> cr.nn.utils.clip_grad_norm_([w], max_norm=1.0).item()  # the norm before clipping
    5.0
    >>> [round(g, 4) for g in w.grad.tolist()]
    [0.6, 0.8]

    ```
    """
    norm_type = float(norm_type)
    if not (norm_type > 0 or norm_type == math.inf):
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    grads = _gradients(parameters)
    if not grads:
        return Tensor(backend.xp.zeros((), dtype=dtypes.get_default_dtype()))
    xp, dtype = backend.module_of(grads[0].array), grads[0].dtype
    # Silenced: the gradients clipping is for are those whose norm overflows to inf, or holds
    # a nan, and PyTorch clips them (to 0 or nan) without a warning.
    with fp_errors.silenced():
        norms = [xp.asarray(_vector_norm(g.array, norm_type), dtype=dtype) for g in grads]
        total = _vector_norm(xp.stack(norms), norm_type)  # the norm of the norms: of everything
        if error_if_nonfinite and not bool(xp.isfinite(total)):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                f"{float(total)}, so they cannot be clipped; pass error_if_nonfinite=False to "
                "clip them anyway"
            )
        # Multiplied by min(1, ·) even when nothing needs clipping, as PyTorch: no branch on a
        # value that would need to leave the GPU.
        coefficient = xp.minimum(max_norm / (total + _NORM_EPSILON), 1.0)
        for g in grads:
            _scale_in_place(g, coefficient)
    return Tensor(xp.asarray(total, dtype=dtype))


def _scale_in_place(grad: Tensor, factor: Any) -> None:
    data = grad.array
    factor = backend.module_of(data).asarray(factor, dtype=data.dtype)
    if backend.writeable(data):
        data *= factor
    else:  # e.g. a broadcast view: a new array for the same tensor
        grad.array = data * factor


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place.

    ```pycon
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> w.grad = cr.tensor([-5.0, 0.5, 2.0])
    >>> cr.nn.utils.clip_grad_value_(w, clip_value=1.0)
    >>> w.grad.tolist()
    [-1.0, 0.5, 1.0]

    ```
    """
    clip_value = float(clip_value)
    for g in _gradients(parameters):
        if backend.writeable(g.array):
            backend.xp.clip(g.array, -clip_value, clip_value, out=g.array)
        else:
            g.array = backend.xp.clip(g.array, -clip_value, clip_value)
