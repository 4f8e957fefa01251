"""PyTorch's legacy constructors: ``FloatTensor``, ``LongTensor``... and ``autograd.Variable``.

Old PyTorch code makes tensors with a typed constructor, ``FloatTensor([1, 2])`` or
``LongTensor(3, 4)``, tests them with ``isinstance(t, FloatTensor)``, and wraps them in
``Variable(t, requires_grad=True)``. These names do the same here. Each typed constructor is a
class whose calls return a plain :class:`~chainrule.tensor.Tensor` of its dtype and which
``isinstance`` answers for tensors of that dtype (as ``torch.FloatTensor`` does for float32 CPU
tensors); ``issubclass(FloatTensor, Tensor)`` is False, as in PyTorch.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy

from chainrule import backend, devices, dtypes, fp_errors
from chainrule.size import Size
from chainrule.tensor import Tensor

# The typed constructors, by name, and the dtype each makes.
TYPED_DTYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "ByteTensor": "uint8",
    "CharTensor": "int8",
    "ShortTensor": "int16",
    "IntTensor": "int32",
    "LongTensor": "int64",
    "BoolTensor": "bool",
}


def _is_size(value: Any) -> bool:
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, bool)


def legacy_array(args: tuple, dtype: numpy.dtype, where: str) -> Any:
    """The array of a legacy constructor call ``where(*args)`` (data or sizes) in ``dtype``.

    No arguments give an empty 1-d array; ints (or one :class:`Size`) give an uninitialised
    array of that shape (zeros here); one sequence or array gives a copy of its values.
    """
    if not args:
        return backend.xp.zeros((0,), dtype=dtype)
    if len(args) == 1 and isinstance(args[0], Size):
        args = tuple(args[0])
    if all(_is_size(n) for n in args):
        shape = [int(n) for n in args]
        for n in shape:
            if n < 0:
                raise RuntimeError(
                    f"{where}(): Trying to create tensor with negative dimension {n}: {shape}"
                )
        return backend.xp.zeros(tuple(shape), dtype=dtype)
    if len(args) > 1:
        kinds = ", ".join(type(value).__name__ for value in args)
        raise TypeError(
            f"{where}(): expected one sequence of data or sizes that are all ints, got ({kinds})"
        )
    return _copy_of(args[0], dtype, where)


def _copy_of(data: Any, dtype: numpy.dtype, where: str) -> Any:
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{where}(): invalid data type '{type(data).__name__}'")
    if isinstance(data, Tensor):
        array = backend.to_numpy(data.array)
    elif hasattr(data, "__array__") and not isinstance(data, numpy.generic):
        array = numpy.asarray(data)
    elif hasattr(data, "__len__") and hasattr(data, "__iter__"):
        try:
            array = numpy.array(data)
        except ValueError as error:
            raise ValueError(
                f"{where}(): data must be rectangular (nested sequences of equal lengths): {error}"
            ) from None
        dtypes.check_fits(array, dtype, where)
    else:
        raise TypeError(f"{where}(): data must be a sequence (got {type(data).__name__})")
    dtypes.check_dtype(array.dtype, where)
    with fp_errors.silenced():  # float values out of float16's range become ±inf, as in PyTorch
        return backend.as_array(array.astype(dtype))


class TypedTensorMeta(type):
    """The metaclass of the typed constructors: their dtype, ``isinstance`` and ``repr``."""

    _dtype_name: str

    @property
    def dtype(cls) -> numpy.dtype:
        """The dtype of the tensors this constructor makes."""
        return dtypes.to_dtype(cls._dtype_name)

    @property
    def is_cuda(cls) -> bool:
        return False

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, Tensor) and instance.array.dtype.name == cls._dtype_name

    def __repr__(cls) -> str:
        return f"<class 'chainrule.{cls.__name__}'>"


class _TypedTensor(metaclass=TypedTensorMeta):
    """A typed legacy constructor: ``FloatTensor(data)``, ``FloatTensor(*sizes)`` or
    ``FloatTensor()``; the result is a :class:`Tensor` of the constructor's dtype.

    ```pycon
    >>> import chainrule as cr
    >>> cr.FloatTensor([1, 2]).tolist(), cr.FloatTensor([1, 2]).dtype == cr.float32
    ([1.0, 2.0], True)
    >>> cr.LongTensor(2, 3).shape, cr.LongTensor([7]).dtype == cr.int64
    (chainrule.Size([2, 3]), True)

    ```
    """

    _dtype_name = "float32"

    def __new__(cls, *args: Any, device: Any = None) -> Tensor:  # type: ignore[misc]
        devices.check(device, cls.__name__)
        dtype = cls.dtype
        if len(args) == 1 and isinstance(args[0], Tensor):
            tensor = args[0]
            if tensor.dtype != dtype:
                raise TypeError(
                    f"{cls.__name__}(): expected a tensor of dtype {dtype}, got one of "
                    f"{tensor.dtype}; convert it first, e.g. t.to(chainrule.{dtype})"
                )
            return tensor
        return Tensor._make(legacy_array(args, dtype, cls.__name__), False, None)


def _typed(name: str) -> type:
    return TypedTensorMeta(
        name,
        (_TypedTensor,),
        {"_dtype_name": TYPED_DTYPES[name], "__doc__": _TypedTensor.__doc__, "__slots__": ()},
    )


FloatTensor = _typed("FloatTensor")
DoubleTensor = _typed("DoubleTensor")
HalfTensor = _typed("HalfTensor")
BFloat16Tensor = _typed("BFloat16Tensor")
ByteTensor = _typed("ByteTensor")
CharTensor = _typed("CharTensor")
ShortTensor = _typed("ShortTensor")
IntTensor = _typed("IntTensor")
LongTensor = _typed("LongTensor")
BoolTensor = _typed("BoolTensor")

TYPED_CONSTRUCTORS = {
    cls.__name__: cls
    for cls in (
        FloatTensor,
        DoubleTensor,
        HalfTensor,
        BFloat16Tensor,
        ByteTensor,
        CharTensor,
        ShortTensor,
        IntTensor,
        LongTensor,
        BoolTensor,
    )
}


def type_name(dtype: numpy.dtype) -> str:
    """PyTorch's name of the tensor type of ``dtype`` on the CPU: ``torch.FloatTensor``."""
    return f"torch.{dtypes.torch_name(dtype)}Tensor"


def dtype_of_type_name(name: str, where: str) -> numpy.dtype:
    """The dtype of a tensor type named as ``Tensor.type`` takes it: ``"torch.FloatTensor"``
    (or ``"chainrule.FloatTensor"``); a CUDA type is the no-GPU error."""
    module, _, short = name.rpartition(".")
    if module in ("torch.cuda", "chainrule.cuda") and short in TYPED_DTYPES:
        raise RuntimeError(devices.no_gpu_message(where, devices.device("cuda")))
    if module not in ("torch", "chainrule") or short not in TYPED_DTYPES:
        raise ValueError(f"invalid type: {name!r}")
    return dtypes.to_dtype(TYPED_DTYPES[short])


# ---- Variable ----------------------------------------------------------------------------------


class _VariableMeta(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableMeta):
    """PyTorch's pre-0.4 wrapper, kept for old scripts: ``Variable(t, requires_grad=False)``
    is a new leaf tensor on ``t``'s memory, outside any graph, that requires grad as asked
    (as ``t.detach().requires_grad_(requires_grad)``). Every tensor is an instance of
    ``Variable``. ``volatile`` no longer has an effect: use ``no_grad``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.autograd import Variable
    >>> v = Variable(cr.tensor([1.0, 2.0]), requires_grad=True)
    >>> (v * v).sum().backward()
    >>> v.grad.tolist(), isinstance(v, Variable)
    ([2.0, 4.0], True)

    ```
    """

    def __new__(  # type: ignore[misc]
        cls, data: Any = None, requires_grad: bool = False, volatile: bool = False
    ) -> Tensor:
        if volatile:
            warnings.warn(
                "Variable: volatile was removed and now has no effect; use "
                "`with chainrule.no_grad():` instead",
                UserWarning,
                stacklevel=2,
            )
        if data is None:
            data = Tensor()
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        leaf = Tensor._make(data.array, False, None)
        if requires_grad:
            leaf.requires_grad = True
        return leaf
