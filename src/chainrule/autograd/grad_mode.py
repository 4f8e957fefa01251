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
import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar

import numpy

F = TypeVar("F", bound=Callable[..., Any])


class Mode:
    """What operations do in this thread: record a graph (``grad``), watch for anomalies
    (``anomaly``, with ``check_nan``), and whether ``inference_mode`` is on.

    ``grad_enabled`` is the setting that ``is_grad_enabled()`` reports; ``grad``, what
    operations read, is that setting outside inference mode: inside, nothing is recorded even
    under ``enable_grad``, as in PyTorch.

    There is one object per combination (``Mode.of``), and each remembers the modes that a
    switch leads to, so that ``no_grad`` and the optimizer's step switch by one lookup.
    """

    __slots__ = (
        "anomaly",
        "check_nan",
        "grad",
        "grad_enabled",
        "inference",
        "switched",
        "without_grad",
    )
    _all: dict[tuple, Mode] = {}  # noqa: RUF012 - the registry of the combinations

    def __init__(self, grad: bool, anomaly: bool, check_nan: bool, inference: bool) -> None:
        self.grad_enabled, self.anomaly, self.check_nan, self.inference = (
            grad,
            anomaly,
            check_nan,
            inference,
        )
        self.grad = grad and not inference
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
            if mode.grad_enabled:
                mode.without_grad = mode.switch((("grad", False),))
        return mode

    def switch(self, changes: tuple) -> Mode:
        """This mode with ``changes`` ((name, value) pairs) made."""
        mode = self.switched.get(changes)
        if mode is None:
            fields = {
                "grad": self.grad_enabled,
                "anomaly": self.anomaly,
                "check_nan": self.check_nan,
                "inference": self.inference,
                **dict(changes),
            }
            mode = self.switched[changes] = Mode.of(**fields)
        return mode

    def __repr__(self) -> str:
        return (
            f"Mode(grad={self.grad_enabled}, anomaly={self.anomaly}, check_nan={self.check_nan}, "
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
    """True when gradient recording is switched on in this thread (operations record a graph
    then, except inside ``inference_mode``).

    ```pycon
    >>> import chainrule as cr
    >>> with cr.no_grad():
    ...     print(cr.is_grad_enabled())
    False

    ```
    """
    return _mode.get().grad_enabled


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()`` (in this thread).

    ```pycon
    >>> import chainrule as cr
    >>> with cr.inference_mode():
    ...     print(cr.is_inference_mode_enabled())
    True

    ```
    """
    return _mode.get().inference


class _ModeSwitch:
    """A context manager and decorator that changes the mode and restores it on exit.

    A decorated function runs in the mode; a decorated generator function runs each of its
    steps in the mode, and its caller's code between the steps in the caller's mode, as in
    PyTorch.
    """

    changes: tuple  # sorted (name, value) pairs, as _switch takes them

    def __enter__(self) -> None:
        self.__dict__.setdefault("_tokens", []).append(_switch(self.changes))

    def __exit__(self, *exc_info: object) -> None:
        restore_mode(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._copy():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _step(self, action: Callable[..., Any], *args: Any) -> Any:
        with self._copy():
            return action(*args)

    def _wrap_generator(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            steps = fn(*args, **kwargs)  # runs none of the body yet
            try:
                response = self._step(steps.send, None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        self._step(steps.close)
                        raise
                    except BaseException as error:
                        response = self._step(steps.throw, error)
                    else:
                        response = self._step(steps.send, request)
            except StopIteration as stop:
                return stop.value

        return wrapper  # type: ignore[return-value]

    def _copy(self) -> _ModeSwitch:
        # A decorated function may run in several threads at once: each call gets its own
        # switch, so that no two threads share a stack of tokens.
        switch = object.__new__(type(self))
        switch.changes = self.changes
        return switch


class _NoArgumentSwitch(_ModeSwitch):
    """A switch that PyTorch lets decorate with or without parentheses: ``@no_grad()`` and
    ``@no_grad`` both work."""

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoArgumentSwitch):  # noqa: N801 - PyTorch's name
    """Operations inside record no graph: for evaluation and for in-place parameter updates.
    A context manager, or a decorator (``@no_grad()`` or ``@no_grad``).

    ```pycon
    >>> import chainrule
    >>> w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> with no_grad():
    ...     w -= 0.25 * w.grad
    >>> w.tolist(), w.requires_grad
    ([0.5, 1.0], True)

    ```
    """

    def __init__(self) -> None:
        self.changes = _NO_GRAD


class enable_grad(_NoArgumentSwitch):  # noqa: N801 - PyTorch's name
    """Turn recording back on inside a ``no_grad`` block (a context manager or decorator).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0], requires_grad=True)
    >>> with cr.no_grad():
    ...     with cr.enable_grad():
    ...         y = 2 * x
    >>> y.requires_grad
    True

    ```
    """

    def __init__(self) -> None:
        self.changes = (("grad", True),)


class inference_mode(_ModeSwitch):  # noqa: N801 - PyTorch's name
    """``no_grad`` for pure inference, under PyTorch's name, and ``is_inference_mode_enabled()``
    inside. ``inference_mode(False)`` turns recording on, as PyTorch's does. A context manager,
    or a decorator (``@inference_mode()`` or ``@inference_mode``).

    PyTorch also marks the tensors made inside as inference tensors, which refuse to join a
    graph later; here they are ordinary tensors that require no grad.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0], requires_grad=True)
    >>> with cr.inference_mode():
    ...     y = 2 * x
    >>> y.requires_grad
    False

    ```
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # used as @inference_mode, without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        if mode:
            self.changes = (("grad", False), ("inference", True))
        else:
            self.changes = (("grad", True), ("inference", False))


def _check_flag(mode: Any) -> bool:
    if not isinstance(mode, (bool, numpy.bool_)):
        raise TypeError(
            f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
            f"{type(mode).__name__}"
        )
    return bool(mode)


class set_grad_enabled(_ModeSwitch):  # noqa: N801 - PyTorch's name
    """Turn recording on or off now, in this thread; in a ``with`` block, or as a decorator,
    the previous setting comes back on exit.

    ```pycon
    >>> import chainrule
    >>> w = chainrule.tensor([1.0, 2.0], requires_grad=True)
    >>> is_train = False
    >>> with set_grad_enabled(is_train):
    ...     loss = (w * w).sum()
    >>> loss.requires_grad
    False

    ```
    """

    def __init__(self, mode: bool) -> None:
        self.changes = (("grad", _check_flag(mode)),)
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
