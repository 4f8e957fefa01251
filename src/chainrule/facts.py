"""Questions about tensors that PyTorch asks at the top level: ``is_tensor``,
``is_floating_point``, ``is_nonzero`` and ``numel``."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import not_a_tensor
from chainrule.tensor import Tensor


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a tensor (a :class:`~chainrule.nn.Parameter` is one too).

    ```pycon
    >>> import chainrule as cr
    >>> cr.is_tensor(cr.zeros(2)), cr.is_tensor([0.0, 0.0])
    (True, False)

    ```
    """
    return isinstance(obj, Tensor)


def _tensor(input: Any, op: str) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(op, "input", input)
    return input


def is_floating_point(input: Tensor) -> bool:  # noqa: A002
    """Whether ``input`` holds floating-point numbers (float16, bfloat16, float32, float64).

    ```pycon
    >>> import chainrule as cr
    >>> cr.is_floating_point(cr.tensor([1.0])), cr.is_floating_point(cr.tensor([1]))
    (True, False)

    ```
    """
    return _tensor(input, "is_floating_point").is_floating_point()


def is_nonzero(input: Tensor) -> bool:  # noqa: A002
    """Whether the single element of ``input`` is nonzero; any other number of elements is a
    RuntimeError, as the truth value of such a tensor is ambiguous.

    ```pycon
    >>> import chainrule as cr
    >>> cr.is_nonzero(cr.tensor([0.5])), cr.is_nonzero(cr.tensor(0))
    (True, False)

    ```
    """
    size = _tensor(input, "is_nonzero").numel()
    if size != 1:
        amount = "no values" if size == 0 else "more than one value"
        raise RuntimeError(
            f"is_nonzero: boolean value of a tensor with {amount} (shape {input.shape}) is "
            "ambiguous; use .any() or .all()"
        )
    return bool(input.array.reshape(()) != 0)


def numel(input: Tensor) -> int:  # noqa: A002
    """The number of elements of ``input``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.numel(cr.zeros(2, 3))
    6

    ```
    """
    return _tensor(input, "numel").numel()
