"""kl_divergence for the pairs kl_gamma_pairs.py registers, against PyTorch on the same
float64 parameters: values, and the gradients into both distributions' parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, both

rng = np.random.default_rng(31)


def _positive(*shape: int) -> np.ndarray:
    return rng.uniform(0.4, 3.0, size=shape)


GAMMA = lambda lib, a, b: lib.Gamma(a, b)  # noqa: E731
BETA = lambda lib, a, b: lib.Beta(a, b)  # noqa: E731
NORMAL = lambda lib, loc, scale: lib.Normal(loc, scale)  # noqa: E731
GUMBEL = lambda lib, loc, scale: lib.Gumbel(loc, scale)  # noqa: E731
LAPLACE = lambda lib, loc, scale: lib.Laplace(loc, scale)  # noqa: E731
UNIFORM = lambda lib, low, high: lib.Uniform(low, high)  # noqa: E731
EXPONENTIAL = lambda lib, rate: lib.Exponential(rate)  # noqa: E731
POISSON = lambda lib, rate: lib.Poisson(rate)  # noqa: E731

# name -> (p's family, p's parameters, q's family, q's parameters, uses ψ')
PAIRS = {
    "gamma-gamma": (GAMMA, [_positive(3), _positive(3)], GAMMA, [_positive(2, 1), _positive(3)]),
    "chi2-gamma": (
        lambda lib, df: lib.Chi2(df),
        [_positive(3)],
        GAMMA,
        [_positive(3), _positive(3)],
    ),
    "beta-beta": (BETA, [_positive(4), _positive(4)], BETA, [_positive(4), _positive(4)]),
    "dirichlet-dirichlet": (
        lambda lib, a: lib.Dirichlet(a),
        [_positive(2, 3)],
        lambda lib, a: lib.Dirichlet(a),
        [_positive(3)],
    ),
    "poisson-poisson": (POISSON, [_positive(4)], POISSON, [_positive(4)]),
    "binomial-binomial": (
        lambda lib, p: lib.Binomial(5, probs=p),
        [rng.uniform(0.1, 0.9, 4)],
        lambda lib, logits: lib.Binomial(5, logits=logits),
        [rng.normal(size=4)],
    ),
    "gumbel-gumbel": (
        GUMBEL,
        [rng.normal(size=3), _positive(3)],
        GUMBEL,
        [rng.normal(size=3), _positive(3)],
    ),
    "bernoulli-poisson": (
        lambda lib, p: lib.Bernoulli(probs=p),
        [rng.uniform(0.1, 0.9, 3)],
        POISSON,
        [_positive(3)],
    ),
    "beta-exponential": (BETA, [_positive(3), _positive(3)], EXPONENTIAL, [_positive(3)]),
    "beta-gamma": (BETA, [_positive(3), _positive(3)], GAMMA, [_positive(3), _positive(3)]),
    "beta-normal": (BETA, [_positive(3), _positive(3)], NORMAL, [rng.normal(size=3), _positive(3)]),
    "beta-uniform": (
        BETA,
        [_positive(3), _positive(3)],
        UNIFORM,
        [np.array([-0.5, 0.0, 0.2]), np.array([1.0, 2.0, 3.0])],
    ),
    "exponential-gamma": (EXPONENTIAL, [_positive(3)], GAMMA, [_positive(3), _positive(3)]),
    "gamma-exponential": (GAMMA, [_positive(3), _positive(3)], EXPONENTIAL, [_positive(3)]),
    "gamma-gumbel": (
        GAMMA,
        [_positive(3), _positive(3)],
        GUMBEL,
        [rng.normal(size=3), _positive(3)],
    ),
    "gamma-normal": (
        GAMMA,
        [_positive(3), _positive(3)],
        NORMAL,
        [rng.normal(size=3), _positive(3)],
    ),
    "uniform-beta": (
        UNIFORM,
        [np.array([0.1, 0.3, -0.1]), np.array([0.5, 0.9, 0.5])],
        BETA,
        [_positive(3), _positive(3)],
    ),
    "uniform-gamma": (
        UNIFORM,
        [np.array([0.1, 0.3, -0.1]), np.array([0.5, 2.9, 0.5])],
        GAMMA,
        [_positive(3), _positive(3)],
    ),
}

INFINITE = {
    "gamma-uniform": (GAMMA, [_positive(3), _positive(3)], UNIFORM, [np.zeros(3), np.ones(3)]),
    "gamma-beta": (GAMMA, [_positive(3), _positive(3)], BETA, [_positive(3), _positive(3)]),
    "exponential-beta": (EXPONENTIAL, [_positive(3)], BETA, [_positive(3), _positive(3)]),
    "gumbel-gamma": (
        GUMBEL,
        [rng.normal(size=3), _positive(3)],
        GAMMA,
        [_positive(3), _positive(3)],
    ),
    "gumbel-beta": (GUMBEL, [rng.normal(size=3), _positive(3)], BETA, [_positive(3), _positive(3)]),
    "laplace-gamma": (
        LAPLACE,
        [rng.normal(size=3), _positive(3)],
        GAMMA,
        [_positive(3), _positive(3)],
    ),
    "laplace-beta": (
        LAPLACE,
        [rng.normal(size=3), _positive(3)],
        BETA,
        [_positive(3), _positive(3)],
    ),
    "normal-gamma": (
        NORMAL,
        [rng.normal(size=3), _positive(3)],
        GAMMA,
        [_positive(3), _positive(3)],
    ),
    "normal-beta": (NORMAL, [rng.normal(size=3), _positive(3)], BETA, [_positive(3), _positive(3)]),
    "poisson-binomial": (
        POISSON,
        [_positive(3)],
        lambda lib, p: lib.Binomial(4, p),
        [rng.uniform(0.1, 0.9, 3)],
    ),
    "poisson-bernoulli": (
        POISSON,
        [_positive(3)],
        lambda lib, p: lib.Bernoulli(p),
        [rng.uniform(0.1, 0.9, 3)],
    ),
    "binomial-more-trials": (
        lambda lib, p: lib.Binomial(6, probs=p),
        [rng.uniform(0.1, 0.9, 3)],
        lambda lib, p: lib.Binomial(4, probs=p),
        [rng.uniform(0.1, 0.9, 3)],
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
    assert_same(ours, theirs, f"KL {name}")

    weights = np.random.default_rng(1).normal(size=tuple(theirs.shape))
    finite = np.isfinite(theirs.detach().numpy())
    weights = np.where(finite, weights, 0.0)
    ours_sum = (cr.where(cr.tensor(finite), ours, 0.0) * cr.tensor(weights)).sum()
    theirs_sum = (torch.where(torch.tensor(finite), theirs, 0.0) * torch.tensor(weights)).sum()
    gs = cr.autograd.grad(ours_sum, [a for a, _ in pairs], allow_unused=True)
    hs = torch.autograd.grad(theirs_sum, [b for _, b in pairs], allow_unused=True)
    for i, (g, h) in enumerate(zip(gs, hs)):
        assert (g is None) == (h is None), f"{name}: input {i}"
        if h is not None:
            # Gradients of ψ terms use PyTorch's trigamma, off by up to 5e-10 relative
            # (test_gamma_families.py): 1e-8 relative, 1e-9 absolute where terms cancel.
            np.testing.assert_allclose(
                np.asarray(g.data), h.numpy(), rtol=1e-8, atol=1e-9, err_msg=f"{name}: input {i}"
            )


@pytest.mark.parametrize("name", list(INFINITE))
def test_pairs_without_common_support_are_infinite_as_in_pytorch(name: str) -> None:
    ours, theirs, _ = _both_kls(INFINITE[name])
    assert_same(ours, theirs, f"KL {name}")
    assert np.isinf(np.asarray(ours.data)).all()
