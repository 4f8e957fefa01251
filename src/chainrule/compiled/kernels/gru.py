"""The kernel of the GRU layer (ops/recurrent.py's GRULayer) for float32 sequences: the loops
of :mod:`chainrule.native.gru` (which eager mode runs too where numba is enabled), built as the
LSTM's kernel (:mod:`.lstm`; what they share is in :mod:`.recurrent`).
"""

from __future__ import annotations

from typing import Any

from numpy import float32, ndarray

from chainrule.compiled.kernels import Kernel, builds
from chainrule.compiled.kernels.recurrent import eager_backward, itself_or_recycle
from chainrule.native import gru as loops
from chainrule.native.recurrent import covers
from chainrule.ops.recurrent import GRULayer


@builds(GRULayer)
def gru(node: Any, arrays: list, options: dict) -> Kernel | None:
    if set(options) - {"reverse"} or len(arrays) != 6 or not covers(arrays):
        return None
    needs = [bool(flag) for flag in node.needs_input_grad]
    grads = tuple(position for position, flag in enumerate(needs) if flag)
    template = node
    last: list = []  # the work arrays of the last call (as the LSTM's)

    def run_forward(
        x: Any,
        h0: Any,
        w_ih: Any,
        w_hh: Any,
        b_ih: Any = None,
        b_hh: Any = None,
        reverse: bool = False,
    ) -> tuple:
        inputs = [x, h0, w_ih, w_hh, b_ih, b_hh]
        itself = itself_or_recycle(inputs, reverse, template, last)
        if itself is not None:
            return itself
        out, saved = loops.forward(*inputs, reverse)
        x_rows, _, _, _, gates, hidden_n, _ = saved
        last.extend((x_rows, gates, hidden_n))
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
