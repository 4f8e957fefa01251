"""Generated machine code for a compiled step's operations, where ``numba`` is installed.

A replay (compiled/program.py) calls each operation's ``forward`` and ``backward`` again: the
NumPy code of eager mode, a handful of array passes and a microsecond of Python per call. For
the operations of a training step's usual layers, this package has the same arithmetic as
loops that numba compiles to machine code: one call per operation and direction, each element
touched once, and no temporaries. On a tiny network most of a NumPy replay is per-call cost,
which this removes; on a large one the matrix products dominate, and they stay in NumPy's BLAS
(a kernel is built only for products small enough that a loop beats a BLAS call).

A kernel is built when a replay is made, from the recorded node and its input arrays, or not
at all (None): another dtype, a broadcast, an option it does not cover. The replay then calls
the operation itself, as without numba. Each kernel is a pair of functions:

- ``forward(*arrays) -> (out, saved)``: the operation's output, and whatever its backward needs;
- ``backward(grad, saved) -> tuple``: the gradients of the inputs listed in ``grads``, in order.

The compiled loops write into arrays that the Python side allocates (NumPy's allocation costs
less than numba's boxing of a new array), and take their sizes from the arrays of each call.
Arrays that do not suit a kernel on some call (a parameter replaced by one of another shape)
make that call run the operation itself (:func:`fresh_node`): the loops never index past an
array, since numba does not check bounds.

The numbers are the eager step's where the order of arithmetic is the same (elementwise
operations, the optimiser's update: the same roundings, in the same order, since numba
contracts no multiply-add unless told to), and within a few units in the last place where it
is not: sums in loop order instead of BLAS's, numba's ``exp``, ``log`` and ``tanh`` from the C
library instead of NumPy's vectorised ones, and in the LSTM's and GRU's kernels a rational tanh
that the compiler vectorises (:mod:`.tanh`, within one unit in the last place).

The NumPy replay, bit for bit eager mode, is the default; ``chainrule.compile(step,
kernels=True)`` asks for the kernels, and needs numba (``pip install "chainrule[numba]"``).
Kernels compile on a replay's first call (about a second for a network's first ones, once per
process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from chainrule.native import available, jit, numba_errors

__all__ = ["Declined", "Kernel", "available", "builds", "for_operation", "jit", "numba_errors"]

_builders: dict[type, Callable[..., Any]] = {}

FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


class Declined(Exception):  # noqa: N818 - what it says: a fused kernel declined the arrays
    """Raised inside a fused run of kernels (compiled/fusion.py) whose arrays one kernel does
    not cover on this call (a target out of range): the replay runs the kernels one by one
    instead, whose fallbacks handle it."""


class Kernel:
    """The compiled forward and backward of one recorded operation (see the module's
    docstring); ``grads`` are the positions of the inputs whose gradients backward returns.

    ``fused`` (or None) is the same arithmetic as numba functions that other numba code can
    call, so that a run of kernels becomes one call (compiled/fusion.py): a tuple
    ``(forward, backward, positions, forward_constants, backward_constants)`` with

    - ``forward(*arrays, *forward_constants) -> (out, saved)``, ``arrays`` the inputs at
      ``positions``;
    - ``backward(grad, saved, *backward_constants) -> tuple``, one gradient per input (an
      empty array for those not in ``grads``);

    ``saved`` a tuple of arrays, the same as ``forward`` returns, so that either half may run
    fused and the other alone. They raise :class:`Declined` where ``forward`` would fall back.
    """

    __slots__ = ("backward", "forward", "fused", "grads")

    def __init__(
        self,
        forward: Callable,
        backward: Callable,
        grads: tuple[int, ...],
        fused: tuple | None = None,
    ) -> None:
        self.forward, self.backward, self.grads, self.fused = forward, backward, grads, fused


def builds(*operations: type) -> Callable[[Callable], Callable]:
    """Register a builder ``(node, arrays, options) -> Kernel | None`` for ``operations``."""

    def register(builder: Callable) -> Callable:
        for operation in operations:
            _builders[operation] = builder
        return builder

    return register


def for_operation(node: Any, arrays: list, options: dict) -> Kernel | None:
    """The kernel of a recorded operation: ``node`` after its forward ran, ``arrays`` its
    positional inputs as recorded (None for a constant that is not an array), ``options`` its
    keyword options. None where no kernel covers it."""
    if not _builders:
        _load()
    builder = _builders.get(type(node))
    return None if builder is None else builder(node, arrays, options)


def fresh_node(template: Any) -> Any:
    """A new node of the recorded operation's class, ready for its ``forward``: what a kernel
    runs instead of itself where the arrays of a call do not suit it (eager mode's numbers, or
    its error)."""
    node = object.__new__(type(template))
    node.needs_input_grad = list(template.needs_input_grad)
    return node


def float_arrays(arrays: list, count: int) -> bool:
    """Whether the first ``count`` inputs are non-empty NumPy float32 or float64 arrays of one
    dtype."""
    first = arrays[0]
    return all(
        type(array) is numpy.ndarray
        and array.dtype == first.dtype
        and array.size
        and array.dtype in FLOATS
        for array in arrays[:count]
    )


def _load() -> None:
    """Import the modules that register the builders (each needs numba)."""
    from chainrule.compiled.kernels import (  # noqa: F401
        activations,
        gru,
        losses,
        lstm,
        pooling,
        products,
        updates,
    )
