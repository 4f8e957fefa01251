"""Exponential, Laplace, Cauchy, Gumbel, Geometric, LogNormal and HalfNormal beyond what
test_against_pytorch.py checks: icdf, rsample from the same noise as PyTorch's formula (or
PyTorch's own transforms), the statistics of many samples, and the refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, assert_same_grads, both, to_numpy

N = 40_000
rng = np.random.default_rng(99)
TINY, EPS = np.finfo(np.float64).tiny, np.finfo(np.float64).eps

ICDF = {
    "exponential": (lambda lib, a, b: lib.Exponential(a * b), [0.5, 2.0]),
    "laplace": (lambda lib, a, b: lib.Laplace(a, b), [-1.0, 2.0]),
    "cauchy": (lambda lib, a, b: lib.Cauchy(a, b), [-1.0, 2.0]),
    "gumbel": (lambda lib, a, b: lib.Gumbel(a, b), [-1.0, 2.0]),
    "normal": (lambda lib, a, b: lib.Normal(a, b), [-1.0, 2.0]),
    "log_normal": (lambda lib, a, b: lib.LogNormal(a, b), [-1.0, 2.0]),
    "half_normal": (lambda lib, a, b: lib.HalfNormal(a * b), [0.5, 2.0]),
}


@pytest.mark.parametrize("name", list(ICDF))
def test_icdf_and_its_gradients(name: str) -> None:
    make, (a, b) = ICDF[name]
    pairs = [both(np.array([a, 0.3, 1.0]), True), both(np.array([b, 0.7, 1.5]), True)]
    ours = make(crd, *(x for x, _ in pairs))
    theirs = make(td, *(y for _, y in pairs))
    u = both(np.array([[0.01, 0.5, 0.93], [0.2, 0.75, 0.4]]), True)
    got, expected = ours.icdf(u[0]), theirs.icdf(u[1])
    assert_same(got, expected, f"{name}: icdf")
    assert_same_grads(got, expected, [*pairs, u], f"{name}: icdf")
    assert_same(ours.cdf(got), u[1], f"{name}: cdf(icdf(u)) = u", rtol=1e-11)


def test_gumbel_cdf_refuses_values_whose_probability_rounds_to_0_or_1_as_pytorch() -> None:
    for value in (40.0, -40.0):
        with pytest.raises(ValueError, match="support"):
            td.Gumbel(0.0, 1.0).cdf(torch.tensor(value))
        with pytest.raises(ValueError, match="support"):
            crd.Gumbel(0.0, 1.0).cdf(cr.tensor(value))


def _seeded(seed: int, draw):
    cr.manual_seed(seed)
    return draw()


def _uniform(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(to_numpy(_seeded(seed, lambda: cr.rand(shape, dtype=cr.float64))))


def _normal(seed: int, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(to_numpy(_seeded(seed, lambda: cr.randn(shape, dtype=cr.float64))))


def _through_transforms(d: td.TransformedDistribution, x: torch.Tensor) -> torch.Tensor:
    for transform in d.transforms:
        x = transform(x)
    return x


# family -> (maker, parameters, PyTorch's sample from chainrule's noise for (seed, shape))
REPARAMETERISED = {
    "exponential": (
        lambda lib, rate: lib.Exponential(rate),
        [np.array([0.5, 2.0])],
        lambda t, seed, shape: -torch.log1p(-_uniform(seed, shape)) / t.rate,
    ),
    "laplace": (
        lambda lib, loc, scale: lib.Laplace(loc, scale),
        [np.array([0.5, -1.0]), np.array([2.0, 0.3])],
        lambda t, seed, shape: (lambda u: t.loc - t.scale * u.sign() * torch.log1p(-u.abs()))(
            _uniform(seed, shape) * (2 - EPS) + (EPS - 1)
        ),
    ),
    "cauchy": (
        lambda lib, loc, scale: lib.Cauchy(loc, scale),
        [np.array([0.5, -1.0]), np.array([2.0, 0.3])],
        lambda t, seed, shape: t.loc + torch.tan(math.pi * (_uniform(seed, shape) - 0.5)) * t.scale,
    ),
    "gumbel": (
        lambda lib, loc, scale: lib.Gumbel(loc, scale),
        [np.array([0.5, -1.0]), np.array([2.0, 0.3])],
        lambda t, seed, shape: _through_transforms(
            t, TINY + _uniform(seed, shape) * ((1 - EPS) - TINY)
        ),
    ),
    "log-normal": (
        lambda lib, loc, scale: lib.LogNormal(loc, scale),
        [np.array([0.5, -1.0]), np.array([0.2, 0.3])],
        lambda t, seed, shape: _through_transforms(
            t, t.base_dist.loc + _normal(seed, shape) * t.base_dist.scale
        ),
    ),
    "half-normal": (
        lambda lib, scale: lib.HalfNormal(scale),
        [np.array([0.5, 2.0])],
        lambda t, seed, shape: _through_transforms(t, 0 + _normal(seed, shape) * t.scale),
    ),
}


@pytest.mark.parametrize("name", list(REPARAMETERISED))
def test_rsample_and_its_gradients_from_the_same_noise(name: str) -> None:
    make, parameters, theirs_from = REPARAMETERISED[name]
    pairs = [both(p, requires_grad=True) for p in parameters]
    ours, theirs = make(crd, *(a for a, _ in pairs)), make(td, *(b for _, b in pairs))
    assert ours.has_rsample and theirs.has_rsample
    cr.manual_seed(3)
    x = ours.rsample((4,))
    tx = theirs_from(theirs, 3, (4, 2))
    assert_same(x, tx, f"{name}: rsample")
    assert_same_grads(x.cos(), tx.cos(), pairs, f"{name}: gradient through rsample")
    cr.manual_seed(3)
    sample = ours.sample((4,))
    assert not sample.requires_grad
    assert_same(sample, tx, f"{name}: sample draws as rsample does")


def _within_standard_errors(estimate, expected, se) -> None:
    np.testing.assert_array_less(np.abs(np.asarray(estimate) - expected), 5 * se + 1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda t: crd.Exponential(t([0.5, 3.0])),
        lambda t: crd.Laplace(t([-1.0, 2.0]), t([0.5, 2.0])),
        lambda t: crd.Gumbel(t([-1.0, 2.0]), t([0.5, 2.0])),
        lambda t: crd.LogNormal(t([-1.0, 0.5]), t([0.3, 0.5])),
        lambda t: crd.HalfNormal(t([0.5, 2.0])),
        lambda t: crd.Geometric(probs=t([0.2, 0.7])),
    ],
)
def test_samples_have_the_distributions_mean_and_variance(make) -> None:
    d = make(lambda v: cr.tensor(v, dtype=cr.float64))
    x = to_numpy(d.sample((N,)))
    assert x.shape == (N, 2) and x.dtype == np.float64
    mean, variance = to_numpy(d.mean), to_numpy(d.variance)
    _within_standard_errors(x.mean(0), mean, np.sqrt(variance / N))
    # The sample variance's standard error, from the sample's own fourth moment.
    fourth = ((x - mean) ** 4).mean(0)
    _within_standard_errors(x.var(0), variance, np.sqrt((fourth - variance**2) / N))
    assert (x >= 0).all() or not isinstance(d, (crd.Exponential, crd.HalfNormal))


def test_cauchy_samples_have_the_median_and_quartiles() -> None:
    loc, scale = np.array([-1.0, 2.0]), np.array([0.5, 3.0])
    x = to_numpy(crd.Cauchy(cr.tensor(loc), cr.tensor(scale)).sample((N,)))
    for q in (0.25, 0.5, 0.75):
        # A quantile's standard error: √(q(1 − q)/N) / density there.
        at = loc + scale * math.tan(math.pi * (q - 0.5))
        density = 1 / (math.pi * scale * (1 + ((at - loc) / scale) ** 2))
        _within_standard_errors(np.quantile(x, q, axis=0), at, np.sqrt(q * (1 - q) / N) / density)


def test_geometric_samples_are_counts_of_failures() -> None:
    x = to_numpy(crd.Geometric(probs=cr.tensor([1.0, 0.5])).sample((1000,)))
    assert (x[:, 0] == 0).all() and (x % 1 == 0).all() and (x >= 0).all()
    assert not crd.Geometric(0.5).has_rsample


def test_number_parameters_give_scalar_float32_distributions() -> None:
    for d in (
        crd.Exponential(2.0),
        crd.Laplace(0.0, 1.0),
        crd.Cauchy(0.0, 1.0),
        crd.Gumbel(0.0, 1.0),
        crd.Geometric(0.3),
        crd.LogNormal(0.0, 1.0),
        crd.HalfNormal(1.0),
    ):
        assert tuple(d.batch_shape) == () and d.sample().dtype == cr.float32
        assert d.entropy().dtype == cr.float32


def test_repr_as_pytorch_writes_it() -> None:
    assert repr(crd.Exponential(2.0)) == "Exponential(rate: 2.0)"
    assert repr(crd.Gumbel(cr.zeros(2), 1.0)) == (
        "Gumbel(loc: chainrule.Size([2]), scale: chainrule.Size([2]))"
    )
    assert repr(crd.LogNormal(0.0, 1.0)) == "LogNormal()" == repr(td.LogNormal(0.0, 1.0))
    assert repr(crd.Geometric(cr.tensor([0.5]))) == "Geometric(probs: tensor([0.5]))"


BAD_PARAMETERS = [
    (lambda lib, t: lib.Exponential(t([1.0, 0.0])), "rate .*Exponential"),
    (lambda lib, t: lib.Laplace(0.0, t([-1.0])), "scale .*Laplace"),
    (lambda lib, t: lib.Cauchy(t([float("nan")]), 1.0), "loc .*Cauchy"),
    (lambda lib, t: lib.Gumbel(0.0, 0.0), "scale .*Gumbel"),
    (lambda lib, t: lib.Geometric(probs=t([0.5, 1.5])), "probs .*Geometric"),
    (lambda lib, t: lib.Geometric(logits=t([float("nan")])), "logits .*Geometric"),
    # The Normal inside checks first and is named, as in PyTorch.
    (lambda lib, t: lib.LogNormal(0.0, -1.0), r"scale .*distribution Normal\(loc: 0.0"),
    (lambda lib, t: lib.HalfNormal(t([-1.0])), r"scale .*distribution HalfNormal\(\)"),
]


@pytest.mark.parametrize(("make", "message"), BAD_PARAMETERS)
def test_bad_parameters_raise_value_error_as_in_pytorch(make, message) -> None:
    with pytest.raises(ValueError, match=f"Expected parameter {message}"):
        make(td, torch.tensor)
    with pytest.raises(ValueError, match=f"Expected parameter {message}"):
        make(crd, cr.tensor)
    crd.Distribution.set_default_validate_args(False)
    try:
        make(crd, cr.tensor)
    finally:
        crd.Distribution.set_default_validate_args(True)


def test_geometric_refuses_probability_zero_as_pytorch() -> None:
    message = r"Expected parameter probs .* to be positive but found invalid values:\n"
    with pytest.raises(ValueError, match=message):
        td.Geometric(torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match=message):
        crd.Geometric(cr.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        crd.Geometric()


BAD_VALUES = [
    (lambda lib: lib.Exponential(1.0), -1.0),
    (lambda lib: lib.HalfNormal(1.0), -0.5),
    (lambda lib: lib.LogNormal(0.0, 1.0), 0.0),
    (lambda lib: lib.Geometric(0.5), 1.5),
    (lambda lib: lib.Geometric(0.5), -1.0),
    (lambda lib: lib.Laplace(0.0, 1.0), float("nan")),
]


@pytest.mark.parametrize(("make", "value"), BAD_VALUES)
def test_values_outside_the_support_raise_as_in_pytorch(make, value) -> None:
    with pytest.raises(ValueError, match="support"):
        make(td).log_prob(torch.tensor(value))
    with pytest.raises(ValueError, match="support"):
        make(crd).log_prob(cr.tensor(value))


def test_half_normal_without_validation_gives_minus_infinity_below_zero() -> None:
    got = crd.HalfNormal(1.0, validate_args=False).log_prob(cr.tensor([-1.0, 0.0]))
    expected = td.HalfNormal(1.0, validate_args=False).log_prob(torch.tensor([-1.0, 0.0]))
    assert_same(got, expected, "HalfNormal below 0")
