"""log_prob, entropy, cdf, mean, mode, variance and stddev of each family against PyTorch on
the same float64 parameters and values, with the gradients of log_prob and entropy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, assert_same_grads, both

rng = np.random.default_rng(2024)


@dataclass
class Case:
    """A family built by ``make(lib, *parameters)`` in both libraries, and a value for it."""

    make: Callable[..., Any]
    parameters: list[np.ndarray]
    value: np.ndarray
    differentiable_value: bool = True
    # Relative tolerance of the moments where they cancel: 1 − p at p ≈ 1.
    moment_rtol: float = 1e-12


def _one_hot(indices: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[indices]


def _covariances(batch: tuple[int, ...], n: int) -> np.ndarray:
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)


CASES = {
    "normal": Case(
        lambda lib, loc, scale: lib.Normal(loc, scale),
        [rng.normal(size=(3, 4)), rng.uniform(0.2, 3.0, size=4)],
        rng.normal(size=(2, 3, 4)) * 2,
    ),
    "categorical-logits": Case(
        lambda lib, logits: lib.Categorical(logits=logits),
        [rng.normal(size=(3, 5)) * 3],
        rng.integers(0, 5, size=(4, 3)),
        differentiable_value=False,
    ),
    "categorical-probs-with-a-zero": Case(
        lambda lib, probs: lib.Categorical(probs=probs),
        [np.array([[0.2, 0.0, 1.3, 0.5], [1.0, 1.0, 1.0, 1.0]])],
        np.array([[2, 3], [0, 1]]),
        differentiable_value=False,
    ),
    "bernoulli-probs": Case(
        lambda lib, probs: lib.Bernoulli(probs=probs),
        [rng.uniform(0.01, 0.99, size=6)],
        rng.integers(0, 2, size=(2, 6)).astype(np.float64),
    ),
    "bernoulli-logits": Case(
        lambda lib, logits: lib.Bernoulli(logits=logits),
        [np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 25.0])],
        np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0]),
        # chainrule's sigmoid(25) is 1 ulp from PyTorch's; √(p(1 − p)) makes that 4e-6.
        moment_rtol=1e-5,
    ),
    "uniform": Case(
        lambda lib, low, high: lib.Uniform(low, high),
        [np.array([-1.0, 0.0, 2.0]), np.array([1.0, 0.5, 7.0])],
        np.array([[0.3, 0.1, 2.0], [-1.0, 0.49, 6.5]]),
        differentiable_value=False,  # a constant density: no value enters differentiably
    ),
    "independent-normal": Case(
        lambda lib, loc, scale: lib.Independent(lib.Normal(loc, scale), 2),
        [rng.normal(size=(2, 3, 4)), rng.uniform(0.5, 2.0, size=(2, 3, 4))],
        rng.normal(size=(5, 2, 3, 4)),
    ),
    "one-hot-categorical": Case(
        lambda lib, logits: lib.OneHotCategorical(logits=logits),
        [rng.normal(size=(3, 4))],
        _one_hot(rng.integers(0, 4, size=(2, 3)), 4),
        differentiable_value=False,
    ),
    "exponential": Case(
        lambda lib, rate: lib.Exponential(rate),
        [rng.uniform(0.3, 3.0, size=(3, 4))],
        rng.exponential(size=(2, 3, 4)),
    ),
    "laplace": Case(
        lambda lib, loc, scale: lib.Laplace(loc, scale),
        [rng.normal(size=(3, 4)), rng.uniform(0.2, 3.0, size=4)],
        rng.normal(size=(2, 3, 4)) * 2,
    ),
    "cauchy": Case(
        lambda lib, loc, scale: lib.Cauchy(loc, scale),
        [rng.normal(size=(3, 4)), rng.uniform(0.2, 3.0, size=4)],
        rng.normal(size=(2, 3, 4)) * 2,
    ),
    "gumbel": Case(
        lambda lib, loc, scale: lib.Gumbel(loc, scale),
        [rng.normal(size=(3, 4)), rng.uniform(1.0, 3.0, size=4)],
        rng.uniform(-2.0, 2.0, size=(2, 3, 4)),
    ),
    "geometric-probs": Case(
        lambda lib, probs: lib.Geometric(probs=probs),
        [np.array([0.05, 0.3, 0.5, 0.9, 1.0])],
        np.array([[0.0, 3.0, 1.0, 7.0, 0.0], [2.0, 0.0, 5.0, 1.0, 0.0]]),
    ),
    "geometric-logits": Case(
        lambda lib, logits: lib.Geometric(logits=logits),
        [np.array([-4.0, -0.5, 0.0, 1.5, 6.0])],
        np.array([3.0, 0.0, 2.0, 1.0, 0.0]),
        moment_rtol=1e-10,  # 1/p − 1 at p ≈ 1
    ),
    "log-normal": Case(
        lambda lib, loc, scale: lib.LogNormal(loc, scale),
        [rng.normal(size=(3, 4)), rng.uniform(0.2, 1.5, size=4)],
        rng.lognormal(size=(2, 3, 4)),
    ),
    "half-normal": Case(
        lambda lib, scale: lib.HalfNormal(scale),
        [rng.uniform(0.2, 3.0, size=(3, 4))],
        np.abs(rng.normal(size=(2, 3, 4))) * np.array([1.0, 1.0, 1.0, 0.0]),  # 0 included
    ),
    "multivariate-normal-covariance": Case(
        lambda lib, loc, cov: lib.MultivariateNormal(loc, covariance_matrix=cov),
        [rng.normal(size=(4, 3)), _covariances((2, 1), 3)],
        rng.normal(size=(5, 2, 4, 3)),
    ),
    "multivariate-normal-precision": Case(
        lambda lib, loc, precision: lib.MultivariateNormal(loc, precision_matrix=precision),
        [rng.normal(size=3), _covariances((2,), 3)],
        rng.normal(size=(4, 1, 3)),
        moment_rtol=1e-11,
    ),
    "multivariate-normal-scale-tril": Case(
        lambda lib, loc, tril: lib.MultivariateNormal(loc, scale_tril=tril),
        [rng.normal(size=(2, 4)), np.linalg.cholesky(_covariances((), 4))],
        rng.normal(size=(3, 2, 4)),
    ),
}

CONTINUOUS_WITH_CDF = ["exponential", "laplace", "cauchy", "gumbel", "log-normal", "half-normal"]


def _built(case: Case) -> tuple[Any, Any, list[tuple[cr.Tensor, torch.Tensor]]]:
    pairs = [both(p, requires_grad=True) for p in case.parameters]
    ours = case.make(crd, *(a for a, _ in pairs))
    theirs = case.make(td, *(b for _, b in pairs))
    return ours, theirs, pairs


@pytest.mark.parametrize("name", list(CASES))
def test_shapes_match_pytorch(name: str) -> None:
    ours, theirs, _ = _built(CASES[name])
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert tuple(ours.event_shape) == tuple(theirs.event_shape)
    assert ours.has_rsample == theirs.has_rsample
    assert ours.has_enumerate_support == theirs.has_enumerate_support


@pytest.mark.parametrize("name", list(CASES))
def test_log_prob_and_its_gradients(name: str) -> None:
    case = CASES[name]
    ours, theirs, pairs = _built(case)
    value = both(case.value, requires_grad=case.differentiable_value)
    a, b = ours.log_prob(value[0]), theirs.log_prob(value[1])
    assert_same(a, b, f"{name}: log_prob")
    inputs = pairs + ([value] if case.differentiable_value else [])
    assert_same_grads(a, b, inputs, f"{name}: log_prob")


@pytest.mark.parametrize("name", list(CASES))
def test_entropy_and_its_gradients(name: str) -> None:
    ours, theirs, pairs = _built(CASES[name])
    a, b = ours.entropy(), theirs.entropy()
    assert_same(a, b, f"{name}: entropy")
    assert_same_grads(a, b, pairs, f"{name}: entropy")


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("moment", ["mean", "variance", "stddev", "mode"])
def test_moments(name: str, moment: str) -> None:
    ours, theirs, _ = _built(CASES[name])
    got, expected = getattr(ours, moment), getattr(theirs, moment)
    assert_same(got, expected, f"{name}: {moment}", rtol=CASES[name].moment_rtol)


@pytest.mark.parametrize("name", ["normal", "uniform", *CONTINUOUS_WITH_CDF])
def test_cdf_and_its_gradients(name: str) -> None:
    case = CASES[name]
    ours, theirs, pairs = _built(case)
    value = both(case.value, requires_grad=True)
    a, b = ours.cdf(value[0]), theirs.cdf(value[1])
    assert_same(a, b, f"{name}: cdf", rtol=1e-11)
    assert_same_grads(a, b, [*pairs, value], f"{name}: cdf")


def test_uniform_icdf_and_perplexity() -> None:
    ours, theirs, _ = _built(CASES["uniform"])
    u = both(np.array([0.0, 0.25, 0.9]))
    assert_same(ours.icdf(u[0]), theirs.icdf(u[1]), "uniform: icdf")
    assert_same(ours.perplexity(), theirs.perplexity(), "uniform: perplexity")


@pytest.mark.parametrize("name", ["categorical-logits", "bernoulli-probs", "one-hot-categorical"])
def test_enumerate_support(name: str) -> None:
    ours, theirs, _ = _built(CASES[name])
    for expand in (True, False):
        assert_same(ours.enumerate_support(expand), theirs.enumerate_support(expand), name)


@pytest.mark.parametrize(
    "name",
    [
        "normal",
        "categorical-logits",
        "bernoulli-logits",
        "uniform",
        *CONTINUOUS_WITH_CDF,
        "geometric-probs",
        "geometric-logits",
        "multivariate-normal-covariance",
        "multivariate-normal-precision",
        "multivariate-normal-scale-tril",
    ],
)
def test_expand(name: str) -> None:
    case = CASES[name]
    ours, theirs, _ = _built(case)
    # A new leading dimension, of the value's leading size where the value has one.
    extra = case.value.shape[0] if case.value.ndim > len(theirs.batch_shape) else 2
    shape = (extra, *theirs.batch_shape)
    ours, theirs = ours.expand(shape), theirs.expand(shape)
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape) == shape
    value = both(case.value)
    assert_same(ours.log_prob(value[0]), theirs.log_prob(value[1]), f"{name}: expanded log_prob")


def test_independent_expand_keeps_the_event() -> None:
    ours, theirs, _ = _built(CASES["independent-normal"])
    ours, theirs = ours.expand((5, 2)), theirs.expand((5, 2))
    assert tuple(ours.batch_shape) == (5, 2) and tuple(ours.event_shape) == (3, 4)
    assert_same(ours.entropy(), theirs.entropy(), "expanded Independent: entropy")


def test_bernoulli_mode_is_nan_at_one_half() -> None:
    ours, theirs = both(np.array([0.2, 0.5, 0.8]))
    assert_same(crd.Bernoulli(ours).mode, td.Bernoulli(theirs).mode, "Bernoulli mode")


def test_categorical_from_probs_derives_the_logits_as_pytorch() -> None:
    ours, theirs, _ = _built(CASES["categorical-probs-with-a-zero"])
    assert_same(ours.logits, theirs.logits, "logits from probs (a zero clamped to ε)")
    assert_same(ours.probs, theirs.probs, "normalised probs")


def test_number_parameters_give_scalar_float32_distributions() -> None:
    d = crd.Normal(0.5, 2.0)
    assert tuple(d.batch_shape) == () and d.loc.dtype == cr.float32
    assert_same(d.log_prob(cr.tensor(1.0)), td.Normal(0.5, 2.0).log_prob(torch.tensor(1.0)), "f32")
    b = crd.Bernoulli(0.3)
    assert tuple(b.batch_shape) == () and b.entropy().dtype == cr.float32
    u = crd.Uniform(cr.zeros(2, dtype=cr.float64), 3)
    assert u.high.dtype == cr.float64 and tuple(u.high.shape) == (2,)


def test_float64_parameters_give_float64_results() -> None:
    loc = cr.zeros(3, dtype=cr.float64)
    d = crd.Normal(loc, 1.0)
    assert d.rsample().dtype == cr.float64
    assert d.entropy().dtype == cr.float64
    assert crd.Uniform(loc, 1.0).rsample((2,)).dtype == cr.float64
    assert crd.Bernoulli(cr.full((3,), 0.5, dtype=cr.float64)).sample().dtype == cr.float64


def test_repr_as_pytorch_writes_it() -> None:
    assert repr(crd.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    assert repr(crd.Normal(cr.zeros(2), 1.0)) == (
        "Normal(loc: chainrule.Size([2]), scale: chainrule.Size([2]))"
    )
    inner = crd.Bernoulli(cr.full((2, 3), 0.5))
    assert repr(crd.Independent(inner, 1)) == (
        "Independent(Bernoulli(probs: chainrule.Size([2, 3])), 1)"
    )
