"""Data types and PyTorch's type-promotion rules.

chainrule's dtypes are NumPy dtype objects, so ``t.dtype == chainrule.float32`` and
``t.dtype == numpy.float32`` both hold. Promotion follows PyTorch, not NumPy: an integer tensor
combined with a Python float gives the default float dtype (float32), and a zero-dimensional
tensor only decides the result's dtype when its category (bool < integer < float) is higher than
that of every dimensioned operand.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import numpy

float16 = numpy.dtype("float16")
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
int8 = numpy.dtype("int8")
int16 = numpy.dtype("int16")
int32 = numpy.dtype("int32")
int64 = numpy.dtype("int64")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")

_pyfloat = type(0.0)
_pyint = type(0)
_pybool = type(True)

# PyTorch's aliases (they shadow the builtins inside this module only, hence the _py names).
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

_SUPPORTED_KINDS = "biuf"  # bool, signed and unsigned integers, floats
_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}


class _Defaults:
    # A class attribute rather than a module global: one attribute lookup on the hot path.
    float_dtype = float32


def get_default_dtype() -> numpy.dtype:
    """The dtype that Python floats and ``rand``/``randn``/``zeros`` produce (float32)."""
    return _Defaults.float_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    dtype = numpy.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dtype}")
    _Defaults.float_dtype = dtype


def check_dtype(dtype: numpy.dtype, where: str) -> numpy.dtype:
    """Return ``dtype`` if chainrule supports it, else raise a TypeError naming ``where``."""
    if dtype.kind not in _SUPPORTED_KINDS:
        raise TypeError(
            f"{where}: unsupported dtype {dtype}; chainrule tensors hold bool, integer or "
            "floating-point numbers (float32, float64, int64, bool, ...)"
        )
    return dtype


def to_dtype(dtype: Any) -> numpy.dtype:
    """Normalise a dtype given as a chainrule/NumPy dtype, a type, or a name."""
    if dtype is None or dtype is _pyfloat:
        return _Defaults.float_dtype
    if dtype is _pyint:
        return int64
    if dtype is _pybool:
        return bool_
    try:
        resolved = numpy.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"dtype: {dtype!r} is not a dtype") from error
    return check_dtype(resolved, "dtype")


def is_floating(dtype: numpy.dtype) -> bool:
    return dtype.kind == "f"


_PY_CATEGORY = {_pybool: 0, _pyint: 1, _pyfloat: 2}


def _scalar_category(value: Any) -> int | None:
    return _PY_CATEGORY.get(type(value))


def _default_for(category: int) -> numpy.dtype:
    return (bool_, int64, _Defaults.float_dtype)[category]


def result_type(*operands: Any) -> numpy.dtype:
    """The dtype PyTorch gives an operation on ``operands`` (arrays and Python scalars)."""
    dimensioned, zero_dim, scalar_category = [], [], -1
    for value in operands:
        category = _scalar_category(value)
        if category is not None:
            scalar_category = max(scalar_category, category)
        elif getattr(value, "ndim", 0) > 0:
            dimensioned.append(value.dtype)
        else:
            zero_dim.append(numpy.asarray(value).dtype)
    dtype = _promote_within_top_category(dimensioned)
    if zero_dim:
        zero = _promote_within_top_category(zero_dim)
        if dtype is None or _CATEGORY[zero.kind] > _CATEGORY[dtype.kind]:
            dtype = zero
    if scalar_category >= 0 and (dtype is None or scalar_category > _CATEGORY[dtype.kind]):
        dtype = _default_for(scalar_category)
    return dtype


def _promote_within_top_category(kinds: list) -> numpy.dtype | None:
    """int64 with float32 is float32 in PyTorch (NumPy says float64): only the dtypes of the
    highest category take part in choosing the width."""
    if not kinds:
        return None
    top = max(_CATEGORY[k.kind] for k in kinds)
    return reduce(numpy.promote_types, [k for k in kinds if _CATEGORY[k.kind] == top])


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """Cast two operands (arrays or Python scalars) to PyTorch's common dtype.

    NumPy already agrees with PyTorch when both are arrays of one dtype, or when a Python
    scalar meets an array of the same or a higher category; only the other cases cast. This
    runs on every binary operation, so the common cases return after a few lookups.
    """
    a_scalar = _PY_CATEGORY.get(type(a))
    b_scalar = _PY_CATEGORY.get(type(b))
    if a_scalar is None:
        if b_scalar is None:
            if a.dtype is b.dtype or a.dtype == b.dtype:
                return a, b
        elif b_scalar <= _CATEGORY[a.dtype.kind]:
            return a, b
    elif b_scalar is not None or a_scalar <= _CATEGORY[b.dtype.kind]:
        return a, b
    # Python scalars stay Python scalars: NumPy treats them as weakly typed, so casting the
    # array operands to the common dtype is enough.
    dtype = result_type(a, b)
    if a_scalar is None and a.dtype != dtype:
        a = a.astype(dtype)
    if b_scalar is None and b.dtype != dtype:
        b = b.astype(dtype)
    return a, b
