"""Parameter: a tensor that a Module registers as something to train."""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and that a :class:`Module` attribute
    registers in ``parameters()`` and ``state_dict()``. Shares memory with ``data``.

    ```pycon
    >>> import chainrule as cr
    >>> w = cr.nn.Parameter(cr.ones(2))
    >>> w.requires_grad, w.is_leaf, cr.is_tensor(w)
    (True, True, True)

    ```
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = []
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
