"""Inverting and solving with square matrices: inv, det and solve, on a matrix or a batch of
them (the last two dimensions), as ``torch.linalg`` has them.

Each derivative is the textbook one, written with the inverse (Aᵀ below is the transpose of
each matrix of a batch):

- Y = A⁻¹: ∂C/∂A = −Yᵀ · ∂C/∂Y · Yᵀ
- d = det A: ∂C/∂A = ∂C/∂d · d · A⁻ᵀ (0 at a singular A, as in PyTorch)
- AX = B: ∂C/∂B = A⁻ᵀ · ∂C/∂X, ∂C/∂A = −∂C/∂B · Xᵀ
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.movement import squeeze, transpose, unsqueeze
from chainrule.tensor import Tensor


def _t(array: Any) -> Any:
    return backend.xp.swapaxes(array, -1, -2)


def _column_major(array: Any) -> Any:
    """``array`` with each matrix stored by columns, as LAPACK leaves PyTorch's results of inv
    and solve: a reshape of them then copies, as it does in PyTorch, instead of giving a view
    that an in-place write would carry back."""
    return _t(backend.xp.ascontiguousarray(_t(array)))


def _singular(op: str) -> RuntimeError:
    return RuntimeError(
        f"{op}: the input matrix is singular (not invertible), so the operation could not be "
        "completed"
    )


class Inverse(Function):
    """Y = A⁻¹: ∂C/∂A = −Yᵀ · ∂C/∂Y · Yᵀ"""

    def forward(self, a: Any) -> Any:
        try:
            out = _column_major(backend.xp.linalg.inv(a))
        except backend.xp.linalg.LinAlgError:
            raise _singular("linalg.inv") from None
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (-(_t(out) @ grad @ _t(out)),)


class Determinant(Function):
    """d = det A: ∂C/∂A = ∂C/∂d · d · A⁻ᵀ, taken as 0 where d = 0 (PyTorch's value there; the
    adjugate, which the formula stands for, is not formed)"""

    def forward(self, a: Any) -> Any:
        # An array, never NumPy's scalar for one matrix: the saved value is the output itself.
        out = backend.as_array(backend.xp.linalg.det(a)).astype(a.dtype, copy=False)
        self.saved = (a, out)
        return out

    def backward(self, grad: Any) -> tuple:
        a, out = self.saved
        xp = backend.xp
        singular = (out == 0)[..., None, None]
        # Singular matrices are swapped for the identity so that the inverse exists; their
        # gradient is zeroed below, where d = 0 makes it 0 anyway.
        safe = xp.where(singular, xp.eye(a.shape[-1], dtype=a.dtype), a)
        scale = (grad * out)[..., None, None]
        return (xp.where(singular, 0, scale * _t(_inverse(safe))),)


class Solve(Function):
    """X = A⁻¹B (B a batch of matrices): ∂C/∂B = A⁻ᵀ · ∂C/∂X, ∂C/∂A = −∂C/∂B · Xᵀ (each
    summed back over the batch dimensions it was broadcast along)"""

    argument_names = ("A", "B")

    def forward(self, a: Any, b: Any) -> Any:
        xp = backend.xp
        shape = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        try:
            out = xp.linalg.solve(
                xp.broadcast_to(a, shape + a.shape[-2:]), xp.broadcast_to(b, shape + b.shape[-2:])
            )
        except xp.linalg.LinAlgError:
            raise _singular("linalg.solve") from None
        out = _column_major(out)
        self.saved = (a, out)
        self.shapes = (a.shape, b.shape)
        return out

    def backward(self, grad: Any) -> tuple:
        a, out = self.saved
        xp = backend.xp
        if isinstance(grad, backend.ndarray):
            shape = grad.shape[:-2]
            grad_b = xp.linalg.solve(xp.broadcast_to(_t(a), shape + a.shape[-2:]), grad)
        else:  # recording a graph: the same solve, as a differentiable operation
            grad_b = Solve.apply(_t(a), grad)
        shape_a, shape_b = self.shapes
        grad_a = unbroadcast(-(grad_b @ _t(out)), shape_a) if self.needs_input_grad[0] else None
        return grad_a, unbroadcast(grad_b, shape_b)


def _inverse(a: Any) -> Any:
    """A⁻¹ of an array, or of a tensor (differentiably) in a backward that records a graph."""
    if isinstance(a, backend.ndarray):
        return backend.xp.linalg.inv(a)
    return Inverse.apply(a)


# ---- the public functions ----------------------------------------------------------------------


def _check_square(a: Any, op: str, name: str = "A") -> None:
    if not isinstance(a, Tensor):
        raise not_a_tensor(op, name, a)
    if a.ndim < 2:
        raise OpError(
            f"{op}: the input tensor {name} must have at least 2 dimensions, got shape {a.shape}"
        )
    if a.shape[-1] != a.shape[-2]:
        raise OpError(
            f"{op}: {name} must be batches of square matrices, but they are "
            f"{a.shape[-2]} by {a.shape[-1]} matrices (shape {a.shape})"
        )
    if not dtypes.is_floating(a.dtype):
        raise TypeError(f"{op}: expected a floating point tensor as input, got {a.dtype}")


def inv(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's argument name
    """The inverse of a square matrix (of each matrix of a batch): ``torch.linalg.inv``. A
    singular matrix raises a RuntimeError.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.inv(cr.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]

    ```
    """
    _check_square(A, "linalg.inv")
    return Inverse.apply(A)


def inverse(input: Tensor) -> Tensor:  # noqa: A002
    """:func:`inv` under its older name: ``torch.inverse``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.inverse(cr.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]

    ```
    """
    return inv(input)


def det(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's argument name
    """The determinant of a square matrix (of each matrix of a batch): ``torch.linalg.det``.

    ```pycon
    >>> import chainrule as cr
    >>> cr.det(cr.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
    -2.0

    ```
    """
    _check_square(A, "linalg.det")
    return Determinant.apply(A)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    """X with AX = B (XA = B with ``left=False``) for a square A: ``torch.linalg.solve``. B is
    a matrix (n, k), or a vector (n,), or a batch of either: a batch of vectors when its shape
    is A's without the last dimension. Batch dimensions broadcast. A singular A raises a
    RuntimeError.

    ```pycon
    >>> import chainrule as cr
    >>> cr.linalg.solve(cr.tensor([[2.0, 0.0], [0.0, 4.0]]), cr.tensor([2.0, 2.0])).tolist()
    [1.0, 0.5]

    ```
    """
    _check_square(A, "linalg.solve")
    if not isinstance(B, Tensor):
        raise not_a_tensor("linalg.solve", "B", B)
    if A.dtype != B.dtype:
        raise TypeError(
            f"linalg.solve: expected A and B to have the same dtype, got {A.dtype} and {B.dtype}"
        )
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    if left:
        return _solve(A, B, vector, "AX")
    # XA = B is Aᵀ Xᵀ = Bᵀ.
    if B.shape[-1] != A.shape[-2]:
        raise OpError(
            f"linalg.solve: incompatible shapes of A and B for the equation XA = B (A of shape "
            f"{A.shape}, B of shape {B.shape})"
        )
    if vector:
        return _solve(transpose(A, -1, -2), B, vector, "AX")
    At, Bt = transpose(A, -1, -2), transpose(B, -1, -2)  # noqa: N806
    return transpose(_solve(At, Bt, vector, "AX"), -1, -2)


def _solve(A: Tensor, B: Tensor, vector: bool, equation: str) -> Tensor:  # noqa: N803
    rows = B.shape[-1] if vector else B.shape[-2]
    if rows != A.shape[-1]:
        raise OpError(
            f"linalg.solve: incompatible shapes of A and B for the equation {equation} = B "
            f"(A of shape {A.shape}, B of shape {B.shape})"
        )
    if vector:
        return squeeze(Solve.apply(A, unsqueeze(B, -1)), -1)
    try:
        backend.xp.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except ValueError:
        raise OpError(
            f"linalg.solve: the batch dimensions of A {A.shape} and B {B.shape} do not broadcast"
        ) from None
    return Solve.apply(A, B)
