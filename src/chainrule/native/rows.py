"""Passes between the rows of an array (R, C) and a column (R, 1) of per-row values, as loops:
softmax's, log-softmax's and cross-entropy's shifts and scalings and their backward passes, and
layer norm's centring.

NumPy runs ``a - column`` or ``a * column`` one short row at a time through its broadcasting
machinery: on 1600 rows of 128 float32 a subtraction of the row maxima took 74 µs, where this
package's loop takes 19 µs; softmax's backward ``(g − Σ g·s)·s`` took 104 µs in two passes
and takes 55 µs in one. The maxima, means, exponentials, row sums and inner products stay in
NumPy and BLAS (ops/softmax.py, ops/short_rows.py, ops/norm.py). Each loop computes the NumPy
form's expression operation for operation (no fused multiply-add), so the results are the same
bit for bit:

- ``out = a − c`` and ``a −= c`` (the shift by the row maximum, log-softmax's by log Σ e^z,
  and layer norm's by the row mean);
- ``a *= c`` (softmax's scaling by 1/Σ e^z);
- ``out = (g − d) · s``, softmax's backward, d = Σ g·s of each row;
- ``e = g − e · v``, log-softmax's backward, e = exp of its output, v = Σ g of each row.

Every array is C-contiguous with C > 0 columns; each column argument is (R, 1).
"""

from __future__ import annotations

from typing import Any

from chainrule.native import jit


def _minus_column(rows: Any, column: Any, out: Any) -> None:
    """out = rows − column, row by row, into another array."""
    for i in range(rows.shape[0]):
        value, source, target = column[i, 0], rows[i], out[i]
        for j in range(rows.shape[1]):
            target[j] = source[j] - value


# The in-place passes have loops of their own: given one array as source and target, a loop
# written for two runs element by element (its vector form is guarded by a test that the
# arrays do not overlap), at about half the speed.


def _subtract_column(rows: Any, column: Any) -> None:
    """rows −= column, row by row."""
    for i in range(rows.shape[0]):
        value, target = column[i, 0], rows[i]
        for j in range(rows.shape[1]):
            target[j] = target[j] - value


def _multiply_column(rows: Any, column: Any) -> None:
    """rows *= column, row by row."""
    for i in range(rows.shape[0]):
        value, target = column[i, 0], rows[i]
        for j in range(rows.shape[1]):
            target[j] = target[j] * value


def _softmax_grad(grad: Any, out: Any, dots: Any, result: Any) -> None:
    """result = (grad − dots) · out, row by row: ∂C/∂z = s ⊙ (g − Σ g⊙s)."""
    for i in range(grad.shape[0]):
        value, g, s, r = dots[i, 0], grad[i], out[i], result[i]
        for j in range(grad.shape[1]):
            r[j] = (g[j] - value) * s[j]


def _log_softmax_grad(grad: Any, scaled: Any, sums: Any) -> None:
    """scaled = grad − scaled · sums, row by row: ∂C/∂z = g − softmax(z) · Σ g, written over
    softmax(z)."""
    for i in range(grad.shape[0]):
        value, g, e = sums[i, 0], grad[i], scaled[i]
        for j in range(grad.shape[1]):
            e[j] = g[j] - e[j] * value


minus_column = jit(_minus_column, cache=True)
subtract_column = jit(_subtract_column, cache=True)
multiply_column = jit(_multiply_column, cache=True)
softmax_grad = jit(_softmax_grad, cache=True)
log_softmax_grad = jit(_log_softmax_grad, cache=True)
