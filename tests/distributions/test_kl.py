"""kl_divergence against PyTorch for every registered pair (values and the gradients into
both distributions' parameters), register_kl's dispatch, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd
from chainrule.distributions import kl as crkl

from .pairs import assert_same, assert_same_grads, both

rng = np.random.default_rng(7)

# name -> (family, parameters of p, parameters of q); each parameter is a NumPy array.
PAIRS = {
    "normal": (
        lambda lib, a, b: lib.Normal(a, b),
        [rng.normal(size=(3, 4)), rng.uniform(0.3, 2.0, size=(3, 4))],
        [rng.normal(size=4), rng.uniform(0.3, 2.0, size=4)],
    ),
    "categorical": (
        lambda lib, logits: lib.Categorical(logits=logits),
        [rng.normal(size=(3, 5))],
        [rng.normal(size=(2, 1, 5))],
    ),
    "categorical-zero-probabilities": (
        lambda lib, probs: lib.Categorical(probs=probs),
        [np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])],
        [np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]])],
    ),
    "one-hot-categorical": (
        lambda lib, logits: lib.OneHotCategorical(logits=logits),
        [rng.normal(size=(4, 3))],
        [rng.normal(size=(4, 3))],
    ),
    "bernoulli-logits": (
        lambda lib, logits: lib.Bernoulli(logits=logits),
        [np.array([-3.0, 0.0, 2.0, 25.0])],
        [np.array([1.0, -0.5, 2.5, -1.0])],
    ),
    "bernoulli-probs-at-the-ends": (
        lambda lib, probs: lib.Bernoulli(probs=probs),
        [np.array([0.0, 1.0, 0.3, 0.3, 0.6])],
        [np.array([0.4, 0.4, 0.0, 1.0, 0.7])],
    ),
    "uniform": (
        lambda lib, low, high: lib.Uniform(low, high),
        [np.array([0.0, -1.0, 0.5]), np.array([1.0, 1.0, 2.0])],
        [np.array([-1.0, -2.0, 0.5]), np.array([2.0, 3.0, 2.5])],
    ),
    "uniform-not-inside": (
        lambda lib, low, high: lib.Uniform(low, high),
        [np.array([0.0, 0.5, 0.0]), np.array([1.0, 2.0, 3.0])],
        [np.array([-1.0, 0.0, 0.5]), np.array([2.0, 1.0, 3.5])],
    ),
    "independent-normal": (
        lambda lib, a, b: lib.Independent(lib.Normal(a, b), 1),
        [rng.normal(size=(2, 3)), rng.uniform(0.3, 2.0, size=(2, 3))],
        [rng.normal(size=(2, 3)), rng.uniform(0.3, 2.0, size=(2, 3))],
    ),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_kl_and_its_gradients_match_pytorch(name: str) -> None:
    make, p_parameters, q_parameters = PAIRS[name]
    p_pairs = [both(a, requires_grad=True) for a in p_parameters]
    q_pairs = [both(a, requires_grad=True) for a in q_parameters]
    ours = crd.kl_divergence(
        make(crd, *(a for a, _ in p_pairs)), make(crd, *(a for a, _ in q_pairs))
    )
    theirs = td.kl_divergence(
        make(td, *(b for _, b in p_pairs)), make(td, *(b for _, b in q_pairs))
    )
    assert_same(ours, theirs, f"KL {name}")
    if name.endswith(("zero-probabilities", "at-the-ends", "not-inside")):
        # Both libraries' gradients hold NaN/inf there in the same places; values suffice.
        return
    assert_same_grads(ours, theirs, p_pairs + q_pairs, f"KL {name}")


def test_kl_of_a_distribution_with_itself_is_zero() -> None:
    d = crd.Categorical(logits=cr.randn(4, 6))
    assert np.allclose(np.asarray(crd.kl_divergence(d, d).data), 0.0, atol=1e-7)


def test_the_kl_module_is_the_one_exported() -> None:
    assert crd.kl_divergence is crkl.kl_divergence
    assert crd.register_kl is crkl.register_kl


def test_an_unregistered_pair_raises_not_implemented() -> None:
    with pytest.raises(NotImplementedError, match="p type Normal and q type Bernoulli"):
        crd.kl_divergence(crd.Normal(0.0, 1.0), crd.Bernoulli(0.5))


def test_independent_pairs_must_reinterpret_the_same_dimensions() -> None:
    base = crd.Normal(cr.zeros(2, 3), 1.0)
    with pytest.raises(NotImplementedError, match="1 and 2"):
        crd.kl_divergence(crd.Independent(base, 1), crd.Independent(base, 2))


def test_register_kl_dispatches_to_the_most_specific_pair() -> None:
    class Narrow(crd.Normal):
        pass

    @crd.register_kl(Narrow, crd.Normal)
    def _narrow(p: crd.Normal, q: crd.Normal) -> cr.Tensor:
        return cr.full((), 42.0)

    try:
        p, q = Narrow(0.0, 1.0), crd.Normal(1.0, 1.0)
        assert crd.kl_divergence(p, q).item() == 42.0
        # The general Normal pair still serves plain Normals, and Normal ‖ Narrow.
        assert crd.kl_divergence(q, p).item() == pytest.approx(0.5)
        assert crd.kl_divergence(q, q).item() == 0.0
    finally:
        del crkl._REGISTRY[Narrow, crd.Normal]
        crkl._CHOSEN.clear()


def test_register_kl_refuses_what_is_not_a_distribution_class() -> None:
    with pytest.raises(TypeError, match="type_q"):
        crd.register_kl(crd.Normal, int)


def test_ambiguous_registrations_warn() -> None:
    class P(crd.Normal):
        pass

    class Q(crd.Normal):
        pass

    crd.register_kl(P, crd.Normal)(lambda p, q: cr.zeros(()))
    crd.register_kl(crd.Normal, Q)(lambda p, q: cr.ones(()))
    try:
        with pytest.warns(RuntimeWarning, match="Ambiguous kl_divergence"):
            crd.kl_divergence(P(0.0, 1.0), Q(0.0, 1.0))
    finally:
        del crkl._REGISTRY[P, crd.Normal]
        del crkl._REGISTRY[crd.Normal, Q]
        crkl._CHOSEN.clear()


def test_kl_second_derivatives_match_pytorch() -> None:
    (a, ta), (b, tb) = both(np.array([0.3, -1.0]), True), both(np.array([0.7, 1.9]), True)
    ours = crd.kl_divergence(crd.Normal(a, b), crd.Normal(0.2, 1.5)).sum()
    theirs = td.kl_divergence(td.Normal(ta, tb), td.Normal(0.2, 1.5)).sum()
    (ga,) = cr.autograd.grad(ours, [b], create_graph=True)
    (gt,) = torch.autograd.grad(theirs, [tb], create_graph=True)
    assert_same(cr.autograd.grad(ga.sum(), [b])[0], torch.autograd.grad(gt.sum(), [tb])[0], "d²")
