"""The kernel of the LSTM layer (ops/recurrent.py's LSTMLayer) for float32 sequences: the loops
of :mod:`chainrule.native.lstm` (which eager mode runs too where numba is enabled), with the
work arrays of each call kept until the next one. What it shares with the GRU's kernel, and
how its numbers relate to eager mode's, is in :mod:`.recurrent`.
"""

from __future__ import annotations

from typing import Any

from numpy import float32, ndarray

from chainrule.compiled.kernels import Kernel, builds
from chainrule.compiled.kernels.recurrent import eager_backward, itself_or_recycle
from chainrule.native import lstm as loops
from chainrule.native.recurrent import covers
from chainrule.ops.recurrent import LSTMLayer


@builds(LSTMLayer)
def lstm(node: Any, arrays: list, options: dict) -> Kernel | None:
    if set(options) - {"reverse"} or len(arrays) not in (5, 7) or not covers(arrays):
        return None
    needs = [bool(flag) for flag in node.needs_input_grad] + [False] * (7 - len(arrays))
    grads = tuple(position for position, flag in enumerate(needs) if flag)
    template = node
    # The work arrays of the last call, back to the pool when the next call begins: a
    # backward may run again on a retained graph until then.
    last: list = []

    def run_forward(
        x: Any,
        h0: Any,
        c0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        reverse: bool = False,
    ) -> tuple:
        inputs = [x, h0, c0, w_ih, w_hh, b_ih, b_hh]
        itself = itself_or_recycle(inputs, reverse, template, last)
        if itself is not None:
            return itself
        out, saved = loops.forward(*inputs, reverse)
        x_rows, _, _, _, _, gates, cells, tanh_cells, _ = saved
        last.extend((x_rows, gates, cells, tanh_cells))
        return out, (*saved, reverse)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:  # the operation ran itself
            results = saved.backward(grad)
            return tuple(results[position] for position in grads)
        out = saved[-2]
        if grad.shape != out.shape or type(grad) is not ndarray or grad.dtype != float32:
            return eager_backward(template, saved, grad, grads)
        every = loops.backward(saved[:-1], grad, saved[-1], needs)
        return tuple(every[position] for position in grads)

    return Kernel(run_forward, run_backward, grads)
