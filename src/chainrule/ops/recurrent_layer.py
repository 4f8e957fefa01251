"""One recurrent layer over a sequence as one graph node (ops/recurrent.py's LSTM, GRU and RNN
layers): the observer that watches its backward step by step, and the dispatch to
chainrule.native's loops where numba is enabled.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy

from chainrule import native
from chainrule.autograd.function import Function
from chainrule.ops.work_arrays import sequence_pool

Observer = Callable[[int, Any, Any], None]


class RecurrentLayer(Function):
    """One recurrent layer over a sequence as one graph node, whose backward can be watched.

    ``observer`` is None, or a callable that this node's backward calls once per time step t,
    in the order it visits them (t falling for a forward direction), as
    ``observer(t, delta_h, delta_c)``: ``delta_h`` (B, H) is δh_t = ∂C/∂h_t in full, from the
    output at step t and from the step after it; ``delta_c`` (B, H) is δc_t = ∂C/∂c_t for an
    LSTM, likewise in full, and None for the GRU and the RNN. The arrays are the loop's working
    memory: read them during the call, never keep or change them.

    Whoever watches sets ``observer`` on one node after its forward (GradientMonitor does, for
    the nodes of a module call); nothing else is global. backward reads it once, so a node that
    nobody watches pays one ``is not None`` test per step.
    """

    observer: Observer | None = None
    ran_loops = False  # whether forward ran chainrule.native's loops (see _native_forward)
    loops_name = ""  # the module of chainrule.native with this layer's loops, if any
    input_count = 0  # the operation's inputs, biases included

    def _native_forward(self, inputs: list, reverse: bool, pooled: tuple) -> Any:
        """The output from chainrule.native's loops, with ``self.saved`` set as the NumPy form
        sets it (its arrays at positions ``pooled`` back to the pool once the node is freed);
        None where the loops are off or do not cover the inputs (float32 NumPy arrays)."""
        self.ran_loops = False  # a node that a compiled replay runs again decides anew
        x = inputs[0]
        if x.dtype != numpy.float32 or type(x) is not numpy.ndarray or not native.enabled():
            return None
        from chainrule.native.recurrent import covers  # imports numba: only once it is wanted

        if not covers(inputs):
            return None
        loops = importlib.import_module(f"chainrule.native.{self.loops_name}")
        out, self.saved = loops.forward(*inputs, reverse)
        self.ran_loops = True
        sequence_pool.give_back_when_freed(self, *(self.saved[i] for i in pooled))
        return out

    def _native_backward(self, grad: Any) -> tuple | None:
        """The gradients from chainrule.native's loops, where forward ran them and the
        gradient is a float32 NumPy array of the output's shape; else None."""
        if (
            not self.ran_loops
            or type(grad) is not numpy.ndarray
            or grad.dtype != numpy.float32
            or grad.shape != self.saved[-1].shape
        ):
            return None
        needs = [bool(flag) for flag in self.needs_input_grad]
        needs += [False] * (self.input_count - len(needs))  # no biases: none asked for
        loops = importlib.import_module(f"chainrule.native.{self.loops_name}")
        return loops.backward(self.saved, grad, self.reverse, needs, self.observer)
