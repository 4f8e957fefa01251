"""Size: the type of ``Tensor.shape`` and ``Tensor.size()``, a tuple of ints (PyTorch's
``torch.Size``).

A ``Size`` is a tuple in every respect (it equals, hashes and unpacks as the tuple of the same
ints), and what is built from one stays one: slices, ``+`` and ``*``. Its ``repr`` names it,
``chainrule.Size([2, 3])``, as PyTorch's names ``torch.Size([2, 3])``; its ``str`` is the
tuple's, ``(2, 3)``, so that messages and logs that format a shape (``f"got {x.shape}"``)
read as plain shapes. PyTorch prints ``torch.Size([2, 3])`` there too: only ``str`` differs.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy


class Size(tuple):
    """The sizes of a tensor's dimensions: ``Size([2, 3])`` for a 2×3 matrix.

    ```pycon
    >>> Size([2, 3])
    chainrule.Size([2, 3])
    >>> Size([2, 3]) == (2, 3), Size([2, 3]).numel()
    (True, 6)

    ```
    """

    __slots__ = ()

    def __new__(cls, sizes: Iterable[Any] = ()) -> Size:
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(f"'{type(sizes).__name__}' object is not iterable")
        values = []
        for position, n in enumerate(sizes):
            if isinstance(n, (float, numpy.floating)) or not hasattr(n, "__index__"):
                raise TypeError(
                    f"chainrule.Size() takes an iterable of 'int' (item {position} is "
                    f"'{type(n).__name__}')"
                )
            values.append(operator.index(n))
        return tuple.__new__(cls, values)

    def numel(self) -> int:
        """The number of elements of a tensor of this size (1 for ``Size([])``)."""
        count = 1
        for n in self:
            count *= n
        return count

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return tuple.__new__(Size, item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(self, other))

    def __radd__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, times: Any) -> Size:
        repeated = tuple.__mul__(self, times)
        return repeated if repeated is NotImplemented else tuple.__new__(Size, repeated)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def __str__(self) -> str:
        return tuple.__repr__(self)

    def __reduce__(self) -> tuple:
        return (Size, (tuple(self),))
