"""Making tensors: from data, filled with a value, ranges, and random numbers.

Every function takes PyTorch's ``device=`` keyword: None or the CPU (``"cpu"``,
``device("cpu")``); a GPU is an error that says this build has none (:mod:`chainrule.devices`).
The random ones take ``generator=`` (a :class:`chainrule.Generator`; None is the default one).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy

from chainrule import backend, devices, dtypes, fp_errors
from chainrule.autograd.function import ArgumentTypeError, as_index, not_a_tensor, type_name
from chainrule.random import Generator, numpy_generator
from chainrule.tensor import Tensor


def _finish(array: Any, requires_grad: bool, device: Any = devices.CPU) -> Tensor:
    """A new leaf tensor holding ``array``, copied to ``device`` (a checked device) if it is
    not there: chainrule makes data on the CPU, with its seeded generators, and copies it."""
    if device is not devices.CPU:
        array = backend.transfer(array, devices.module_for(device, "tensor"))
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


def tensor(
    data: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays or a tensor).

    Python floats become the default dtype (float32), Python ints int64, bools bool; NumPy
    arrays keep their dtype unless ``dtype`` is given.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1, 2], [3, 4]])
    >>> x.shape, x.dtype == cr.int64, cr.tensor([1.0, 2.0], requires_grad=True).requires_grad
    (chainrule.Size([2, 2]), True, True)

    ```
    """
    if device is None and isinstance(data, Tensor):
        device = data.device
    elif device is None and backend.device_type_of(data) != "cpu":
        device = devices.of_array(data)  # a CuPy array stays on the GPU, as in PyTorch
    device = devices.check(device, "tensor")
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
        if not hasattr(data, "__array__"):
            dtypes.check_fits(array, target, "tensor")
    elif (
        not isinstance(data, (numpy.ndarray, numpy.generic))
        and not backend.is_array(data)
        and array.dtype == numpy.float64
    ):
        target = dtypes.get_default_dtype()
    else:
        target = dtypes.check_dtype(array.dtype, "tensor")
    with fp_errors.silenced():  # float values out of float16's range become ±inf, as in PyTorch
        return _finish(backend.as_array(array.astype(target, copy=False)), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor`, but shares memory with a NumPy array or tensor when it can.

    ```pycon
    >>> import chainrule as cr
    >>> y = cr.tensor([1.0, 2.0])
    >>> cr.as_tensor(y) is y, cr.as_tensor([1, 2], dtype=cr.float32).tolist()
    (True, [1.0, 2.0])

    ```
    """
    if isinstance(data, Tensor):
        if device is not None and devices.check(device, "as_tensor") != data.device:
            data = data.to(device)
        if dtype is None or data.dtype == dtypes.to_dtype(dtype):
            return data
    wanted = devices.check(device, "as_tensor")
    if (
        backend.is_array(data)
        and (dtype is None or data.dtype == numpy.dtype(dtype))
        and (device is None or devices.of_array(data) == wanted)
    ):
        dtypes.check_dtype(data.dtype, "as_tensor")
        return Tensor._make(data, False, None)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``, keeping its dtype.

    ```pycon
    >>> import chainrule as cr
    >>> import numpy as np
    >>> cr.from_numpy(np.arange(3, dtype=np.float64)).dtype == cr.float64
    True

    ```
    """
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.check_dtype(array.dtype, "from_numpy")
    return Tensor._make(backend.as_array(array), False, None)


def _filled(
    fill: Any, size: Sequence[Any], dtype: Any, device: Any, requires_grad: bool, where: str
) -> Tensor:
    device = devices.check(device, where)
    shape = _size(size, where)
    array = numpy.full(shape, fill, dtype=dtypes.to_dtype(dtype))
    return _finish(array, requires_grad, device)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size.

    ```pycon
    >>> import chainrule as cr
    >>> cr.zeros(2, 3).shape, cr.zeros((2,), dtype=cr.int64).tolist()
    (chainrule.Size([2, 3]), [0, 0])

    ```
    """
    return _filled(0, size, dtype, device, requires_grad, "zeros")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size.

    ```pycon
    >>> import chainrule as cr
    >>> cr.ones(2, 2).tolist()
    [[1.0, 1.0], [1.0, 1.0]]

    ```
    """
    return _filled(1, size, dtype, device, requires_grad, "ones")


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (here: zeros, which costs the same with NumPy).

    ```pycon
    >>> import chainrule as cr
    >>> cr.empty(2, 3).shape
    chainrule.Size([2, 3])

    ```
    """
    return _filled(0, size, dtype, device, requires_grad, "empty")


def full(
    size: Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; its dtype follows the value's type.

    ```pycon
    >>> import chainrule as cr
    >>> cr.full((2, 2), 7.0).tolist()
    [[7.0, 7.0], [7.0, 7.0]]

    ```
    """
    _check_number("full", "fill_value", fill_value)
    if dtype is None:
        dtype = dtypes.result_type(fill_value)
    return _filled(fill_value, (size,), dtype, device, requires_grad, "full")


def _like(
    input: Tensor,  # noqa: A002
    fill: Any,
    dtype: Any,
    device: Any,
    requires_grad: bool,
    where: str,
) -> Tensor:
    _check_like(input, where)
    device = devices.check(input.device if device is None else device, where)
    dtype = input.dtype if dtype is None else dtypes.to_dtype(dtype)
    return _finish(numpy.full(input.shape, fill, dtype=dtype), requires_grad, device)


def _check_like(input: Any, where: str) -> None:  # noqa: A002
    """The ``*_like`` functions take a tensor, as PyTorch's: not a NumPy array or a list."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(where, "input", input)


def _check_number(where: str, name: str, value: Any) -> None:
    """A Python or NumPy number, or a tensor holding one, as PyTorch's Number arguments."""
    if not isinstance(value, (numbers.Number, Tensor)):
        raise ArgumentTypeError(
            f"{where}: argument '{name}' must be Number, not {type_name(value)}"
        )


def zeros_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Zeros of ``input``'s shape and (unless ``dtype`` is given) dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.zeros_like(cr.tensor([[1, 2, 3]])).tolist()
    [[0, 0, 0]]

    ```
    """
    return _like(input, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Ones of ``input``'s shape and (unless ``dtype`` is given) dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.ones_like(cr.tensor([1.0, 2.0])).tolist()
    [1.0, 1.0]

    ```
    """
    return _like(input, 1, dtype, device, requires_grad, "ones_like")


def empty_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """An uninitialised tensor (zeros here) of ``input``'s shape and dtype.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.empty_like(cr.zeros(2, 3, dtype=cr.float64))
    >>> x.shape, x.dtype == cr.float64
    (chainrule.Size([2, 3]), True)

    ```
    """
    return _like(input, 0, dtype, device, requires_grad, "empty_like")


def full_like(
    input: Tensor,  # noqa: A002
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``fill_value`` everywhere, in ``input``'s shape and (unless ``dtype`` is given) dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.full_like(cr.zeros(3), 0.5).tolist()
    [0.5, 0.5, 0.5]

    ```
    """
    _check_number("full_like", "fill_value", fill_value)
    return _like(input, fill_value, dtype, device, requires_grad, "full_like")


def _check_finite(where: str, **values: Any) -> None:
    for name, value in values.items():
        _check_number(where, name, value)
        if isinstance(value, Tensor):
            value = value.item()
        if not math.isfinite(value):
            raise ValueError(f"{where}: {name} must be finite, got {value}")


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Numbers from ``start`` up to (not including) ``end`` in steps of ``step``.

    Integers give int64; any float among the arguments gives the default float dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.arange(4).tolist(), cr.arange(1.0, 2.0, 0.25).tolist()
    ([0, 1, 2, 3], [1.0, 1.25, 1.5, 1.75])

    ```
    """
    device = devices.check(device, "arange")
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
    return _finish(array, requires_grad, device)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` evenly spaced numbers from ``start`` to ``end``, both included.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linspace(0.0, 1.0, 5).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]

    ```
    """
    device = devices.check(device, "linspace")
    _check_finite("linspace", start=start, end=end)
    steps = as_index(steps, "linspace", "steps")
    if steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative integer, got {steps!r}")
    array = numpy.linspace(start, end, steps, dtype=dtypes.to_dtype(dtype))
    return _finish(array, requires_grad, device)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` numbers from base**start to base**end whose exponents are evenly spaced (both
    ends included), in ``dtype`` (the default float dtype by default).

    ```pycon
    >>> import chainrule as cr
    >>> cr.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]

    ```
    """
    device = devices.check(device, "logspace")
    exponents = linspace(start, end, steps, dtype=dtypes.float64).array
    powers = numpy.power(float(base), exponents)
    return _finish(powers.astype(dtypes.to_dtype(dtype)), requires_grad, device)


def eye(
    n: int,
    m: int | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The n×m identity matrix (square when m is omitted).

    ```pycon
    >>> import chainrule as cr
    >>> cr.eye(2).tolist(), cr.eye(2, 3).shape
    ([[1.0, 0.0], [0.0, 1.0]], chainrule.Size([2, 3]))

    ```
    """
    device = devices.check(device, "eye")
    _size((n,) if m is None else (n, m), "eye")
    return _finish(numpy.eye(n, m, dtype=dtypes.to_dtype(dtype)), requires_grad, device)


# ---- random ------------------------------------------------------------------------------------
# The streams are reproducible from manual_seed or a Generator's seed, but are not PyTorch's.


def _random(
    draw: Any,
    size: Sequence[Any],
    dtype: Any,
    device: Any,
    requires_grad: bool,
    generator: Generator | None,
    where: str,
) -> Tensor:
    device = devices.check(device, where)
    shape = _size(size, where)
    dtype = dtypes.to_dtype(dtype)
    if not dtypes.is_floating(dtype):
        raise TypeError(f"{where}: dtype must be floating point, got {dtype}")
    # NumPy draws float32 and float64 directly; other floats are drawn in float64 and cast.
    native = dtype if dtype in (dtypes.float32, dtypes.float64) else dtypes.float64
    rng = numpy_generator(generator, where)
    array = draw(rng, shape, native).astype(dtype, copy=False)
    return _finish(array, requires_grad, device)


def _uniform(rng: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    return rng.random(shape, dtype=dtype)


def _standard_normal(rng: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    return rng.standard_normal(shape, dtype=dtype)


def rand(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform random numbers in [0, 1).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> x = cr.rand(2, 3)
    >>> x.shape, bool(((x >= 0) & (x < 1)).all())
    (chainrule.Size([2, 3]), True)

    ```
    """
    return _random(_uniform, size, dtype, device, requires_grad, generator, "rand")


def randn(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal random numbers (mean 0, variance 1).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randn(2, 3).shape
    chainrule.Size([2, 3])

    ```
    """
    return _random(_standard_normal, size, dtype, device, requires_grad, generator, "randn")


def rand_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform random numbers in [0, 1) of ``input``'s shape and (unless given) dtype.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.rand_like(cr.zeros(4, dtype=cr.float64)).dtype == cr.float64
    True

    ```
    """
    _check_like(input, "rand_like")
    dtype = input.dtype if dtype is None else dtype
    device = input.device if device is None else device
    return _random(_uniform, input.shape, dtype, device, requires_grad, None, "rand_like")


def randn_like(
    input: Tensor,  # noqa: A002
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal numbers of ``input``'s shape and (unless given) dtype.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cr.randn_like(cr.zeros(2, 5)).shape
    chainrule.Size([2, 5])

    ```
    """
    _check_like(input, "randn_like")
    dtype = input.dtype if dtype is None else dtype
    draw, device = _standard_normal, input.device if device is None else device
    return _random(draw, input.shape, dtype, device, requires_grad, None, "randn_like")


def _integers(
    low: Any,
    high: Any,
    shape: tuple[int, ...],
    generator: Generator | None,
    dtype: Any,
    requires_grad: bool,
    where: str,
    device: Any = devices.CPU,
) -> Tensor:
    low, high = as_index(low, where, "low"), as_index(high, where, "high")
    if high <= low:
        raise ValueError(f"{where}: high ({high}) must be greater than low ({low})")
    rng = numpy_generator(generator, where)
    array = rng.integers(low, high, size=shape, dtype=numpy.int64)
    return _finish(array.astype(dtypes.to_dtype(dtype), copy=False), requires_grad, device)


def randint(
    *args: Any,
    size: Any = None,
    low: Any = None,
    high: Any = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``
    (``low`` is 0 when omitted); int64 unless ``dtype`` is given.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> x = cr.randint(3, 7, (10,))
    >>> x.dtype == cr.int64, bool(((x >= 3) & (x < 7)).all())
    (True, True)

    ```
    """
    device = devices.check(device, "randint")
    values = list(args)
    if size is None and values:
        size = values.pop()
    if high is None and values:
        high = values.pop()
    if low is None:
        low = values.pop() if values else 0
    if values or size is None or high is None:
        raise TypeError("randint: call as randint(high, size) or randint(low, high, size)")
    shape = _size((size,), "randint")
    dtype = dtypes.int64 if dtype is None else dtype
    return _integers(low, high, shape, generator, dtype, requires_grad, "randint", device)


def randint_like(
    input: Tensor,  # noqa: A002
    low: Any = 0,
    high: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Random integers in [low, high) of ``input``'s shape and (unless given) dtype;
    ``randint_like(input, high)`` draws from [0, high).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> x = cr.randint_like(cr.zeros(2, 3), 5)
    >>> x.shape, bool(((x >= 0) & (x < 5)).all())
    (chainrule.Size([2, 3]), True)

    ```
    """
    _check_like(input, "randint_like")
    device = devices.check(input.device if device is None else device, "randint_like")
    if high is None:
        low, high = 0, low
    dtype = input.dtype if dtype is None else dtype
    return _integers(low, high, input.shape, None, dtype, requires_grad, "randint_like", device)


def randperm(
    n: int,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0..n−1 (int64 unless ``dtype`` is given).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> sorted(cr.randperm(5).tolist())
    [0, 1, 2, 3, 4]

    ```
    """
    device = devices.check(device, "randperm")
    _size((n,), "randperm")
    permutation = numpy_generator(generator, "randperm").permutation(n)
    array = permutation.astype(dtypes.to_dtype(dtype or dtypes.int64))
    return _finish(array, requires_grad, device)
