"""Gamma, Chi2, Beta, Dirichlet, Poisson, Binomial, NegativeBinomial, Multinomial and StudentT
against PyTorch on the same float64 parameters and values: log_prob, entropy, mean, mode,
variance (and cdf for Gamma), their gradients, shapes, expand, and the validation errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, assert_same_grads, both

rng = np.random.default_rng(23)


def _positive(*shape: int, low: float = 0.3, high: float = 4.0) -> np.ndarray:
    return rng.uniform(low, high, size=shape)


def _simplex(*shape: int) -> np.ndarray:
    x = rng.uniform(0.05, 1.0, size=shape)
    return x / x.sum(-1, keepdims=True)


def _counts(n: int, *shape: int) -> np.ndarray:
    return rng.integers(0, n + 1, size=shape).astype(np.float64)


# name -> (maker, parameters, values for log_prob)
FAMILIES = {
    "gamma": (
        lambda lib, a, b: lib.Gamma(a, b),
        [_positive(2, 3), _positive(3)],
        _positive(4, 2, 3, low=0.01, high=6.0),
    ),
    "gamma-small-concentration": (
        lambda lib, a, b: lib.Gamma(a, b),
        [_positive(4, low=0.05, high=0.9), _positive(4)],
        _positive(4, low=1e-3, high=3.0),
    ),
    "chi2": (lambda lib, df: lib.Chi2(df), [_positive(5, high=9.0)], _positive(5, high=8.0)),
    "beta": (
        lambda lib, a, b: lib.Beta(a, b),
        [_positive(2, 3), _positive(2, 1)],
        rng.uniform(0.01, 0.99, size=(5, 2, 3)),
    ),
    "dirichlet": (
        lambda lib, a: lib.Dirichlet(a),
        [_positive(3, 4)],
        _simplex(2, 3, 4),
    ),
    "poisson": (lambda lib, r: lib.Poisson(r), [_positive(4, high=9.0)], _counts(12, 3, 4)),
    "binomial-probs": (
        lambda lib, n, p: lib.Binomial(n, probs=p),
        [np.array([[5.0], [8.0]]), rng.uniform(0.05, 0.95, size=3)],
        _counts(5, 2, 2, 3),
    ),
    "binomial-logits": (
        lambda lib, n, logits: lib.Binomial(n, logits=logits),
        [np.full(4, 6.0), np.array([-1.5, 0.0, 0.4, 2.0])],
        _counts(6, 3, 4),
    ),
    "negative-binomial-probs": (
        lambda lib, r, p: lib.NegativeBinomial(r, probs=p),
        [_positive(4), rng.uniform(0.05, 0.9, size=4)],
        _counts(9, 3, 4),
    ),
    "negative-binomial-logits": (
        lambda lib, r, logits: lib.NegativeBinomial(r, logits=logits),
        [_positive(4), rng.normal(size=4)],
        _counts(9, 3, 4),
    ),
    "multinomial-probs": (
        lambda lib, p: lib.Multinomial(7, probs=p),
        [_simplex(2, 3)],
        np.array([[[2.0, 3.0, 2.0], [7.0, 0.0, 0.0]], [[1.0, 1.0, 5.0], [0.0, 4.0, 3.0]]]),
    ),
    "multinomial-logits": (
        lambda lib, logits: lib.Multinomial(4, logits=logits),
        [rng.normal(size=(2, 3))],
        np.array([[2.0, 1.0, 1.0], [0.0, 0.0, 4.0]]),
    ),
    "student-t": (
        lambda lib, df, loc, scale: lib.StudentT(df, loc, scale),
        [np.array([0.7, 1.5, 2.5, 6.0]), rng.normal(size=4), _positive(4)],
        rng.normal(size=(3, 4)) * 3,
    ),
}

# Statistics PyTorch does not have for a family (NotImplementedError in both libraries).
MISSING = {
    "poisson": {"entropy"},
    "binomial-probs": {"entropy"},  # total counts 5 and 8: inhomogeneous
    "negative-binomial-probs": {"entropy"},
    "negative-binomial-logits": {"entropy"},
    "multinomial-probs": {"mode"},
    "multinomial-logits": {"mode"},
}
# PyTorch's Multinomial.entropy rounds log n! to float32 (lgamma of an int64 tensor);
# chainrule's is exact, so the two differ by up to ~1e-7 relative.
RTOL = {("multinomial-probs", "entropy"): 1e-6, ("multinomial-logits", "entropy"): 1e-6}
# The gradients of ψ terms go through PyTorch's trigamma, which is off the exact value by up to
# 5e-10 relative (chainrule's by 2e-16; test_trigamma_based_gradient_is_exact below); where
# terms of order 1 cancel, that is up to ~2e-10 absolute.
TRIGAMMA_TOL = 1e-8


def _build(name: str):
    make, parameters, values = FAMILIES[name]
    pairs = [both(p, requires_grad=True) for p in parameters]
    ours, theirs = make(crd, *(a for a, _ in pairs)), make(td, *(b for _, b in pairs))
    return ours, theirs, pairs, both(values, requires_grad=True)


def _differentiable(pairs):
    # Binomial's total_count is a count: no gradient is asked of it.
    return [(a, b) for a, b in pairs if b.requires_grad]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_shapes_and_log_prob_and_its_gradients(name: str) -> None:
    ours, theirs, pairs, value = _build(name)
    assert ours.batch_shape == tuple(theirs.batch_shape), name
    assert ours.event_shape == tuple(theirs.event_shape), name
    assert ours.has_rsample == theirs.has_rsample, name
    got, expected = ours.log_prob(value[0]), theirs.log_prob(value[1])
    assert_same(got, expected, f"{name}: log_prob")
    if "binomial" in name or "poisson" in name or "multinomial" in name:
        # Counts are not differentiated.
        assert_same_grads(got, expected, _differentiable(pairs), f"{name}: log_prob")
    else:
        assert_same_grads(got, expected, [*pairs, value], f"{name}: log_prob")


@pytest.mark.parametrize("statistic", ["mean", "mode", "variance", "entropy"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_statistics_and_their_gradients(name: str, statistic: str) -> None:
    ours, theirs, pairs, _ = _build(name)
    if statistic in MISSING.get(name, ()):
        with pytest.raises(NotImplementedError):
            getattr(theirs, statistic) if statistic != "entropy" else theirs.entropy()
        with pytest.raises(NotImplementedError):
            getattr(ours, statistic) if statistic != "entropy" else ours.entropy()
        return
    if statistic == "entropy":
        got, expected = ours.entropy(), theirs.entropy()
    else:
        got, expected = getattr(ours, statistic), getattr(theirs, statistic)
    rtol = RTOL.get((name, statistic), 1e-12)
    assert_same(got, expected, f"{name}: {statistic}", rtol=rtol)
    if expected.requires_grad and statistic != "mode":
        weights = np.random.default_rng(1).normal(size=tuple(expected.shape))
        # nan or inf entries (StudentT's mean and variance for few degrees of freedom) stay
        # out of the sum.
        keep = np.isfinite(expected.detach().numpy())
        weights = np.where(keep, weights, 0.0)
        ours_sum = cr.where(cr.tensor(keep), got, 0.0) * cr.tensor(weights)
        theirs_sum = torch.where(torch.tensor(keep), expected, 0.0) * torch.tensor(weights)
        for _, g, h in zip(
            _differentiable(pairs),
            cr.autograd.grad(
                ours_sum.sum(), [a for a, _ in _differentiable(pairs)], allow_unused=True
            ),
            torch.autograd.grad(
                theirs_sum.sum(), [b for _, b in _differentiable(pairs)], allow_unused=True
            ),
        ):
            assert (g is None) == (h is None), f"{name}: {statistic}"
            if h is not None:
                if statistic == "entropy":
                    np.testing.assert_allclose(
                        np.asarray(g.data), h.numpy(), rtol=TRIGAMMA_TOL, atol=1e-9
                    )
                else:
                    assert_same(g, h, f"{name}: gradient of {statistic}", rtol=1e-10)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_expand(name: str) -> None:
    ours, theirs, _, _ = _build(name)
    shape = (5, *ours.batch_shape)
    big, tbig = ours.expand(shape), theirs.expand(torch.Size(shape))
    assert big.batch_shape == tuple(tbig.batch_shape) and type(big) is type(ours)
    assert_same(big.mean, tbig.mean, f"{name}: expanded mean")
    assert tuple(big.sample((2,)).shape) == tuple(tbig.sample((2,)).shape)


def test_gamma_cdf_and_its_gradient_in_the_value() -> None:
    (a, ta), (b, tb) = both(_positive(4)), both(_positive(4))
    x, tx = both(_positive(4, low=0.01, high=5.0), requires_grad=True)
    got, expected = crd.Gamma(a, b).cdf(x), td.Gamma(ta, tb).cdf(tx)
    assert_same(got, expected, "Gamma cdf", rtol=1e-12)
    assert_same_grads(got, expected, [(x, tx)], "Gamma cdf")


def test_numbers_give_the_default_dtype_and_float64_parameters_float64() -> None:
    assert crd.Gamma(2.0, 1.0).sample().dtype == cr.float32
    assert crd.Beta(2.0, 1.0).rsample((3,)).dtype == cr.float32
    d = crd.Gamma(cr.tensor([2.0], dtype=cr.float64), 1.0)
    assert d.rsample().dtype == cr.float64 and d.rate.dtype == cr.float64
    assert crd.StudentT(cr.tensor(3.0, dtype=cr.float64)).rsample((2,)).dtype == cr.float64


def test_multinomial_log_prob_with_impossible_classes_matches_pytorch() -> None:
    logits = np.array([0.0, -np.inf, 1.0])
    value = np.array([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    got = crd.Multinomial(3, logits=cr.tensor(logits)).log_prob(cr.tensor(value))
    expected = td.Multinomial(3, logits=torch.tensor(logits)).log_prob(torch.tensor(value))
    assert_same(got, expected, "Multinomial with a class of probability 0")


def test_binomial_enumerate_support_and_refusals() -> None:
    d, t = crd.Binomial(3, probs=cr.tensor([0.2, 0.6])), td.Binomial(3, torch.tensor([0.2, 0.6]))
    assert_same(d.enumerate_support(), t.enumerate_support(), "enumerate_support")
    assert_same(d.enumerate_support(False), t.enumerate_support(False), "not expanded")
    mixed = crd.Binomial(cr.tensor([2.0, 3.0]), probs=cr.tensor([0.2, 0.6]))
    with pytest.raises(NotImplementedError, match="Inhomogeneous"):
        mixed.entropy()
    with pytest.raises(NotImplementedError, match="Inhomogeneous"):
        td.Binomial(torch.tensor([2.0, 3.0]), torch.tensor([0.2, 0.6])).entropy()


def test_trigamma_based_gradient_is_exact() -> None:
    mpmath = pytest.importorskip("mpmath")
    alpha = np.array([0.3, 1.3, 2.5, 7.0])
    a = cr.tensor(alpha, requires_grad=True)
    (g,) = cr.autograd.grad(crd.Gamma(a, 1.0).entropy().sum(), [a])
    # d/dα [α + lnΓ(α) + (1 − α)ψ(α)] = 1 + (1 − α)ψ'(α)
    exact = [float(1 + (1 - x) * mpmath.polygamma(1, x)) for x in alpha]
    np.testing.assert_allclose(np.asarray(g.data), exact, rtol=1e-14)
