"""Memory layout: PyTorch's memory formats, and the copies and checks that take one
(``clone``, ``contiguous``, ``is_contiguous``).

A tensor's elements sit in memory in some order of its dimensions: row-major
(``contiguous_format``, the last dimension varying fastest), or with the channels last
(``channels_last``: a 4-d (N, C, H, W) tensor stored as (N, H, W, C); ``channels_last_3d``
for 5-d). ``preserve_format`` keeps the order the tensor has. The layout changes where the
elements are, never their values or the shape, so every copy here has the identity gradient.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.tensor import Tensor


class memory_format:  # noqa: N801 - PyTorch's name
    """One of PyTorch's memory formats; compare with ``chainrule.channels_last`` and the rest.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.zeros(1, 3, 4, 4).contiguous(memory_format=cr.channels_last)
    >>> x.is_contiguous(memory_format=cr.channels_last), cr.channels_last
    (True, chainrule.channels_last)

    ```
    """

    __slots__ = ("name", "order")

    def __init__(self, name: str, order: tuple[int, ...] | None) -> None:
        # order: the dimensions from the slowest varying to the fastest (None: any rank).
        self.name, self.order = name, order

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"


contiguous_format = memory_format("contiguous_format", None)
preserve_format = memory_format("preserve_format", None)
channels_last = memory_format("channels_last", (0, 2, 3, 1))
channels_last_3d = memory_format("channels_last_3d", (0, 2, 3, 4, 1))


class Relayout(Function):
    """A copy with the elements stored in a given order of the dimensions: ∂C/∂x = ∂C/∂out"""

    def forward(self, x: Any, order: tuple[int, ...] | None) -> Any:
        if order is None:  # NumPy's "keep the order there is", PyTorch's preserve_format
            return x.copy(order="K")
        back = sorted(range(len(order)), key=order.__getitem__)
        return x.transpose(order).copy(order="C").transpose(back)

    def backward(self, grad: Any) -> tuple:
        return (grad,)


def _order(input: Tensor, layout: memory_format, op: str) -> tuple[int, ...] | None:  # noqa: A002
    """The dimension order a format asks of ``input`` (None: as it is)."""
    if not isinstance(layout, memory_format):
        raise TypeError(f"{op}: memory_format must be a chainrule memory format, got {layout!r}")
    if layout is contiguous_format:
        return tuple(range(input.ndim))
    if layout.order is not None and len(layout.order) != input.ndim:
        raise OpError(
            f"{op}: required rank {len(layout.order)} tensor to use {layout.name} format, got "
            f"shape {input.shape}"
        )
    return layout.order


def is_contiguous(input: Tensor, memory_format: memory_format = contiguous_format) -> bool:  # noqa: A002
    """Whether the elements lie densely in memory in the format's order (row-major by
    default); dimensions of size 1 do not count, as in PyTorch."""
    if memory_format is preserve_format:
        return bool(input.array.flags.c_contiguous)
    order = memory_format.order
    if order is not None and len(order) != input.ndim:
        return False
    array = input.array if order is None else input.array.transpose(order)
    return bool(array.flags.c_contiguous)


def clone(input: Tensor, *, memory_format: memory_format = preserve_format) -> Tensor:  # noqa: A002
    """A copy of the data that stays in the graph, laid out in ``memory_format`` (by default
    the layout of ``input``).

    ```pycon
    >>> import chainrule as cr
    >>> cr.zeros(2, 3, 4, 5).clone(memory_format=cr.channels_last).stride()
    (60, 1, 15, 3)

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("clone", "input", input)
    return Relayout.apply(input, order=_order(input, memory_format, "clone"))


def contiguous(input: Tensor, memory_format: memory_format = contiguous_format) -> Tensor:  # noqa: A002
    """The tensor itself when it is laid out in ``memory_format`` already (row-major by
    default), else a copy that is."""
    if is_contiguous(input, memory_format):
        return input
    return clone(input, memory_format=memory_format)
