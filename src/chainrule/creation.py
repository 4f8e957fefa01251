"""Making tensors: from data, filled with a value, ranges, and random numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy

from chainrule import backend, dtypes
from chainrule.random import default_generator
from chainrule.tensor import Tensor


def _finish(array: Any, requires_grad: bool) -> Tensor:
    out = Tensor._make(array, False, None)
    if requires_grad:
        out.requires_grad = True  # the setter rejects integer dtypes with a clear message
    return out


def _size(size: Sequence[Any], where: str) -> tuple[int, ...]:
    """Accept f(2, 3), f((2, 3)) and f([2, 3]) as PyTorch does, and check the sizes."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = []
    for n in size:
        if isinstance(n, Tensor):
            n = n.item()
        if not isinstance(n, (int, numpy.integer)) or isinstance(n, bool):
            raise TypeError(f"{where}: sizes must be integers, got {n!r} in {tuple(size)}")
        if n < 0:
            raise ValueError(f"{where}: sizes must be non-negative, got {tuple(size)}")
        shape.append(int(n))
    return tuple(shape)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or a tensor).

    Python floats become the default dtype (float32), Python ints int64, bools bool; NumPy
    arrays keep their dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        data = data.array
    try:
        array = numpy.array(backend.to_numpy(data) if hasattr(data, "__array__") else data)
    except ValueError as error:
        raise ValueError(
            f"tensor: data must be rectangular (nested lists of equal lengths): {error}"
        ) from None
    if dtype is not None:
        target = dtypes.to_dtype(dtype)
    elif not isinstance(data, (numpy.ndarray, numpy.generic)) and array.dtype == numpy.float64:
        target = dtypes.get_default_dtype()
    else:
        target = dtypes.check_dtype(array.dtype, "tensor")
    return _finish(backend.as_array(array.astype(target, copy=False)), requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like :func:`tensor`, but shares memory with a NumPy array or tensor when it can."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.to_dtype(dtype)):
        return data
    if isinstance(data, backend.ndarray) and (dtype is None or data.dtype == numpy.dtype(dtype)):
        dtypes.check_dtype(data.dtype, "as_tensor")
        return Tensor._make(data, False, None)
    return tensor(data, dtype=dtype)


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``, keeping its dtype."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.check_dtype(array.dtype, "from_numpy")
    return Tensor._make(backend.as_array(array), False, None)


def _filled(fill: Any, size: Sequence[Any], dtype: Any, requires_grad: bool, where: str) -> Tensor:
    shape = _size(size, where)
    array = backend.xp.full(shape, fill, dtype=dtypes.to_dtype(dtype))
    return _finish(array, requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(0, size, dtype, requires_grad, "zeros")


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(1, size, dtype, requires_grad, "ones")


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (here: zeros, which costs the same with NumPy)."""
    return _filled(0, size, dtype, requires_grad, "empty")


def full(
    size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; its dtype follows the value's type."""
    if dtype is None:
        dtype = dtypes.result_type(fill_value)
    return _filled(fill_value, (size,), dtype, requires_grad, "full")


def _like(input: Tensor, fill: Any, dtype: Any, requires_grad: bool) -> Tensor:  # noqa: A002
    dtype = input.dtype if dtype is None else dtypes.to_dtype(dtype)
    return _finish(backend.xp.full(input.shape, fill, dtype=dtype), requires_grad)


def zeros_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return _like(input, 0, dtype, requires_grad)


def ones_like(input: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:  # noqa: A002
    return _like(input, 1, dtype, requires_grad)


def full_like(
    input: Tensor,  # noqa: A002
    fill_value: Any,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return _like(input, fill_value, dtype, requires_grad)


def _check_finite(where: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, Tensor):
            value = value.item()
        if not math.isfinite(value):
            raise ValueError(f"{where}: {name} must be finite, got {value}")


def arange(
    start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """Numbers from ``start`` up to (not including) ``end`` in steps of ``step``.

    Integers give int64; any float among the arguments gives the default float dtype.
    """
    if end is None:
        start, end = 0, start
    _check_finite("arange", start=start, end=end, step=step)
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if (end - start) * step < 0:
        raise ValueError(
            f"arange: the range from {start} to {end} cannot be walked with step {step}"
        )
    if dtype is None:
        dtype = dtypes.result_type(start, end, step)
    count = max(0, math.ceil((end - start) / step))
    array = (start + step * numpy.arange(count, dtype=numpy.float64)).astype(dtypes.to_dtype(dtype))
    return _finish(backend.as_array(array), requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced numbers from ``start`` to ``end``, both included."""
    _check_finite("linspace", start=start, end=end)
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative integer, got {steps!r}")
    array = backend.xp.linspace(start, end, steps, dtype=dtypes.to_dtype(dtype))
    return _finish(array, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The n×m identity matrix (square when m is omitted)."""
    _size((n,) if m is None else (n, m), "eye")
    return _finish(backend.xp.eye(n, m, dtype=dtypes.to_dtype(dtype)), requires_grad)


# ---- random ------------------------------------------------------------------------------------


def _random(draw: Any, size: Sequence[Any], dtype: Any, requires_grad: bool, where: str) -> Tensor:
    shape = _size(size, where)
    dtype = dtypes.to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{where}: dtype must be floating point, got {dtype}")
    # NumPy draws float32 and float64 directly; other floats are drawn in float64 and cast.
    native = dtype if dtype in (dtypes.float32, dtypes.float64) else dtypes.float64
    array = draw(default_generator(), shape, native).astype(dtype, copy=False)
    return _finish(backend.as_array(array), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    return _random(lambda g, s, d: g.random(s, dtype=d), size, dtype, requires_grad, "rand")


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers (mean 0, variance 1)."""
    draw = lambda g, s, d: g.standard_normal(s, dtype=d)  # noqa: E731
    return _random(draw, size, dtype, requires_grad, "randn")


def rand_like(input: Tensor, dtype: Any = None) -> Tensor:  # noqa: A002
    return rand(input.shape, dtype=input.dtype if dtype is None else dtype)


def randn_like(input: Tensor, dtype: Any = None) -> Tensor:  # noqa: A002
    return randn(input.shape, dtype=input.dtype if dtype is None else dtype)


def randint(*args: Any, size: Any = None, dtype: Any = None) -> Tensor:
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        *args, size = args
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint: call as randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _size((size,), "randint")
    array = default_generator().integers(low, high, size=shape, dtype=numpy.int64)
    target = dtypes.int64 if dtype is None else dtypes.to_dtype(dtype)
    return Tensor._make(backend.as_array(array.astype(target, copy=False)), False, None)


def randperm(n: int, dtype: Any = None) -> Tensor:
    """A random permutation of 0..n−1."""
    array = default_generator().permutation(n).astype(dtypes.to_dtype(dtype or dtypes.int64))
    return Tensor._make(backend.as_array(array), False, None)
