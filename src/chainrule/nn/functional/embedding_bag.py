"""embedding_bag: sums, means or maxima of bags of embedding rows, without the (bags, length,
dim) tensor of every row.

The rows are looked up by :func:`chainrule.nn.functional.embedding` (so the table's gradient
sums over every position that picked a row); a sum or a mean is then one product with a
(bags, positions) matrix of weights, a maximum one gather per dimension, both differentiable
again.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.nn.functional.sparse import embedding, normalise_padding_idx
from chainrule.nn.input_checks import InputDtypeError, InputShapeError
from chainrule.tensor import Tensor

__all__ = ["embedding_bag"]

_MODES = ("sum", "mean", "max")


class BagIndexError(IndexError, RuntimeError):
    """An index outside the table: a RuntimeError as PyTorch raises, and an IndexError as
    chainrule's embedding raises."""


def embedding_bag(
    input: Tensor,  # noqa: A002
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """One vector per bag of indices: the sum, mean or maximum of the bag's rows of ``weight``
    (num_embeddings, embedding_dim), giving (bags, embedding_dim).

    A 2-D ``input`` (B, L) is B bags of L indices; a 1-D ``input`` is cut into bags at
    ``offsets`` (each bag's start, the first 0; with ``include_last_offset`` the last entry is
    the end of the last bag). ``per_sample_weights`` (input's shape, mode ``"sum"`` only) scale
    each row first. Indices equal to ``padding_idx`` are left out (of a mean's count too); an
    empty bag gives zeros.

    ```pycon
    >>> import chainrule as cr
    >>> import chainrule.nn.functional as F
    >>> weight = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> F.embedding_bag(cr.tensor([0, 2, 1]), weight, cr.tensor([0, 2])).tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    >>> F.embedding_bag(cr.tensor([[0, 1], [2, 2]]), weight, mode="max").tolist()
    [[3.0, 4.0], [5.0, 6.0]]

    ```
    """
    where = "embedding_bag"
    if not isinstance(input, Tensor):
        input = Tensor(backend.as_array(input))  # noqa: A001
    if input.dtype not in (dtypes.int64, dtypes.int32):
        raise InputDtypeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead (while checking arguments for "
            f"{where})"
        )
    if weight.ndim != 2:
        raise InputShapeError(
            f"{where}: weight must be (num_embeddings, embedding_dim), got {weight.shape}"
        )
    if sparse:
        raise NotImplementedError(f"{where}: chainrule has no sparse gradients; use sparse=False")
    if per_sample_weights is not None and per_sample_weights.shape != input.shape:
        raise ValueError(
            f"{where}: If per_sample_weights ({per_sample_weights.shape!r}) is not None, then it "
            f"must have the same shape as the input ({input.shape!r})"
        )
    indices, starts = _flatten(input, offsets)
    if per_sample_weights is not None:
        per_sample_weights = per_sample_weights.reshape(-1)
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            f"{where}: per_sample_weights was not None. per_sample_weights is only supported "
            f"for mode='sum' (got mode='{mode}'). Please open a feature request on GitHub."
        )
    xp = backend.module_of(weight.array)
    starts = xp.asarray(starts).astype(dtypes.int64)
    indices = xp.asarray(indices)
    if starts.size and int(starts[0]) != 0:
        raise InputShapeError(
            "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
            f"from position 0. However, got {int(starts[0])}"
        )
    count = weight.shape[0]
    bad = (indices < 0) | (indices >= count)
    if bad.any():
        position = int(xp.argmax(bad))
        raise BagIndexError(
            f"Index {position} of input takes value {int(indices[position])} which is not in "
            f"the valid range [0, {count})"
        )
    padding_idx = normalise_padding_idx(padding_idx, count, where)
    if include_last_offset:
        # The last entry adds no bag; PyTorch's last bag runs to the input's end regardless.
        starts = starts[:-1]
    bags = int(starts.size)
    # bag of each position: the last start at or before it (bags may be empty)
    bag = xp.searchsorted(starts, xp.arange(indices.size), side="right") - 1
    keep = bag >= 0
    if padding_idx is not None:
        keep &= indices != padding_idx
    kept = xp.nonzero(keep)[0]
    rows = embedding(
        Tensor(indices[kept]),
        weight,
        None,
        max_norm,
        norm_type,
        scale_grad_by_freq,
    )  # (kept, dim)
    bag = bag[kept]
    if mode == "max":
        return _bag_max(rows, bag, bags, xp)
    member = (bag[None, :] == xp.arange(bags)[:, None]).astype(weight.array.dtype)
    if mode == "mean":
        sizes = member.sum(axis=1, keepdims=True)
        member = member / xp.maximum(sizes, 1)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights[Tensor(kept)][:, None]
    return Tensor(member) @ rows


def _flatten(input: Tensor, offsets: Tensor | None) -> tuple[Any, Any]:  # noqa: A002
    """The indices as one row and each bag's start, from a 2-D batch or a 1-D row and offsets."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of fixed length sequences. However, found offsets of type "
                f"{type(offsets)}"
            )
        xp = backend.module_of(input.array)
        return input.array.reshape(-1), xp.arange(input.shape[0]) * input.shape[1]
    if input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offsets = offsets if isinstance(offsets, Tensor) else Tensor(backend.as_array(offsets))
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        return input.array, offsets.array
    raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")


def _bag_max(rows: Tensor, bag: Any, bags: int, xp: Any) -> Tensor:
    """Each bag's maximum per dimension, its gradient to the bag's first largest row (as
    PyTorch's kernel picks it); an empty bag gives zeros."""
    dim = rows.shape[1]
    if rows.shape[0] == 0:
        return Tensor(xp.zeros((bags, 0), dtype=rows.array.dtype)) @ rows
    values = rows.array
    # positions laid out (bags, longest bag) with −∞ where a bag is shorter
    sizes = xp.bincount(bag, minlength=bags)
    first = xp.concatenate([xp.zeros(1, dtype=sizes.dtype), xp.cumsum(sizes)[:-1]])
    slot = xp.arange(bag.size) - first[bag]
    grid = xp.full((bags, int(sizes.max()), dim), -xp.inf, dtype=values.dtype)
    grid[bag, slot] = values
    pick = xp.argmax(grid, axis=1) + first[:, None]  # (bags, dim): row of each maximum
    pick = xp.minimum(pick, rows.shape[0] - 1)  # an empty bag's pick is masked below
    out = rows.gather(0, Tensor(pick.astype(dtypes.int64)))
    filled = Tensor((sizes > 0)[:, None].astype(values.dtype))
    return out * filled
