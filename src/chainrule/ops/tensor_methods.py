"""Binds the operations to :class:`~chainrule.tensor.Tensor` as methods and operators, with
PyTorch's names. Nothing here computes: each name points at a function of ``chainrule.ops``."""

from __future__ import annotations

import importlib
import numbers
from typing import Any

from chainrule import backend, facts
from chainrule.autograd.function import ArgumentTypeError
from chainrule.ops import (
    axes,
    compare,
    constructions,
    conversion,
    cumulative,
    differences,
    division,
    elementwise,
    erf,
    exponential,
    extremes,
    fused_arithmetic,
    index_updates,
    indexing,
    inplace,
    inplace_math,
    layout,
    linalg,
    matrix,
    movement,
    nan_skipping,
    one_sided_clamp,
    products,
    quantiles,
    rearrange,
    reduce,
    rounding,
    sampling,
    searching,
    selection,
    shrinkage,
    signs,
    solve,
    sorting,
    special_values,
    splitting,
    statistics,
    trigonometric,
    vector_norm,
    vector_products,
)
from chainrule.ops.rectifiers import relu
from chainrule.ops.smooth_activations import sigmoid, tanh
from chainrule.ops.softmax import log_softmax, softmax
from chainrule.tensor import Tensor

# The operators return NotImplemented for an operand that no operation takes (a string, None,
# a list), so that Python raises its own TypeError ("unsupported operand type(s) for +: 'Tensor'
# and 'str'"), as it does for PyTorch's tensors. For arithmetic the check runs only once the
# operation failed; a comparison checks first, as NumPy compares anything with anything.


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


def _on_first_call(module: str, name: str) -> Any:
    """A method that imports ``chainrule.ops.<module>`` when it is first called: the special
    functions and factorisations, rarely used, stay out of ``import chainrule``'s time."""

    def method(*args: Any, **options: Any) -> Any:
        return getattr(importlib.import_module(f"chainrule.ops.{module}"), name)(*args, **options)

    method.__name__ = method.__qualname__ = name
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
        "__floordiv__": _operator(division.FloorDivide, "__floordiv__"),
        "__rfloordiv__": _reflected(division.FloorDivide, "__rfloordiv__"),
        "__mod__": _operator(division.Remainder, "__mod__"),
        "__rmod__": _reflected(division.Remainder, "__rmod__"),
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
        # bitwise operations commute: ``True & t`` is ``t & True``, as in PyTorch
        "__rand__": c.bitwise_and,
        "__ror__": c.bitwise_or,
        "__rxor__": c.bitwise_xor,
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
        "logical_and": c.logical_and,
        "logical_or": c.logical_or,
        "logical_xor": c.logical_xor,
        "bitwise_and": c.bitwise_and,
        "bitwise_or": c.bitwise_or,
        "bitwise_xor": c.bitwise_xor,
        "bitwise_not": c.bitwise_not,
        "isinf": special_values.isinf,
        "isposinf": special_values.isposinf,
        "isneginf": special_values.isneginf,
        "isclose": special_values.isclose,
        "equal": special_values.equal,
        "nan_to_num": special_values.nan_to_num,
        "sign": rounding.sign,
        "sgn": rounding.sgn,
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
        "clamp_min": one_sided_clamp.clamp_min,
        "clamp_max": one_sided_clamp.clamp_max,
        # rounding (zero gradient), division, powers, logarithms, trigonometry
        "floor": rounding.floor,
        "ceil": rounding.ceil,
        "round": rounding.round,
        "trunc": rounding.trunc,
        "fix": rounding.trunc,
        "frac": rounding.frac,
        "floor_divide": division.floor_divide,
        "true_divide": division.true_divide,
        "remainder": division.remainder,
        "fmod": division.fmod,
        "reciprocal": division.reciprocal,
        "rsqrt": division.rsqrt,
        "square": exponential.square,
        "float_power": exponential.float_power,
        "exp2": exponential.exp2,
        "expm1": exponential.expm1,
        "log1p": exponential.log1p,
        "log2": exponential.log2,
        "log10": exponential.log10,
        "logit": exponential.logit,
        "xlogy": exponential.xlogy,
        "erf": erf.erf,
        "erfc": erf.erfc,
        "tan": trigonometric.tan,
        "asin": trigonometric.asin,
        "acos": trigonometric.acos,
        "atan": trigonometric.atan,
        "arcsin": trigonometric.asin,
        "arccos": trigonometric.acos,
        "arctan": trigonometric.atan,
        "sinh": trigonometric.sinh,
        "cosh": trigonometric.cosh,
        "asinh": trigonometric.asinh,
        "acosh": trigonometric.acosh,
        "atanh": trigonometric.atanh,
        "arcsinh": trigonometric.asinh,
        "arccosh": trigonometric.acosh,
        "arctanh": trigonometric.atanh,
        "atan2": trigonometric.atan2,
        "arctan2": trigonometric.atan2,
        "hypot": trigonometric.hypot,
        "lerp": fused_arithmetic.lerp,
        "addcmul": fused_arithmetic.addcmul,
        "addcdiv": fused_arithmetic.addcdiv,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "relu": relu,
        "hardshrink": shrinkage.hardshrink,
        # PyTorch's other names for operations above
        "subtract": e.sub,
        "multiply": e.mul,
        "divide": e.div,
        "negative": e.neg,
        "absolute": e.abs,
        "greater": c.gt,
        "greater_equal": c.ge,
        "less": c.lt,
        "less_equal": c.le,
        "not_equal": c.ne,
        "ger": vector_products.ger,
        # signs, nan-skipping extremes and sums, smooth maxima, angles
        "positive": signs.positive,
        "copysign": signs.copysign,
        "signbit": signs.signbit,
        "heaviside": signs.heaviside,
        "fmax": nan_skipping.fmax,
        "fmin": nan_skipping.fmin,
        "nansum": nan_skipping.nansum,
        "nanmean": nan_skipping.nanmean,
        "logaddexp": exponential.logaddexp,
        "logaddexp2": exponential.logaddexp2,
        "sinc": trigonometric.sinc,
        "deg2rad": trigonometric.deg2rad,
        "rad2deg": trigonometric.rad2deg,
        # running totals, extremes, order statistics, covariance, distance
        "logcumsumexp": cumulative.logcumsumexp,
        "aminmax": extremes.aminmax,
        "quantile": quantiles.quantile,
        "nanquantile": quantiles.nanquantile,
        "msort": sorting.msort,
        "cov": statistics.cov,
        "corrcoef": statistics.corrcoef,
        "dist": vector_norm.dist,
        # products with vectors
        "mv": vector_products.mv,
        "inner": vector_products.inner,
        "vdot": vector_products.vdot,
        "addmv": vector_products.addmv,
        "addr": vector_products.addr,
        # shapes: flat views, turns, splits, diagonals, picks along a dimension
        "ravel": rearrange.ravel,
        "rot90": rearrange.rot90,
        "tensor_split": splitting.tensor_split,
        "hsplit": splitting.hsplit,
        "vsplit": splitting.vsplit,
        "dsplit": splitting.dsplit,
        "diag_embed": constructions.diag_embed,
        "take_along_dim": selection.take_along_dim,
        # gamma-family and inverse-error special functions: imported on their first call
        "lgamma": _on_first_call("gamma_functions", "lgamma"),
        "digamma": _on_first_call("gamma_functions", "digamma"),
        "polygamma": _on_first_call("gamma_functions", "polygamma_method"),
        "mvlgamma": _on_first_call("gamma_functions", "mvlgamma"),
        "erfinv": _on_first_call("erfinv", "erfinv"),
        "i0": _on_first_call("bessel", "i0"),
        # factorisations, determinants and matrix functions (torch.linalg's, and older names)
        "logdet": _on_first_call("determinants", "logdet"),
        "slogdet": _on_first_call("determinants", "slogdet"),
        "matrix_power": _on_first_call("determinants", "matrix_power"),
        "matrix_exp": _on_first_call("determinants", "matrix_exp"),
        "cholesky": _on_first_call("linalg_old_names", "cholesky"),
        "svd": _on_first_call("linalg_old_names", "svd"),
        "qr": _on_first_call("linalg_old_names", "qr"),
        "pinverse": _on_first_call("linalg_old_names", "pinverse"),
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
        "cummax": extremes.cummax,
        "cummin": extremes.cummin,
        "diff": differences.diff,
        # parts of a tensor and moved axes (views)
        "narrow": selection.narrow,
        "select": selection.select,
        "unbind": selection.unbind,
        "diagonal": selection.diagonal,
        "take": selection.take,
        "movedim": axes.movedim,
        "moveaxis": axes.movedim,
        "swapaxes": axes.swapaxes,
        "swapdims": axes.swapdims,
        "unflatten": axes.unflatten,
        "broadcast_to": axes.broadcast_to,
        # reductions, statistics and searching
        "prod": products.prod,
        "amax": extremes.amax,
        "amin": extremes.amin,
        "median": statistics.median,
        "nanmedian": statistics.nanmedian,
        "mode": statistics.mode,
        "histc": statistics.histc,
        "bincount": statistics.bincount,
        "count_nonzero": searching.count_nonzero,
        "nonzero": searching.nonzero,
        "argwhere": searching.argwhere,
        "unique": searching.unique,
        "is_nonzero": facts.is_nonzero,
        # products and square matrices
        "trace": products.trace,
        "kron": products.kron,
        "cross": products.cross,
        "inverse": solve.inverse,
        "det": solve.det,
        # writing by position
        "index_add": index_updates.index_add,
        "index_add_": index_updates.index_add_,
        "index_copy": index_updates.index_copy,
        "index_copy_": index_updates.index_copy_,
        "index_fill": index_updates.index_fill,
        "index_fill_": index_updates.index_fill_,
        "masked_scatter": index_updates.masked_scatter,
        "masked_scatter_": index_updates.masked_scatter_,
        "fill_diagonal_": index_updates.fill_diagonal_,
        "tril_": index_updates.tril_,
        "triu_": index_updates.triu_,
        # copies and dtypes
        "to": conversion.to,
        "type": conversion.tensor_type,
        "bfloat16": conversion.bfloat16,
        "clone": layout.clone,
        "contiguous": layout.contiguous,
        "is_contiguous": layout.is_contiguous,
        "float": _to_dtype("float32"),
        "double": _to_dtype("float64"),
        "half": _to_dtype("float16"),
        "long": _to_dtype("int64"),
        "int": _to_dtype("int32"),
        "bool": _to_dtype("bool"),
    }
    methods.update(inplace.METHODS)
    methods.update(inplace_math.METHODS)
    methods.update(sampling.METHODS)
    for name, fn in methods.items():
        setattr(tensor_class, name, fn)
    tensor_class.T = property(lambda self: m.permute(self, tuple(reversed(range(self.ndim)))))
    tensor_class.mT = property(lambda self: m.transpose(self, -2, -1))
    tensor_class.view_as = lambda self, other: m.reshape(self, other.shape)
    tensor_class.reshape_as = lambda self, other: m.reshape(self, other.shape)
    tensor_class.where = lambda self, condition, other: e.where(condition, self, other)
    tensor_class.expand_as = lambda self, other: m.expand(self, other.shape)
    tensor_class.type_as = lambda self, other: conversion.to(self, other.dtype)
