"""The array-module handle: every array computation in chainrule goes through ``xp``.

``xp`` is NumPy, except while an operation computes on tensors that live on a GPU: then it is
CuPy (or the emulator of :mod:`chainrule.cuda_emulator`), whose API mirrors NumPy's, so that
the operations in :mod:`chainrule.ops` run unchanged on either. The module follows the data,
as ``cupy.get_array_module`` does: ``Function.apply`` and the reverse walk select the module
of each operation's inputs (:func:`use`) and restore NumPy afterwards. Until a device array
exists (``on_devices`` is False), that costs each operation one global lookup.

Functions that NumPy and CuPy spell differently (scatter-add) live here and nowhere else.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy

xp: ModuleType = numpy
"""The active array module (``numpy``; ``cupy`` once a GPU backend is selected)."""

ndarray: type = numpy.ndarray
"""The array type of the active module, for cheap ``type(x) is ndarray`` checks."""

on_devices: bool = False
"""Whether an array module other than NumPy has been registered (a GPU is in use)."""

# Array type -> (its module, the name of the device type it lives on).
_modules: dict[type, tuple[ModuleType, str]] = {}

array_types: set[type] = {numpy.ndarray}
"""The array types of every module in use (NumPy's, and CuPy's once registered)."""


def register(module: ModuleType, device_type: str) -> None:
    """Make ``module`` (CuPy's API) the array module of arrays of type ``module.ndarray``, which
    live on devices of type ``device_type`` ("cuda")."""
    global on_devices
    _modules[module.ndarray] = (module, device_type)
    array_types.add(module.ndarray)
    on_devices = True


def module_of(array: Any) -> ModuleType:
    """The array module that computes on ``array``: NumPy for host data (NumPy arrays,
    scalars, lists), CuPy for a CuPy array.

    ```pycon
    >>> import numpy
    >>> from chainrule import backend
    >>> backend.module_of(numpy.ones(2)) is numpy
    True

    ```
    """
    entry = _modules.get(type(array))
    return numpy if entry is None else entry[0]


def is_array(value: Any) -> bool:
    """Whether ``value`` is an array of any registered module (NumPy's included)."""
    return type(value) is numpy.ndarray or type(value) in _modules


def device_type_of(array: Any) -> str:
    """Where ``array`` lives: "cpu", or the device type its module was registered with."""
    entry = _modules.get(type(array))
    return "cpu" if entry is None else entry[1]


def use(module: ModuleType) -> tuple[ModuleType, type]:
    """Make ``module`` the active array module; returns what :func:`restore` takes back."""
    global xp, ndarray
    previous = (xp, ndarray)
    xp, ndarray = module, module.ndarray
    return previous


def restore(previous: tuple[ModuleType, type]) -> None:
    """Make the module that :func:`use` replaced active again."""
    global xp, ndarray
    xp, ndarray = previous


def computed_on(array: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with ``xp`` the array module of ``array`` while it runs: for
    array code that runs outside an operation (a layer's bookkeeping: batch statistics, the
    positions of max pooling's maxima), where ``xp`` is NumPy. A direct call for NumPy data.

    ```pycon
    >>> import numpy
    >>> from chainrule import backend
    >>> backend.computed_on(numpy.ones(2), lambda: backend.xp.__name__)
    'numpy'

    ```
    """
    if type(array) is numpy.ndarray:
        return fn(*args, **kwargs)
    previous = use(module_of(array))
    try:
        return fn(*args, **kwargs)
    finally:
        restore(previous)


def transfer(array: Any, module: ModuleType) -> Any:
    """``array`` copied into ``module``'s memory (host <-> GPU); itself if already there.

    ```pycon
    >>> import numpy
    >>> from chainrule import backend, cuda_emulator
    >>> on_gpu = backend.transfer(numpy.arange(3.0), cuda_emulator)
    >>> type(on_gpu).__name__, backend.transfer(on_gpu, numpy).tolist()
    ('ndarray', [0.0, 1.0, 2.0])

    ```
    """
    if type(array) is module.ndarray:
        return array
    if module is numpy:
        return to_numpy(array)
    return module.asarray(to_numpy(array) if not isinstance(array, numpy.ndarray) else array)


def as_array(data: Any, dtype: Any = None) -> Any:
    """Convert ``data`` (nested lists, scalars, arrays) to an array of the active module; an
    array of a GPU module stays where it is."""
    if type(data) in _modules:
        return data if dtype is None else data.astype(dtype, copy=False)
    return xp.asarray(data, dtype=dtype)


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, accumulating where ``index`` repeats an element.

    Plain ``target[index] += values`` keeps only the last of repeated indices; the gradient of
    an indexing operation needs every occurrence summed.

    Whole rows picked by one vector of indices (an embedding's gradient, ``x[indices]``'s) go
    to ``add.at`` as single elements of the flattened target: NumPy's fast path for one index
    axis, three times faster than the same rows through a 2-D ``add.at`` (1.30 against 0.42
    ms for 1600 rows of 128 float32 into 1000, on a 2-core Intel Xeon with NumPy 2.4). The
    sums are the same: each element still receives its rows in their order.
    """
    if (
        type(target) is numpy.ndarray
        and type(index) is numpy.ndarray
        and index.ndim == 1
        and target.ndim >= 2
        and index.dtype.kind in "iu"
        and target.flags.c_contiguous
        and getattr(values, "shape", None) == (index.size, *target.shape[1:])
        and index.size
    ):
        width = target.size // target.shape[0]
        if width > 1 and index.min() >= 0 and index.max() < target.shape[0]:
            rows = numpy.ascontiguousarray(values).reshape(index.size, width)
            if _rows_through_loop(target.reshape(target.shape[0], width), index, rows):
                return
            elements = (index[:, None] * width + numpy.arange(width)).reshape(-1)
            numpy.add.at(target.reshape(-1), elements, rows.reshape(-1))
            return
    xp.add.at(target, index, values)


def _rows_through_loop(target: Any, index: Any, rows: Any) -> bool:
    """``target[index] += rows`` (whole rows, indices in range) by chainrule.native's loop,
    the same sums as ``add.at`` (20 against 268 µs for 1600 rows of 128 float32 into 1000),
    where numba is enabled: from ``native.MAP_SIZE`` values on, or any once numba is loaded.
    False, with nothing done, where the loop does not apply (other dtypes, or two of them)."""
    from chainrule import native  # here: only this fast path of the array handle needs it

    if target.dtype != rows.dtype or target.dtype.char not in "fd":
        return False
    if not (rows.size >= native.MAP_SIZE or native.loaded()) or not native.enabled():
        return False
    from chainrule.native import scatter  # compiles the loop on its first call

    scatter.scatter_add_rows(target, index, rows)
    return True


def expand_view(array: Any, shape: tuple[int, ...]) -> Any:
    """``array`` broadcast to ``shape`` as a view that may be written where it is writable, as
    PyTorch's ``expand``: an axis of size 1 stretched to n reads one element n times (stride
    0). NumPy's ``broadcast_to`` marks every such view read-only, even one element of it."""
    lead = len(shape) - array.ndim
    strides = [0] * lead + [
        0 if n == 1 and size != 1 else stride
        for n, size, stride in zip(array.shape, shape[lead:], array.strides)
    ]
    return as_strided(array, shape, strides)


def writeable(array: Any) -> bool:
    """Whether writing into ``array`` is allowed and reaches each element once: NumPy's flag;
    for a GPU array, which has no such flag, whether no axis of length > 1 has stride 0 (a
    broadcast view)."""
    if type(array) is numpy.ndarray:
        return array.flags.writeable
    return all(step != 0 or n <= 1 for n, step in zip(array.shape, array.strides))


def as_strided(array: Any, shape: Any, strides: Any) -> Any:
    """A view of ``array``'s memory with the given shape and strides (in bytes), writable where
    ``array`` is (NumPy's flag carried over; a GPU array has none)."""
    module = module_of(array)
    if module is numpy:
        return numpy.lib.stride_tricks.as_strided(
            array, shape=shape, strides=strides, writeable=array.flags.writeable
        )
    return module.lib.stride_tricks.as_strided(array, shape=shape, strides=strides)


def to_numpy(array: Any) -> numpy.ndarray:
    """Return ``array`` as a NumPy array: itself if it is one, a host copy of GPU data."""
    if type(array) is numpy.ndarray:
        return array
    if type(array) in _modules or (type(array).__name__ == "ndarray" and hasattr(array, "get")):
        return array.get()  # a CuPy array (registered or not): the explicit copy to the host
    return numpy.asarray(array)
