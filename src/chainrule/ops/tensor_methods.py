"""Binds the operations to :class:`~chainrule.tensor.Tensor` as methods and operators, with
PyTorch's names. Nothing here computes: each name points at a function of ``chainrule.ops``."""

from __future__ import annotations

import numbers
from typing import Any

from chainrule import backend
from chainrule.autograd.function import ArgumentTypeError
from chainrule.ops import (
    compare,
    conversion,
    cumulative,
    elementwise,
    indexing,
    inplace,
    linalg,
    matrix,
    movement,
    rearrange,
    reduce,
    sampling,
    sorting,
    vector_norm,
)
from chainrule.ops.rectifiers import relu
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.tensor import Tensor

# The operators return NotImplemented for an operand that no operation takes (a string, None,
# a list), so that Python raises its own TypeError ("unsupported operand type(s) for +: 'Tensor'
# and 'str'"), as it does for PyTorch's tensors. The check runs only once an operation failed.


def _operator(op: type, name: str) -> Any:
    """``self <op> other``: a NumPy array is taken as a tensor, as in PyTorch."""
    apply = op.apply

    def method(self: Any, other: Any) -> Any:
        try:
            return apply(self, other)
        except ArgumentTypeError:
            return NotImplemented

    method.__name__ = name
    return method


def _reflected(op: type, name: str) -> Any:
    """``other <op> self`` for an ``other`` that is not a tensor. A NumPy array gives a tensor,
    as on the right (PyTorch takes it only for ``/`` there)."""
    apply = op.apply

    def method(self: Any, other: Any) -> Any:
        try:
            return apply(other, self)
        except ArgumentTypeError:
            return NotImplemented

    method.__name__ = name
    return method


def _comparison(fn: Any, name: str, arrays: bool) -> Any:
    """``self <op> other`` for a comparison: NotImplemented unless ``other`` is a tensor or a
    number (or a NumPy array, with ``arrays``), so that ``t == "a"`` is False and ``t < "a"``
    a TypeError, as in PyTorch."""

    def method(self: Any, other: Any) -> Any:
        if isinstance(other, (Tensor, float, int, numbers.Number)):
            return fn(self, other)
        if arrays and isinstance(other, backend.ndarray):
            return fn(self, other)
        return NotImplemented

    method.__name__ = name
    return method


def _to_dtype(dtype: str) -> Any:
    def method(self: Any) -> Any:
        return conversion.to(self, dtype)

    method.__name__ = dtype
    return method


def bind(tensor_class: type) -> None:
    """Attach every operation to ``tensor_class``."""
    e, r, m, c = elementwise, reduce, movement, compare
    methods = {
        # arithmetic operators
        "__add__": _operator(e.Add, "__add__"),
        "__radd__": _reflected(e.Add, "__radd__"),
        "__sub__": _operator(e.Sub, "__sub__"),
        "__rsub__": _reflected(e.Sub, "__rsub__"),
        "__mul__": _operator(e.Mul, "__mul__"),
        "__rmul__": _reflected(e.Mul, "__rmul__"),
        "__truediv__": _operator(e.Div, "__truediv__"),
        "__rtruediv__": _reflected(e.Div, "__rtruediv__"),
        "__pow__": _operator(e.Pow, "__pow__"),
        "__rpow__": _reflected(e.Pow, "__rpow__"),
        "__matmul__": _operator(linalg.MatMul, "__matmul__"),
        "__rmatmul__": _reflected(linalg.MatMul, "__rmatmul__"),
        "__neg__": e.neg,
        "__abs__": e.abs,
        "__getitem__": m.getitem,
        # comparisons and logic (no gradient)
        "__eq__": _comparison(c.eq, "__eq__", arrays=True),
        "__ne__": _comparison(c.ne, "__ne__", arrays=True),
        "__lt__": _comparison(c.lt, "__lt__", arrays=False),
        "__le__": _comparison(c.le, "__le__", arrays=False),
        "__gt__": _comparison(c.gt, "__gt__", arrays=False),
        "__ge__": _comparison(c.ge, "__ge__", arrays=False),
        "__and__": c.bitwise_and,
        "__or__": c.bitwise_or,
        "__xor__": c.bitwise_xor,
        "__invert__": c.bitwise_not,
        "eq": c.eq,
        "ne": c.ne,
        "lt": c.lt,
        "le": c.le,
        "gt": c.gt,
        "ge": c.ge,
        "logical_not": c.logical_not,
        "isnan": c.isnan,
        "isfinite": c.isfinite,
        "allclose": c.allclose,
        "any": c.any,
        "all": c.all,
        "sign": c.sign,
        # element-wise
        "add": e.add,
        "sub": e.sub,
        "mul": e.mul,
        "div": e.div,
        "pow": e.pow,
        "maximum": e.maximum,
        "minimum": e.minimum,
        "neg": e.neg,
        "exp": e.exp,
        "log": e.log,
        "sqrt": e.sqrt,
        "abs": e.abs,
        "sin": e.sin,
        "cos": e.cos,
        "clamp": e.clamp,
        "clip": e.clamp,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "relu": relu,
        "softmax": softmax,
        "log_softmax": log_softmax,
        # reductions
        "sum": r.sum,
        "mean": r.mean,
        "var": r.var,
        "std": r.std,
        "logsumexp": r.logsumexp,
        "max": r.max,
        "min": r.min,
        "argmax": r.argmax,
        "argmin": r.argmin,
        # linear algebra
        "matmul": linalg.matmul,
        "mm": linalg.mm,
        "dot": linalg.dot,
        "bmm": matrix.bmm,
        "addmm": matrix.addmm,
        "baddbmm": matrix.baddbmm,
        "outer": matrix.outer,
        "tril": matrix.tril,
        "triu": matrix.triu,
        "diag": matrix.diag,
        "norm": vector_norm.norm,
        # shapes
        "reshape": m.reshape,
        "view": m.reshape,
        "flatten": m.flatten,
        "squeeze": m.squeeze,
        "unsqueeze": m.unsqueeze,
        "permute": m.permute,
        "transpose": m.transpose,
        "t": m.t,
        "expand": m.expand,
        "split": m.split_method,
        "chunk": m.chunk,
        "repeat": rearrange.repeat,
        "tile": rearrange.tile,
        "repeat_interleave": rearrange.repeat_interleave,
        "roll": rearrange.roll,
        "flip": rearrange.flip,
        "fliplr": rearrange.fliplr,
        "flipud": rearrange.flipud,
        # indexing by index tensors and masks
        "gather": indexing.gather,
        "scatter": indexing.scatter,
        "scatter_add": indexing.scatter_add,
        "scatter_": indexing.scatter_,
        "scatter_add_": indexing.scatter_add_,
        "index_select": indexing.index_select,
        "masked_fill": indexing.masked_fill,
        "masked_select": indexing.masked_select,
        # ordering and running totals
        "sort": sorting.sort,
        "argsort": sorting.argsort,
        "topk": sorting.topk,
        "kthvalue": sorting.kthvalue,
        "cumsum": cumulative.cumsum,
        "cumprod": cumulative.cumprod,
        # copies and dtypes
        "to": conversion.to,
        "type": conversion.tensor_type,
        "bfloat16": conversion.bfloat16,
        "clone": conversion.clone,
        "contiguous": conversion.contiguous,
        "float": _to_dtype("float32"),
        "double": _to_dtype("float64"),
        "half": _to_dtype("float16"),
        "long": _to_dtype("int64"),
        "int": _to_dtype("int32"),
        "bool": _to_dtype("bool"),
    }
    methods.update(inplace.METHODS)
    methods.update(sampling.METHODS)
    for name, fn in methods.items():
        setattr(tensor_class, name, fn)
    tensor_class.T = property(lambda self: m.permute(self, tuple(reversed(range(self.ndim)))))
    tensor_class.mT = property(lambda self: m.transpose(self, -2, -1))
    tensor_class.view_as = lambda self, other: m.reshape(self, other.shape)
    tensor_class.expand_as = lambda self, other: m.expand(self, other.shape)
    tensor_class.type_as = lambda self, other: conversion.to(self, other.dtype)
