"""Loops compiled to machine code by numba, for eager operations whose NumPy form makes several
passes over strided memory.

NumPy runs each operation as whole-array passes. For most operations that is as fast as the
memory allows, but a few need one pass per case of a small loop, each over a strided view:
2×2 max pooling takes four comparisons and four masked writes per direction where one loop
touches each element once. Where ``numba`` is installed (``pip install "chainrule[numba]"``),
such an operation runs a loop from this package instead, with the same results (see each
module for the sign of a zero where they differ from the NumPy form), and falls back to its
NumPy form for anything the loop does not cover. The loops: 2×2 max pooling
(:mod:`.pooling`), ReLU's backward (:mod:`.rectifiers`), col2im of 2-D convolutions
(:mod:`.col2im`), the element-wise passes of batch norm and of layer norm
(:mod:`.batch_norm`, :mod:`.layer_norm`), the LSTM and GRU layers (:mod:`.lstm`,
:mod:`.gru`), the updates of Adam, SGD and RMSprop (:mod:`.updates`), rows added at
repeated positions, an embedding's gradient (:mod:`.scatter`), the passes between rows and a
column of per-row values in softmax, log-softmax, cross-entropy and layer norm (:mod:`.rows`), erf,
erfc and GELU (:mod:`.erf`, :mod:`.gelu`), sigmoid, SiLU and tanh around NumPy's exp
(:mod:`.sigmoids`), and hardswish (:mod:`.rectifiers`).

On by default where numba can be imported; ``chainrule.native.enable(False)``, or
``CHAINRULE_NATIVE=0`` in the environment before the first use, keeps every operation in
NumPy. numba is imported on the first call that could use a loop, not with chainrule, and
each loop is compiled on its first call and cached on disk (about a second the first time,
tens of milliseconds in a later process).

The compiled training step's kernels (:mod:`chainrule.compiled.kernels`) use the same loops.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

import numpy

__all__ = ["MAP_SIZE", "UPDATE_SIZE", "available", "enable", "enabled", "loaded", "suits_update"]

_numba: Any = None  # the module once imported; False when it is not installed
_enabled: bool | None = None  # decided on the first question: see enabled()


def available() -> bool:
    """Whether numba can be imported (imported on the first question only)."""
    global _numba
    if _numba is None:
        try:
            _numba = importlib.import_module("numba")
        except ImportError:
            _numba = False
    return _numba is not False


def loaded() -> bool:
    """Whether numba is imported already: from then on a loop costs nothing to load, and the
    operations that take one only on large arrays take it on any."""
    return _numba is not None and _numba is not False


MAP_SIZE = 1 << 17
"""From this many elements on (a convolution's feature maps), ReLU's backward, col2im of a
2-D convolution, batch norm, layer norm, the rows of an embedding's gradient, softmax,
log-softmax, cross-entropy, erf, GELU, sigmoid, SiLU, tanh and hardswish take their loops
(from :data:`FEWEST` once numba is loaded): half NumPy's time or less there, but the first
call loads numba (about 0.4 s and 120 MiB of resident memory), a cost that a perceptron's
layers, where the loops save under 2% of a step, should not bring in."""

FEWEST = 1 << 10
"""Below this many elements the element-wise operations with loops keep their NumPy forms even
once numba is loaded: a call into numba costs about half a microsecond before its loop runs,
as much as NumPy's passes over so few elements, and the test for it is paid by every call of
a small network's step (XOR's sigmoid: 0.3 µs of 3 without this bound first)."""

UPDATE_SIZE = 1 << 16
"""From this many elements on, an optimiser's update of a parameter loads numba (about 0.4 s
and 120 MiB of resident memory, once) for its one-pass loop (:mod:`.updates`): Adam's is 8x
faster than its NumPy form on 400,000 elements and 3x on 65,536; on the 784-512-512-10
network's parameters Adam's step is 4.5x faster, RMSprop's 4x, SGD with momentum's 1.6x
(``benchmarks/optimizer_updates.py``)."""


def suits_update(size: int) -> bool:
    """Whether an optimiser's update of a parameter of ``size`` elements runs its loop: where
    the loops are enabled, from :data:`UPDATE_SIZE` elements on, and for any size once numba is
    loaded (a loop then costs nothing to load). Does not import numba below that size."""
    if size < UPDATE_SIZE and not loaded():
        return False
    return enabled()


def enabled() -> bool:
    """Whether eager operations use this package's loops: numba can be imported and neither
    ``enable(False)`` nor ``CHAINRULE_NATIVE=0`` turned them off."""
    global _enabled
    if _enabled is None:
        _enabled = os.environ.get("CHAINRULE_NATIVE", "1") != "0" and available()
    return _enabled


def enable(flag: bool = True) -> None:
    """Let eager operations use numba's loops (``True``) or keep them all in NumPy (``False``).

    ```pycon
    >>> import chainrule
    >>> before = chainrule.native.enabled()
    >>> chainrule.native.enable(False)
    >>> chainrule.native.enabled()
    False
    >>> chainrule.native.enable(before)

    ```
    """
    global _enabled
    if not isinstance(flag, bool):
        raise TypeError(f"chainrule.native.enable: flag must be a bool, got {flag!r}")
    if flag and not available():
        raise ImportError(
            'chainrule.native.enable(True): numba is not installed: pip install "chainrule[numba]"'
        )
    _enabled = flag


def laid_out_alike(first: Any, *others: Any) -> bool:
    """Whether each of ``others`` is a C-contiguous NumPy array of ``first``'s shape and dtype,
    as element-wise loops over the flattened arrays need (``first`` itself is not checked)."""
    for other in others:
        if (
            type(other) is not numpy.ndarray
            or other.dtype != first.dtype
            or other.shape != first.shape
            or not other.flags.c_contiguous
        ):
            return False
    return True


def numba_errors() -> type:
    """numba's base class of compilation errors (typing, lowering)."""
    available()
    return _numba.core.errors.NumbaError


def jit(function: Callable, cache: bool = False) -> Any:
    """``function`` compiled by numba on its first call: nopython, NumPy's error model (a
    division by zero gives inf or nan, as in NumPy, instead of raising), and no fast-math, so
    every rounding is IEEE's. ``cache`` keeps the machine code on disk between processes where
    numba finds a writable place for it (and compiles in each process where it does not)."""
    available()
    if cache:
        try:
            return _numba.njit(error_model="numpy", nogil=True, cache=True)(function)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            pass
    return _numba.njit(error_model="numpy", nogil=True)(function)
