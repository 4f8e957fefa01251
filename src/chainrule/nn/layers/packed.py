"""Recurrent layers over a :class:`~chainrule.nn.utils.rnn.PackedSequence`.

Sequences of a batch never interact, so sequences of equal length can run together: the
packed batch is cut into groups of one length each (contiguous, since it is sorted longest
first), the whole stack of layers runs once per group on exactly its valid steps with the
fused operations of :mod:`chainrule.nn.functional.recurrent`, and the groups' outputs are put
back in packed order by one indexing operation. Each sequence's final state is therefore the
state at its own last step (at its first step for the reverse direction), as in PyTorch, and
every gradient flows through operations that already have one.
"""

from __future__ import annotations

import itertools
from typing import Any

from chainrule import backend
from chainrule.autograd.function import OpError
from chainrule.nn.functional import recurrent as R
from chainrule.nn.utils.rnn import PackedSequence
from chainrule.ops.movement import cat
from chainrule.tensor import Tensor


def run_packed(module: Any, sequence: PackedSequence, hx: Any) -> tuple[PackedSequence, Any]:
    """Run an RNN, LSTM or GRU module on a packed batch.

    hx: None, h0 (or (h0, c0) for an LSTM) of shape (L·D, B, H) in the batch's original
    order. Returns (output packed like the input with D·H features, h_n) or, for an LSTM,
    (output, (h_n, c_n)), the states in the original order.
    """
    data = sequence.data
    _check_data(module, data)
    xp = backend.xp
    batch_sizes = sequence.batch_sizes.array.astype(xp.int64, copy=False)
    batch = int(batch_sizes[0])
    sorted_indices = sequence.sorted_indices
    is_lstm = module.mode == "LSTM"
    states = _initial_states(module, hx, batch, is_lstm)
    if sorted_indices is not None:  # given in the caller's order; the groups need sorted order
        order = sorted_indices.array
        states = [None if s is None else s[:, order] for s in states]

    # lengths of the sorted columns (non-increasing), and the column ranges of equal length
    lengths = (batch_sizes[None, :] > xp.arange(batch)[:, None]).sum(axis=1)
    bounds = [0, *(xp.flatnonzero(xp.diff(lengths)) + 1).tolist(), batch]
    starts = xp.cumsum(batch_sizes) - batch_sizes  # first packed row of each step
    outputs, finals = [], []
    for start, end in itertools.pairwise(bounds):
        steps = int(lengths[start])
        rows = starts[:steps, None] + xp.arange(start, end)[None, :]  # (steps, n): packed rows
        x = data[rows] if len(bounds) > 2 else data.reshape(steps, batch, data.shape[-1])
        group_states = [None if s is None else s[:, start:end] for s in states]
        output, *group_finals = _run_stack(module, x, group_states)
        outputs.append(output.reshape(-1, output.shape[-1]))
        finals.append(group_finals)

    output = outputs[0]
    if len(outputs) > 1:
        output = cat(outputs)[_packed_rows(batch_sizes, bounds, lengths)]
    finals = [cat(list(kind), dim=1) if len(finals) > 1 else kind[0] for kind in zip(*finals)]
    if sorted_indices is not None:
        inverse = sequence.unsorted_indices.array
        finals = [f[:, inverse] for f in finals]
    packed = PackedSequence(output, sequence.batch_sizes, sorted_indices, sequence.unsorted_indices)
    return (packed, tuple(finals)) if is_lstm else (packed, finals[0])


def _run_stack(module: Any, x: Tensor, states: list) -> tuple:
    """The module's layers on x (T, n, I) from the given states: (output, h_n[, c_n])."""
    common = (module._weights(), module.num_layers, module.bidirectional, module.dropout)
    if module.mode == "LSTM":
        return R.lstm(x, states[0], states[1], *common, module.training)
    if module.mode == "GRU":
        return R.gru(x, states[0], *common, module.training)
    return R.rnn(x, states[0], *common, module.training, module.nonlinearity)


def _packed_rows(batch_sizes: Any, bounds: list, lengths: Any) -> Any:
    """For each packed row (step t, sorted column b), its row in the groups' outputs laid end
    to end, each group (steps, n) flattened time-major: offset + t·n + (b − start)."""
    xp = backend.xp
    steps = xp.repeat(xp.arange(batch_sizes.size), batch_sizes)
    columns = xp.arange(steps.size) - xp.repeat(xp.cumsum(batch_sizes) - batch_sizes, batch_sizes)
    starts = xp.asarray(bounds[:-1])
    sizes = xp.diff(xp.asarray(bounds))
    offsets = xp.cumsum(sizes * lengths[starts]) - sizes * lengths[starts]
    group = xp.searchsorted(starts, columns, side="right") - 1
    return offsets[group] + steps * sizes[group] + columns - starts[group]


def _check_data(module: Any, data: Any) -> None:
    describe = module._describe()
    if not isinstance(data, Tensor) or data.ndim != 2 or data.shape[1] != module.input_size:
        shape = data.shape if isinstance(data, Tensor) else type(data).__name__
        raise OpError(
            f"{describe}: expected packed data of shape (sum of lengths, {module.input_size}), "
            f"got {shape}"
        )
    if data.dtype != module.weight_ih_l0.dtype:
        raise OpError(
            f"{describe}: input has dtype {data.dtype} but the parameters have "
            f"{module.weight_ih_l0.dtype}; convert one of them (e.g. packed.float())"
        )


def _initial_states(module: Any, hx: Any, batch: int, is_lstm: bool) -> list:
    """[h0] or [h0, c0], each checked against (L·D, B, H) or None."""
    if not is_lstm:
        return [module._state(hx, "hx", batch, True)]
    if hx is None:
        return [None, None]
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{module._describe()}: hx must be a tuple (h0, c0)")
    return [module._state(hx[0], "h0", batch, True), module._state(hx[1], "c0", batch, True)]
