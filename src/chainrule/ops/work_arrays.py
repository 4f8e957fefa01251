"""Large work arrays reused between calls of the convolution, pooling and recurrent operations.

A fresh allocation of megabytes is paid for on first touch, one page fault per 4 KiB page
(about 2.5 µs each on the benchmark machine); a CNN training step that allocated its large
arrays afresh spent more time in fault handling than in its matrix products, and an LSTM's
page faults cost as much as the arithmetic of a layer. Two caches avoid them, for two kinds of
array:

- :class:`Recycler` (``recycler``) hands out arrays whose lifetime nobody tracks, outputs and
  gradients included, and takes one back only once its reference count shows that the cache
  holds the sole reference. The convolution and pooling operations use it.
- :class:`ArrayPool` (``sequence_pool``) takes arrays back when told: the recurrent layers give
  back a backward's work arrays when it returns, and a forward's saved arrays once its graph
  node can no longer run backward. Only arrays that never leave those operations come here.
"""

from __future__ import annotations

import math
import sys
import threading
import weakref
from typing import Any

from chainrule import backend
from chainrule.autograd.function import FREED, Function

# ---- arrays reused once unreferenced -----------------------------------------------------------


class Recycler:
    """Large arrays handed out again once nothing but this cache refers to them.

    An array is reused only when its reference count shows that the cache holds the sole
    reference: no tensor, view, saved value or user variable can see it any more.
    """

    def __init__(
        self, per_shape: int = 4, limit_bytes: int = 256 * 2**20, minimum_bytes: int = 2**18
    ) -> None:
        self.kept: dict[tuple, list] = {}
        self.per_shape, self.limit, self.minimum = per_shape, limit_bytes, minimum_bytes
        self.held = 0
        self.lock = threading.Lock()

    def empty(self, shape: tuple, dtype: Any, like: Any = None) -> Any:
        """An uninitialised array; with ``like``, laid out in memory in the order of its axes
        (so that element-wise work between the two runs over contiguous memory)."""
        if like is None or like.ndim != len(shape):
            return self._take(tuple(shape), dtype)
        order = axis_order(like)
        base = self._take(tuple(shape[axis] for axis in order), dtype)
        return base.transpose(sorted(range(len(order)), key=order.__getitem__))

    def zeros(self, shape: tuple, dtype: Any, like: Any = None) -> Any:
        array = self.empty(shape, dtype, like)
        array.fill(0)
        return array

    def copy(self, array: Any, like: Any = None) -> Any:
        """A copy of ``array``, C-contiguous or laid out like ``like``."""
        out = self.empty(array.shape, array.dtype, like)
        out[...] = array
        return out

    def _take(self, shape: tuple, dtype: Any) -> Any:
        xp = backend.xp
        dtype = xp.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.minimum:  # small arrays come cheaply from the allocator's free lists
            return xp.empty(shape, dtype=dtype)
        with self.lock:  # two threads must not both find the same array unreferenced
            # Keyed by the module too: a NumPy array must never serve a GPU operation.
            kept = self.kept.setdefault((shape, dtype, xp), [])
            for array, count in zip(kept, _reference_counts(kept)):
                if count == _UNREFERENCED:
                    return array
            if len(kept) >= self.per_shape or self.held + nbytes > self.limit:
                return xp.empty(shape, dtype=dtype)
            return self._keep(kept, shape, dtype, nbytes)

    def _keep(self, kept: list, shape: tuple, dtype: Any, nbytes: int) -> Any:
        xp = backend.xp
        # Allocate and free a block of this size first: glibc then raises its mmap threshold to
        # it (up to 32 MiB; mallopt(3), "dynamic mmap threshold") and serves such blocks from
        # its heap, whose pages are reused, instead of mapping fresh pages for every large
        # array that any operation allocates. Elsewhere this is one harmless extra allocation.
        xp.empty(shape, dtype=dtype)
        array = xp.empty(shape, dtype=dtype)
        kept.append(array)
        self.held += nbytes
        return array

    def clear(self) -> None:
        """Drop every kept array (its memory returns once nothing else holds it)."""
        with self.lock:
            self.kept.clear()
            self.held = 0


def axis_order(array: Any) -> list[int]:
    """The axes of ``array`` from the slowest-varying in memory to the fastest."""
    return sorted(range(array.ndim), key=lambda axis: -abs(array.strides[axis]))


def _reference_counts(arrays: list) -> list[int]:
    return [sys.getrefcount(array) for array in arrays]


# The count of an array referred to by a cache list alone, measured through the same function
# that checks kept arrays, so that it holds on any Python version.
_UNREFERENCED = _reference_counts([object()])[0]
recycler = Recycler()


# ---- arrays given back explicitly --------------------------------------------------------------

_POOL_BYTES = 256 * 2**20
_PENDING = 64


class ArrayPool:
    """Arrays that no one uses any more, by (shape, dtype), for the next call to take.

    Arrays come back through :meth:`give_back`, or through :meth:`give_back_when_freed` once the
    graph node that saved them can no longer run backward (the engine freed its saved arrays,
    or the node is garbage), so a retained graph keeps its own. Past ``_POOL_BYTES`` the pool
    is emptied and refilled.
    """

    def __init__(self) -> None:
        self.free: dict[tuple, list] = {}
        self.nbytes = 0
        self.pending: list[tuple[weakref.ref, tuple]] = []  # (graph node, its saved arrays)
        self.lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype: Any) -> Any:
        with self.lock:
            if self.pending:
                self._collect()
            stack = self.free.get((shape, dtype))
            if stack:
                array = stack.pop()
                self.nbytes -= array.nbytes
                if type(array) is backend.ndarray:  # not left over from another backend
                    return array
        return backend.xp.empty(shape, dtype=dtype)

    def give_back(self, *arrays: Any) -> None:
        with self.lock:
            self._add(arrays)

    def give_back_when_freed(self, node: Function, *arrays: Any) -> None:
        """Take ``arrays``, saved by ``node`` for its backward, once it no longer needs them.

        Only the newest ``_PENDING`` nodes are watched, so that a program holding many live
        graphs does not pay a growing scan per call; older ones are simply not recycled.
        """
        with self.lock:
            self.pending.append((weakref.ref(node), arrays))
            if len(self.pending) > _PENDING:
                del self.pending[0]

    def _collect(self) -> None:
        waiting = []
        for ref, arrays in self.pending:
            node = ref()
            if node is None or node.saved is FREED:
                self._add(arrays)
            else:
                waiting.append((ref, arrays))
        self.pending = waiting

    def _add(self, arrays: tuple) -> None:
        for array in arrays:
            if array.nbytes > _POOL_BYTES:
                continue
            if self.nbytes + array.nbytes > _POOL_BYTES:
                self.free.clear()
                self.nbytes = 0
            self.free.setdefault((array.shape, array.dtype), []).append(array)
            self.nbytes += array.nbytes


sequence_pool = ArrayPool()
