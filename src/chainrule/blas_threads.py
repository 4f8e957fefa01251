"""How many threads NumPy's BLAS gives a matrix product: one for the small ones.

OpenBLAS splits every product of more than 2¹⁸ multiply-adds (m·k·n) over all its threads.
Between that and about 2²⁰, waking the second thread costs more than it saves: on a 2-core
Intel Xeon (OpenBLAS 0.3.31, SkylakeX kernels) the forward product of a 64-64-128 layer at
batch 64 took 20 µs on two threads and 11 µs on one (``benchmarks/blas_threads.py`` measures
the sizes). :func:`dot` runs the products in that band on one thread and restores the count
the process had, so a limit set with threadpoolctl or ``OPENBLAS_NUM_THREADS`` is kept.

The choice depends on the shapes only, so a product of given shapes always runs the same way
and rounds the same way, in eager mode and in a compiled step alike. It applies to NumPy
arrays and a NumPy built on OpenBLAS (the wheels on PyPI); elsewhere (CuPy, MKL, Accelerate)
:func:`dot` is the array module's own ``dot``. The thread count is the process's: a product
in another Python thread that starts while one runs here runs on one thread too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy

from chainrule import backend

SPLIT_ABOVE = 1 << 18
"""OpenBLAS's own bound (m·k·n) below which it uses one thread: nothing to do there."""

ONE_THREAD_UP_TO = 1 << 20
"""The largest product (m·k·n) run on one thread; larger ones use all of BLAS's threads."""

_UNSET: Any = object()
_controls: Any = _UNSET  # (get, set) of OpenBLAS's thread count, None without OpenBLAS
_library: Any = _UNSET  # (library, name prefix, suffix) of NumPy's OpenBLAS, or None
_core: Any = _UNSET  # OpenBLAS's name for the kernels it chose ("SkylakeX", ...), or None

# Exported names of the functions in the OpenBLAS builds NumPy's wheels carry (scipy-openblas
# with 64-bit integers since NumPy 2.0; openblas64_ before it).
_PREFIXES = ("scipy_openblas", "openblas", "")
_SUFFIXES = ("64_", "")


def _find_library() -> tuple[Any, str, str] | None:
    """NumPy's OpenBLAS, loaded through ctypes, with the prefix and suffix of its exported
    names; None when NumPy's BLAS is not an OpenBLAS found beside it."""
    import ctypes  # here, not at the top: ``import chainrule`` need not load them
    import glob

    root = os.path.dirname(os.path.dirname(numpy.__file__))
    patterns = ("numpy.libs/*openblas*", "numpy/.dylibs/*openblas*")
    for path in sorted(p for pattern in patterns for p in glob.glob(os.path.join(root, pattern))):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                name = f"{prefix}_" if prefix else ""
                if hasattr(library, f"{name}get_num_threads{suffix}") and hasattr(
                    library, f"{name}set_num_threads{suffix}"
                ):
                    return library, name, suffix
    return None


def _openblas() -> tuple[Any, str, str] | None:
    global _library
    if _library is _UNSET:
        _library = _find_library()
    return _library


def _find_controls() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """OpenBLAS's ``get_num_threads`` and ``set_num_threads`` from the library NumPy loaded,
    or None when NumPy's BLAS is not an OpenBLAS found beside it."""
    import ctypes

    found = _openblas()
    if found is None:
        return None
    library, name, suffix = found
    getter = getattr(library, f"{name}get_num_threads{suffix}")
    setter = getattr(library, f"{name}set_num_threads{suffix}")
    getter.restype, getter.argtypes = ctypes.c_int, []
    setter.restype, setter.argtypes = None, [ctypes.c_int]
    return getter, setter


def controls() -> tuple[Callable[[], int], Callable[[int], None]] | None:
    """``(get, set)`` of NumPy's OpenBLAS thread count, looked up once; None without one."""
    global _controls
    if _controls is _UNSET:
        _controls = _find_controls()
    return _controls


def core_name() -> str | None:
    """The name of the kernels NumPy's OpenBLAS runs on this CPU ("SkylakeX", "Haswell",
    "Zen", ...), looked up once; None without OpenBLAS or where it does not say."""
    global _core
    if _core is _UNSET:
        import ctypes

        _core = None
        found = _openblas()
        if found is not None:
            library, name, suffix = found
            getter = getattr(library, f"{name}get_corename{suffix}", None)
            if getter is not None:
                getter.restype, getter.argtypes = ctypes.c_char_p, []
                answer = getter()
                _core = answer.decode("ascii", "replace").strip() if answer else None
    return _core


def one_thread(size: int) -> bool:
    """Whether a product of ``size`` = m·k·n multiply-adds runs on one thread here."""
    return SPLIT_ABOVE < size <= ONE_THREAD_UP_TO


def dot(a: Any, b: Any, out: Any = None) -> Any:
    """The matrix product ``a @ b`` of a (M, K) and b (K, N), as the array module's ``dot``
    computes it (``out`` as there), on one BLAS thread when :func:`one_thread` says so."""
    xp = backend.xp
    size = a.shape[0] * a.shape[1] * b.shape[1]
    if size <= SPLIT_ABOVE or size > ONE_THREAD_UP_TO or xp is not numpy:
        # Without out= when there is none: the stand-ins for NumPy that a backward recording
        # a graph runs on (autograd/graph_numpy.py) take the two factors only.
        return xp.dot(a, b) if out is None else xp.dot(a, b, out=out)
    found = _controls if _controls is not _UNSET else controls()
    if found is None:
        return numpy.dot(a, b, out)
    get, set_threads = found
    threads = get()
    if threads == 1:
        return numpy.dot(a, b, out)
    set_threads(1)
    try:
        return numpy.dot(a, b, out)
    finally:
        set_threads(threads)
