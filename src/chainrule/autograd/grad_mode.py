"""Switching gradient recording on and off: ``no_grad``, ``enable_grad``, ``is_grad_enabled``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class GradMode:
    """Whether operations record the graph that ``backward`` walks (a class attribute, so the
    hot path reads it with one attribute lookup)."""

    enabled = True


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad record a graph."""
    return GradMode.enabled


class _SetGradMode:
    """A context manager and decorator that sets :class:`GradMode` and restores it on exit."""

    mode: bool

    def __enter__(self) -> None:
        self._previous = GradMode.enabled
        GradMode.enabled = self.mode

    def __exit__(self, *exc_info: object) -> None:
        GradMode.enabled = self._previous

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Operations inside record no graph: for evaluation and for in-place parameter updates.

    >>> with no_grad():
    ...     w -= lr * w.grad
    """

    mode = False


class enable_grad(_SetGradMode):  # noqa: N801 - PyTorch's name
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True
