"""NumPy's ways of joining tensors: hstack, vstack (row_stack), dstack and column_stack.

Each gives its tensors enough dimensions (:func:`~chainrule.atleast_2d` and friends), then
concatenates them with :func:`~chainrule.cat`, whose gradient hands every input its own part
of ∂C/∂out. The results are new tensors, not views.
"""

from __future__ import annotations

from collections.abc import Sequence

from chainrule.autograd.function import OpError
from chainrule.ops.axes import atleast_1d, atleast_2d, atleast_3d
from chainrule.ops.movement import _tensor_list, cat, reshape
from chainrule.tensor import Tensor


def _listed(tensors: Sequence[Tensor], op: str) -> list[Tensor]:
    tensors = _tensor_list(tensors, op)
    if not tensors:
        raise OpError(f"{op}: expects a non-empty sequence of tensors")
    return tensors


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Joined horizontally: along dimension 0 for vectors (0-d tensors count as vectors of one
    element), along dimension 1 otherwise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.hstack([cr.tensor([1, 2]), cr.tensor([3])]).tolist()
    [1, 2, 3]

    ```
    """
    tensors = [atleast_1d(t) for t in _listed(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Joined vertically, along dimension 0, after vectors of n became rows (1, n).

    ```pycon
    >>> import chainrule as cr
    >>> cr.vstack([cr.tensor([1, 2]), cr.tensor([3, 4])]).tolist()
    [[1, 2], [3, 4]]

    ```
    """
    return cat([atleast_2d(t) for t in _listed(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """Joined depth-wise, along dimension 2, after every tensor was given 3 dimensions
    ((n,) → (1, n, 1), (m, n) → (m, n, 1)).

    ```pycon
    >>> import chainrule as cr
    >>> tuple(cr.dstack([cr.ones(2, 3), cr.zeros(2, 3)]).shape)
    (2, 3, 2)
    >>> cr.dstack([cr.tensor([1, 2]), cr.tensor([3, 4])]).tolist()
    [[[1, 3], [2, 4]]]

    ```
    """
    return cat([atleast_3d(t) for t in _listed(tensors, "dstack")], 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """Joined side by side as columns, along dimension 1: vectors (and 0-d tensors) become
    columns (n, 1), larger tensors join as they are.

    ```pycon
    >>> import chainrule as cr
    >>> cr.column_stack([cr.tensor([1, 2]), cr.tensor([3, 4])]).tolist()
    [[1, 3], [2, 4]]

    ```
    """
    columns = [
        reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in _listed(tensors, "column_stack")
    ]
    return cat(columns, 1)
