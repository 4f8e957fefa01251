"""What the LSTM's and the GRU's loops share (native/lstm.py, and the compiled step's GRU
kernel), for float32 sequences: the constants, the addition of a step's recurrent product to
its gates, which inputs the loops cover, and the weight gradients from δz of every step kept
row-major.
"""

from __future__ import annotations

from typing import Any

from numpy import float32, matmul, ndarray

from chainrule.native import jit
from chainrule.ops.recurrent_cells import after_first_step

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


def weight_grads(
    needs: tuple,
    rows: Any,
    rows_rec: Any,
    x_rows: Any,
    w_ih: Any,
    h0: Any,
    out: Any,
    reverse: bool,
) -> tuple:
    """∂C/∂x, ∂C/∂W_ih, ∂C/∂W_hh, ∂C/∂b_ih, ∂C/∂b_hh from δz of every step, row-major
    (T, B, G·H): ``rows`` for x W_ihᵀ + b_ih, ``rows_rec`` for h W_hhᵀ + b_hh (the same
    array unless, as in the GRU, they differ). Each is one product over all T·B rows (eager
    mode's ``parameter_grads`` takes G products, one per gate, from its gate-major arrays; one
    product is a third faster)."""
    need_x, need_w_ih, need_w_hh, need_b_ih, need_b_hh = needs
    n_steps, batch, width = rows.shape
    size = w_ih.shape[1]
    flat = rows.reshape(n_steps * batch, width)
    shared = rows_rec is rows
    grad_x = grad_w_ih = grad_w_hh = grad_b_ih = grad_b_hh = None
    if need_x:
        grad_x = matmul(flat, w_ih).reshape(n_steps, batch, size)
    if need_w_ih or need_b_ih or (need_b_hh and shared):
        # x_rows ends in a column of ones when there are biases: its column is ∂C/∂b.
        full = matmul(flat.T, x_rows)
        grad_w_ih = full[:, :size].copy()
        if full.shape[1] > size:
            grad_b_ih = grad_b_hh = full[:, size].copy()
    if need_b_hh and not shared:
        grad_b_hh = rows_rec.reshape(n_steps * batch, width).sum(axis=0)
    if need_w_hh:  # Σ_t δz_tᵀ h_{t−1}; the first step's h_{t−1} is h0 (nothing when zero)
        later, earlier, first = after_first_step(n_steps, reverse)
        later, earlier, first = rows_rec[later], out[earlier], rows_rec[first]
        count = (n_steps - 1) * batch
        hidden = out.shape[2]
        grad_w_hh = matmul(later.reshape(count, width).T, earlier.reshape(count, hidden))
        if h0 is not None:
            grad_w_hh += matmul(first.T, h0)
    return grad_x, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh
