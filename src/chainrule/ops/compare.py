"""Comparisons and logical operations: bool results, no gradient (they are piecewise constant).

```pycon
>>> import chainrule as cr
>>> x = cr.tensor([1, 2, 3])
>>> cr.lt(x, 2).tolist(), cr.eq(x, cr.tensor([1, 0, 3])).tolist()
([True, False, False], [True, False, True])
>>> cr.logical_and(x > 1, x < 3).tolist(), cr.bitwise_xor(x, 1).tolist()
([False, True, False], [0, 3, 2])

```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from chainrule import backend, dtypes
from chainrule.tensor import Tensor


def _no_grad_binary(
    fn: Callable[[Any, Any], Any], name: str, example: tuple[str, str, str]
) -> Callable[[Any, Any], Tensor]:
    """The comparison or logical operation ``name``; ``example`` is its docstring's example:
    two inputs and the result, as source text, written out by hand for each operation."""

    def operation(input: Any, other: Any) -> Tensor:  # noqa: A002
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        if backend.on_devices and type(a) is not type(b):
            a, b = on_one_device(name, a, b)
        if hasattr(a, "dtype") and hasattr(b, "dtype"):
            a, b = dtypes.promote(a, b)
        try:
            out = fn(a, b)
        except ValueError as error:
            raise ValueError(
                f"{name}: cannot compare shapes {getattr(a, 'shape', ())} and "
                f"{getattr(b, 'shape', ())}: {error}"
            ) from None
        return Tensor._make(backend.as_array(out), False, None)

    left, right, result = example
    kind = "integer" if name.startswith("bitwise") else "bool"
    operation.__name__ = name
    operation.__doc__ = (
        f"Element-wise {name} ({kind} result, no gradient).\n\n"
        "```pycon\n"
        ">>> import chainrule as cr\n"
        f">>> cr.{name}(cr.tensor({left}), cr.tensor({right})).tolist()\n"
        f"{result}\n\n"
        "```\n"
    )
    return operation


def on_one_device(name: str, a: Any, b: Any) -> tuple[Any, Any]:
    """``a`` and ``b`` on one device. Arrays on two are PyTorch's error (as Function.apply
    raises for the differentiable operations), except a 0-d CPU array, which stands for a
    number as in PyTorch: it is copied to the other's device."""
    if not (backend.is_array(a) and backend.is_array(b)):
        return a, b  # numbers and lists go where the array is
    module_a, module_b = backend.module_of(a), backend.module_of(b)
    if module_a is module_b:
        return a, b
    host, device_module = (a, module_b) if module_b is not numpy else (b, module_a)
    if host.ndim == 0:
        moved = backend.transfer(host, device_module)
        return (moved, b) if host is a else (a, moved)
    raise RuntimeError(
        f"{name}: Expected all tensors to be on the same device, but found at least two "
        f"devices, cuda:0 and cpu! (an input of shape {tuple(host.shape)} is on the CPU; move "
        "it with .to(device))"
    )


def _xp(name: str) -> Callable[[Any, Any], Any]:
    # Looked up at call time, so that a change of backend reaches the comparisons too.
    return lambda a, b: getattr(backend.xp, name)(a, b)


eq = _no_grad_binary(_xp("equal"), "eq", ("[1, 2, 3]", "[2, 2, 2]", "[False, True, False]"))
ne = _no_grad_binary(_xp("not_equal"), "ne", ("[1, 2, 3]", "[2, 2, 2]", "[True, False, True]"))
lt = _no_grad_binary(_xp("less"), "lt", ("[1, 2, 3]", "[2, 2, 2]", "[True, False, False]"))
le = _no_grad_binary(_xp("less_equal"), "le", ("[1, 2, 3]", "[2, 2, 2]", "[True, True, False]"))
gt = _no_grad_binary(_xp("greater"), "gt", ("[1, 2, 3]", "[2, 2, 2]", "[False, False, True]"))
ge = _no_grad_binary(_xp("greater_equal"), "ge", ("[1, 2, 3]", "[2, 2, 2]", "[False, True, True]"))
logical_and = _no_grad_binary(
    _xp("logical_and"),
    "logical_and",
    ("[True, False, True]", "[True, True, False]", "[True, False, False]"),
)
logical_or = _no_grad_binary(
    _xp("logical_or"),
    "logical_or",
    ("[True, False, False]", "[True, True, False]", "[True, True, False]"),
)
logical_xor = _no_grad_binary(
    _xp("logical_xor"),
    "logical_xor",
    ("[True, False, True]", "[True, True, False]", "[False, True, True]"),
)
bitwise_and = _no_grad_binary(_xp("bitwise_and"), "bitwise_and", ("[12, 10]", "[10, 6]", "[8, 2]"))
bitwise_or = _no_grad_binary(_xp("bitwise_or"), "bitwise_or", ("[12, 10]", "[10, 6]", "[14, 14]"))
bitwise_xor = _no_grad_binary(_xp("bitwise_xor"), "bitwise_xor", ("[12, 10]", "[10, 6]", "[6, 12]"))


def logical_not(input: Tensor) -> Tensor:  # noqa: A002
    """Element-wise not (bool result).

    ```pycon
    >>> import chainrule as cr
    >>> cr.logical_not(cr.tensor([0.0, 2.0])).tolist()
    [True, False]

    ```
    """
    return Tensor._make(backend.xp.logical_not(input.array), False, None)


def bitwise_not(input: Tensor) -> Tensor:  # noqa: A002
    """``~x``: logical not for bool tensors, bitwise not for integers.

    ```pycon
    >>> import chainrule as cr
    >>> cr.bitwise_not(cr.tensor([True, False])).tolist()
    [False, True]

    ```
    """
    return Tensor._make(backend.xp.invert(input.array), False, None)


def isnan(input: Tensor) -> Tensor:  # noqa: A002
    """True where an element is NaN, element-wise; the result is a bool tensor that carries no
    gradient.

    ```pycon
    >>> import chainrule as cr
    >>> cr.isnan(cr.tensor([1.0, float("nan")])).tolist()
    [False, True]

    ```
    """
    return Tensor._make(backend.xp.isnan(input.array), False, None)


def isfinite(input: Tensor) -> Tensor:  # noqa: A002
    """True where an element is neither infinite nor NaN, element-wise; the result is a bool tensor
    that carries no gradient.

    ```pycon
    >>> import chainrule as cr
    >>> cr.isfinite(cr.tensor([1.0, float("inf"), float("nan")])).tolist()
    [True, False, False]

    ```
    """
    return Tensor._make(backend.xp.isfinite(input.array), False, None)


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-5, atol: float = 1e-8) -> bool:  # noqa: A002
    """True when |input − other| ≤ atol + rtol·|other| everywhere.

    ```pycon
    >>> import chainrule as cr
    >>> cr.allclose(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 2.0 + 1e-7]))
    True

    ```
    """
    a, b = on_one_device("allclose", input.array, other.array)
    return bool(backend.xp.allclose(a, b, rtol=rtol, atol=atol))


def any(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """True where some element is non-zero: over all elements by default, else along ``dim`` (kept
    as size 1 with ``keepdim``); a bool tensor that carries no gradient.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[0, 0], [0, 3]])
    >>> cr.any(x).item(), cr.any(x, dim=1).tolist()
    (True, [False, True])

    ```
    """
    return Tensor._make(backend.as_array(input.array.any(axis=dim, keepdims=keepdim)), False, None)


def all(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """True where every element is non-zero: over all elements by default, else along ``dim`` (kept
    as size 1 with ``keepdim``); a bool tensor that carries no gradient.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2], [0, 3]])
    >>> cr.all(x).item(), cr.all(x, dim=1).tolist()
    (False, [True, False])

    ```
    """
    return Tensor._make(backend.as_array(input.array.all(axis=dim, keepdims=keepdim)), False, None)
