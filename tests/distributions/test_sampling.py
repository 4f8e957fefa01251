"""Samples: shapes, dtypes, reproducibility from chainrule.manual_seed, the statistics of many
draws (tolerances of several standard errors), and rsample's gradients against PyTorch
computing loc + scale·ε (low + u·(high − low)) from the same noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, both, to_numpy

N = 40_000


def _within_standard_errors(estimate: np.ndarray, expected: np.ndarray, se: np.ndarray) -> None:
    # 5 standard errors: a false alarm about once in 3.5 million comparisons.
    np.testing.assert_array_less(np.abs(estimate - expected), 5 * se + 1e-12)


def test_normal_samples_have_the_parameters_moments() -> None:
    loc, scale = np.array([-2.0, 0.0, 3.0]), np.array([0.5, 1.0, 4.0])
    d = crd.Normal(cr.tensor(loc), cr.tensor(scale))
    x = to_numpy(d.sample((N,)))
    assert x.shape == (N, 3) and x.dtype == np.float64  # the parameters' dtype
    _within_standard_errors(x.mean(0), loc, scale / np.sqrt(N))
    # The sample variance's standard error is about σ²·√(2/N).
    _within_standard_errors(x.var(0), scale**2, scale**2 * np.sqrt(2 / N))


def test_categorical_frequencies_follow_the_probabilities() -> None:
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    x = to_numpy(crd.Categorical(probs=cr.tensor(probs)).sample((N,)))
    assert x.shape == (N, 2) and x.dtype == np.int64
    for row in range(2):
        frequencies = np.bincount(x[:, row], minlength=3) / N
        _within_standard_errors(frequencies, probs[row], np.sqrt(probs[row] * (1 - probs[row]) / N))
    assert not (x[:, 1] == 2).any()  # probability 0 is never drawn


def test_one_hot_categorical_samples_are_one_hot_vectors_with_those_frequencies() -> None:
    probs = np.array([0.6, 0.3, 0.1])
    x = to_numpy(crd.OneHotCategorical(probs=cr.tensor(probs)).sample((N, 1)))
    assert x.shape == (N, 1, 3) and x.dtype == np.float64
    assert ((x == 0) | (x == 1)).all() and (x.sum(-1) == 1).all()
    _within_standard_errors(x.mean((0, 1)), probs, np.sqrt(probs * (1 - probs) / N))


def test_bernoulli_frequencies_follow_the_probabilities() -> None:
    probs = np.array([0.05, 0.5, 0.9])
    x = to_numpy(crd.Bernoulli(logits=cr.logit(cr.tensor(probs))).sample((N,)))
    assert x.shape == (N, 3) and set(np.unique(x)) <= {0.0, 1.0}
    _within_standard_errors(x.mean(0), probs, np.sqrt(probs * (1 - probs) / N))


def test_uniform_samples_fill_the_interval() -> None:
    low, high = np.array([-1.0, 2.0]), np.array([1.0, 10.0])
    x = to_numpy(crd.Uniform(cr.tensor(low), cr.tensor(high)).sample((N,)))
    assert ((x >= low) & (x < high)).all()
    width = high - low
    _within_standard_errors(x.mean(0), (low + high) / 2, width / np.sqrt(12 * N))
    # The variance of U is w²/12; of its square, w⁴/180: the standard error below.
    _within_standard_errors(x.var(0), width**2 / 12, width**2 * np.sqrt(1 / (180 * N)))


def test_independent_samples_have_the_base_shape() -> None:
    d = crd.Independent(crd.Normal(cr.zeros(2, 3), 1.0), 1)
    assert tuple(d.sample((4,)).shape) == (4, 2, 3)
    assert tuple(d.rsample().shape) == (2, 3)
    assert tuple(d.log_prob(d.sample((4,))).shape) == (4, 2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: crd.Normal(cr.zeros(3), 1.0),
        lambda: crd.Categorical(logits=cr.zeros(3, 4)),
        lambda: crd.Bernoulli(probs=cr.full((3,), 0.4)),
        lambda: crd.Uniform(0.0, cr.ones(3)),
        lambda: crd.OneHotCategorical(logits=cr.zeros(3, 4)),
    ],
)
def test_manual_seed_reproduces_the_samples(make) -> None:
    cr.manual_seed(11)
    first = make().sample((5,))
    cr.manual_seed(11)
    again = make().sample((5,))
    assert cr.equal(first, again)
    assert not cr.equal(make().sample((50,)), make().sample((50,)))


def test_sample_is_outside_the_graph_and_rsample_inside() -> None:
    loc = cr.zeros(3, requires_grad=True)
    d = crd.Normal(loc, 1.0)
    assert not d.sample().requires_grad
    assert d.rsample().requires_grad
    with pytest.raises(NotImplementedError, match="Categorical has no reparameterised sample"):
        crd.Categorical(logits=cr.zeros(2)).rsample()


def test_normal_rsample_is_loc_plus_scale_times_the_generator_noise() -> None:
    (loc, tloc), (scale, tscale) = both(np.array([0.5, -1.0]), True), both([2.0, 0.3], True)
    cr.manual_seed(5)
    x = crd.Normal(loc, scale).rsample((3,))
    cr.manual_seed(5)
    eps = cr.randn((3, 2), dtype=cr.float64)
    tx = td.Normal(tloc, tscale).mean + torch.tensor(to_numpy(eps)) * tscale
    assert_same(x, tx, "rsample = loc + scale·ε")
    loss, tloss = (x.sin() * x).sum(), (tx.sin() * tx).sum()
    grads = cr.autograd.grad(loss, [loc, scale])
    tgrads = torch.autograd.grad(tloss, [tloc, tscale])
    for g, t in zip(grads, tgrads):
        assert_same(g, t, "gradient through rsample")


def test_uniform_rsample_is_low_plus_u_times_the_width() -> None:
    (low, tlow), (high, thigh) = both(np.array([0.0, -2.0]), True), both([1.0, 3.0], True)
    cr.manual_seed(9)
    x = crd.Uniform(low, high).rsample((4,))
    cr.manual_seed(9)
    u = torch.tensor(to_numpy(cr.rand((4, 2), dtype=cr.float64)))
    tx = tlow + u * (thigh - tlow)
    assert_same(x, tx, "rsample = low + u·(high − low)")
    grads = cr.autograd.grad((x**2).sum(), [low, high])
    tgrads = torch.autograd.grad((tx**2).sum(), [tlow, thigh])
    for g, t in zip(grads, tgrads):
        assert_same(g, t, "gradient through Uniform.rsample")


def test_straight_through_gradient_is_the_probabilities_gradient() -> None:
    logits, tlogits = both(np.array([[0.2, -1.0, 0.7], [1.5, 0.0, -0.3]]), True)
    weights = np.array([1.0, -2.0, 0.5])
    sample = crd.OneHotCategoricalStraightThrough(logits=logits).rsample()
    assert ((to_numpy(sample) == 0) | (to_numpy(sample) == 1)).all()
    (sample * cr.tensor(weights)).sum().backward()
    (torch.softmax(tlogits, -1) * torch.tensor(weights)).sum().backward()
    assert_same(logits.grad, tlogits.grad, "straight-through gradient")
