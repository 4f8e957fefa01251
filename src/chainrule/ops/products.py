"""Products and distances: prod, trace, tensordot, kron, cross and cdist.

``prod`` and ``cdist`` carry rules of their own (a product's derivative at zeros, a distance's at
zero distance); the others are composed of operations that have theirs (diagonal and sum,
permute and matmul, broadcasting and mul, select and stack).
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule import backend, dtypes, fp_errors
from chainrule.autograd.function import Function, OpError, as_index, not_a_tensor
from chainrule.ops.axes import broadcast_tensors
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.conversion import clone
from chainrule.ops.cumulative import cumprod
from chainrule.ops.elementwise import mul, sub
from chainrule.ops.linalg import as_input, matmul
from chainrule.ops.movement import normalise_axis, permute, reshape, stack
from chainrule.ops.reduce import sum as sum_
from chainrule.ops.selection import diagonal, select
from chainrule.tensor import Tensor

# ---- prod --------------------------------------------------------------------------------------


def _exclusive_cumprod(array: Any, axis: int) -> Any:
    """``out[k] = Π_{i < k} array[i]`` along ``axis`` (1 at k = 0): the running product of the
    elements strictly before each one."""
    xp = backend.xp
    ones = xp.ones_like(xp.take(array, [0], axis=axis))
    before = xp.take(array, xp.arange(array.shape[axis] - 1), axis=axis)
    shifted = xp.concatenate([ones, before], axis=axis)
    if isinstance(shifted, Tensor):  # recording a graph: the differentiable running product
        return cumprod(shifted, axis)
    return xp.cumprod(shifted, axis=axis)


class Prod(Function):
    """out = Π xᵢ along the axis: ∂out/∂xₖ = Π_{i ≠ k} xᵢ = (Π_{i < k} xᵢ)(Π_{i > k} xᵢ)

    The product that leaves xₖ out is taken as the running product from the front times the one
    from the back, never as out / xₖ: exact where x holds zeros (one zero: only that element
    has a gradient; two or more: none has)."""

    def forward(self, x: Any, axis: int, keepdim: bool, dtype: Any) -> Any:
        x = x if dtype is None else x.astype(dtype)
        self.axis, self.keepdim = axis, keepdim
        self.saved = (x,)
        return x.prod(axis=axis, keepdims=keepdim)

    def saved_in_graph(self, output: Tensor) -> tuple:
        return (as_input(self.inputs[0], self.saved[0]),)

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        xp, axis = backend.xp, self.axis
        if not self.keepdim:
            grad = xp.expand_dims(grad, axis)
        if x.shape[axis] == 0:
            return (xp.zeros(x.shape, dtype=grad.dtype),)
        before = _exclusive_cumprod(x, axis)
        after = xp.flip(_exclusive_cumprod(xp.flip(x, axis=axis), axis), axis=axis)
        return (grad * before * after,)


def prod(
    input: Tensor,  # noqa: A002
    dim: int | None = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The product of the elements along ``dim`` (of all of them when ``dim`` is None). Bool and
    integer inputs give int64, as in PyTorch; ``dtype`` converts the input first. The gradient
    is exact where the input holds zeros.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(1).tolist()
    [2.0, 12.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("prod", "input", input)
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
    elif input.dtype.kind in "biu":
        dtype = dtypes.int64
    if dim is None:
        return Prod.apply(reshape(input, -1), axis=0, keepdim=False, dtype=dtype)
    if input.ndim == 0:
        normalise_axis(dim, 1, "prod")
        return Prod.apply(reshape(input, 1), axis=0, keepdim=False, dtype=dtype)
    axis = normalise_axis(dim, input.ndim, "prod")
    return Prod.apply(input, axis=axis, keepdim=keepdim, dtype=dtype)


# ---- trace, tensordot, kron --------------------------------------------------------------------


def trace(input: Tensor) -> Tensor:  # noqa: A002
    """The sum of the main diagonal of a matrix (integers sum to int64).

    ```pycon
    >>> import chainrule as cr
    >>> cr.trace(cr.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
    5.0

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("trace", "input", input)
    if input.ndim != 2:
        raise OpError(f"trace: expected a matrix, but got a tensor of shape {input.shape}")
    return sum_(diagonal(input))


def _contracted(dims: Any, a: Tensor, b: Tensor) -> tuple[list[int], list[int]]:
    """The dimensions of ``a`` and of ``b`` that tensordot sums over: the last ``dims`` of a
    with the first ``dims`` of b, or the two lists given."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (tuple, list)):
        if len(dims) != 2 or not all(isinstance(d, (tuple, list)) for d in dims):
            raise TypeError(f"tensordot: dims must be an int or a pair of lists, got {dims!r}")
        first, second = dims
        if len(first) != len(second):
            raise OpError(
                f"tensordot: both dimension lists should have the same length, got {dims!r}"
            )
        return (
            [normalise_axis(d, a.ndim, "tensordot", "dims") for d in first],
            [normalise_axis(d, b.ndim, "tensordot", "dims") for d in second],
        )
    count = as_index(dims, "tensordot", "dims", "int or a pair of lists")
    if count < 0:
        raise OpError(f"tensordot: expects dims >= 0, got dims={count}")
    if count > min(a.ndim, b.ndim):
        raise OpError(
            f"tensordot: dims={count} is more than the dimensions of the inputs, of shapes "
            f"{a.shape} and {b.shape}"
        )
    return list(range(a.ndim - count, a.ndim)), list(range(count))


def tensordot(a: Tensor, b: Tensor, dims: Any = 2) -> Tensor:
    """Σ over the pairs of dimensions ``dims`` of ``a`` and ``b`` of the products: the free
    dimensions of a followed by those of b. ``dims`` = k pairs the last k of a with the first k
    of b; a pair of lists names them; a pair whose size is 1 on one side broadcasts. Composed:
    a sum over each broadcast pair, a permutation and a reshape of each to a matrix, and their
    product, whose gradient is the rule of matmul.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tensordot(cr.ones(3, 4, 5), cr.ones(4, 5, 2)).shape
    chainrule.Size([3, 2])

    ```
    """
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, Tensor):
            raise not_a_tensor("tensordot", name, value)
    if a.dtype != b.dtype:
        raise TypeError(
            f"tensordot: both inputs should have the same dtype, got {a.dtype} and {b.dtype}"
        )
    summed_a, summed_b = _contracted(dims, a, b)
    # As PyTorch: a pair where one side has size 1 broadcasts, and the other side is summed
    # over it first (a new array, which the product then keeps instead of a view of the input:
    # changing the input in place afterwards leaves backward running, as in PyTorch).
    for i, j in zip(summed_a, summed_b):
        if b.shape[j] == 1:
            a = sum_(a, dim=i, keepdim=True)
        elif a.shape[i] == 1:
            b = sum_(b, dim=j, keepdim=True)
        elif a.shape[i] != b.shape[j]:
            raise OpError(
                f"tensordot: contracted dimensions need to match, but a (shape {a.shape}) has "
                f"size {a.shape[i]} in dim {i} and b (shape {b.shape}) has size {b.shape[j]} "
                f"in dim {j}"
            )
    free_a = [d for d in range(a.ndim) if d not in summed_a]
    free_b = [d for d in range(b.ndim) if d not in summed_b]
    inner = 1
    for d in summed_a:
        inner *= a.shape[d]
    rows = reshape(permute(a, free_a + summed_a), (_size(a, free_a), inner))
    cols = reshape(permute(b, summed_b + free_b), (inner, _size(b, free_b)))
    out_shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    return reshape(matmul(rows, cols), out_shape)


def _size(x: Tensor, axes: list[int]) -> int:
    size = 1
    for d in axes:
        size *= x.shape[d]
    return size


def kron(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The Kronecker product: every element of ``input`` times a whole copy of ``other``, the
    copies laid out block by block (shapes multiply dimension by dimension, the shorter shape
    padded with leading 1s). Composed of broadcasting reshapes and mul.

    ```pycon
    >>> import chainrule as cr
    >>> cr.kron(cr.tensor([1, 2]), cr.tensor([1, 10])).tolist()
    [1, 10, 2, 20]

    ```
    """
    for name, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise not_a_tensor("kron", name, value)
    rank = max(input.ndim, other.ndim)
    a_shape = (1,) * (rank - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (rank - other.ndim) + tuple(other.shape)
    # a as (a₀, 1, a₁, 1, ...) times b as (1, b₀, 1, b₁, ...): element (i₀, j₀, i₁, j₁, ...)
    # is a[i]·b[j], and merging each pair (iₖ, jₖ) gives the block layout. The factors are
    # copies, so that a later in-place change of an input leaves this gradient exact and
    # allowed, as PyTorch's kron allows it (its gradient then reads the changed values).
    spread_a = reshape(clone(input), tuple(n for size in a_shape for n in (size, 1)))
    spread_b = reshape(clone(other), tuple(n for size in b_shape for n in (1, size)))
    return reshape(mul(spread_a, spread_b), tuple(m * n for m, n in zip(a_shape, b_shape)))


# ---- cross product -----------------------------------------------------------------------------


def _cross(input: Tensor, other: Tensor, dim: int, op: str) -> Tensor:  # noqa: A002
    """(a₁b₂ − a₂b₁, a₂b₀ − a₀b₂, a₀b₁ − a₁b₀) along ``dim``, after broadcasting."""
    axis = normalise_axis(dim, input.ndim, op)
    if input.shape[axis] != 3 or other.shape[axis] != 3:
        raise OpError(
            f"{op}: inputs dimension {dim} must have length 3, got shapes {input.shape} and "
            f"{other.shape}"
        )
    a, b = broadcast_tensors(input, other)
    a0, a1, a2 = (select(a, axis, i) for i in range(3))
    b0, b1, b2 = (select(b, axis, i) for i in range(3))
    parts = [
        sub(mul(a1, b2), mul(a2, b1)),
        sub(mul(a2, b0), mul(a0, b2)),
        sub(mul(a0, b1), mul(a1, b0)),
    ]
    return stack(parts, axis)


def _check_pair(input: Any, other: Any, op: str) -> None:  # noqa: A002
    for name, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise not_a_tensor(op, name, value)
    if input.ndim != other.ndim:
        raise OpError(
            f"{op}: inputs must have the same number of dimensions, got shapes {input.shape} "
            f"and {other.shape}"
        )
    if input.dtype != other.dtype:
        raise TypeError(
            f"{op}: expected both inputs of one dtype, got {input.dtype} and {other.dtype}"
        )


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:  # noqa: A002
    """The cross product of 3-vectors along ``dim`` (the last by default), with broadcasting:
    ``torch.linalg.cross``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.cross(cr.tensor([1.0, 0.0, 0.0]), cr.tensor([0.0, 1.0, 0.0])).tolist()
    [0.0, 0.0, 1.0]

    ```
    """
    _check_pair(input, other, "linalg.cross")
    return _cross(input, other, dim, "linalg.cross")


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:  # noqa: A002
    """:func:`linalg_cross` along ``dim``; without ``dim``, along the first dimension of length
    3 (PyTorch's older default, which warns).

    ```pycon
    >>> import chainrule as cr
    >>> cr.cross(cr.tensor([1.0, 0.0, 0.0]), cr.tensor([0.0, 1.0, 0.0]), dim=0).tolist()
    [0.0, 0.0, 1.0]

    ```
    """
    _check_pair(input, other, "cross")
    if dim is None:
        shape = backend.xp.broadcast_shapes(input.shape, other.shape)
        if 3 not in shape:
            raise OpError(f"cross: no dimension of size 3 in input of shape {input.shape}")
        warnings.warn(
            "cross: without dim, the first dimension of length 3 is used; pass dim explicitly "
            "(PyTorch deprecates the default)",
            UserWarning,
            stacklevel=2,
        )
        dim = shape.index(3)
    return _cross(input, other, dim, "cross")


# ---- cdist -------------------------------------------------------------------------------------


class Cdist(Function):
    """out[..., i, j] = ‖x1[..., i, :] − x2[..., j, :]‖_p. With d = x1ᵢ − x2ⱼ:
    ∂out/∂d = sign(d)·|d|^(p−1) / out^(p−1) (d / out for p = 2, sign(d) for p = 1, sign(d) where
    |d| = out for p = ∞, 0 for p = 0), taken as 0 where out = 0 or d = 0, as in PyTorch;
    ∂C/∂x1 sums it over j, ∂C/∂x2 is minus its sum over i."""

    def forward(self, x1: Any, x2: Any, p: float) -> Any:
        xp = backend.xp
        diff = x1[..., :, None, :] - x2[..., None, :, :]
        size = abs(diff)
        if p == 0:
            out = (size != 0).sum(axis=-1).astype(diff.dtype)
        elif p == xp.inf:
            out = size.max(axis=-1, initial=0)
        else:
            out = (size**p).sum(axis=-1) ** (1 / p)
        self.p, self.shapes = p, (x1.shape, x2.shape)
        self.saved = (diff, out)
        return out

    def saved_in_graph(self, output: Tensor) -> tuple:
        x1, x2 = self.inputs[:2]
        return (x1[..., :, None, :] - x2[..., None, :, :], output)

    def backward(self, grad: Any) -> tuple:
        diff, out = self.saved
        xp, p = backend.xp, self.p
        size, dist = abs(diff), out[..., None]
        token = fp_errors.enter()
        try:
            if p == 0:
                slope = xp.zeros_like(diff)
            elif p == 1:
                slope = xp.sign(diff)
            elif p == xp.inf:
                slope = xp.sign(diff) * (size == dist)
            else:
                slope = xp.sign(diff) * size ** (p - 1) / dist ** (p - 1)
            slope = xp.where((dist == 0) | (size == 0), 0, slope)
        finally:
            fp_errors.leave(token)
        grad_diff = grad[..., None] * slope
        shape1, shape2 = self.shapes
        return (
            unbroadcast(xp.add.reduce(grad_diff, axis=-2), shape1),
            unbroadcast(-xp.add.reduce(grad_diff, axis=-3), shape2),
            None,
        )


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: str | None = None) -> Tensor:
    """The p-norm distance between each row of ``x1`` (…, P, M) and each row of ``x2``
    (…, R, M): shape (…, P, R), the batch dimensions broadcast. ``p`` ≥ 0 (∞ included); at zero
    distance the gradient is 0, as in PyTorch. ``compute_mode`` is accepted for PyTorch's
    signature: the distances are always computed directly from the differences.

    ```pycon
    >>> import chainrule as cr
    >>> cr.cdist(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0], [0.0, 1.0]])).tolist()
    [[5.0, 1.0]]

    ```
    """
    for name, value in (("x1", x1), ("x2", x2)):
        if not isinstance(value, Tensor):
            raise not_a_tensor("cdist", name, value)
        if value.ndim < 2:
            raise OpError(
                f"cdist: only supports at least 2-d tensors, {name} has shape {value.shape}"
            )
        if not dtypes.is_floating(value.dtype):
            raise TypeError(f"cdist: only supports floating-point dtypes, {name} is {value.dtype}")
    if x1.shape[-1] != x2.shape[-1]:
        raise OpError(
            f"cdist: x1 and x2 must have the same number of columns, got shapes {x1.shape} and "
            f"{x2.shape}"
        )
    if x1.dtype != x2.dtype:
        raise TypeError(f"cdist: expected x1 and x2 of one dtype, got {x1.dtype} and {x2.dtype}")
    if p < 0:
        raise OpError(f"cdist: only supports non-negative p values, got {p}")
    try:
        backend.xp.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise OpError(
            f"cdist: the batch dimensions of x1 {x1.shape} and x2 {x2.shape} do not broadcast"
        ) from None
    return Cdist.apply(x1, x2, p=float(p))
