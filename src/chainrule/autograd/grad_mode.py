"""Switching gradient recording on and off, per thread: ``no_grad``, ``enable_grad``,
``set_grad_enabled``, ``inference_mode``, and the switch of anomaly detection beside them.

The modes live in one context variable, so each thread (and each asyncio task) has its own, as
in PyTorch: an evaluation under ``no_grad`` in one thread leaves recording on in the others,
and a new thread starts with recording on. Every operation reads the variable once
(``current_mode()``); a read costs about as much as a class attribute's.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Mode:
    """What operations do in this thread: record a graph (``grad``), watch for anomalies
    (``anomaly``, with ``check_nan``), and whether ``inference_mode`` is on.

    There is one object per combination (``Mode.of``), and each remembers the modes that a
    switch leads to, so that ``no_grad`` and the optimizer's step switch by one lookup.
    """

    __slots__ = ("anomaly", "check_nan", "grad", "inference", "switched", "without_grad")
    _all: dict[tuple, Mode] = {}  # noqa: RUF012 - the registry of the combinations

    def __init__(self, grad: bool, anomaly: bool, check_nan: bool, inference: bool) -> None:
        self.grad, self.anomaly, self.check_nan, self.inference = (
            grad,
            anomaly,
            check_nan,
            inference,
        )
        self.switched: dict[tuple, Mode] = {}
        self.without_grad: Mode = self if not grad else None  # type: ignore[assignment]

    @classmethod
    def of(
        cls,
        grad: bool = True,
        anomaly: bool = False,
        check_nan: bool = True,
        inference: bool = False,
    ) -> Mode:
        key = (bool(grad), bool(anomaly), bool(check_nan), bool(inference))
        mode = cls._all.get(key)
        if mode is None:
            mode = cls._all[key] = cls(*key)
            if mode.grad:
                mode.without_grad = mode.switch((("grad", False),))
        return mode

    def switch(self, changes: tuple) -> Mode:
        """This mode with ``changes`` ((name, value) pairs) made."""
        mode = self.switched.get(changes)
        if mode is None:
            fields = {
                "grad": self.grad,
                "anomaly": self.anomaly,
                "check_nan": self.check_nan,
                "inference": self.inference,
                **dict(changes),
            }
            mode = self.switched[changes] = Mode.of(**fields)
        return mode

    def __repr__(self) -> str:
        return (
            f"Mode(grad={self.grad}, anomaly={self.anomaly}, check_nan={self.check_nan}, "
            f"inference={self.inference})"
        )


DEFAULT = Mode.of()
_mode = contextvars.ContextVar("chainrule_mode", default=DEFAULT)
_get, _set = _mode.get, _mode.set

current_mode = _get
"""The calling thread's :class:`Mode` (a bound method: the cheapest way to read it)."""

_NO_GRAD = (("grad", False),)


def _switch(changes: tuple) -> contextvars.Token:
    return _set(_get().switch(changes))


def pause_grad() -> contextvars.Token:
    """``set_mode(grad=False)`` at the least cost (the optimizer's step, hooks in backward)."""
    return _set(_get().without_grad)


def set_mode(**changes: Any) -> contextvars.Token:
    """Change the calling thread's mode; ``restore_mode(token)`` undoes it."""
    return _switch(tuple(sorted(changes.items())))


def restore_mode(token: contextvars.Token) -> None:
    """Undo the :func:`set_mode` that returned ``token``."""
    _mode.reset(token)


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad record a graph (in this thread)."""
    return _mode.get().grad


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (in this thread)."""
    return _mode.get().inference


class _ModeSwitch:
    """A context manager and decorator that changes the mode and restores it on exit."""

    changes: tuple  # sorted (name, value) pairs, as _switch takes them

    def __enter__(self) -> None:
        self.__dict__.setdefault("_tokens", []).append(_switch(self.changes))

    def __exit__(self, *exc_info: object) -> None:
        restore_mode(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._copy():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _copy(self) -> _ModeSwitch:
        # A decorated function may run in several threads at once: each call gets its own
        # switch, so that no two threads share a stack of tokens.
        switch = object.__new__(type(self))
        switch.changes = self.changes
        return switch


class no_grad(_ModeSwitch):  # noqa: N801 - PyTorch's name
    """Operations inside record no graph: for evaluation and for in-place parameter updates.

    >>> with no_grad():
    ...     w -= lr * w.grad
    """

    def __init__(self) -> None:
        self.changes = _NO_GRAD


class enable_grad(_ModeSwitch):  # noqa: N801 - PyTorch's name
    """Turn recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        self.changes = (("grad", True),)


class inference_mode(_ModeSwitch):  # noqa: N801 - PyTorch's name
    """``no_grad`` for pure inference (PyTorch's name); ``inference_mode(False)`` does nothing."""

    def __init__(self, mode: bool = True) -> None:
        self.changes = (("grad", False), ("inference", True)) if mode else ()


class set_grad_enabled(_ModeSwitch):  # noqa: N801 - PyTorch's name
    """Turn recording on or off now, in this thread; in a ``with`` block, or as a decorator,
    the previous setting comes back on exit.

    >>> with set_grad_enabled(is_train):
    ...     loss = loss_fn(model(x), y)
    """

    def __init__(self, mode: bool) -> None:
        self.changes = (("grad", bool(mode)),)
        self._tokens = [_switch(self.changes)]

    def __enter__(self) -> None:
        return None  # the switch happened when the object was made

    def __call__(self, fn: F) -> F:
        restore_mode(self._tokens.pop())  # as a decorator it applies per call, not now
        return super().__call__(fn)

    def _copy(self) -> _ModeSwitch:
        switch = object.__new__(_ModeSwitch)
        switch.changes = self.changes
        return switch
