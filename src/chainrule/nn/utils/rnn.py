"""Batches of sequences of different lengths: padded into one tensor, or packed time step by
time step into a :class:`PackedSequence` that the recurrent layers read without touching the
padding.

A packed sequence stores, for t = 0, 1, …, the t-th element of every sequence that is longer
than t, longest sequences first: ``data`` (sum of lengths, *) and ``batch_sizes[t]``, how many
sequences are still running at step t. Every function here moves elements with one indexing
operation, so gradients flow back through packing, padding and unpacking to the inputs.

```pycon
>>> import chainrule
>>> x = chainrule.randn(4, 3, 2)  # (T, B, *)
>>> packed = pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
>>> packed.batch_sizes
tensor([3, 2, 1, 1])
>>> padded, lengths = pad_packed_sequence(packed)
>>> padded.shape, lengths
(chainrule.Size([4, 3, 2]), tensor([2, 4, 1]))

```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.ops.movement import cat
from chainrule.tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """A batch of sequences packed by time step (a named tuple).

    data (Σ lengths, *): the elements, time-major, in the order of ``sorted_indices``;
    batch_sizes (T,) int64: how many sequences are still running at each step;
    sorted_indices (B,) int64 or None: column b of the packed batch is input sequence
    ``sorted_indices[b]`` (None: already longest first); unsorted_indices: its inverse.

    Build one with :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence
    >>> packed = pack_sequence([cr.tensor([1.0, 2.0, 3.0]), cr.tensor([4.0])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 3.0], [2, 1, 1])

    ```
    """

    def __new__(
        cls,
        data: Any,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if batch_sizes is None:  # PyTorch also takes the pair (data, batch_sizes) as one
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The same packing with ``data`` converted (``.to(dtype)``, ``.to(device)``); the
        sorted and unsorted indices follow ``data`` to its device, ``batch_sizes`` stays on the
        CPU (as in PyTorch)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        indices = self.sorted_indices, self.unsorted_indices
        if data.device != self.data.device:
            indices = tuple(None if i is None else i.to(data.device) for i in indices)
        return type(self)(data, self.batch_sizes, *indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> PackedSequence:
        return self.to("cuda" if device is None else device)

    def float(self) -> PackedSequence:
        return self.to(dtypes.float32)

    def double(self) -> PackedSequence:
        return self.to(dtypes.float64)

    def half(self) -> PackedSequence:
        return self.to(dtypes.float16)

    def long(self) -> PackedSequence:
        return self.to(dtypes.int64)

    @property
    def is_cuda(self) -> bool:
        return self.data.device == "cuda"


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The permutation q with q[p[i]] = i (None for None).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import invert_permutation
    >>> invert_permutation(cr.tensor([2, 0, 1])).tolist()
    [1, 2, 0]

    ```
    """
    if permutation is None:
        return None
    p = _int_array(permutation)
    inverse = numpy.empty_like(p)
    inverse[p] = numpy.arange(p.size, dtype=p.dtype)
    return Tensor(_on_device_of(permutation, inverse))


# ---- packing ------------------------------------------------------------------------------------


def pack_padded_sequence(
    input: Tensor,  # noqa: A002
    lengths: Tensor | Sequence[int],
    batch_first: bool = False,
    enforce_sorted: bool = True,
) -> PackedSequence:
    """Pack a padded batch: input (T, B, *) (or (B, T, *) with ``batch_first``), sequence b
    being ``input[:lengths[b], b]``; the padding is left out.

    With ``enforce_sorted`` the lengths must not increase; otherwise the batch is sorted
    longest first (ties keep their order) and ``sorted_indices`` records the order.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_padded_sequence
    >>> padded = cr.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]])  # (T, B) = (3, 2)
    >>> packed = pack_padded_sequence(padded, [3, 1])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 3.0], [2, 1, 1])

    ```
    """
    where = "pack_padded_sequence"
    if not isinstance(input, Tensor) or input.ndim < 2:
        shape = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise OpError(f"{where}: expected input of shape (T, B, *) or (B, T, *), got {shape}")
    xp = numpy  # index arithmetic, on the host
    lengths = _lengths(lengths, where)
    if batch_first:
        input = input.transpose(0, 1)  # noqa: A001
    steps, batch = input.shape[0], input.shape[1]
    if lengths.size != batch:
        raise RuntimeError(
            f"{where}: expected len(lengths) to be equal to batch_size, but got {lengths.size} "
            f"(batch_size={batch})"
        )
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError(
            f"{where}: length of all samples has to be greater than 0, but lengths is "
            f"{lengths.tolist()}"
        )
    if lengths.size and lengths.max() > steps:
        # PyTorch reads past the end of the input here; an error is the only safe answer.
        raise RuntimeError(
            f"{where}: a length of {int(lengths.max())} exceeds the {steps} time steps of the "
            f"input (shape {input.shape}, batch_first={batch_first})"
        )
    if enforce_sorted:
        if (xp.diff(lengths) > 0).any():
            raise RuntimeError(
                f"{where}: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True, got {lengths.tolist()}. Pass enforce_sorted=False "
                "to pack_padded_sequence or pack_sequence to sort the batch instead."
            )
        order = None
    else:
        order = xp.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    batch_sizes = _batch_sizes(lengths)
    steps_of_rows, columns = _packed_positions(batch_sizes)
    if order is not None:
        columns = order[columns]  # the sorted column's place in the input
    data = input[steps_of_rows, columns]
    # The indices live where the data does; batch_sizes on the CPU (as in PyTorch).
    sorted_indices = None if order is None else Tensor(_on_device_of(data, order))
    return PackedSequence(data, Tensor(batch_sizes), sorted_indices, None)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shape (L_i, *): :func:`pad_sequence` then
    :func:`pack_padded_sequence` with the lengths L_i.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence
    >>> packed = pack_sequence([cr.tensor([1.0]), cr.tensor([2.0, 3.0])], enforce_sorted=False)
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([2.0, 1.0, 3.0], [2, 1])

    ```
    """
    lengths = [int(s.shape[0]) if s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo packing: (padded (T, B, *) or (B, T, *), lengths (B,) int64), both in the batch's
    original order, T = ``total_length`` or the longest length, the rest ``padding_value``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> packed = pack_sequence([cr.tensor([1.0, 2.0, 3.0]), cr.tensor([4.0])])
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]], [3, 1])

    ```
    """
    where = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{where}: expected a PackedSequence, got {type(sequence).__name__}")
    xp = numpy  # index arithmetic, on the host
    data, batch_sizes = sequence.data, _int_array(sequence.batch_sizes)
    steps, batch = batch_sizes.size, int(batch_sizes[0]) if batch_sizes.size else 0
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"{where}: expected total_length to be at least the length of the longest "
                f"sequence in input, but got total_length={total_length} and max sequence "
                f"length being {steps}"
            )
        steps = total_length
    steps_of_rows, columns = _packed_positions(batch_sizes)
    if sequence.sorted_indices is not None:
        columns = _int_array(sequence.sorted_indices)[columns]
    # Every (step, column) reads a row of data, or the padding row appended after them.
    rows = data.shape[0]
    padding = numpy.full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    source = cat([data, Tensor(_on_device_of(data, padding))])
    index = xp.full((batch, steps) if batch_first else (steps, batch), rows, dtype=xp.int64)
    if batch_first:
        index[columns, steps_of_rows] = xp.arange(rows)
    else:
        index[steps_of_rows, columns] = xp.arange(rows)
    lengths = (batch_sizes[None, :] > xp.arange(batch)[:, None]).sum(axis=1)  # sorted order
    if sequence.unsorted_indices is not None:
        lengths = lengths[_int_array(sequence.unsorted_indices)]
    return source[index], Tensor(lengths.astype(xp.int64))


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo :func:`pack_sequence`: the list of sequences (L_i, *), in the original order.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pack_sequence, unpack_sequence
    >>> packed = pack_sequence([cr.tensor([1.0, 2.0]), cr.tensor([3.0])])
    >>> [s.tolist() for s in unpack_sequence(packed)]
    [[1.0, 2.0], [3.0]]

    ```
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ---- padding ------------------------------------------------------------------------------------


def pad_sequence(
    sequences: Tensor | Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences of shapes (L_i, *) into (T, B, *) (or (B, T, *) with ``batch_first``),
    T = max L_i, padding each with ``padding_value`` on its ``padding_side`` ("right" or
    "left"). The result has the first sequence's dtype.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import pad_sequence
    >>> pad_sequence([cr.tensor([1.0, 2.0]), cr.tensor([3.0])], batch_first=True).tolist()
    [[1.0, 2.0], [3.0, 0.0]]

    ```
    """
    where = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"{where}: expected padding_side to be one of left or right, but got {padding_side!r}"
        )
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError(f"{where}: received an empty list of sequences")
    first = sequences[0]
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim == 0 or s.shape[1:] != first.shape[1:]:
            shape = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise OpError(
                f"{where}: every sequence must have shape (L, *) with the same trailing "
                f"dimensions as sequence 0, {first.shape}; sequence {i} has shape {shape}"
            )
    xp = numpy  # index arithmetic, on the host
    lengths = [s.shape[0] for s in sequences]
    steps, rows = max(lengths), sum(lengths)
    padding = numpy.full((1, *first.shape[1:]), padding_value, dtype=first.dtype)
    source = cat([s.to(first.dtype) for s in sequences] + [Tensor(_on_device_of(first, padding))])
    # index[b, t]: the row of source that holds element t of sequence b (else the padding).
    index = xp.full((len(sequences), steps), rows, dtype=xp.int64)
    start = 0
    for b, length in enumerate(lengths):
        placed = slice(0, length) if padding_side == "right" else slice(steps - length, steps)
        index[b, placed] = xp.arange(start, start + length)
        start += length
    return source[index if batch_first else index.T]


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor | Sequence[int], batch_first: bool = False
) -> list[Tensor]:
    """Undo :func:`pad_sequence` (right padding): the list of ``padded[:lengths[b], b]``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.nn.utils.rnn import unpad_sequence
    >>> padded = cr.tensor([[1.0, 3.0], [2.0, 0.0]])  # (T, B) = (2, 2)
    >>> [s.tolist() for s in unpad_sequence(padded, [2, 1])]
    [[1.0, 2.0], [3.0]]

    ```
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = _lengths(lengths, "unpad_sequence")
    if lengths.size != padded_sequences.shape[0]:
        raise ValueError(
            f"unpad_sequence: {padded_sequences.shape[0]} sequences but {lengths.size} lengths"
        )
    return [padded_sequences[b, : int(n)] for b, n in enumerate(lengths)]


# ---- index arithmetic ---------------------------------------------------------------------------


def _int_array(value: Any) -> Any:
    """``value`` (a tensor on any device, a list, an array) as a host int64 array: the index
    arithmetic of packing runs on the CPU, as PyTorch's."""
    array = value.array if isinstance(value, Tensor) else value
    return backend.to_numpy(array).astype(numpy.int64, copy=False)


def _on_device_of(like: Tensor, array: Any) -> Any:
    """The host ``array`` moved to the device of the tensor ``like``."""
    return backend.transfer(array, backend.module_of(like.array))


def _lengths(lengths: Any, where: str) -> Any:
    """``lengths`` (a list or a 1-D tensor) as a 1-D int64 array."""
    array = _int_array(lengths)
    if array.ndim != 1:
        raise RuntimeError(f"{where}: 'lengths' argument should be 1-D, got shape {array.shape}")
    return array


def _batch_sizes(sorted_lengths: Any) -> Any:
    """batch_sizes[t] = how many of the (non-increasing) lengths exceed t."""
    xp = numpy  # index arithmetic, on the host
    steps = int(sorted_lengths[0]) if sorted_lengths.size else 0
    return (sorted_lengths[None, :] > xp.arange(steps)[:, None]).sum(axis=1).astype(xp.int64)


def _packed_positions(batch_sizes: Any) -> tuple[Any, Any]:
    """For each row of packed data, its time step and its column in the sorted batch."""
    xp = numpy  # index arithmetic, on the host
    steps = xp.repeat(xp.arange(batch_sizes.size), batch_sizes)
    starts = xp.cumsum(batch_sizes) - batch_sizes
    columns = xp.arange(steps.size) - xp.repeat(starts, batch_sizes)
    return steps, columns
