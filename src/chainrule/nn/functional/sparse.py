"""Lookups by index: embedding (a differentiable table lookup, :mod:`chainrule.ops.sparse`)
and one_hot."""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.ops.sparse import EmbeddingLookup
from chainrule.tensor import Tensor

__all__ = ["embedding", "one_hot"]


def _index_array(indices: Any, where: str) -> Any:
    data = indices.array if isinstance(indices, Tensor) else backend.as_array(indices)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be an integer tensor, got dtype {data.dtype}")
    return data


def embedding(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input`` of
    any shape: the result has shape (*input.shape, embedding_dim).

    The gradient of a row sums over every position that picked it; the ``padding_idx`` row
    gets none. With ``max_norm``, each picked row whose ``norm_type``-norm exceeds it is first
    rescaled in place to that norm (as PyTorch does, outside the graph).

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> weight = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    >>> F.embedding(cr.tensor([[2, 1], [0, 2]]), weight).shape
    chainrule.Size([2, 2, 2])
    >>> F.embedding(cr.tensor([2, 1]), weight).tolist()
    [[3.0, 4.0], [1.0, 2.0]]

    ```
    """
    where = "embedding"
    if weight.ndim != 2:
        raise OpError(
            f"{where}: weight must be (num_embeddings, embedding_dim), got {weight.shape}"
        )
    if sparse:
        raise NotImplementedError(f"{where}: chainrule has no sparse gradients; use sparse=False")
    count = weight.shape[0]
    indices = _index_array(input, where)
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        bad = indices[(indices < 0) | (indices >= count)].reshape(-1)[0]
        raise IndexError(
            f"{where}: index {int(bad)} is out of range for {count} embeddings "
            f"(valid: 0..{count - 1})"
        )
    padding_idx = normalise_padding_idx(padding_idx, count, where)
    if max_norm is not None:
        _renormalise(weight.array, indices, max_norm, norm_type)
    return EmbeddingLookup.apply(
        weight, indices, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )


def normalise_padding_idx(padding_idx: int | None, count: int, where: str) -> int | None:
    """``padding_idx`` as a row number in [0, count), counting negative values from the end."""
    if padding_idx is None:
        return None
    if not -count <= padding_idx < count:
        raise ValueError(
            f"{where}: padding_idx {padding_idx} must be within num_embeddings ({count})"
        )
    return padding_idx % count


def _renormalise(table: Any, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scale the picked rows of ``table`` whose norm exceeds ``max_norm`` down to it, in place."""
    xp = backend.module_of(table)  # outside an operation: the module of the data
    rows = xp.unique(indices)
    norms = xp.linalg.norm(table[rows], ord=norm_type, axis=1)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    table[rows] *= scale[:, None].astype(table.dtype)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices of any shape → int64 one-hot vectors of shape (*, num_classes);
    ``num_classes=-1`` takes the largest index + 1.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> F.one_hot(cr.tensor([0, 2, 1])).tolist()
    [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    >>> F.one_hot(cr.tensor([1]), num_classes=4).tolist()
    [[0, 1, 0, 0]]

    ```
    """
    where = "one_hot"
    indices = _index_array(tensor, where)
    if indices.size and indices.min() < 0:
        raise ValueError(f"{where}: class values must be non-negative, got {int(indices.min())}")
    if num_classes == -1:
        if not indices.size:
            raise ValueError(
                f"{where}: cannot infer num_classes from an empty tensor; pass num_classes"
            )
        num_classes = int(indices.max()) + 1
    elif indices.size and indices.max() >= num_classes:
        raise ValueError(
            f"{where}: class value {int(indices.max())} is too large for num_classes="
            f"{num_classes} (values must be smaller than num_classes)"
        )
    if num_classes < 0:
        raise ValueError(f"{where}: num_classes must be -1 or non-negative, got {num_classes}")
    xp = backend.module_of(indices)  # outside an operation: the module of the data
    matches = indices[..., None] == xp.arange(num_classes)
    return Tensor._make(matches.astype(dtypes.int64), False, None)
