"""MultivariateNormal against PyTorch: the three matrices from each parameterisation (and
their gradients), log_prob broadcast in every way, rsample from the same noise, second
derivatives, the sample covariance, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd
from chainrule.distributions.multivariate_normal import batch_mahalanobis

from .pairs import assert_same, assert_same_grads, both, to_numpy

rng = np.random.default_rng(31)


def _covariance(batch: tuple[int, ...], n: int) -> np.ndarray:
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)


PARAMETERISATIONS = {
    "covariance_matrix": lambda m: m,
    "precision_matrix": lambda m: np.linalg.inv(m),
    "scale_tril": np.linalg.cholesky,
}


@pytest.mark.parametrize("given", list(PARAMETERISATIONS))
@pytest.mark.parametrize("derived", ["scale_tril", "covariance_matrix", "precision_matrix"])
def test_each_matrix_from_each_parameterisation(given: str, derived: str) -> None:
    (loc, tloc) = both(rng.normal(size=(3, 1, 1, 4)))
    matrix, tmatrix = both(PARAMETERISATIONS[given](_covariance((2, 1), 4)), requires_grad=True)
    ours = crd.MultivariateNormal(loc, **{given: matrix})
    theirs = td.MultivariateNormal(tloc, **{given: tmatrix})
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == (3, 2, 1)
    a, b = getattr(ours, derived), getattr(theirs, derived)
    assert_same(a, b, f"{derived} from {given}", rtol=1e-11)
    if derived != given:
        # PyTorch's cholesky_inverse and chainrule's two triangular solves round differently.
        a_grads = cr.autograd.grad((a * a).sum(), [matrix])[0]
        b_grads = torch.autograd.grad((b * b).sum(), [tmatrix])[0]
        assert_same(a_grads, b_grads, f"gradient of {derived} from {given}", rtol=1e-9)


def test_precision_to_scale_tril_is_pytorchs_construction() -> None:
    precision, tprecision = both(_covariance((3,), 5))
    ours = crd.MultivariateNormal(cr.zeros(5, dtype=cr.float64), precision_matrix=precision)
    theirs = td.MultivariateNormal(torch.zeros(5, dtype=torch.float64), precision_matrix=tprecision)
    assert_same(ours._unbroadcasted_scale_tril, theirs._unbroadcasted_scale_tril, "L from P")
    assert np.allclose(np.tril(to_numpy(ours.scale_tril)), to_numpy(ours.scale_tril))


@pytest.mark.parametrize(
    ("matrix_batch", "loc_batch", "value_shape"),
    [
        ((), (), (3,)),
        ((), (4,), (6, 4, 3)),
        ((2, 1), (5,), (2, 5, 3)),
        ((2, 1), (), (7, 1, 1, 3)),
        ((4,), (4,), (3,)),
    ],
)
def test_log_prob_broadcasts_the_value_loc_and_matrix(matrix_batch, loc_batch, value_shape) -> None:
    (loc, tloc) = both(rng.normal(size=(*loc_batch, 3)), requires_grad=True)
    (tril, ttril) = both(np.linalg.cholesky(_covariance(matrix_batch, 3)), requires_grad=True)
    (x, tx) = both(rng.normal(size=value_shape), requires_grad=True)
    a = crd.MultivariateNormal(loc, scale_tril=tril).log_prob(x)
    b = td.MultivariateNormal(tloc, scale_tril=ttril).log_prob(tx)
    assert_same(a, b, "log_prob")
    assert_same_grads(a, b, [(loc, tloc), (tril, ttril), (x, tx)], "log_prob")


def test_batch_mahalanobis_is_the_quadratic_form() -> None:
    cov = _covariance((2,), 3)
    x = rng.normal(size=(4, 2, 3))
    expected = np.einsum("...i,...ij,...j->...", x, np.linalg.inv(cov), x)
    got = batch_mahalanobis(cr.tensor(np.linalg.cholesky(cov)), cr.tensor(x))
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12)


def test_rsample_is_loc_plus_l_times_the_generator_noise() -> None:
    (loc, tloc) = both(rng.normal(size=(2, 3)), requires_grad=True)
    (cov, tcov) = both(_covariance((), 3), requires_grad=True)
    cr.manual_seed(4)
    x = crd.MultivariateNormal(loc, covariance_matrix=cov).rsample((5,))
    assert tuple(x.shape) == (5, 2, 3) and x.dtype == cr.float64
    cr.manual_seed(4)
    eps = torch.tensor(to_numpy(cr.randn((5, 2, 3), dtype=cr.float64)))
    theirs = td.MultivariateNormal(tloc, covariance_matrix=tcov)
    tx = tloc + (theirs._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    assert_same(x, tx, "rsample = loc + L·ε")
    assert_same_grads(x.sin(), tx.sin(), [(loc, tloc), (cov, tcov)], "gradient through rsample")


def test_second_derivatives_of_log_prob_match_pytorch() -> None:
    (cov, tcov) = both(_covariance((), 3), requires_grad=True)
    (x, tx) = both(rng.normal(size=(4, 3)))
    zeros = cr.zeros(3, dtype=cr.float64)
    ours = crd.MultivariateNormal(zeros, covariance_matrix=cov).log_prob(x).sum()
    theirs = td.MultivariateNormal(torch.zeros(3, dtype=torch.float64), tcov).log_prob(tx).sum()
    (g,) = cr.autograd.grad(ours, [cov], create_graph=True)
    (h,) = torch.autograd.grad(theirs, [tcov], create_graph=True)
    assert_same(g, h, "d log_prob / dΣ", rtol=1e-10)
    weights = rng.normal(size=(3, 3))
    second = cr.autograd.grad((g * cr.tensor(weights)).sum(), [cov])[0]
    tsecond = torch.autograd.grad((h * torch.tensor(weights)).sum(), [tcov])[0]
    assert_same(second, tsecond, "second derivative", rtol=1e-9)


def test_samples_have_the_mean_and_covariance() -> None:
    n_samples = 40_000
    loc, cov = np.array([1.0, -2.0, 0.5]), _covariance((), 3)
    d = crd.MultivariateNormal(cr.tensor(loc), covariance_matrix=cr.tensor(cov))
    x = to_numpy(d.sample((n_samples,)))
    assert x.shape == (n_samples, 3)
    se = np.sqrt(np.diag(cov) / n_samples)
    np.testing.assert_array_less(np.abs(x.mean(0) - loc), 5 * se)
    # Each entry of the sample covariance has standard error √((Σii Σjj + Σij²) / N).
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n_samples)
    np.testing.assert_array_less(np.abs(np.cov(x.T) - cov), 5 * se_cov)


def test_float32_by_default() -> None:
    d = crd.MultivariateNormal(cr.zeros(2), cr.eye(2))
    assert d.rsample().dtype == cr.float32 and d.entropy().dtype == cr.float32
    assert d.log_prob(cr.zeros(2)).dtype == cr.float32


def test_refusals() -> None:
    loc = cr.zeros(2)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix"):
        crd.MultivariateNormal(loc)
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix"):
        crd.MultivariateNormal(loc, cr.eye(2), scale_tril=cr.eye(2))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        crd.MultivariateNormal(cr.tensor(0.0), cr.eye(1))
    with pytest.raises(ValueError, match="scale_tril matrix must be at least two-dimensional"):
        crd.MultivariateNormal(loc, scale_tril=cr.ones(2))
    with pytest.raises(ValueError, match=r"does not fit loc of shape \(2,\)"):
        crd.MultivariateNormal(loc, cr.eye(3))
    with pytest.raises(ValueError, match="do not broadcast"):
        crd.MultivariateNormal(cr.zeros(3, 2), cr.eye(2).expand(4, 2, 2))


@pytest.mark.parametrize(
    ("keyword", "matrix", "constraint"),
    [
        ("covariance_matrix", [[1.0, 2.0], [2.0, 1.0]], "PositiveDefinite"),
        ("precision_matrix", [[1.0, 0.5], [0.0, 1.0]], "PositiveDefinite"),
        ("scale_tril", [[1.0, 0.5], [0.0, 1.0]], "LowerCholesky"),
        ("scale_tril", [[1.0, 0.0], [0.5, -1.0]], "LowerCholesky"),
    ],
)
def test_bad_matrices_raise_as_in_pytorch(keyword, matrix, constraint) -> None:
    with pytest.raises(ValueError, match=f"constraint {constraint}"):
        td.MultivariateNormal(torch.zeros(2), **{keyword: torch.tensor(matrix)})
    with pytest.raises(ValueError, match=f"Expected parameter {keyword} .*constraint {constraint}"):
        crd.MultivariateNormal(cr.zeros(2), **{keyword: cr.tensor(matrix)})


def test_log_prob_refuses_a_value_of_the_wrong_event_size() -> None:
    d = crd.MultivariateNormal(cr.zeros(2), cr.eye(2))
    with pytest.raises(ValueError, match="right-most size of value must match event_shape"):
        d.log_prob(cr.zeros(3))
    with pytest.raises(ValueError, match="support"):
        d.log_prob(cr.tensor([0.0, float("nan")]))
