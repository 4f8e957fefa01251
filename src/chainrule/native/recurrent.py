"""What the LSTM's and the GRU's loops share (native/lstm.py, and the compiled step's GRU
kernel), for float32 sequences: the constants, the addition of a step's recurrent product to
its gates, and which inputs the loops cover. The weight gradients from δz of every step kept
row-major, which the LSTM's NumPy form shares too, are ops/recurrent_cells.py's
``weight_grads``.
"""

from __future__ import annotations

from typing import Any

from numpy import float32, ndarray

from chainrule.native import jit

ONE, HALF, ZERO = float32(1), float32(0.5), float32(0)


def _add_recurrent(gates: Any, t: int, recurrent: Any, count: int) -> None:
    """In place: the first ``count`` gate blocks of gates[:, t] (G, T, B, H) += their blocks of
    columns of step t's recurrent product (B, G·H) (the LSTM's four, the GRU's r and z)."""
    hidden = gates.shape[3]
    for b in range(gates.shape[2]):
        for k in range(count):
            z = gates[k, t, b]
            product = recurrent[b, k * hidden : (k + 1) * hidden]
            for j in range(hidden):
                z[j] += product[j]


add_recurrent = jit(_add_recurrent)


def covers(arrays: list) -> bool:
    """Whether the loops cover these inputs: NumPy float32 arrays, None where absent."""
    return all(
        array is None or (type(array) is ndarray and array.dtype == float32) for array in arrays
    )
