"""Fit the rational tanh of the compiled LSTM kernel (src/chainrule/compiled/kernels/tanh.py).

tanh(a) ≈ a·P(a²)/Q(a²) on 0 ≤ a ≤ CUTOFF, P of degree 6 and Q of degree 3 with Q(0) = 1,
chosen to make the largest relative error small (a linearised least-squares fit, reweighted
towards the points where the error is largest, repeated). The coefficients are printed for
the variable a² itself, ready to paste; the fit runs in the scaled variable (a/CUTOFF)², in
which the least-squares problem is well conditioned.

    python scripts/fit_tanh.py
"""

from __future__ import annotations

import numpy as np

CUTOFF = 9.1  # tanh(a) rounds to 1 in float32 from about 9.01 on
NUMERATOR, DENOMINATOR = 7, 4  # coefficients of P and of Q


def fit(rounds: int = 300) -> tuple[np.ndarray, np.ndarray, float]:
    a = np.concatenate([np.linspace(0, CUTOFF, 100_001)[1:], np.geomspace(1e-5, 1, 5_000)])
    a.sort()
    exact, u = np.tanh(a), (a / CUTOFF) ** 2
    columns = [a * u**k for k in range(NUMERATOR)]
    columns += [-exact * u**k for k in range(1, DENOMINATOR)]
    system = np.stack(columns, axis=1)
    denominator, emphasis = np.ones_like(a), np.ones_like(a)
    best = (np.inf, None, None)
    for round_ in range(rounds):
        # a·P − tanh·Q = 0, weighted so that its residual is the relative error of a·P/Q
        weight = emphasis / (exact * np.abs(denominator))
        solution, *_ = np.linalg.lstsq(system * weight[:, None], exact * weight, rcond=None)
        p = solution[:NUMERATOR]
        q = np.concatenate([[1.0], solution[NUMERATOR:]])
        denominator = np.polyval(q[::-1], u)
        error = np.abs(a * np.polyval(p[::-1], u) / denominator - exact) / exact
        if error.max() < best[0]:
            best = (error.max(), p, q)
        if round_ >= 5:  # lean towards the worst points: towards the minimax fit
            emphasis = emphasis * (error / error.max() + 1e-2)
            emphasis /= emphasis.sum()
    largest, p, q = best
    scale_p = CUTOFF ** (2.0 * np.arange(NUMERATOR))
    scale_q = CUTOFF ** (2.0 * np.arange(DENOMINATOR))
    return p / scale_p, q / scale_q, largest


if __name__ == "__main__":
    p, q, largest = fit()
    print(f"largest relative error of the fit (in float64): {largest:.2e}")
    print("P:", ", ".join(repr(float(c)) for c in p))
    print("Q:", ", ".join(repr(float(c)) for c in q))
