"""Running totals along a dimension: cumsum, cumprod and logcumsumexp.

Output element k along ``dim`` depends on input elements 0..k, so the gradient of element k
collects ∂C/∂out_j from every j ≥ k: a cumulative sum taken from the far end.

As in PyTorch, bool and integer inputs give int64 results, and ``dtype`` converts the input
before the running total is taken (the gradient comes back in the input's dtype).
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.ops.movement import cat, normalise_axis
from chainrule.tensor import Tensor


def reverse_cumsum(array: Any, axis: int) -> Any:
    """``out[k] = Σ_{j ≥ k} array[j]`` along ``axis``: the running sum from the far end."""
    xp = backend.xp
    return xp.flip(xp.cumsum(xp.flip(array, axis=axis), axis=axis), axis=axis)


def _1d(array: Any) -> Any:
    return array.reshape(1) if array.ndim == 0 else array


class CumSum(Function):
    """outₖ = Σ_{i ≤ k} xᵢ: ∂C/∂xₖ = Σ_{j ≥ k} ∂C/∂outⱼ"""

    def forward(self, x: Any, dim: int, dtype: Any) -> Any:
        self.dim = dim
        x = x if dtype is None else x.astype(dtype)  # each element converted, then summed
        return backend.xp.cumsum(_1d(x), axis=dim).reshape(x.shape)

    def backward(self, grad: Any) -> tuple:
        return (reverse_cumsum(_1d(grad), self.dim).reshape(grad.shape),)


class CumProd(Function):
    """outₖ = Π_{i ≤ k} xᵢ: ∂C/∂xₖ = Σ_{j ≥ k} ∂C/∂outⱼ · Π_{i ≤ j, i ≠ k} xᵢ

    Without zeros the product that leaves xₖ out is outⱼ / xₖ. With zeros that quotient is
    0/0, so the slice is split at its first zero z: before z the quotient still holds (every
    factor up to z is nonzero, and outⱼ = 0 from z on); at z the product is the running
    product with x_z taken as 1; after z every product keeps the zero x_z, so the gradient is 0.
    Recording a graph, the gradient is built without the quotient, as prefix products times
    a sum from the far end, so that its derivative holds at zeros and at tiny values alike.
    """

    def forward(self, x: Any, dim: int, dtype: Any) -> Any:
        self.shape, self.dim = x.shape, dim
        x = _1d(x) if dtype is None else _1d(x).astype(dtype)
        out = backend.xp.cumprod(x, axis=dim)
        self.saved = (x, out)
        return out.reshape(self.shape)

    def saved_in_graph(self, output: Tensor) -> tuple:
        # The input as the forward saved it (converted to ``dtype``, 1-d), and the output so.
        x = self.inputs[0]
        if x.dtype != self.saved[0].dtype:
            x = x.to(self.saved[0].dtype)
        return (_1d(x), _1d(output))

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        return (_cumprod_grad(x, out, _1d(grad), self.dim).reshape(self.shape),)


def _cumprod_grad(x: Any, out: Any, grad: Any, axis: int) -> Any:
    """∂C/∂x of out = cumprod(x) along ``axis`` (see :class:`CumProd`)."""
    if isinstance(x, Tensor):
        return _cumprod_grad_in_graph(x, grad, axis)
    xp = backend.xp
    zero = x == 0
    if not zero.any():
        return reverse_cumsum(grad * out, axis) / x
    place = xp.arange(x.shape[axis]).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    has_zero = zero.any(axis=axis, keepdims=True)
    first = xp.where(has_zero, zero.argmax(axis=axis, keepdims=True), x.shape[axis])
    before, at = place < first, place == first
    one = xp.ones((), dtype=x.dtype)
    quotient = reverse_cumsum(grad * out, axis) / xp.where(before, x, one)
    running = xp.cumprod(xp.where(at, one, x), axis=axis)
    at_zero = xp.where(place >= first, grad * running, 0).sum(axis=axis, keepdims=True)
    return xp.where(before, quotient, xp.where(at, at_zero, 0))


def _cumprod_grad_in_graph(x: Tensor, grad: Any, axis: int) -> Any:
    """:func:`_cumprod_grad` recording a graph, without a quotient: ∂C/∂xₖ = Eₖ·Sₖ with
    Eₖ = Π_{i<k} xᵢ and Sₖ = Σ_{j≥k} ∂C/∂outⱼ Π_{k<i≤j} xᵢ = ∂C/∂outₖ + xₖ₊₁·Sₖ₊₁, one
    step per position along ``axis``. The quotient's derivative by a tiny xₖ is the difference
    of two terms of order 1/xₖ: at xₖ = 1.4e-17 a second derivative came out 3e-4 off
    PyTorch's, which avoids the quotient there too (fuzzer seed 1230)."""
    count = x.shape[axis]

    def at(values: Any, k: int) -> Any:
        return values[(slice(None),) * axis + (slice(k, k + 1),)]

    if count <= 1:
        return grad
    sums = [at(grad, count - 1)]
    for k in range(count - 2, -1, -1):
        sums.append(at(grad, k) + at(x, k + 1) * sums[-1])
    sums.reverse()
    pieces, before = [sums[0]], None
    for k in range(1, count):
        before = at(x, 0) if before is None else before * at(x, k - 1)
        pieces.append(before * sums[k])
    return cat(pieces, axis)


# ---- the public functions ----------------------------------------------------------------------


def _checked(input: Tensor, dim: int, dtype: Any, op: str) -> tuple[int, Any]:  # noqa: A002
    """The axis, and the dtype of the result: ``dtype``, else int64 for bools and integers."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(op, "input", input)
    axis = normalise_axis(dim, max(input.ndim, 1), op)
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
        if input.requires_grad and dtype.kind != "f":
            raise TypeError(
                f"{op}: dtype {dtype} cannot carry a gradient, and the input requires grad; "
                "compute it on input.detach()"
            )
    elif input.dtype.kind in "biu":
        dtype = dtypes.int64
    return axis, dtype


class LogCumSumExp(Function):
    """outₖ = log Σ_{i ≤ k} e^{xᵢ}: ∂C/∂xₖ = Σ_{j ≥ k} ∂C/∂outⱼ · e^{xₖ − outⱼ}

    The sum from the far end is taken in log space, the positive and the negative incoming
    gradients apart (log |g| − out, accumulated by logaddexp), so nothing overflows.
    """

    def forward(self, x: Any, dim: int) -> Any:
        self.dim = dim
        flat = _1d(x)
        out = backend.xp.logaddexp.accumulate(flat, axis=dim) if flat.size else flat.copy()
        out = out.reshape(x.shape)
        self.saved = (x, out)  # as given and returned: a graph-recording backward finds them
        return out

    def backward(self, grad: Any) -> tuple:
        x, out = self.saved
        if isinstance(grad, Tensor):  # recording a graph: the same sums, as operations
            if x.ndim == 0:
                return (grad * 1,)  # one element: out = x
            return (_log_space_grad_in_graph(grad, x, out, self.dim),)
        xp = backend.xp
        shape = grad.shape
        grad, x, out = _1d(grad), _1d(x), _1d(out)
        lowest = xp.finfo(x.dtype).min  # log 0, kept finite so that lowest − out is too
        token = fp_errors.enter()  # log 0 is replaced below
        try:
            magnitude = xp.log(xp.abs(grad))
            terms = []
            for picked in (grad > 0, grad < 0):
                logs = xp.where(picked, magnitude, lowest) - out
                tail = xp.flip(xp.logaddexp.accumulate(xp.flip(logs, self.dim), self.dim), self.dim)
                terms.append(xp.exp(tail + x))
        finally:
            fp_errors.leave(token)
        return ((terms[0] - terms[1]).reshape(shape),)


def _log_space_grad_in_graph(grad: Tensor, x: Tensor, out: Tensor, dim: int) -> Tensor:
    """LogCumSumExp's gradient from tensors: the same log-space sums, with log |g| taken only
    where g is nonzero (elsewhere a constant), so that its own derivative stays finite."""
    from chainrule.ops.elementwise import Where, exp, log

    terms = []
    for picked in (grad.array > 0, grad.array < 0):
        mask = Tensor._make(picked, False, None)
        safe = Where.apply(mask, grad.abs(), 1.0)
        logs = Where.apply(mask, log(safe), float(backend.xp.finfo(grad.array.dtype).min)) - out
        tail = LogCumSumExp.apply(logs.flip(dim), dim=dim).flip(dim)
        terms.append(exp(tail + x))
    return terms[0] - terms[1]


def logcumsumexp(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """The running log Σ eˣ along ``dim``: ``out[k] = log(e^{x[0]} + … + e^{x[k]})``, without
    overflow or underflow (integers become the default float dtype).

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.logcumsumexp(cr.tensor([0.0, 0.0, 1000.0]), 0).tolist()]
    [0.0, 0.6931, 1000.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("logcumsumexp", "input", input)
    axis = normalise_axis(dim, max(input.ndim, 1), "logcumsumexp")
    x = input if dtypes.is_floating(input.array.dtype) else input.to(dtypes.get_default_dtype())
    return LogCumSumExp.apply(x, dim=axis)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """The running sum along ``dim``: ``out[k] = input[0] + … + input[k]``.

    ```pycon
    >>> from chainrule import tensor
    >>> cumsum(tensor([1.0, 2.0, 3.0]), 0).tolist()
    [1.0, 3.0, 6.0]

    ```
    """
    axis, dtype = _checked(input, dim, dtype, "cumsum")
    return CumSum.apply(input, dim=axis, dtype=dtype)


def cumprod(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """The running product along ``dim``: ``out[k] = input[0] · … · input[k]``. Its gradient
    is exact where the input holds zeros.

    ```pycon
    >>> from chainrule import tensor
    >>> cumprod(tensor([1.0, 2.0, 3.0]), 0).tolist()
    [1.0, 2.0, 6.0]

    ```
    """
    axis, dtype = _checked(input, dim, dtype, "cumprod")
    return CumProd.apply(input, dim=axis, dtype=dtype)
