"""Reductions over ``dim`` (an int, a tuple of ints, or None for all), with ``keepdim``.

The backward of a reduction broadcasts the incoming gradient back over the reduced axes; the
reduced axes are re-inserted first when ``keepdim`` was false.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd.function import (
    Function,
    OpError,
    as_index,
    not_a_tensor,
    saved_as_tensors,
)
from chainrule.ops.broadcast import expand_to
from chainrule.ops.elementwise import as_float, maximum, minimum
from chainrule.tensor import Tensor

min_max_result = namedtuple("min_max_result", ["values", "indices"])


def normalise_dims(dim: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``dim`` as a sorted tuple of non-negative axes (all axes for None)."""
    if dim is None:
        return tuple(range(ndim))
    expected = "int or tuple of ints"
    if type(dim) is int:
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(d if type(d) is int else as_index(d, op, "dim", expected) for d in dim)
    else:  # a NumPy int or a 0-d integer tensor; a string or a float is refused
        dims = (as_index(dim, op, "dim", expected),)
    if not dims:  # PyTorch reads dim=() as "all dimensions"
        return tuple(range(ndim))
    rank = builtins.max(ndim, 1)  # a 0-d tensor accepts dim 0 and -1
    axes = []
    for d in dims:
        if not -rank <= d < rank:
            raise OpError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        axes.append(d % rank)
    if len(set(axes)) != len(axes):
        raise OpError(f"{op}: dim {dims} repeats a dimension")
    return tuple(sorted(a for a in axes if a < ndim))


def _regrow(grad: Any, axes: tuple[int, ...], keepdim: bool) -> Any:
    """Put back the reduced axes (as size 1) so that ``grad`` broadcasts against the input."""
    if keepdim or not axes:
        return grad
    return backend.xp.expand_dims(grad, axes)


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced axes set to 1: the shape of a keepdim reduction."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """∂(Σ x)/∂x = 1 for every element summed"""

    def forward(self, x: Any, axes: tuple, keepdim: bool) -> Any:
        self.shape = x.shape
        self.kept = _kept_shape(x.shape, axes)
        if x.dtype.kind in "bi" and x.dtype.itemsize < 8:  # PyTorch sums bools and ints to int64
            x = x.astype("int64")
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, grad: Any) -> tuple:
        return (expand_to(grad.reshape(self.kept), self.shape),)


class Mean(Function):
    """∂(mean x)/∂x = 1/N for each of the N elements averaged"""

    def forward(self, x: Any, axes: tuple, keepdim: bool) -> Any:
        if x.dtype.kind != "f":
            raise OpError(
                f"mean: input dtype must be floating point, got {x.dtype}; use x.float().mean()"
            )
        self.shape = x.shape
        self.kept = _kept_shape(x.shape, axes)
        count = 1
        for a in axes:
            count *= x.shape[a]
        self.count = count
        if count == 0:  # the mean of nothing is nan, as in PyTorch (0/0, without the warning)
            return x.sum(axis=axes, keepdims=keepdim) * x.dtype.type("nan")
        # sum / N rather than x.mean(): the same arithmetic without NumPy's Python-level wrapper
        return x.sum(axis=axes, keepdims=keepdim) / count

    def backward(self, grad: Any) -> tuple:
        if self.count == 0:  # then x has no elements, and neither has its gradient
            return (backend.xp.zeros(self.shape, dtype=grad.dtype),)
        return (expand_to(grad.reshape(self.kept) / self.count, self.shape),)


class Var(Function):
    """∂ var(x)/∂x = 2(x − mean x) / (N − correction)

    With N − correction ≤ 0 the variance is inf (nan where x is constant), as in PyTorch, and
    so is the gradient: 2/0 = inf times x − mean x, or, for a negative N − correction, the
    finite slope of the formula. Over all of x (``whole``: ``dim`` None) PyTorch instead gives
    inf for every element, nan where it equals the mean.
    """

    def forward(
        self, x: Any, axes: tuple, keepdim: bool, correction: float, whole: bool = False
    ) -> Any:
        if x.dtype.kind != "f":
            raise OpError(f"{self.op_name()}: input dtype must be floating point, got {x.dtype}")
        count = 1
        for a in axes:
            count *= x.shape[a]
        centred = x - x.mean(axis=axes, keepdims=True)
        squares = (centred * centred).sum(axis=axes, keepdims=keepdim)
        self.saved = (centred,)
        self.axes, self.keepdim, self.whole = axes, keepdim, whole
        self.denominator = count - correction
        if self.denominator <= 0:
            # PyTorch divides by max(N − correction, 0): inf, or nan where the sum is 0.
            return backend.xp.where(squares > 0, x.dtype.type("inf"), x.dtype.type("nan"))
        return squares / x.dtype.type(self.denominator)

    def saved_in_graph(self, output: Tensor) -> Any:
        # x − mean x again, from the input tensor, so that its derivative is recorded too.
        x = self.inputs[0]
        centred = x - mean(x, self.axes, keepdim=True)
        return (centred, *saved_as_tensors(self, self.saved[1:], output))

    def backward(self, grad: Any) -> tuple:
        centred = self.saved[0]
        xp = backend.xp
        grad = _regrow(grad, self.axes, self.keepdim)
        dof = self.denominator
        if dof <= 0 and self.whole:
            dtype = centred.dtype.type
            return (grad * xp.where(centred == 0, dtype("nan"), dtype("inf")),)
        slope = math.inf if dof == 0 else 2 / dof
        if isinstance(grad, backend.ndarray):  # a NumPy scalar keeps a 0-d float32 float32
            slope = centred.dtype.type(slope)
        return (grad * centred * slope,)


class Std(Var):
    """∂ std(x)/∂x = ∂ var(x)/∂x / (2 std(x)), taken as 0 where std(x) = 0

    At zero spread the quotient is 0/0; PyTorch defines it as 0, so that a constant input (a
    batch of identical samples) gets a zero gradient instead of nan.
    """

    def forward(
        self, x: Any, axes: tuple, keepdim: bool, correction: float, whole: bool = False
    ) -> Any:
        variance = super().forward(x, axes, keepdim, correction, whole)
        out = backend.as_array(backend.xp.sqrt(variance))
        self.saved = (*self.saved, out)
        return out

    def backward(self, grad: Any) -> tuple:
        out = self.saved[1]
        xp = backend.xp
        spread = out != 0
        if isinstance(grad, backend.ndarray):
            # ``where`` leaves the zeros in place, and divides nowhere else: no 0/0 is formed.
            grad_var = xp.zeros(grad.shape, dtype=grad.dtype)
            xp.divide(grad, out + out, out=grad_var, where=spread)
        else:  # recording a graph: the same 0, whose derivative is 0/0 (nan), as PyTorch's
            grad_var = xp.where(spread, grad / (out + out), 0)
        return super().backward(grad_var)


class LogSumExp(Function):
    """∂/∂x log Σ eˣ = softmax(x) = exp(x − logsumexp(x))"""

    def forward(self, x: Any, axes: tuple, keepdim: bool) -> Any:
        xp = backend.xp
        x = as_float(x)  # integer input: the default float dtype, as PyTorch
        # Silenced: log 0 = −∞ for an all −∞ (fully masked) row is the answer, as in PyTorch.
        token = fp_errors.enter()
        try:
            peak = x.max(axis=axes, keepdims=True, initial=-xp.inf)  # over nothing: −∞
            peak = xp.where(xp.isfinite(peak), peak, 0)  # all -inf (or inf) rows: no inf - inf
            out = xp.log(xp.exp(x - peak).sum(axis=axes, keepdims=True)) + peak
        finally:
            fp_errors.leave(token)
        self.saved = (x, out)
        self.axes, self.keepdim = axes, keepdim
        return out if keepdim else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def saved_in_graph(self, output: Tensor) -> Any:
        # The saved result is the output before its reduced axes were dropped.
        x = self.inputs[0]
        kept = output if self.keepdim else output.reshape(_kept_shape(x.shape, self.axes))
        return (saved_as_tensors(self, self.saved[0], output), kept)

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        grad = _regrow(grad, self.axes, self.keepdim)
        return (grad * backend.xp.exp(x - out),)


class Extreme(Function):
    """∂ max(x)/∂x = 1/k at each of the k elements equal to the maximum, else 0 (same for min;
    a nan maximum is shared by the k nan elements, as in PyTorch)"""

    def forward(self, x: Any, largest: bool) -> Any:
        out = x.max() if largest else x.min()
        self.saved = (x, out)
        return out

    def saved_in_graph(self, output: Tensor) -> Any:
        return self.saved  # only compared, to find the extremes: constants of the derivative

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        hits = x == out if out == out else backend.xp.isnan(x)
        return (shared_by_hits(grad, hits),)


def shared_by_hits(grad: Any, hits: Any) -> Any:
    """The 0-d ``grad`` shared evenly by the k true elements of ``hits``: grad/k there, +0
    elsewhere even for a nan or infinite ``grad`` (PyTorch's CPU backward of a whole-tensor
    max, min or median writes the shares into zeros)."""
    xp = backend.xp
    share = grad / hits.sum()
    # The count is an int64 NumPy number: dividing by it widens float32, so the share is cast
    # back (the same value as the division in float64 rounded once).
    share = share.astype(grad.dtype) if share.dtype != grad.dtype else share
    return xp.where(hits, share, xp.zeros((), grad.dtype))


class TakeAlongDim(Function):
    """∂C/∂x = ∂C/∂out placed at the taken index along dim, 0 elsewhere (the values of max/min)"""

    def forward(self, x: Any, indices: Any, dim: int, keepdim: bool) -> Any:
        xp = backend.xp
        values = xp.take_along_axis(x, indices, axis=dim)
        self.saved = (indices,)
        self.shape, self.dim, self.keepdim = x.shape, dim, keepdim
        return values if keepdim else xp.squeeze(values, axis=dim)

    def backward(self, grad: Any) -> tuple:
        (indices,) = self.saved
        xp = backend.xp
        grad = _regrow(grad, (self.dim,), self.keepdim)
        position = xp.arange(self.shape[self.dim]).reshape(
            [-1 if i == self.dim else 1 for i in range(len(self.shape))]
        )
        return (xp.where(position == indices, grad, xp.zeros((), dtype=grad.dtype)), None)


# ---- the public functions ----------------------------------------------------------------------


def sum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001, A002
    """Σ over ``dim`` (all elements by default).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.sum(x).item(), cr.sum(x, dim=0).tolist(), tuple(cr.sum(x, 1, keepdim=True).shape)
    (10.0, [4.0, 6.0], (2, 1))

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sum", "input", input)
    return Sum.apply(input, axes=normalise_dims(dim, input.ndim, "sum"), keepdim=keepdim)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The arithmetic mean over ``dim`` (all elements by default).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> cr.mean(x).item(), cr.mean(x, dim=1).tolist()
    (2.5, [1.5, 3.5])

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("mean", "input", input)
    return Mean.apply(input, axes=normalise_dims(dim, input.ndim, "mean"), keepdim=keepdim)


def var(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """Σ (x − mean)² / (N − correction) over ``dim``; correction 1 (Bessel's) by default.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0, 4.0])
    >>> round(cr.var(x).item(), 4), cr.var(x, correction=0).item()
    (1.6667, 1.25)

    ```
    """
    return _moment(Var, input, dim, unbiased, keepdim, correction)


def std(
    input: Tensor,  # noqa: A002
    dim: Any = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    """√var over ``dim``; see :func:`var`. Its gradient is 0, not nan, where var is 0.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.std(cr.tensor([1.0, 2.0, 3.0, 4.0])).item(), 4)
    1.291

    ```
    """
    return _moment(Std, input, dim, unbiased, keepdim, correction)


def _moment(
    op: type,
    input: Tensor,  # noqa: A002
    dim: Any,
    unbiased: bool | None,
    keepdim: bool,
    correction: float | None,
) -> Tensor:
    if not isinstance(input, Tensor):
        raise not_a_tensor(op.op_name(), "input", input)
    if isinstance(dim, bool):  # the old signature var(unbiased)
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = normalise_dims(dim, input.ndim, op.op_name())
    whole = dim is None or input.ndim == 0
    return op.apply(input, axes=axes, keepdim=keepdim, correction=correction, whole=whole)


def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """log Σ exp(x) over ``dim``, computed stably by shifting by the maximum.

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.logsumexp(cr.tensor([0.0, 0.0]), dim=0).item(), 4)
    0.6931

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("logsumexp", "input", input)
    axes = normalise_dims(dim, input.ndim, "logsumexp")
    return LogSumExp.apply(input, axes=axes, keepdim=keepdim)


def _extreme(input: Tensor, dim: Any, keepdim: bool, largest: bool) -> Any:  # noqa: A002
    name = "max" if largest else "min"
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    if isinstance(dim, Tensor):  # max(a, b): the element-wise form
        return (maximum if largest else minimum)(input, dim)
    if input.numel() == 0:
        raise ValueError(f"{name}: the tensor is empty, it has no {name}imum")
    if dim is None:
        return Extreme.apply(input, largest=largest)
    (axis,) = normalise_dims(dim, input.ndim, name) or (0,)
    xp = backend.xp
    if input.ndim == 0:
        return min_max_result(input.clone(), Tensor._make(xp.zeros((), dtype="int64"), False, None))
    indices = (xp.argmax if largest else xp.argmin)(input.array, axis=axis, keepdims=True)
    values = TakeAlongDim.apply(input, indices, dim=axis, keepdim=keepdim)
    if not keepdim:
        indices = xp.squeeze(indices, axis=axis)
    return min_max_result(values, Tensor._make(indices.astype("int64"), False, None))


def max(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    """The largest element; with ``dim``, ``(values, indices)`` along it; with a tensor, the
    element-wise maximum.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> cr.max(x).item()
    5.0
    >>> values, indices = cr.max(x, dim=1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 4.0], [1, 0])

    ```
    """
    return _extreme(input, dim, keepdim, largest=True)


def min(input: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001, A002
    """The smallest element; with ``dim``, ``(values, indices)`` along it; with a tensor, the
    element-wise minimum.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> cr.min(x).item()
    1.0
    >>> values, indices = cr.min(x, dim=0)
    >>> values.tolist(), indices.tolist()
    ([1.0, 2.0], [0, 1])

    ```
    """
    return _extreme(input, dim, keepdim, largest=False)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The index of the largest element (of the flattened tensor when ``dim`` is None).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> cr.argmax(x).item(), cr.argmax(x, dim=1).tolist()
    (1, [1, 0])

    ```
    """
    return _arg_extreme(input, dim, keepdim, backend.xp.argmax, "argmax")


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The index of the smallest element (of the flattened tensor when ``dim`` is None).

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
    >>> cr.argmin(x).item(), cr.argmin(x, dim=1).tolist()
    (0, [0, 1])

    ```
    """
    return _arg_extreme(input, dim, keepdim, backend.xp.argmin, "argmin")


def _arg_extreme(input: Tensor, dim: Any, keepdim: bool, fn: Any, name: str) -> Tensor:  # noqa: A002
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, "input", input)
    if input.numel() == 0:
        raise ValueError(f"{name}: the tensor is empty")
    if dim is None:
        index = fn(input.array)
        if keepdim:
            index = index.reshape((1,) * input.ndim)
    else:
        (axis,) = normalise_dims(dim, input.ndim, name) or (0,)
        index = fn(input.array, axis=axis, keepdims=keepdim)
    return Tensor._make(backend.as_array(index).astype("int64"), False, None)
