"""rsample of Gamma, Chi2, Beta, Dirichlet and StudentT: the implicit gradient dx/dα of a
standard gamma draw against mpmath and against PyTorch's ``_standard_gamma_grad`` on the same
(x, α), its second derivative, unbiased pathwise gradients of expectations, the statistics
of samples of every new family, and the validation errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd
from chainrule.ops.incomplete_gamma import gamma_sample_grad, regularized_gamma_p

mpmath = pytest.importorskip("mpmath")

ALPHAS = [1e-3, 0.1, 0.5, 1.0, 2.5, 7.9, 8.1, 30.0, 300.0, 1e4]


def _exact(x: float, a: float) -> tuple[float, float]:
    """−F_α/f and F_αα/f by mpmath at 40 digits (numerical α-derivatives of P)."""
    with mpmath.workdps(40):
        xm, am = mpmath.mpf(x), mpmath.mpf(a)

        def cdf(alpha):
            return mpmath.gammainc(alpha, 0, xm, regularized=True)

        density = xm ** (am - 1) * mpmath.exp(-xm) / mpmath.gamma(am)
        return float(-mpmath.diff(cdf, am) / density), float(mpmath.diff(cdf, am, 2) / density)


def _points() -> list[tuple[float, float]]:
    rng = np.random.default_rng(5)
    points = []
    for a in ALPHAS:
        xs = np.maximum(rng.standard_gamma(a, 3), 1e-300)
        # Both sides of the switch between the series and the continued fraction.
        points += [(float(x), a) for x in [*xs, a + 1 - 1e-9, a + 1, a + 5 * np.sqrt(a) + 3]]
    return points


POINTS = _points()


def test_implicit_gradient_matches_mpmath_and_pytorch_within_its_approximation() -> None:
    x = np.array([p[0] for p in POINTS])
    a = np.array([p[1] for p in POINTS])
    exact = np.array([_exact(*p) for p in POINTS])
    ours = np.asarray(gamma_sample_grad(cr.tensor(x), cr.tensor(a)).data)
    theirs = torch._standard_gamma_grad(torch.tensor(a), torch.tensor(x)).numpy()
    ours_error = np.abs(ours / exact[:, 0] - 1)
    theirs_error = np.abs(theirs / exact[:, 0] - 1)
    # Ours: the series and fraction to 1e-17, measured 1e-13 at α = 1e4 (1e-14 below).
    assert ours_error.max() < 2e-13, ours_error.max()
    # PyTorch's is a rational / asymptotic approximation: measured up to 5.7e-3 relative
    # (α = 0.001), 1e-5 for α ≥ 300.
    np.testing.assert_allclose(ours, theirs, rtol=1e-2)
    assert (ours_error <= theirs_error + 1e-15).all()
    # The second derivative, for second-order gradients: 3e-10 at α = 1e4, 1e-13 below 30.
    _, _, second = regularized_gamma_p(a, x)
    np.testing.assert_allclose(second, exact[:, 1], rtol=1e-9)


def test_regularized_gamma_p_matches_mpmath() -> None:
    x = np.array([p[0] for p in POINTS])
    a = np.array([p[1] for p in POINTS])
    p, _, _ = regularized_gamma_p(a, x)
    exact = [float(mpmath.gammainc(ai, 0, xi, regularized=True)) for xi, ai in zip(x, a)]
    # e^L with L = α ln x − x − lnΓ(α + 1) of order α ln α: at α = 1e4 its rounding is
    # ~1e5 · 2⁻⁵³ ≈ 2e-11 relative (the gradient divides e^L out and does not suffer this).
    large = a > 1000
    np.testing.assert_allclose(p[~large], np.array(exact)[~large], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(p[large], np.array(exact)[large], rtol=5e-11)


def test_rsample_gradient_is_the_implicit_gradient_through_the_rate() -> None:
    alpha = cr.tensor([0.4, 2.0, 9.0], dtype=cr.float64, requires_grad=True)
    rate = cr.tensor([1.5, 0.5, 2.0], dtype=cr.float64, requires_grad=True)
    cr.manual_seed(3)
    y = crd.Gamma(alpha, rate).rsample((4,))
    ga, gr = cr.autograd.grad(y.sum(), [alpha, rate])
    x = y.detach() * rate.detach()  # the standard gamma draws
    g = torch._standard_gamma_grad(
        torch.tensor(np.asarray(alpha.data)).expand(4, 3), torch.tensor(np.asarray(x.data))
    ).numpy()
    np.testing.assert_allclose(np.asarray(ga.data), (g / np.asarray(rate.data)).sum(0), rtol=1e-2)
    np.testing.assert_allclose(
        np.asarray(gr.data), (-np.asarray(y.data) / np.asarray(rate.data)).sum(0), rtol=1e-13
    )


def test_second_derivative_matches_finite_differences_of_the_first() -> None:
    alpha = np.array([0.3, 1.7, 12.0])
    cr.manual_seed(8)
    draws = np.asarray(crd.Gamma(cr.tensor(alpha), 1.0).sample().data)

    def first(a: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.asarray(gamma_sample_grad(cr.tensor(x), cr.tensor(a)).data)

    x, a = cr.tensor(draws, requires_grad=True), cr.tensor(alpha, requires_grad=True)
    gx, ga = cr.autograd.grad(gamma_sample_grad(x, a).sum(), [x, a])
    h = 1e-5
    np.testing.assert_allclose(
        np.asarray(ga.data),
        (first(alpha + h, draws) - first(alpha - h, draws)) / (2 * h),
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        np.asarray(gx.data),
        (first(alpha, draws + h) - first(alpha, draws - h)) / (2 * h),
        rtol=1e-7,
    )


def _mc_check(estimate: np.ndarray, exact: float) -> None:
    mean, se = estimate.mean(), estimate.std() / np.sqrt(estimate.size)
    assert abs(mean - exact) < 5 * se + 1e-12, (mean, exact, se)


_A, _B = 1.7, 2.5
_S = _A + _B
_EXACT = {
    "gamma": (2 * _A + 1) / 4,  # E[X²] = α(α + 1)/β², β = 2
    "chi2": 2 * _A + 2,  # E[X²] = k² + 2k
    # E[X²] = a(a + 1)/(s(s + 1)), s = a + b, b = 2.5, differentiated in a.
    "beta": ((2 * _A + 1) * _S * (_S + 1) - _A * (_A + 1) * (2 * _S + 1)) / (_S * (_S + 1)) ** 2,
    "dirichlet": (0.8 + 3.0) / (_A + 0.8 + 3.0) ** 2,  # E[X₀] = a/(a + 3.8)
    "student-t": -2 / (_A + 6.5 - 2) ** 2,  # E[X²] = ν/(ν − 2), ν = 6.5 + θ
}


def _pathwise(family: str, theta: cr.Tensor, n: int) -> float:
    """The mean over n draws of d h(X)/dθ, h(x) = x² (x₀ for the Dirichlet)."""
    if family == "gamma":
        h = crd.Gamma(theta, 2.0).rsample((n,)).pow(2)
    elif family == "chi2":
        h = crd.Chi2(theta).rsample((n,)).pow(2)
    elif family == "beta":
        h = crd.Beta(theta, 2.5).rsample((n,)).pow(2)
    elif family == "dirichlet":
        conc = cr.cat([theta, cr.tensor([0.8, 3.0], dtype=cr.float64)])
        h = crd.Dirichlet(conc).rsample((n,))[:, 0]
    else:
        h = crd.StudentT(theta + 6.5).rsample((n,)).pow(2)
    (g,) = cr.autograd.grad(h.sum(), [theta])
    return float(g.item()) / n


@pytest.mark.parametrize("family", list(_EXACT))
def test_pathwise_gradient_of_an_expectation_is_unbiased(family: str) -> None:
    # d/dθ E[h(X)] estimated by the mean of dh(X)/dθ over rsample draws, against the exact
    # derivative: E[X²] for the scalar families, E[X₀] for the Dirichlet.
    cr.manual_seed(11)
    theta = cr.tensor([1.7], dtype=cr.float64, requires_grad=True)
    per_chunk = [_pathwise(family, theta, 5_000) for _ in range(12)]
    _mc_check(np.array(per_chunk), _EXACT[family])


N = 40_000
SAMPLED = {
    "gamma": (lambda lib: lib.Gamma(torch_or_cr(lib, [0.3, 4.0]), torch_or_cr(lib, [2.0, 0.5]))),
    "chi2": (lambda lib: lib.Chi2(torch_or_cr(lib, [1.0, 7.0]))),
    "beta": (lambda lib: lib.Beta(torch_or_cr(lib, [0.5, 3.0]), torch_or_cr(lib, [0.7, 2.0]))),
    "dirichlet": (lambda lib: lib.Dirichlet(torch_or_cr(lib, [0.4, 1.0, 5.0]))),
    "poisson": (lambda lib: lib.Poisson(torch_or_cr(lib, [0.2, 3.0, 40.0]))),
    "binomial": (lambda lib: lib.Binomial(10, torch_or_cr(lib, [0.1, 0.7]))),
    "negative-binomial": (lambda lib: lib.NegativeBinomial(3.0, torch_or_cr(lib, [0.2, 0.6]))),
    "multinomial": (lambda lib: lib.Multinomial(6, torch_or_cr(lib, [0.2, 0.3, 0.5]))),
    "student-t": (lambda lib: lib.StudentT(torch_or_cr(lib, [5.0, 9.0]), 1.0, 2.0)),
}


def torch_or_cr(lib, values):
    return cr.tensor(values, dtype=cr.float64) if lib is crd else torch.tensor(values)


@pytest.mark.parametrize("name", list(SAMPLED))
def test_sample_means_and_variances_within_standard_errors(name: str) -> None:
    cr.manual_seed(21)
    d = SAMPLED[name](crd)
    x = np.asarray(d.sample((N,)).data)
    assert x.shape == (N, *d.batch_shape, *d.event_shape)
    mean, variance = np.asarray(d.mean.data), np.asarray(d.variance.data)
    se_mean = np.sqrt(variance / N)
    assert (np.abs(x.mean(0) - mean) < 5 * se_mean).all(), (x.mean(0), mean)
    # The variance of the sample variance: (μ₄ − σ⁴)/N, μ₄ estimated from the draws.
    mu4 = ((x - mean) ** 4).mean(0)
    se_var = np.sqrt(np.maximum(mu4 - variance**2, 0) / N)
    assert (np.abs(x.var(0) - variance) < 5 * se_var + 1e-12).all(), (x.var(0), variance)
    assert bool(d.support.check(cr.tensor(x)).all())


# (maker, arguments) whose construction or log_prob both libraries refuse with ValueError.
REFUSED = {
    "gamma-negative-rate": lambda lib, t: lib.Gamma(t([1.0]), t([-1.0])),
    "gamma-zero-concentration": lambda lib, t: lib.Gamma(t([0.0]), t([1.0])),
    "chi2-negative": lambda lib, t: lib.Chi2(t([-2.0])),
    "beta-zero": lambda lib, t: lib.Beta(t([0.0]), t([1.0])),
    "dirichlet-negative": lambda lib, t: lib.Dirichlet(t([1.0, -1.0])),
    "dirichlet-scalar": lambda lib, t: lib.Dirichlet(t(1.0)),
    "poisson-negative": lambda lib, t: lib.Poisson(t([-0.5])),
    "binomial-both": lambda lib, t: lib.Binomial(2, probs=t([0.5]), logits=t([0.0])),
    "binomial-fractional-count": lambda lib, t: lib.Binomial(t([2.5]), probs=t([0.5])),
    "binomial-probs-above-one": lambda lib, t: lib.Binomial(2, probs=t([1.5])),
    "negative-binomial-probs-one": lambda lib, t: lib.NegativeBinomial(2.0, probs=t([1.0])),
    "multinomial-negative": lambda lib, t: lib.Multinomial(2, probs=t([0.8, -0.5])),
    "student-t-zero-df": lambda lib, t: lib.StudentT(t([0.0])),
    "gamma-negative-value": lambda lib, t: lib.Gamma(t([1.0]), t([1.0])).log_prob(t([-1.0])),
    "beta-value-above-one": lambda lib, t: lib.Beta(t([1.0]), t([1.0])).log_prob(t([1.5])),
    "dirichlet-off-simplex": lambda lib, t: lib.Dirichlet(t([1.0, 1.0])).log_prob(t([0.3, 0.3])),
    "poisson-fraction": lambda lib, t: lib.Poisson(t([1.0])).log_prob(t([0.5])),
    "binomial-above-count": lambda lib, t: lib.Binomial(2, t([0.5])).log_prob(t([3.0])),
    "multinomial-too-many": lambda lib, t: lib.Multinomial(2, t([0.5, 0.5])).log_prob(
        t([2.0, 1.0])
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusals_match_pytorch(name: str) -> None:
    with pytest.raises(ValueError) as theirs:
        REFUSED[name](td, lambda v: torch.tensor(v, dtype=torch.float64))
    with pytest.raises(ValueError) as ours:
        REFUSED[name](crd, lambda v: cr.tensor(v, dtype=cr.float64))
    phrases = ("expected parameter", "support", "must be at least one-dimensional", "either")
    for phrase in phrases:  # ours put the distribution's name first: "Binomial: either ..."
        assert (phrase in str(theirs.value).lower()) == (phrase in str(ours.value).lower()), (
            str(theirs.value),
            str(ours.value),
        )


def test_multinomial_needs_an_int_count_and_binomial_kl_needs_fewer_trials_in_q() -> None:
    with pytest.raises(NotImplementedError, match="inhomogeneous"):
        crd.Multinomial(cr.tensor(2), probs=cr.tensor([0.5, 0.5]))
    p, q = crd.Binomial(2, probs=cr.tensor([0.5])), crd.Binomial(3, probs=cr.tensor([0.5]))
    with pytest.raises(NotImplementedError, match=r"q\.total_count > p\.total_count"):
        crd.kl_divergence(p, q)
