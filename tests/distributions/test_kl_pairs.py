"""kl_divergence for the pairs kl_pairs.py registers, against PyTorch on the same float64
parameters: values, and the gradients into both distributions' parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, assert_same_grads, both

rng = np.random.default_rng(17)


def _positive(*shape: int) -> np.ndarray:
    return rng.uniform(0.4, 2.5, size=shape)


def _covariance(batch: tuple[int, ...], n: int) -> np.ndarray:
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)


def _loc_scale(family: str):
    return lambda lib, loc, scale: getattr(lib, family)(loc, scale)


EXPONENTIAL = lambda lib, rate: lib.Exponential(rate)  # noqa: E731
UNIFORM = lambda lib, low, high: lib.Uniform(low, high)  # noqa: E731

# name -> (p's family, p's parameters, q's family, q's parameters)
PAIRS = {
    "mvn-mvn": (
        lambda lib, loc, cov: lib.MultivariateNormal(loc, covariance_matrix=cov),
        [rng.normal(size=(2, 3)), _covariance((2,), 3)],
        lambda lib, loc, tril: lib.MultivariateNormal(loc, scale_tril=tril),
        [rng.normal(size=(4, 1, 3)), np.linalg.cholesky(_covariance((), 3))],
    ),
    "mvn-precision-mvn": (
        lambda lib, loc, precision: lib.MultivariateNormal(loc, precision_matrix=precision),
        [rng.normal(size=4), _covariance((), 4)],
        lambda lib, loc, cov: lib.MultivariateNormal(loc, covariance_matrix=cov),
        [rng.normal(size=(3, 4)), _covariance((3,), 4)],
    ),
    "exponential-exponential": (EXPONENTIAL, [_positive(3)], EXPONENTIAL, [_positive(2, 1)]),
    "laplace-laplace": (
        _loc_scale("Laplace"),
        [rng.normal(size=4), _positive(4)],
        _loc_scale("Laplace"),
        [rng.normal(size=4), _positive(4)],
    ),
    "cauchy-cauchy": (
        _loc_scale("Cauchy"),
        [rng.normal(size=4), _positive(4)],
        _loc_scale("Cauchy"),
        [rng.normal(size=4), _positive(4)],
    ),
    "geometric-geometric": (
        lambda lib, p: lib.Geometric(probs=p),
        [rng.uniform(0.05, 0.95, size=5)],
        lambda lib, logits: lib.Geometric(logits=logits),
        [rng.normal(size=5)],
    ),
    "log-normal-log-normal": (
        _loc_scale("LogNormal"),
        [rng.normal(size=3), _positive(3)],
        _loc_scale("LogNormal"),
        [rng.normal(size=3), _positive(3)],
    ),
    "half-normal-half-normal": (
        lambda lib, s: lib.HalfNormal(s),
        [_positive(3)],
        lambda lib, s: lib.HalfNormal(s),
        [_positive(3)],
    ),
    "exponential-gumbel": (
        EXPONENTIAL,
        [_positive(4)],
        _loc_scale("Gumbel"),
        [rng.normal(size=4), _positive(4)],
    ),
    "exponential-normal": (
        EXPONENTIAL,
        [_positive(4)],
        _loc_scale("Normal"),
        [rng.normal(size=4), _positive(4)],
    ),
    "gumbel-normal": (
        _loc_scale("Gumbel"),
        [rng.normal(size=4), _positive(4)],
        _loc_scale("Normal"),
        [rng.normal(size=4), _positive(4)],
    ),
    "laplace-normal": (
        _loc_scale("Laplace"),
        [rng.normal(size=4), _positive(4)],
        _loc_scale("Normal"),
        [rng.normal(size=4), _positive(4)],
    ),
    "normal-gumbel": (
        _loc_scale("Normal"),
        [rng.normal(size=4), _positive(4)],
        _loc_scale("Gumbel"),
        [rng.normal(size=4), _positive(4)],
    ),
    "normal-laplace": (
        _loc_scale("Normal"),
        [rng.normal(size=4), _positive(4)],
        _loc_scale("Laplace"),
        [rng.normal(size=4), _positive(4)],
    ),
    "uniform-exponential": (
        UNIFORM,
        [np.array([0.0, 0.5, -1.0]), np.array([1.0, 2.0, 1.0])],
        EXPONENTIAL,
        [_positive(3)],
    ),
    "uniform-gumbel": (
        UNIFORM,
        [np.array([0.0, 0.5, -1.0]), np.array([1.0, 2.0, 1.0])],
        _loc_scale("Gumbel"),
        [rng.normal(size=3), _positive(3)],
    ),
    "uniform-normal": (
        UNIFORM,
        [np.array([0.0, 0.5, -1.0]), np.array([1.0, 2.0, 1.0])],
        _loc_scale("Normal"),
        [rng.normal(size=3), _positive(3)],
    ),
}

INFINITE = {
    "exponential-uniform": (EXPONENTIAL, [_positive(3)], UNIFORM, [np.zeros(3), np.ones(3)]),
    "normal-exponential": (
        _loc_scale("Normal"),
        [rng.normal(size=3), _positive(3)],
        EXPONENTIAL,
        [_positive(3)],
    ),
    "normal-uniform": (
        _loc_scale("Normal"),
        [rng.normal(size=3), _positive(3)],
        UNIFORM,
        [np.zeros(3), np.ones(3)],
    ),
    "laplace-exponential": (
        _loc_scale("Laplace"),
        [rng.normal(size=3), _positive(3)],
        EXPONENTIAL,
        [_positive(3)],
    ),
    "laplace-uniform": (
        _loc_scale("Laplace"),
        [rng.normal(size=3), _positive(3)],
        UNIFORM,
        [np.zeros(3), np.ones(3)],
    ),
    "gumbel-exponential": (
        _loc_scale("Gumbel"),
        [rng.normal(size=3), _positive(3)],
        EXPONENTIAL,
        [_positive(3)],
    ),
    "gumbel-uniform": (
        _loc_scale("Gumbel"),
        [rng.normal(size=3), _positive(3)],
        UNIFORM,
        [np.zeros(3), np.ones(3)],
    ),
}


def _both_kls(case):
    make_p, p_parameters, make_q, q_parameters = case
    p_pairs = [both(a, requires_grad=True) for a in p_parameters]
    q_pairs = [both(a, requires_grad=True) for a in q_parameters]
    ours = crd.kl_divergence(
        make_p(crd, *(a for a, _ in p_pairs)), make_q(crd, *(a for a, _ in q_pairs))
    )
    theirs = td.kl_divergence(
        make_p(td, *(b for _, b in p_pairs)), make_q(td, *(b for _, b in q_pairs))
    )
    return ours, theirs, p_pairs + q_pairs


@pytest.mark.parametrize("name", list(PAIRS))
def test_kl_and_its_gradients_match_pytorch(name: str) -> None:
    ours, theirs, pairs = _both_kls(PAIRS[name])
    rtol = 1e-10 if name.startswith("mvn") else 1e-12
    assert_same(ours, theirs, f"KL {name}", rtol=rtol)
    assert_same_grads(ours, theirs, pairs, f"KL {name}")


@pytest.mark.parametrize("name", list(INFINITE))
def test_pairs_without_common_support_are_infinite_as_in_pytorch(name: str) -> None:
    ours, theirs, _ = _both_kls(INFINITE[name])
    assert_same(ours, theirs, f"KL {name}")
    assert np.isinf(np.asarray(ours.data)).all()


def test_mvn_kl_second_derivatives_match_pytorch() -> None:
    (cov, tcov) = both(_covariance((), 3), requires_grad=True)
    zeros, tzeros = cr.zeros(3, dtype=cr.float64), torch.zeros(3, dtype=torch.float64)
    ours = crd.kl_divergence(
        crd.MultivariateNormal(zeros, cov),
        crd.MultivariateNormal(zeros + 1, cr.eye(3, dtype=cr.float64) * 2.0),
    )
    theirs = td.kl_divergence(
        td.MultivariateNormal(tzeros, tcov),
        td.MultivariateNormal(tzeros + 1, torch.eye(3, dtype=torch.float64) * 2.0),
    )
    (g,) = cr.autograd.grad(ours, [cov], create_graph=True)
    (h,) = torch.autograd.grad(theirs, [tcov], create_graph=True)
    second = cr.autograd.grad((g * g).sum(), [cov])[0]
    tsecond = torch.autograd.grad((h * h).sum(), [tcov])[0]
    assert_same(second, tsecond, "d² KL / dΣ²", rtol=1e-9)


def test_mvns_of_different_sizes_have_no_kl() -> None:
    p = crd.MultivariateNormal(cr.zeros(2), cr.eye(2))
    q = crd.MultivariateNormal(cr.zeros(3), cr.eye(3))
    with pytest.raises(ValueError, match="different event shapes"):
        crd.kl_divergence(p, q)


def test_pairs_pytorch_does_not_register_raise() -> None:
    with pytest.raises(NotImplementedError):
        crd.kl_divergence(crd.LogNormal(0.0, 1.0), crd.HalfNormal(1.0))
    with pytest.raises(NotImplementedError):
        crd.kl_divergence(crd.Exponential(1.0), crd.Laplace(0.0, 1.0))
