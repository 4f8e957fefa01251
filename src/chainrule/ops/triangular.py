"""Solving with a triangular matrix: ``linalg.solve_triangular``.

The solve runs NumPy's (or CuPy's) general ``linalg.solve`` on the triangle, since NumPy has
no triangular solver and SciPy is not required: LU with partial pivoting, backward stable like
substitution, at O(n³) instead of O(n²k) (tests/test_linalg_decompositions.py compares it with
SciPy's substitution). For T the triangle that ``upper`` and ``unitriangular`` pick from A:

- TX = B: ∂C/∂B = T⁻ᵀ·∂C/∂X, ∂C/∂A = triangle of (−∂C/∂B·Xᵀ)
- XT = B: ∂C/∂B = ∂C/∂X·T⁻ᵀ, ∂C/∂A = triangle of (−Xᵀ·∂C/∂B)

where "triangle of" keeps the entries of A that T reads (the strict triangle when the diagonal
is taken as ones). Tᵀ is triangular too, so the backward is a solve of the same kind, and with
``create_graph=True`` it is recorded as one, whose own derivative follows.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.broadcast import unbroadcast
from chainrule.ops.linalg_checks import LinAlgError, check_matrix, t, triu
from chainrule.tensor import Tensor


def triangle(a: Any, upper: bool, unit: bool) -> Any:
    """The triangular matrix T that A stands for: its upper or lower triangle, with ones on
    the diagonal where ``unit`` (the diagonal of A then unread)."""
    xp = backend.xp
    if upper:
        part = xp.triu(a, 1 if unit else 0)
    else:
        part = xp.tril(a, -1 if unit else 0)
    return part + xp.eye(a.shape[-1], dtype=a.dtype) if unit else part


def solve_arrays(a: Any, b: Any, upper: bool, left: bool, unit: bool) -> Any:
    """X with TX = B (XT = B where not ``left``) on arrays, batch dimensions broadcast."""
    xp = backend.xp
    tri = triangle(a, upper, unit)
    if not left:  # XT = B is Tᵀ Xᵀ = Bᵀ
        tri, b = t(tri), t(b)
    shape = xp.broadcast_shapes(tri.shape[:-2], b.shape[:-2])
    try:
        out = xp.linalg.solve(
            xp.broadcast_to(tri, shape + tri.shape[-2:]), xp.broadcast_to(b, shape + b.shape[-2:])
        )
    except xp.linalg.LinAlgError:
        raise LinAlgError(
            "linalg.solve_triangular: the triangular matrix is singular (a zero on its "
            "diagonal), so the system could not be solved"
        ) from None
    return t(out) if not left else out


class SolveTriangular(Function):
    """TX = B: ∂C/∂B = T⁻ᵀ·∂C/∂X, ∂C/∂A = triangle(−∂C/∂B·Xᵀ); XT = B: ∂C/∂B = ∂C/∂X·T⁻ᵀ,
    ∂C/∂A = triangle(−Xᵀ·∂C/∂B) (each summed over the batch dimensions it was broadcast
    along)"""

    argument_names = ("A", "B")

    def forward(self, a: Any, b: Any, upper: bool, left: bool, unit: bool) -> Any:
        out = solve_arrays(a, b, upper, left, unit)
        self.options = (upper, left, unit)
        self.shapes = (a.shape, b.shape)
        self.saved = (a, out)
        return out

    def backward(self, grad: Any) -> tuple:
        a, out = self.saved
        upper, left, unit = self.options
        shape_a, shape_b = self.shapes
        # Tᵀ is the other triangle of Aᵀ, with the same diagonal.
        if isinstance(grad, Tensor):
            grad_b = SolveTriangular.apply(t(a), grad, upper=not upper, left=left, unit=unit)
        else:
            grad_b = solve_arrays(t(a), grad, not upper, left, unit)
        grad_a = None
        if self.needs_input_grad[0]:
            full = -(grad_b @ t(out)) if left else -(t(out) @ grad_b)
            if upper:
                full = triu(full, 1 if unit else 0)
            else:
                full = backend.xp.tril(full, -1 if unit else 0)
            grad_a = unbroadcast(full, shape_a)
        return grad_a, unbroadcast(grad_b, shape_b)


def solve_triangular(
    A: Tensor,  # noqa: N803 - PyTorch's names
    B: Tensor,  # noqa: N803
    *,
    upper: bool,
    left: bool = True,
    unitriangular: bool = False,
) -> Tensor:
    """X with AX = B (XA = B with ``left=False``) for a triangular A: ``torch.linalg.
    solve_triangular``. Only A's upper (``upper=True``) or lower triangle is read, and not
    its diagonal with ``unitriangular=True`` (taken as ones). A is (*, n, n); B is (*, n, k)
    (``left``) or (*, k, n), batch dimensions broadcast; X has B's shape.

    ```pycon
    >>> import chainrule as cr
    >>> A = cr.tensor([[2.0, 1.0], [9.0, 4.0]])
    >>> cr.linalg.solve_triangular(A, cr.tensor([[4.0], [8.0]]), upper=True).tolist()
    [[1.0], [2.0]]

    ```
    """
    op = "linalg.solve_triangular"
    check_matrix(A, op)
    if not isinstance(B, Tensor):
        raise not_a_tensor(op, "B", B)
    if B.ndim < 2:
        raise OpError(f"{op}: The input tensor B must have at least 2 dimensions.")
    if A.dtype != B.dtype:
        raise TypeError(
            f"{op}: Expected A and B to have the same dtype, got {A.dtype} and {B.dtype}"
        )
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        equation = "AX = B" if left else "XA = B"
        raise OpError(
            f"{op}: Incompatible shapes of A and B for the equation {equation} "
            f"({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x{B.shape[-1]})"
        )
    try:
        backend.xp.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2]))
    except ValueError:
        raise OpError(
            f"{op}: the batch dimensions of A {tuple(A.shape)} and B {tuple(B.shape)} do not "
            "broadcast"
        ) from None
    return SolveTriangular.apply(A, B, upper=bool(upper), left=bool(left), unit=bool(unitriangular))
