"""Binds the operations to :class:`~chainrule.tensor.Tensor` as methods and operators, with
PyTorch's names. Nothing here computes: each name points at a function of ``chainrule.ops``."""

from __future__ import annotations

from typing import Any

from chainrule.ops import (
    activation,
    compare,
    conversion,
    elementwise,
    inplace,
    linalg,
    movement,
    reduce,
)


def _reflected(fn: Any) -> Any:
    def method(self: Any, other: Any) -> Any:
        return fn(other, self)

    method.__name__ = f"r{fn.__name__}"
    return method


def _to_dtype(dtype: str) -> Any:
    def method(self: Any) -> Any:
        return conversion.to(self, dtype)

    method.__name__ = dtype
    return method


def bind(tensor_class: type) -> None:
    """Attach every operation to ``tensor_class``."""
    e, a, r, m, c = elementwise, activation, reduce, movement, compare
    methods = {
        # arithmetic operators
        "__add__": e.add,
        "__radd__": e.add,  # addition and multiplication commute: no argument swap needed
        "__sub__": e.sub,
        "__rsub__": _reflected(e.sub),
        "__mul__": e.mul,
        "__rmul__": e.mul,
        "__truediv__": e.div,
        "__rtruediv__": _reflected(e.div),
        "__pow__": e.pow,
        "__rpow__": _reflected(e.pow),
        "__matmul__": linalg.matmul,
        "__rmatmul__": _reflected(linalg.matmul),
        "__neg__": e.neg,
        "__abs__": e.abs,
        "__getitem__": m.getitem,
        # comparisons and logic (no gradient)
        "__eq__": c.eq,
        "__ne__": c.ne,
        "__lt__": c.lt,
        "__le__": c.le,
        "__gt__": c.gt,
        "__ge__": c.ge,
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
        "sigmoid": a.sigmoid,
        "tanh": a.tanh,
        "relu": a.relu,
        "softmax": a.softmax,
        "log_softmax": a.log_softmax,
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
        "split": m.split,
        "chunk": m.chunk,
        # copies and dtypes
        "to": conversion.to,
        "type": conversion.to,
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
    for name, fn in methods.items():
        setattr(tensor_class, name, fn)
    tensor_class.T = property(lambda self: m.permute(self, tuple(reversed(range(self.ndim)))))
    tensor_class.mT = property(lambda self: m.transpose(self, -2, -1))
    tensor_class.view_as = lambda self, other: m.reshape(self, other.shape)
    tensor_class.expand_as = lambda self, other: m.expand(self, other.shape)
    tensor_class.type_as = lambda self, other: conversion.to(self, other.dtype)
