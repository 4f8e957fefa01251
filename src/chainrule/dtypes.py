"""Data types and PyTorch's type-promotion rules.

chainrule's dtypes are NumPy dtype objects, so ``t.dtype == chainrule.float32`` and
``t.dtype == numpy.float32`` both hold. ``bfloat16``, which NumPy lacks, comes from the optional
package ``ml_dtypes`` (``pip install ml_dtypes``), imported the first time it is asked for.

Promotion follows PyTorch, not NumPy: an integer tensor combined with a Python float gives the
default float dtype (float32), and a zero-dimensional tensor only decides the result's dtype
when its category (bool < integer < float) is higher than that of every dimensioned operand.
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
# ml_dtypes' bfloat16 is of NumPy's kind "V"; check_dtype lets no other "V" dtype through.
_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2, "V": 2}

# PyTorch's names of the dtypes, as its messages ("result type Float") and its legacy tensor
# types ("torch.FloatTensor") spell them.
TORCH_NAMES = {
    "float16": "Half",
    "bfloat16": "BFloat16",
    "float32": "Float",
    "float64": "Double",
    "int8": "Char",
    "int16": "Short",
    "int32": "Int",
    "int64": "Long",
    "uint8": "Byte",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
    "bool": "Bool",
}

_BFLOAT16_MISSING = (
    "bfloat16 needs the optional package ml_dtypes, which is not installed (NumPy has no "
    "bfloat16 of its own): pip install ml_dtypes"
)


def bfloat16_dtype() -> numpy.dtype:
    """The bfloat16 dtype of ``ml_dtypes``; an ImportError saying how to install it if the
    package is missing. (Imported on first use: it takes a while to load.)"""
    try:
        import ml_dtypes
    except ImportError as error:
        raise ImportError(_BFLOAT16_MISSING) from error
    return numpy.dtype(ml_dtypes.bfloat16)


def __getattr__(name: str) -> Any:
    if name == "bfloat16":
        return bfloat16_dtype()
    raise AttributeError(f"module 'chainrule.dtypes' has no attribute {name!r}")


def torch_name(dtype: numpy.dtype) -> str:
    """PyTorch's name of ``dtype``: ``Float`` for float32, ``Long`` for int64..."""
    return TORCH_NAMES.get(dtype.name, dtype.name)


class _Defaults:
    # A class attribute rather than a module global: one attribute lookup on the hot path.
    float_dtype = float32


def get_default_dtype() -> numpy.dtype:
    """The dtype that Python floats and ``rand``/``randn``/``zeros`` produce (float32).

    ```pycon
    >>> import chainrule as cr
    >>> cr.get_default_dtype() == cr.float32
    True

    ```
    """
    return _Defaults.float_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.set_default_dtype(cr.float64)
    >>> cr.tensor([1.5]).dtype == cr.float64
    True
    >>> cr.set_default_dtype(cr.float32)

    ```
    """
    dtype = numpy.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {dtype}")
    _Defaults.float_dtype = dtype


def check_dtype(dtype: numpy.dtype, where: str) -> numpy.dtype:
    """Return ``dtype`` if chainrule supports it, else raise a TypeError naming ``where``."""
    if dtype.kind not in _SUPPORTED_KINDS and dtype.name != "bfloat16":
        raise TypeError(
            f"{where}: unsupported dtype {dtype}; chainrule tensors hold bool, integer or "
            "floating-point numbers (float32, float64, int64, bool, ...)"
        )
    return dtype


def to_dtype(dtype: Any) -> numpy.dtype:
    """Normalise a dtype given as a chainrule/NumPy dtype, a type, or a name.

    None is the default float dtype; as in PyTorch, the Python types ``float``, ``int`` and
    ``bool`` are float64, int64 and bool.
    """
    if dtype is None:
        return _Defaults.float_dtype
    if dtype is _pyfloat:
        return float64
    if dtype is _pyint:
        return int64
    if dtype is _pybool:
        return bool_
    if isinstance(dtype, str) and dtype == "bfloat16":
        return bfloat16_dtype()  # NumPy knows the name only once ml_dtypes is imported
    try:
        resolved = numpy.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"dtype: {dtype!r} is not a dtype") from error
    return check_dtype(resolved, "dtype")


def can_cast(source: numpy.dtype, target: numpy.dtype) -> bool:
    """PyTorch's rule for writing a result of dtype ``source`` into a tensor of ``target``
    in place: anything but floats into integers or bools, and numbers into bools (NumPy's
    "same_kind" also refuses signed into unsigned integers, which PyTorch allows)."""
    source_category, target_category = _CATEGORY[source.kind], _CATEGORY[target.kind]
    if target_category == 0:
        return source_category == 0
    return not (source_category == 2 and target_category == 1)


def check_fits(values: numpy.ndarray, target: numpy.dtype, where: str) -> None:
    """Refuse to convert Python numbers to an integer dtype that cannot hold them, as PyTorch
    does for data given as numbers (arrays are cast without the check, wrapping around).

    Floats must lie within the dtype's range; ints may also be negative down to ``-max`` for
    an unsigned dtype, where they wrap around (-1 is 255 in uint8), as in PyTorch.
    """
    if target.kind not in "iu" or values.dtype.kind not in "iuf" or values.size == 0:
        return
    info = numpy.iinfo(target)
    low = -info.max if target.kind == "u" and values.dtype.kind != "f" else info.min
    with numpy.errstate(invalid="ignore"):
        bad = ~((values >= low) & (values <= info.max))  # NaN compares False: refused too
    if bad.any():
        value = values[bad].flat[0]
        raise RuntimeError(
            f"{where}: value {value} cannot be converted to type {target} without overflow"
        )


def is_floating(dtype: numpy.dtype) -> bool:
    """Whether ``dtype`` is a floating-point dtype (bfloat16 included)."""
    return dtype.kind == "f" or dtype.name == "bfloat16"


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
            zero_dim.append(value.dtype if hasattr(value, "dtype") else numpy.asarray(value).dtype)
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
