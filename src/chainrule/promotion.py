"""PyTorch's type promotion as functions: ``result_type``, ``promote_types`` and
``can_cast``.

The rules are those every operation follows (:mod:`chainrule.dtypes`): the higher category wins
(bool < integer < floating point), and within the category of the tensors that decide it, the
wider dtype. Unlike NumPy, an int64 with a float16 gives float16, and a 0-d tensor or a Python
number changes the result only when its category is higher.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import dtypes
from chainrule.autograd.function import ArgumentTypeError, type_name
from chainrule.tensor import Tensor

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2}  # "V": bfloat16, a float stored as bytes


def result_type(tensor1: Any, tensor2: Any) -> numpy.dtype:
    """The dtype an arithmetic operation on ``tensor1`` and ``tensor2`` (tensors or Python
    numbers) gives.

    ```pycon
    >>> import chainrule as cr
    >>> cr.result_type(cr.tensor([1, 2]), 1.0)
    dtype('float32')

    ```
    """
    operands = []
    for name, value in (("tensor1", tensor1), ("tensor2", tensor2)):
        if isinstance(value, Tensor):
            operands.append(value.array)
        elif isinstance(value, (bool, int, float)):
            operands.append(value)
        else:
            raise ArgumentTypeError(
                f"result_type: argument '{name}' must be Tensor or Number, not {type_name(value)}"
            )
    return dtypes.result_type(*operands)


def promote_types(type1: Any, type2: Any) -> numpy.dtype:
    """The smallest dtype that both ``type1`` and ``type2`` convert to under PyTorch's rules.

    ```pycon
    >>> import chainrule as cr
    >>> cr.promote_types(cr.int64, cr.float16)
    dtype('float16')

    ```
    """
    first, second = dtypes.to_dtype(type1), dtypes.to_dtype(type2)
    rank1, rank2 = _category(first), _category(second)
    if rank1 != rank2:
        return first if rank1 > rank2 else second
    if first == second:
        return first
    if "bfloat16" in (first.name, second.name):
        # bfloat16 and float16 share no wider 16-bit type: both fit in float32.
        other = second if first.name == "bfloat16" else first
        return other if other.itemsize > 2 else dtypes.float32
    return numpy.promote_types(first, second)


def can_cast(from_: Any, to: Any) -> bool:
    """Whether PyTorch's casting rules allow a value of dtype ``from_`` into ``to`` without a
    change of category downwards: floats do not go into integers, nor numbers into bools.

    ```pycon
    >>> import chainrule as cr
    >>> cr.can_cast(cr.float32, cr.int64), cr.can_cast(cr.int64, cr.float16)
    (False, True)

    ```
    """
    return dtypes.can_cast(dtypes.to_dtype(from_), dtypes.to_dtype(to))


def _category(dtype: numpy.dtype) -> int:
    return 2 if dtypes.is_floating(dtype) else _CATEGORY[dtype.kind]
