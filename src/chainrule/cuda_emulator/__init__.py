"""A stand-in for CuPy that runs on the CPU, to test device code on machines without a GPU.

chainrule runs on a GPU through CuPy, whose API mirrors NumPy's. Code written for NumPy can
still go wrong there in ways that a CPU-only test suite never sees: ``numpy.asarray`` on a GPU
array (CuPy refuses the implicit copy to the host), a NumPy array mixed into a GPU expression,
a name or keyword that NumPy has and CuPy lacks (``numpy.errstate``, ``as_strided(...,
writeable=)``), a reduction that gives a NumPy scalar where CuPy gives a 0-d array.

This module is an array module that behaves as CuPy does in those respects while computing
with NumPy underneath:

- its :class:`ndarray` wraps a NumPy array and refuses ``__array__``, with CuPy's message;
- its functions and ufuncs accept its own arrays, Python and NumPy scalars, and refuse NumPy
  arrays (``TypeError: Unsupported type``), except ``asarray``/``array`` (the host-to-device
  copy) and indices;
- it offers only the names of CuPy's namespace, ``linalg``, ``lib.stride_tricks`` and
  ``ndarray`` methods, and, where Python can tell CuPy's parameters, only those keywords; the
  list (``cupy_api.json``) was read off CuPy 14.2 by ``scripts/extract_cupy_api.py``;
- reductions give 0-d arrays, never scalars; ``get()`` / ``asnumpy`` copy to the host.

``chainrule.cuda.emulate()`` makes the ``"cuda"`` device run on it.

```pycon
>>> from chainrule import cuda_emulator as cp
>>> a = cp.asarray([1.0, 2.0])
>>> float(cp.sum(a * a))
5.0
>>> import numpy
>>> numpy.asarray(a)  # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
TypeError: Implicit conversion to a NumPy array is not allowed. Please use `.get()` ...

```
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule.cuda_emulator.array import API, ndarray, unwrap, wrap_function, wrap_result
from chainrule.cuda_emulator.namespaces import Namespace, cuda, lib, linalg

__all__ = ["asnumpy", "cuda", "get_array_module", "lib", "linalg", "ndarray"]


def asarray(a: Any, dtype: Any = None, order: Any = None, copy: Any = None) -> ndarray:
    """``a`` as a device array: a device array itself (no copy unless asked), or a copy of host
    data (a NumPy array, a list, a scalar) onto the device."""
    if isinstance(a, ndarray):
        if (dtype is None or numpy.dtype(dtype) == a.dtype) and not copy:
            return a
        return ndarray._wrap(numpy.array(a._a, dtype=dtype, order=order or "K", copy=True))
    return ndarray._wrap(numpy.array(_host(a), dtype=dtype, order=order or "K", copy=True))


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", **kwargs: Any) -> Any:
    """A new device array with a copy of ``obj`` (host data or a device array)."""
    if isinstance(obj, ndarray) and not copy and (dtype is None or obj.dtype == dtype):
        return obj
    source = obj._a if isinstance(obj, ndarray) else _host(obj)
    return ndarray._wrap(numpy.array(source, dtype=dtype, copy=True, order=order, **kwargs))


def _host(data: Any) -> Any:
    """Host data as NumPy takes it; a list holding device arrays is unwrapped element-wise."""
    if isinstance(data, (list, tuple)):
        return type(data)(_host(value) for value in data)
    if isinstance(data, ndarray):
        return data._a
    return data


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None) -> numpy.ndarray:
    """A host (NumPy) copy of the device array ``a``; host data is converted as NumPy would."""
    if isinstance(a, ndarray):
        result = numpy.array(a._a, order=order, copy=True)
    else:
        result = numpy.asarray(a, order=order)
    if out is not None:
        out[...] = result
        return out
    return result


def get_array_module(*args: Any) -> Any:
    """This module if any argument is one of its arrays, NumPy otherwise (CuPy's rule)."""
    import sys

    for value in args:
        if isinstance(value, ndarray):
            return sys.modules[__name__]
    return numpy


def __getattr__(name: str) -> Any:
    value = _namespace.lookup(name)
    globals()[name] = value  # looked up once
    return value


_namespace = Namespace("cupy", numpy, API["cupy"], {"ndarray": ndarray})
_ = (unwrap, wrap_function, wrap_result)
