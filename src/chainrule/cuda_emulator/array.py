"""The emulator's device array: a NumPy array behind CuPy's rules (see the package docstring)."""

from __future__ import annotations

import copy as _copy
import json
import operator
from pathlib import Path
from typing import Any

import numpy

API: dict = json.loads((Path(__file__).parent / "cupy_api.json").read_text())
"""CuPy's public names (and keyword parameters where known), read off CuPy by a script."""

_METHODS = frozenset(API["ndarray"])
_IMPLICIT = (
    "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
    "NumPy array explicitly."
)


def _refuse_host(value: Any) -> None:
    raise TypeError(
        f"Unsupported type {type(value)!r}: a NumPy array mixed into a computation on the "
        "(emulated) GPU; move it to the device first (cupy.asarray / Tensor.to('cuda'))"
    )


def unwrap(value: Any) -> Any:
    """The NumPy array inside a device array; scalars and options pass; host arrays refused."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, numpy.ndarray):
        _refuse_host(value)
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    if hasattr(value, "__array__") and not isinstance(value, (numpy.generic, numpy.dtype, type)):
        # A tensor or another library's array: CuPy does not convert those implicitly.
        _refuse_host(value)
    return value


def _unwrap_index(key: Any) -> Any:
    """An index: device arrays unwrapped; NumPy index arrays are accepted, as CuPy does."""
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, list):
        return [_unwrap_index(k) for k in key]
    return key


def wrap_result(result: Any, originals: dict | None = None) -> Any:
    """Wrap NumPy arrays (and NumPy scalars, which CuPy gives as 0-d arrays) as device arrays;
    an array that is an argument's buffer comes back as that argument (``out=``)."""
    if isinstance(result, numpy.ndarray):
        if originals:
            same = originals.get(id(result))
            if same is not None and same._a is result:
                return same
        return ndarray._wrap(result)
    if isinstance(result, numpy.generic):
        return ndarray._wrap(numpy.asarray(result))
    if isinstance(result, tuple):
        return tuple(wrap_result(r, originals) for r in result)
    if isinstance(result, list):
        return [wrap_result(r, originals) for r in result]
    return result


def _originals(args: tuple, kwargs: dict) -> dict:
    found = {}
    for value in (*args, *kwargs.values()):
        if isinstance(value, ndarray):
            found[id(value._a)] = value
        elif isinstance(value, tuple):  # out=(a, b)
            for v in value:
                if isinstance(v, ndarray):
                    found[id(v._a)] = v
    return found


def _check_keywords(name: str, parameters: list | None, kwargs: dict) -> None:
    if parameters is None:
        return
    for key in kwargs:
        if key not in parameters:
            raise TypeError(
                f"cupy.{name}() got an unexpected keyword argument {key!r} (CuPy's parameters: "
                f"{', '.join(parameters)})"
            )


def wrap_function(name: str, function: Any, parameters: list | None) -> Any:
    """``function`` (NumPy's) taking and giving device arrays, with CuPy's keywords."""

    def device_function(*args: Any, **kwargs: Any) -> Any:
        _check_keywords(name, parameters, kwargs)
        originals = _originals(args, kwargs)
        result = function(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})
        return wrap_result(result, originals)

    device_function.__name__ = name
    device_function.__doc__ = f"CuPy's ``{name}``, emulated on NumPy."
    return device_function


class ufunc:  # noqa: N801 - CuPy's name
    """A NumPy ufunc on device arrays, with the methods CuPy's ufunc has."""

    def __init__(self, name: str, numpy_ufunc: Any, methods: list[str]) -> None:
        self.__name__ = name
        self._ufunc = numpy_ufunc
        self._methods = methods
        self.nin, self.nout, self.nargs = numpy_ufunc.nin, numpy_ufunc.nout, numpy_ufunc.nargs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        originals = _originals(args, kwargs)
        result = self._ufunc(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})
        return wrap_result(result, originals)

    def __getattr__(self, name: str) -> Any:
        if name not in self._methods:
            raise AttributeError(f"cupy.ufunc {self.__name__!r} has no attribute {name!r}")
        method = getattr(self._ufunc, name)
        if name == "at":

            def at(a: Any, indices: Any, b: Any = None) -> None:
                args = (unwrap(a), _unwrap_index(indices)) + (() if b is None else (unwrap(b),))
                method(*args)

            return at

        def call(*args: Any, **kwargs: Any) -> Any:
            originals = _originals(args, kwargs)
            result = method(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})
            return wrap_result(result, originals)

        return call

    def __repr__(self) -> str:
        return f"<ufunc '{self.__name__}'>"


class _Flags:
    """CuPy's flags: contiguity and ownership only (no ``writeable``)."""

    __slots__ = ("_flags",)

    def __init__(self, flags: Any) -> None:
        self._flags = flags

    c_contiguous = property(lambda self: self._flags.c_contiguous)
    f_contiguous = property(lambda self: self._flags.f_contiguous)
    owndata = property(lambda self: self._flags.owndata)

    def __getitem__(self, key: str) -> bool:
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous}.get(
            key, self.owndata
        )


class _Device:
    """The (emulated) GPU an array lives on: device 0."""

    id = 0

    def __repr__(self) -> str:
        return "<CUDA Device 0 (emulated)>"

    def synchronize(self) -> None:
        """Nothing to wait for: the emulator computes synchronously."""


DEVICE = _Device()


def _binary(op: Any) -> Any:
    def method(self: ndarray, other: Any) -> Any:
        if isinstance(other, numpy.ndarray):
            _refuse_host(other)
        if not isinstance(other, (ndarray, int, float, complex, bool, numpy.generic)):
            return NotImplemented
        return wrap_result(op(self._a, unwrap(other)))

    return method


def _reflected(op: Any) -> Any:
    def method(self: ndarray, other: Any) -> Any:
        if isinstance(other, numpy.ndarray):
            _refuse_host(other)
        if not isinstance(other, (int, float, complex, bool, numpy.generic)):
            return NotImplemented
        return wrap_result(op(other, self._a))

    return method


def _inplace(op: Any) -> Any:
    def method(self: ndarray, other: Any) -> ndarray:
        if isinstance(other, numpy.ndarray):
            _refuse_host(other)
        op(self._a, unwrap(other))
        return self

    return method


def _unary(op: Any) -> Any:
    def method(self: ndarray) -> Any:
        return wrap_result(op(self._a))

    return method


class ndarray:  # noqa: N801 - CuPy's name
    """A device array of the emulator: a NumPy array that follows CuPy's rules."""

    __slots__ = ("__weakref__", "_a")
    __array_priority__ = 100.0

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:  # fmt: skip
        self._a = numpy.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _wrap(cls, array: numpy.ndarray) -> ndarray:
        out = object.__new__(cls)
        out._a = array
        return out

    # ---- what CuPy refuses ------------------------------------------------------------------

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        originals = _originals(inputs, kwargs)
        result = getattr(ufunc, method)(
            *unwrap(inputs), **{k: unwrap(v) for k, v in kwargs.items()}
        )
        return wrap_result(result, originals)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        name = func.__name__
        if name not in API["cupy"]:
            return NotImplemented
        originals = _originals(args, kwargs)
        result = func(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})
        return wrap_result(result, originals)

    # ---- attributes -------------------------------------------------------------------------

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a.flags))
    device = property(lambda self: DEVICE)
    T = property(lambda self: ndarray._wrap(self._a.T))
    mT = property(  # noqa: N815 - CuPy's name
        lambda self: ndarray._wrap(numpy.swapaxes(self._a, -1, -2))
    )
    real = property(lambda self: ndarray._wrap(self._a.real))
    imag = property(lambda self: ndarray._wrap(self._a.imag))

    @property
    def base(self) -> ndarray | None:
        return None if self._a.base is None else ndarray._wrap(self._a.base)

    def __getattr__(self, name: str) -> Any:
        if name not in _METHODS or name.startswith("_"):
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._a, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            originals = _originals(args, kwargs)
            originals[id(self._a)] = self  # a method may give back the array itself
            return wrap_result(method(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}),
                               originals)  # fmt: skip

        return call

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> numpy.ndarray:
        """A host (NumPy) copy."""
        result = numpy.array(self._a, order=order, copy=True)
        if out is not None:
            out[...] = result
            return out
        return result

    def set(self, arr: numpy.ndarray, stream: Any = None) -> None:
        """Copy host data ``arr`` (same shape) into this array."""
        self._a[...] = numpy.asarray(arr)

    def item(self) -> Any:
        return self._a.item()

    def tolist(self) -> Any:
        return self._a.tolist()

    # ---- Python protocols -------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        return wrap_result(self._a[_unwrap_index(key)])

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, numpy.ndarray):
            _refuse_host(value)
        self._a[_unwrap_index(key)] = unwrap(value)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (wrap_result(row) for row in self._a)

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a, spec)

    def __copy__(self) -> ndarray:
        return ndarray._wrap(self._a.copy())

    def __deepcopy__(self, memo: dict) -> ndarray:
        return ndarray._wrap(_copy.deepcopy(self._a, memo))

    def __reduce__(self) -> tuple:
        return (ndarray._wrap, (self._a,))

    __hash__ = None  # type: ignore[assignment]


# Python's operators on device arrays: name -> (operator, has a reflected form, in-place form).
_OPERATORS = {
    "add": (operator.add, True, operator.iadd),
    "sub": (operator.sub, True, operator.isub),
    "mul": (operator.mul, True, operator.imul),
    "truediv": (operator.truediv, True, operator.itruediv),
    "floordiv": (operator.floordiv, True, operator.ifloordiv),
    "mod": (operator.mod, True, operator.imod),
    "pow": (operator.pow, True, operator.ipow),
    "matmul": (operator.matmul, True, None),
    "and": (operator.and_, True, operator.iand),
    "or": (operator.or_, True, operator.ior),
    "xor": (operator.xor, True, operator.ixor),
    "lshift": (operator.lshift, False, None),
    "rshift": (operator.rshift, False, None),
    "eq": (operator.eq, False, None),
    "ne": (operator.ne, False, None),
    "lt": (operator.lt, False, None),
    "le": (operator.le, False, None),
    "gt": (operator.gt, False, None),
    "ge": (operator.ge, False, None),
    "divmod": (divmod, False, None),
}
for _name, (_op, _reflects, _in_place) in _OPERATORS.items():
    setattr(ndarray, f"__{_name}__", _binary(_op))
    if _reflects:
        setattr(ndarray, f"__r{_name}__", _reflected(_op))
    if _in_place is not None:
        setattr(ndarray, f"__i{_name}__", _inplace(_in_place))
for _name, _op in {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs,
                   "invert": operator.invert}.items():  # fmt: skip
    setattr(ndarray, f"__{_name}__", _unary(_op))
