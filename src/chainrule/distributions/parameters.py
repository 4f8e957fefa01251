"""How distributions hold their parameters: numbers and tensors broadcast together
(``broadcast_all``), and parameters computed from others on first use (``lazy_property``:
Categorical's ``probs`` from its ``logits``, or the other way round).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from chainrule import dtypes
from chainrule.autograd.grad_mode import enable_grad
from chainrule.creation import tensor
from chainrule.ops.axes import broadcast_tensors
from chainrule.tensor import Tensor

__all__ = ["broadcast_all", "broadcast_parameters", "lazy_property"]


def broadcast_all(*values: Tensor | float) -> tuple[Tensor, ...]:
    """The values as tensors of one broadcast shape, as PyTorch's
    ``torch.distributions.utils.broadcast_all``: numbers take the dtype of the first tensor
    among the values (the default dtype if there is none), tensors keep theirs.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions.parameters import broadcast_all
    >>> loc, scale = broadcast_all(cr.zeros(3, dtype=cr.float64), 2.0)
    >>> tuple(scale.shape), scale.dtype
    ((3,), dtype('float64'))

    ```
    """
    return broadcast_parameters("broadcast_all", *(f"argument {i}" for i in range(len(values))))(
        *values
    )


def broadcast_parameters(where: str, *names: str) -> Callable[..., tuple[Tensor, ...]]:
    """``broadcast_all`` whose errors name the distribution (``where``) and the parameter."""

    def broadcast(*values: Any) -> tuple[Tensor, ...]:
        dtype = None
        for name, value in zip(names, values):
            if isinstance(value, Tensor):
                dtype = dtype if dtype is not None else value.dtype
            elif not isinstance(value, numbers.Number):
                raise ValueError(
                    f"{where}: {name} must be a number or a chainrule tensor, got "
                    f"{type(value).__name__}"
                )
        if dtype is None:
            dtype = dtypes.get_default_dtype()
        tensors = [
            value if isinstance(value, Tensor) else tensor(value, dtype=dtype) for value in values
        ]
        try:
            return tuple(broadcast_tensors(*tensors))
        except ValueError:
            shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, tensors))
            raise ValueError(f"{where}: the shapes of {shapes} do not broadcast together") from None

    return broadcast


class lazy_property:  # noqa: N801 - PyTorch's name
    """A parameter computed from the others on first access and kept in the instance, with
    gradients on even inside ``no_grad`` (the cached value is reused later, where they may
    be needed)."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.__name__] = value  # a plain attribute from now on
        return value
