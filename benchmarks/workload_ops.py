"""Single elementwise operations with their backward, on 2000 float32 values.

Powers, ``square``, ``reciprocal`` and ``sqrt`` beside the multiplications and division that
compute the same values, so the table shows whether a named operation costs more than the
arithmetic it stands for. A step is ``y = op(x); y.backward(g); x.grad = None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

SIZE, STEPS_PER_BLOCK = 2000, 1000


def _mul2_by_hand(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = x * x
    return y, 2 * x * g


def _mul3_by_hand(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    square = x * x
    return square * x, 3 * square * g


def _reciprocal_by_hand(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = 1 / x
    return y, -g * y * y


def _sqrt_by_hand(x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.sqrt(x)
    return y, 0.5 * g / y


# name -> (label, the operation written for any library, its equivalent, NumPy by hand)
OPS: dict[str, tuple[str, Callable[[Any], Any], str | None, Callable]] = {
    "pow2": ("`x ** 2`", lambda x: x**2, "mul2", _mul2_by_hand),
    "square": ("`x.square()`", lambda x: x.square(), "mul2", _mul2_by_hand),
    "mul2": ("`x * x`", lambda x: x * x, None, _mul2_by_hand),
    "pow3": ("`x ** 3`", lambda x: x**3, "mul3", _mul3_by_hand),
    "mul3": ("`x * x * x`", lambda x: x * x * x, None, _mul3_by_hand),
    "reciprocal": ("`x.reciprocal()`", lambda x: x.reciprocal(), "div", _reciprocal_by_hand),
    "div": ("`1 / x`", lambda x: 1 / x, None, _reciprocal_by_hand),
    "sqrt": ("`x.sqrt()`", lambda x: x.sqrt(), "mul2", _sqrt_by_hand),
}


def op_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs in [0.5, 2] (safe for sqrt and 1/x) and a random upstream gradient."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, SIZE).astype(np.float32)
    g = rng.standard_normal(SIZE).astype(np.float32)
    return x, g


def op_step(lib: Any, name: str) -> Callable[[], None]:
    """One forward and backward of operation ``name`` in ``lib`` (chainrule or torch)."""
    op = OPS[name][1]
    values, upstream = op_data()
    x = lib.tensor(values, requires_grad=True)
    g = lib.tensor(upstream)

    def step() -> None:
        op(x).backward(g)
        x.grad = None

    return step


def numpy_op_step(name: str) -> Callable[[], None]:
    """The same values and gradient in NumPy, written the fastest plain way."""
    by_hand = OPS[name][3]
    x, g = op_data()
    return lambda: by_hand(x, g)
