"""What the LSTM's and the GRU's kernels share (compiled/kernels/lstm.py and gru.py), for
float32 sequences; their loops are in :mod:`chainrule.native` (the LSTM's in
:mod:`chainrule.native.lstm`, which eager mode runs too where numba is enabled).

The NumPy form runs a step's gate math as a dozen passes over (B, H) blocks, plus a
transposing copy into the gates' layout before them. The kernels make each step one matrix
product in BLAS, as there, and one numba call that does the rest of the step; backward
likewise, one call that makes δz of the gates, then one product for δh. δz of every step is
kept row-major, (T, B, G·H), so that each step's rows feed its product and each weight
gradient after the loop is one product over all steps
(:func:`chainrule.native.recurrent.weight_grads`). The calls work row by row in short loops,
one array or two each, which the compiler vectorises.

The arithmetic is the NumPy form's, in its order, except in two places: the kernels' rational
tanh (:mod:`chainrule.native.tanh`) instead of NumPy's, each within one unit in the last place
of the exact value (for the GRU's gates and both layers' cell or candidate state; the LSTM's
four gates take NumPy's tanh itself, as the NumPy form does), and the weight gradients' sums,
one product where the NumPy form has one per gate. The results agree with the NumPy form to a
few units in the last place.

Anything else runs the operation itself: float64 or another array type, a gradient of a
shape or dtype the recording did not see; a shape that does not fit raises eager mode's error.
"""

from __future__ import annotations

from typing import Any

from chainrule.compiled.kernels import fresh_node
from chainrule.native.recurrent import covers
from chainrule.ops.work_arrays import sequence_pool


def itself_or_recycle(inputs: list, reverse: bool, template: Any, last: list) -> tuple | None:
    """The operation's own forward and its node, where the kernel does not cover the inputs;
    else None, once the last call's work arrays are back in the pool."""
    if not covers(inputs):
        fallback = fresh_node(template)
        return fallback.forward(*inputs, reverse=reverse), fallback
    if last:
        sequence_pool.give_back(*last)
        last.clear()
    return None


def eager_backward(template: Any, saved: tuple, grad: Any, grads: tuple) -> tuple:
    """The operation's own backward on the kernel's saved arrays (the same as eager mode's)."""
    node = fresh_node(template)
    node.saved, node.reverse = saved[:-1], saved[-1]
    results = node.backward(grad)
    return tuple(results[position] for position in grads)
