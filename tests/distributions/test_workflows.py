"""The everyday uses, step by step against PyTorch from the same weights: a REINFORCE
policy-gradient step (Categorical over a Linear's logits, actions sampled by chainrule and
given to both), a Gaussian policy, and a VAE loss (Normal.rsample with the same ε,
Bernoulli likelihood, kl_divergence to the prior)."""

from __future__ import annotations

import numpy as np
import torch
import torch.distributions as td

import chainrule as cr
import chainrule.distributions as crd

from .pairs import assert_same, both, to_numpy


def _linear_pair(n_in: int, n_out: int, seed: int) -> tuple[cr.nn.Linear, torch.nn.Linear]:
    rng = np.random.default_rng(seed)
    weight, bias = rng.normal(size=(n_out, n_in)) * 0.5, rng.normal(size=n_out) * 0.1
    ours, theirs = cr.nn.Linear(n_in, n_out).double(), torch.nn.Linear(n_in, n_out).double()
    with cr.no_grad():
        ours.weight.copy_(cr.tensor(weight))
        ours.bias.copy_(cr.tensor(bias))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weight))
        theirs.bias.copy_(torch.tensor(bias))
    return ours, theirs


def _assert_same_parameter_grads(ours: cr.nn.Module, theirs: torch.nn.Module, what: str) -> None:
    for (name, a), (_, b) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert a.grad is not None, f"{what}: {name} has no gradient"
        assert_same(a.grad, b.grad, f"{what}: gradient of {name}", rtol=1e-10)


def test_reinforce_step_matches_pytorch() -> None:
    policy, torch_policy = _linear_pair(4, 3, seed=1)
    observations = np.random.default_rng(2).normal(size=(6, 4))
    advantages = np.array([1.0, -0.5, 2.0, 0.0, -1.5, 0.3])

    logits = policy(cr.tensor(observations))
    pi = crd.Categorical(logits=logits)
    actions = pi.sample()  # chainrule's draw, given to PyTorch below
    assert tuple(actions.shape) == (6,) and not actions.requires_grad
    loss = -(pi.log_prob(actions) * cr.tensor(advantages)).mean() - 0.01 * pi.entropy().mean()
    loss.backward()

    torch_pi = td.Categorical(logits=torch_policy(torch.tensor(observations)))
    torch_actions = torch.tensor(to_numpy(actions))
    torch_loss = (
        -(torch_pi.log_prob(torch_actions) * torch.tensor(advantages)).mean()
        - 0.01 * torch_pi.entropy().mean()
    )
    torch_loss.backward()
    assert_same(loss, torch_loss, "REINFORCE loss")
    _assert_same_parameter_grads(policy, torch_policy, "REINFORCE")

    # One SGD step leaves both policies with the same weights.
    cr.optim.SGD(policy.parameters(), lr=0.1).step()
    torch.optim.SGD(torch_policy.parameters(), lr=0.1).step()
    assert_same(policy.weight, torch_policy.weight, "weights after the step")


def test_gaussian_policy_log_prob_step_matches_pytorch() -> None:
    mean_head, torch_mean_head = _linear_pair(3, 2, seed=3)
    log_std, torch_log_std = (
        cr.tensor([-0.5, 0.2], dtype=cr.float64, requires_grad=True),
        torch.tensor([-0.5, 0.2], dtype=torch.float64, requires_grad=True),
    )
    observations = np.random.default_rng(4).normal(size=(5, 3))
    returns = np.array([0.5, 1.0, -1.0, 2.0, 0.1])

    pi = crd.Independent(crd.Normal(mean_head(cr.tensor(observations)), log_std.exp()), 1)
    actions = pi.sample()
    (-(pi.log_prob(actions) * cr.tensor(returns)).sum()).backward()

    torch_pi = td.Independent(
        td.Normal(torch_mean_head(torch.tensor(observations)), torch_log_std.exp()), 1
    )
    torch_actions = torch.tensor(to_numpy(actions))
    (-(torch_pi.log_prob(torch_actions) * torch.tensor(returns)).sum()).backward()
    _assert_same_parameter_grads(mean_head, torch_mean_head, "Gaussian policy")
    assert_same(log_std.grad, torch_log_std.grad, "gradient of log σ")


def test_vae_loss_gradient_matches_pytorch_with_the_same_noise() -> None:
    encoder, torch_encoder = _linear_pair(6, 4, seed=5)  # → μ (2) and log σ² (2)
    decoder, torch_decoder = _linear_pair(2, 6, seed=6)
    x = (np.random.default_rng(7).uniform(size=(8, 6)) > 0.5).astype(np.float64)

    cr.manual_seed(123)
    mu, log_var = encoder(cr.tensor(x)).chunk(2, dim=-1)
    posterior = crd.Normal(mu, (0.5 * log_var).exp())
    z = posterior.rsample()
    likelihood = crd.Independent(crd.Bernoulli(logits=decoder(z)), 1)
    prior = crd.Normal(cr.zeros_like(mu), cr.ones_like(mu))
    kl = crd.kl_divergence(posterior, prior).sum(-1)
    loss = (-likelihood.log_prob(cr.tensor(x)) + kl).mean()
    loss.backward()

    cr.manual_seed(123)  # the ε that rsample drew
    eps = torch.tensor(to_numpy(cr.randn((8, 2), dtype=cr.float64)))
    torch_mu, torch_log_var = torch_encoder(torch.tensor(x)).chunk(2, dim=-1)
    torch_std = (0.5 * torch_log_var).exp()
    torch_z = torch_mu + torch_std * eps
    assert_same(z, torch_z, "z = μ + σ·ε")
    torch_likelihood = td.Independent(td.Bernoulli(logits=torch_decoder(torch_z)), 1)
    torch_kl = td.kl_divergence(
        td.Normal(torch_mu, torch_std), td.Normal(torch.zeros_like(torch_mu), 1.0)
    ).sum(-1)
    torch_loss = (-torch_likelihood.log_prob(torch.tensor(x)) + torch_kl).mean()
    torch_loss.backward()

    assert_same(loss, torch_loss, "VAE loss")
    _assert_same_parameter_grads(encoder, torch_encoder, "VAE encoder")
    _assert_same_parameter_grads(decoder, torch_decoder, "VAE decoder")


def test_second_derivatives_of_log_prob_and_entropy_match_pytorch() -> None:
    logits = np.array([[0.3, -1.2, 2.0], [0.0, 0.5, -0.5]])
    ours, theirs = cr.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    actions = np.array([2, 0])

    def objective(d, value):
        return (d.log_prob(value) * 1.5).sum() + d.entropy().sum()

    f = objective(crd.Categorical(logits=ours), cr.tensor(actions))
    g = objective(td.Categorical(logits=theirs), torch.tensor(actions))
    (df,) = cr.autograd.grad(f, [ours], create_graph=True)
    (dg,) = torch.autograd.grad(g, [theirs], create_graph=True)
    assert_same(df, dg, "first derivative")
    direction = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]])
    (hf,) = cr.autograd.grad((df * cr.tensor(direction)).sum(), [ours])
    (hg,) = torch.autograd.grad((dg * torch.tensor(direction)).sum(), [theirs])
    assert_same(hf, hg, "Hessian-vector product", rtol=1e-10)

    (loc, tloc), (scale, tscale) = both([0.2, -0.4], True), both([0.8, 1.7], True)
    value = np.array([1.0, -2.0])
    f = crd.Normal(loc, scale).log_prob(cr.tensor(value)).sum()
    g = td.Normal(tloc, tscale).log_prob(torch.tensor(value)).sum()
    df = cr.autograd.grad(f, [loc, scale], create_graph=True)
    dg = torch.autograd.grad(g, [tloc, tscale], create_graph=True)
    hf = cr.autograd.grad(df[0].sum() + df[1].sum(), [loc, scale])
    hg = torch.autograd.grad(dg[0].sum() + dg[1].sum(), [tloc, tscale])
    for a, b in zip(hf, hg):
        assert_same(a, b, "Normal log_prob second derivatives")
