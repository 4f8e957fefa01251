"""Errors and special cases of chainrule.linalg's factorisations, against PyTorch: matrices that
are not positive-definite or are singular, repeated eigenvalues and singular values (the
documented behaviour of the gradients there), the modes that have no derivative, larger
batches in float32, and the accuracy of the triangular solve and of matrix_exp against SciPy.
The smooth cases themselves are in tests/op_cases_decompositions.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.ops.determinants import logdet

L = cr.linalg


def _both(array: np.ndarray, requires_grad: bool = False) -> tuple:
    return (
        cr.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


NOT_PD = np.stack([np.eye(3), np.diag([1.0, 2.0, -1.0]), -np.eye(3)])


def test_cholesky_not_positive_definite_names_the_minor_as_pytorch() -> None:
    single = np.array([[1.0, 2.0], [2.0, 1.0]])
    for array in (single, NOT_PD):
        with pytest.raises(torch.linalg.LinAlgError) as expected:
            torch.linalg.cholesky(torch.tensor(array))
        with pytest.raises(L.LinAlgError) as error:
            L.cholesky(cr.tensor(array))
        assert str(error.value) == str(expected.value)
    assert issubclass(L.LinAlgError, RuntimeError)


def test_cholesky_ex_reports_info_as_pytorch() -> None:
    ours = L.cholesky_ex(cr.tensor(NOT_PD))
    theirs = torch.linalg.cholesky_ex(torch.tensor(NOT_PD))
    assert ours.info.tolist() == theirs.info.tolist() == [0, 3, 1]
    assert ours.info.dtype == cr.int32
    np.testing.assert_allclose(ours.L[0].numpy(), np.eye(3))
    with pytest.raises(L.LinAlgError, match=r"Batch element 1.*order 3"):
        L.cholesky_ex(cr.tensor(NOT_PD), check_errors=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.linalg.cholesky(x),
        lambda m, x: m.linalg.eigh(x),
        lambda m, x: m.linalg.slogdet(x),
        lambda m, x: m.linalg.matrix_exp(x),
        lambda m, x: m.linalg.inv_ex(x),
        lambda m, x: m.linalg.matrix_power(x, 2),
    ],
)
def test_square_operations_refuse_other_shapes(call: object) -> None:
    with pytest.raises(ValueError, match="square matrices, but they are 2 by 3 matrices"):
        call(cr, cr.ones(2, 3))  # type: ignore[operator]
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        call(cr, cr.ones(3))  # type: ignore[operator]
    with pytest.raises(TypeError, match="floating point"):
        call(cr, cr.ones(2, 2, dtype=cr.int64))  # type: ignore[operator]


def test_solve_triangular_errors() -> None:
    with pytest.raises(ValueError, match="B must have at least 2 dimensions"):
        L.solve_triangular(cr.eye(2), cr.ones(2), upper=True)
    with pytest.raises(ValueError, match=r"equation AX = B \(2x2 and 3x1\)"):
        L.solve_triangular(cr.eye(2), cr.ones(3, 1), upper=True)
    with pytest.raises(L.LinAlgError, match="singular"):
        L.solve_triangular(cr.tensor([[1.0, 0.0], [2.0, 0.0]]), cr.ones(2, 1), upper=False)


def test_solve_triangular_accuracy_against_substitution() -> None:
    """The LU solve of the triangle against SciPy's substitution, on triangles of growing
    condition number: residuals at the level of the substitution's."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    for n in (5, 40, 120):
        a = np.tril(rng.standard_normal((n, n))) + np.eye(n) * 0.5
        b = rng.standard_normal((n, 3))
        ours = L.solve_triangular(cr.tensor(a), cr.tensor(b), upper=False).numpy()
        theirs = scipy_linalg.solve_triangular(a, b, lower=True)
        scale = np.abs(a).sum(1).max() * np.abs(ours).max()
        assert np.abs(np.tril(a) @ ours - b).max() <= 50 * n * np.finfo(float).eps * scale
        residual_theirs = np.abs(np.tril(a) @ theirs - b).max()
        assert np.abs(np.tril(a) @ ours - b).max() <= max(10 * residual_theirs, 1e-13 * scale)


def test_slogdet_and_logdet_of_singular_and_negative_matrices() -> None:
    for array in ([[1.0, 2.0], [2.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 3.0]]):
        ours, theirs = _both(np.array(array))
        s, la = L.slogdet(ours)
        ts, tla = torch.linalg.slogdet(theirs)
        assert (s.item(), la.item()) == (ts.item(), tla.item())
        np.testing.assert_equal(logdet(ours).item(), torch.logdet(theirs).item())


def test_eigh_repeated_eigenvalues() -> None:
    """Eigenvalues alone stay differentiable where they repeat; a loss on the eigenvectors
    gets a non-finite gradient there, as in PyTorch (they are not unique)."""
    a = np.diag([1.0, 1.0, 2.0])
    ours, theirs = _both(a, requires_grad=True)
    (L.eigvalsh(ours) * cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64)).sum().backward()
    (
        torch.linalg.eigvalsh(theirs) * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    ).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-12)
    ours, theirs = _both(a, requires_grad=True)
    L.eigh(ours).eigenvectors.sum().backward()
    torch.linalg.eigh(theirs).eigenvectors.sum().backward()
    assert not np.isfinite(ours.grad.numpy()).all()
    assert not np.isfinite(theirs.grad.numpy()).all()


def test_svd_repeated_singular_values() -> None:
    """An orthogonal matrix (all σ = 1, up to rounding): the singular values' gradient is
    finite; the singular vectors' is not, or is huge (σ differ by rounding only), as in
    PyTorch."""
    q = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))[0]
    ours, theirs = _both(q, requires_grad=True)
    L.svd(ours)[1].sum().backward()
    torch.linalg.svd(theirs)[1].sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-12)
    ours, theirs = _both(q, requires_grad=True)
    L.svd(ours)[0].sum().backward()
    torch.linalg.svd(theirs)[0].sum().backward()
    for grad in (ours.grad.numpy(), theirs.grad.numpy()):
        assert not np.isfinite(grad).all() or np.abs(grad).max() > 1e8
    # pinv's own derivative needs no distinct singular values.
    ours, theirs = _both(q, requires_grad=True)
    L.pinv(ours).sum().backward()
    assert np.isfinite(ours.grad.numpy()).all()


def test_qr_modes_without_derivative_raise_as_pytorch() -> None:
    x = cr.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="mode='r'"):
        L.qr(x, mode="r").R.sum().backward()
    assert tuple(L.qr(x, mode="r").Q.shape) == (0,)
    with pytest.raises(RuntimeError, match="mode='complete' and nrows > ncols"):
        L.qr(x, mode="complete").Q.sum().backward()
    with pytest.raises(ValueError, match="unrecognized mode"):
        L.qr(x, mode="full")


def test_rank_deficient_pinv_lstsq_and_matrix_rank_match_pytorch() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 5, 2)) @ rng.standard_normal((2, 2, 4))  # rank 2 of 4
    b = rng.standard_normal((2, 5, 3))
    ours, theirs = _both(a)
    np.testing.assert_allclose(L.pinv(ours).numpy(), torch.linalg.pinv(theirs).numpy(), atol=1e-10)
    assert L.matrix_rank(ours).tolist() == torch.linalg.matrix_rank(theirs).tolist() == [2, 2]
    solution = L.lstsq(ours, cr.tensor(b), driver="gelsd")
    expected = torch.linalg.lstsq(theirs, torch.tensor(b), driver="gelsd")
    np.testing.assert_allclose(solution.solution.numpy(), expected.solution.numpy(), atol=1e-10)
    assert solution.rank.tolist() == expected.rank.tolist()
    assert tuple(solution.residuals.shape) == tuple(expected.residuals.shape) == (0,)
    sym = a[0].T @ a[0]
    np.testing.assert_allclose(
        L.pinv(cr.tensor(sym), hermitian=True, atol=1e-8).numpy(),
        torch.linalg.pinv(torch.tensor(sym), hermitian=True, atol=1e-8).numpy(),
        atol=1e-10,
    )


def test_inv_ex_info_matches_pytorch() -> None:
    singular = np.stack([np.eye(3), [[1.0, 2, 3], [2, 4, 6], [1, 0, 1]], np.zeros((3, 3))])
    ours, theirs = _both(singular)
    assert L.inv_ex(ours).info.tolist() == torch.linalg.inv_ex(theirs).info.tolist()
    with pytest.raises(L.LinAlgError, match=r"Batch element 1.*diagonal element 3 is zero"):
        L.inv_ex(ours, check_errors=True)


def test_matrix_exp_against_scipy_for_large_norms() -> None:
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(3)
    for scale in (0.01, 1.0, 30.0):
        a = rng.standard_normal((5, 5)) * scale / 5
        expected = scipy_linalg.expm(a)
        ours = L.matrix_exp(cr.tensor(a)).numpy()
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("op", ["cholesky", "eigh", "svd", "qr", "slogdet", "pinv"])
def test_batched_float32_matches_pytorch(op: str) -> None:
    """A (2, 3) batch of 12×12 matrices in float32: values and gradients within float32's
    precision times the problem's conditioning (relative 1e-4)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    up = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)

    def run(m: object, x: object) -> object:
        spd = x @ x.mT + 12 * m.eye(12)  # type: ignore[attr-defined]
        if op == "cholesky":
            return m.linalg.cholesky(spd)  # type: ignore[attr-defined]
        if op == "eigh":
            values, vectors = m.linalg.eigh(x + x.mT)  # type: ignore[attr-defined]
            return (vectors * values[..., None, :]) @ vectors.mT
        if op == "svd":
            u, s, vh = m.linalg.svd(x, full_matrices=False)  # type: ignore[attr-defined]
            return (u * s[..., None, :] ** 2) @ vh
        if op == "qr":
            q, r = m.linalg.qr(x)  # type: ignore[attr-defined]
            return q * q + r * r
        if op == "slogdet":
            return m.linalg.slogdet(spd)[1][..., None, None] * x  # type: ignore[attr-defined]
        return m.linalg.pinv(spd)  # type: ignore[attr-defined]

    ours, theirs = _both(x, requires_grad=True)
    out, expected = run(cr, ours), run(torch, theirs)
    out.backward(cr.tensor(up))
    expected.backward(torch.tensor(up))
    for a, e in ((out, expected), (ours.grad, theirs.grad)):
        e = e.detach().numpy()
        np.testing.assert_allclose(a.detach().numpy(), e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


def test_second_derivatives_of_a_gaussian_log_likelihood() -> None:
    """The Hessian of log N(y; 0, Σ) through Cholesky, a triangular solve and the log of the
    diagonal, against PyTorch's."""
    rng = np.random.default_rng(5)
    y = rng.standard_normal(3)

    def nll(m: object, x: object) -> object:
        sigma = x @ x.mT + 3 * m.eye(3, dtype=x.dtype)  # type: ignore[attr-defined]
        chol = m.linalg.cholesky(sigma)  # type: ignore[attr-defined]
        z = m.linalg.solve_triangular(chol, m.tensor(y)[:, None], upper=False)  # type: ignore[attr-defined]
        return 0.5 * (z * z).sum() + chol.diagonal().log().sum()

    x0 = rng.standard_normal((3, 3))
    ours = cr.autograd.functional.hessian(lambda x: nll(cr, x), cr.tensor(x0))
    theirs = torch.autograd.functional.hessian(lambda x: nll(torch, x), torch.tensor(x0))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-11)


def test_multi_dot_and_vecdot_errors() -> None:
    with pytest.raises(ValueError, match="at least 2 tensors"):
        L.multi_dot([cr.ones(3)])
    with pytest.raises(ValueError, match=r"tensors 0 and 1 with shapes \[3, 2\] and \[3, 2\]"):
        L.multi_dot([cr.ones(3, 2), cr.ones(3, 2)])
    with pytest.raises(TypeError, match="same dtype"):
        L.vecdot(cr.ones(3), cr.ones(3, dtype=cr.float64))
