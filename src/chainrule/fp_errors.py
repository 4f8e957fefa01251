"""Silencing NumPy's floating-point warnings inside chainrule, cheaply, and only there.

PyTorch computes 1/0, log 0 and exp(1000) without a word; NumPy warns (``RuntimeWarning:
divide by zero encountered``). chainrule's results already follow PyTorch (inf, nan), so the
warnings only alarm: they are silenced while chainrule computes, and NumPy's error state is
the user's again as soon as control returns to the user's code.

``np.errstate(all="ignore")`` does that, at about 2 µs per entry: a tenth of a small training
step if a step entered it a few times. NumPy 2 keeps the error state in a context variable;
setting that variable to a state made once, and resetting it with the token, costs a tenth of
that. Entering while already silenced (a module called by a module) sets nothing at all.
NumPy 1.x, without the variable, falls back to ``np.errstate``.

    token = fp_errors.enter()
    try:
        ...  # NumPy computations
    finally:
        fp_errors.leave(token)

or ``with fp_errors.silenced(): ...``.
"""

from __future__ import annotations

from typing import Any

import numpy


def _errstate_enter() -> Any:
    """Silence through ``np.errstate``; the token is the entered context manager."""
    state = numpy.errstate(all="ignore")
    state.__enter__()
    return state


def _errstate_leave(token: Any) -> None:
    token.__exit__(None, None, None)


try:  # NumPy ≥ 2.0: the error state is a context variable holding an opaque "extobj"
    from numpy._core._multiarray_umath import _make_extobj
    from numpy._core._ufunc_config import _extobj_contextvar

    _SILENT = _make_extobj(all="ignore")
    _current = _extobj_contextvar.get
    _set = _extobj_contextvar.set
    _reset = _extobj_contextvar.reset
except (ImportError, AttributeError, TypeError):  # NumPy 1.x
    FAST = False
    enter, leave = _errstate_enter, _errstate_leave
else:
    FAST = True

    def enter() -> Any:
        """Silence NumPy's floating-point warnings until :func:`leave` gets the token back;
        the token is None (and nothing is set) when they are silenced already."""
        if _current() is _SILENT:
            return None
        return _set(_SILENT)

    def leave(token: Any) -> None:
        """Restore the error state that :func:`enter` replaced."""
        if token is not None:
            _reset(token)


class silenced:  # noqa: N801 - used as a function, like contextlib's managers
    """A context manager: NumPy's floating-point warnings silenced inside the block."""

    __slots__ = ("token",)

    def __enter__(self) -> None:
        self.token = enter()

    def __exit__(self, *exc_info: object) -> None:
        leave(self.token)
