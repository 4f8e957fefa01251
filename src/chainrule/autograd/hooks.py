"""Hook storage: ordered tables of callbacks and the handles that remove them.

A hook is a property of the tensor (or module) it is registered on, never of an operation: a
tensor that has hooks, or that retains its gradient, carries a :class:`TensorHooks` in its
``_hooks`` slot, and the engine looks at that slot once per tensor it visits. Tensors without
hooks hold ``None`` there, so the reverse walk pays one ``is None`` test for them.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import Any

_next_id = itertools.count()


class RemovableHandle:
    """Removes one registered hook: ``handle.remove()``, or leave a ``with handle:`` block."""

    __slots__ = ("_table", "id")

    def __init__(self, table: dict) -> None:
        self.id = next(_next_id)
        # A weak reference: a handle kept by the user must not keep a dead tensor's hooks alive.
        self._table = weakref.ref(table)

    def remove(self) -> None:
        """Unregister the hook; removing it twice does nothing."""
        table = self._table()
        if table is not None:
            table.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class HookTable(dict):
    """Hooks by handle id, in the order they run (a dict subclass, so handles can weak-ref it)."""

    def add(self, hook: Any, prepend: bool = False) -> RemovableHandle:
        """Store ``hook`` (last, or first with ``prepend``) and return the handle removing it."""
        handle = RemovableHandle(self)
        self[handle.id] = hook
        if prepend:
            for key in [key for key in self if key != handle.id]:
                self[key] = self.pop(key)
        return handle


class TensorHooks:
    """What the engine must do with one tensor's gradient besides passing it on.

    ``functions`` are the tensor hooks, run in order, each ``hook(grad) -> Tensor | None``;
    ``retains_grad`` keeps the (hooked) gradient of a non-leaf in ``.grad``; ``gather`` is the
    node that sums a hooked leaf's gradient during one backward pass (see the engine).
    """

    __slots__ = ("functions", "gather", "retains_grad")

    def __init__(self) -> None:
        self.functions = HookTable()
        self.retains_grad = False
        self.gather: Any = None

    def add(self, hook: Callable[[Any], Any]) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
        return self.functions.add(hook)


def hook_name(hook: Any) -> str:
    """How error messages name a hook: its function name, or its repr."""
    return getattr(hook, "__qualname__", None) or getattr(hook, "__name__", None) or repr(hook)
