"""Versions of memory written in place: how backward knows that a saved array has changed.

An operation's backward reads the arrays its forward saved. If one of them is overwritten in
place before backward runs (``c.mul_(10)`` after ``w * c``), the gradient would silently use
the new values; PyTorch refuses with "modified by an inplace operation", and so does chainrule.

One clock numbers both events: every graph node takes a number from it when it is created
(its ``sequence_number``), and every in-place write takes one too, its *stamp*, recorded for
the memory it wrote. Memory is identified by its root: the object that owns it (the base of a
view), so a write through a view, a ``detach()``ed tensor or the tensor itself counts alike. At
backward a node checks each array it saved: a stamp newer than the node means the array was
written after the node saved it. A node newer than the latest write anywhere needs no check at
all, which is every node of an ordinary training step (the optimizer writes the parameters
before the next forward pass starts).

Writes straight into ``tensor.array`` with NumPy are invisible here. Writes through ``tensor.data``
(a detached tensor on the same memory) are seen, where PyTorch's ``.data`` hides them: a
backward that would read the changed values raises instead of returning a wrong gradient.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from chainrule import backend

clock = itertools.count(1)
"""Numbers graph nodes (at creation) and in-place writes (their stamps) in one order."""


class Writes:
    """``latest``: the stamp of the most recent in-place write (0: none yet). A class attribute,
    so that the engine reads it with one lookup per backward pass."""

    latest = 0


class _Record:
    """What is known of one root's writes: the latest stamp, how many, and the last writer."""

    __slots__ = ("count", "ref", "stamp", "what")

    def __init__(self, ref: Any) -> None:
        self.ref, self.stamp, self.count, self.what = ref, 0, 0, ""


# id(root) -> _Record. A record lives as long as its root: the weak reference's callback drops
# it when the root is freed, before the id can be reused by another object.
_records: dict[int, _Record] = {}


def memory_root(array: Any) -> Any:
    """The object that owns ``array``'s memory: the array itself, or the end of its base chain."""
    base = array.base
    if base is None:
        return array
    while True:
        parent = getattr(base, "base", None)
        if parent is None:
            return base
        base = parent


def _record(root: Any) -> _Record:
    key = id(root)
    record = _records.get(key)
    if record is None:
        try:
            ref = weakref.ref(root, lambda _, key=key: _records.pop(key, None))
        except TypeError:  # a few buffer types cannot be weakly referenced; they are kept
            ref = None
        record = _records[key] = _Record(ref)
    return record


def note_write(array: Any, what: str) -> int:
    """Record that ``what`` (an operation's name) wrote ``array`` in place; returns the stamp."""
    stamp = next(clock)
    record = _record(memory_root(array))
    record.stamp, record.what = stamp, what
    record.count += 1
    Writes.latest = stamp
    return stamp


def note_parameter_writes(parameters: Any, what: str) -> None:
    """:func:`note_write` for the parameters that an optimizer's step updated: those with a
    gradient (the step skips the others, and PyTorch leaves their versions alone)."""
    stamp = next(clock)
    records = _records
    for p in parameters:
        if p._grad is None:
            continue
        array = p.array
        root = array if array.base is None else memory_root(array)
        record = records.get(id(root)) or _record(root)
        record.stamp, record.what = stamp, what
        record.count += 1
    Writes.latest = stamp


def version(array: Any) -> int:
    """How many in-place writes ``array``'s memory has had (PyTorch's ``Tensor._version``)."""
    record = _records.get(id(memory_root(array)))
    return 0 if record is None else record.count


def check_saved(node: Any) -> None:
    """Raise PyTorch's error if an array that ``node`` saved was written after ``node`` was made.

    Called by the engine only for nodes older than the latest write (``Writes.latest``).
    """
    born = node.sequence_number
    for value in saved_arrays(node.saved):
        record = _records.get(id(memory_root(value)))
        if record is not None and record.stamp > born:
            name = type(node).__name__
            raise RuntimeError(
                f"backward of {name}: one of the variables needed for gradient computation has "
                f"been modified by an inplace operation: a {value.dtype} array of shape "
                f"{tuple(value.shape)} that {name} saved was changed afterwards by "
                f"{record.what} (its memory is at version {record.count}). Use the "
                f"out-of-place form of {record.what}, or clone() the tensor before changing it."
            )


def saved_arrays(saved: Any) -> Any:
    """The arrays among ``saved`` (a node's saved values, tuples and lists opened), of any
    array module: code outside an operation (an in-place write) sees NumPy as the active
    module while it inspects a node that saved device arrays."""
    is_array = backend.is_array
    for value in saved:
        if is_array(value):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if is_array(v))
