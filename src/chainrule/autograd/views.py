"""Which tensors are views of which: what an in-place change through a view must update.

``b[1:3]``, ``b.reshape(...)``, ``b.T`` and the like return tensors whose data is a NumPy view
of ``b``'s memory. Writing into one in place changes the others, so their histories must change
too (PyTorch's semantics): the base gets a node that puts the changed region into it, and every
other live view of the base is taken again from the base's new version. For that, a view
remembers its base and the view operations that lead from it (a :class:`ViewLink`), and a
base keeps weak references to its live views. Views of views link to the first base.
"""

from __future__ import annotations

import weakref
from typing import Any

from chainrule.autograd.versions import memory_root


class ViewLink:
    """How a view was made: ``base`` (a tensor that is not itself a view) and ``steps``, each
    ``(operation, args, options)``, applied to the base in order. ``pieces`` names the function
    (split, chunk) when the view is one of several made at once, which PyTorch does not let
    change in place in a graph."""

    __slots__ = ("base", "pieces", "steps")

    def __init__(self, base: Any, steps: tuple, pieces: str = "") -> None:
        self.base, self.steps, self.pieces = base, steps, pieces


def link_of(tensor: Any) -> ViewLink | None:
    """The :class:`ViewLink` of a view, or None for a tensor that is not a view."""
    return getattr(tensor, "_view_link", None)


def register(source: Any, view: Any, step: tuple) -> None:
    """Record that ``view`` is ``step`` applied to ``source``, if the two share memory."""
    data = view.array
    if data.base is None or memory_root(data) is not memory_root(source.array):
        return  # a copy (fancy indexing, a reshape that had to copy): not a view
    link = link_of(source)
    if link is None:
        base, steps, pieces = source, (step,), ""
    else:
        base, steps, pieces = link.base, (*link.steps, step), link.pieces
    view._view_link = ViewLink(base, steps, pieces)
    live = getattr(base, "_live_views", None)
    if live is None:
        live = base._live_views = weakref.WeakSet()
    live.add(view)


def mark_pieces(views: Any, function: str) -> None:
    """Record that ``views`` were made together by ``function`` (split, chunk)."""
    for view in views:
        link = link_of(view)
        if link is not None:
            link.pieces = function


def live_views(base: Any) -> list:
    """The views of ``base`` that are still referenced somewhere."""
    live = getattr(base, "_live_views", None)
    return [] if live is None else list(live)


def replay(base: Any, steps: tuple) -> Any:
    """``steps`` applied to ``base`` again (recording a graph), without registering the result
    as a view: the caller keeps only its history."""
    out = base
    for operation, args, options in steps:
        out = operation.untracked_apply(out, *args, **options)
    return out


def view_of(array: Any, steps: tuple) -> Any:
    """``steps`` applied to a plain array (the same view of a gradient, or of a mask)."""
    for operation, args, options in steps:
        array = operation().forward(array, *args, **options)
    return array
