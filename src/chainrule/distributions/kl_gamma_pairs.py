"""The closed forms of KL(p ‖ q) that PyTorch registers for the families built on the gamma
function (Gamma and Chi2, Beta, Dirichlet, Poisson, Binomial) and for Gumbel‖Gumbel, which
needs log Γ: registered with ``kl.register_kl`` when the package is imported.

A pair whose q cannot hold p's mass (Normal ‖ Gamma, Poisson ‖ Binomial) is inf of the
shape of p's first parameter, as PyTorch gives it.
"""

from __future__ import annotations

import math

import numpy

from chainrule import fp_errors
from chainrule.creation import full_like
from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.beta import Beta
from chainrule.distributions.binomial import Binomial
from chainrule.distributions.dirichlet import Dirichlet
from chainrule.distributions.exponential import Exponential
from chainrule.distributions.gamma import Gamma
from chainrule.distributions.gumbel import EULER_GAMMA, Gumbel
from chainrule.distributions.kl import register_kl
from chainrule.distributions.laplace import Laplace
from chainrule.distributions.normal import Normal
from chainrule.distributions.poisson import Poisson
from chainrule.distributions.uniform import Uniform
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor

__all__: list[str] = []


def _x_log_x(x: Tensor) -> Tensor:
    # x log x, nan at 0 and below as PyTorch's formula leaves it (those pairs are then set to
    # inf), without NumPy's warning.
    with fp_errors.silenced():
        return x * x.log()


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p: Gamma, q: Gamma) -> Tensor:
    alpha_p, alpha_q = p.concentration, q.concentration
    return (
        alpha_q * (p.rate / q.rate).log()
        + (alpha_q.lgamma() - alpha_p.lgamma())
        + (alpha_p - alpha_q) * alpha_p.digamma()
        + (q.rate - p.rate) * (alpha_p / p.rate)
    )


@register_kl(Beta, Beta)
def _kl_beta_beta(p: Beta, q: Beta) -> Tensor:
    a_p, b_p, a_q, b_q = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    total_p, total_q = a_p + b_p, a_q + b_q
    log_beta_ratio = (a_q.lgamma() + b_q.lgamma() + total_p.lgamma()) - (
        a_p.lgamma() + b_p.lgamma() + total_q.lgamma()
    )
    return (
        log_beta_ratio
        + (a_p - a_q) * a_p.digamma()
        + (b_p - b_q) * b_p.digamma()
        + (total_q - total_p) * total_p.digamma()
    )


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet) -> Tensor:
    alpha_p, alpha_q = p.concentration, q.concentration
    total_p, total_q = alpha_p.sum(-1), alpha_q.sum(-1)
    log_norm = total_p.lgamma() - total_q.lgamma()
    log_parts = (alpha_p.lgamma() - alpha_q.lgamma()).sum(-1)
    expected_log = alpha_p.digamma() - total_p.digamma().unsqueeze(-1)
    return log_norm - log_parts + ((alpha_p - alpha_q) * expected_log).sum(-1)


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p: Poisson, q: Poisson) -> Tensor:
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p: Binomial, q: Binomial) -> Tensor:
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError(
            "KL between Binomials where q.total_count > p.total_count is not implemented"
        )
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    # More trials in p than in q: p reaches counts q cannot.
    return where(p.total_count > q.total_count, numpy.inf, kl)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p: Gumbel, q: Gumbel) -> Tensor:
    ratio = p.scale / q.scale
    loc_q, loc_p = q.loc / q.scale, p.loc / q.scale
    first = -ratio.log() - loc_q + loc_p
    third = (loc_q + (1 + ratio).lgamma() - loc_p).exp()
    return first + ratio * EULER_GAMMA + third - (1 + EULER_GAMMA)


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p: Bernoulli, q: Poisson) -> Tensor:
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p: Beta, q: Exponential) -> Tensor:
    mean = p.concentration1 / (p.concentration1 + p.concentration0)
    return -p.entropy() - q.rate.log() + q.rate * mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p: Beta, q: Gamma) -> Tensor:
    a, b = p.concentration1, p.concentration0
    alpha = q.concentration
    log_normaliser = alpha.lgamma() - alpha * q.rate.log()
    expected_log = a.digamma() - (a + b).digamma()
    return -p.entropy() + log_normaliser - (alpha - 1) * expected_log + q.rate * a / (a + b)


@register_kl(Beta, Normal)
def _kl_beta_normal(p: Beta, q: Normal) -> Tensor:
    total = p.concentration1 + p.concentration0
    mean = p.concentration1 / total
    variance = q.scale.pow(2)
    second_moment = (mean * (1 - mean) / (total + 1) + mean.pow(2)) * 0.5
    quadratic = second_moment - q.loc * mean + q.loc.pow(2) * 0.5
    return -p.entropy() + 0.5 * (variance * 2 * math.pi).log() + quadratic / variance


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p: Beta, q: Uniform) -> Tensor:
    result = -p.entropy() + (q.high - q.low).log()
    # q must cover all of [0, 1].
    return where((q.low > 0.0) | (q.high < 1.0), numpy.inf, result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p: Exponential, q: Gamma) -> Tensor:
    ratio = q.rate / p.rate
    alpha = q.concentration
    return -alpha * ratio.log() + ratio + alpha.lgamma() + alpha * EULER_GAMMA - (1 + EULER_GAMMA)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p: Gamma, q: Exponential) -> Tensor:
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p: Gamma, q: Gumbel) -> Tensor:
    alpha = p.concentration
    rate_scale = p.rate * q.scale
    loc_ratio = q.loc / q.scale
    first = (alpha - 1) * alpha.digamma() - alpha.lgamma() - alpha
    second = rate_scale.log() + alpha / rate_scale
    third = loc_ratio.exp() * (1 + rate_scale.reciprocal()).pow(-alpha) - loc_ratio
    return first + second + third


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p: Gamma, q: Normal) -> Tensor:
    alpha = p.concentration
    variance = q.scale.pow(2)
    rate_squared = p.rate.pow(2)
    first = 0.5 * (rate_squared * variance * 2 * math.pi).log() - alpha - alpha.lgamma()
    quadratic = (
        0.5 * (alpha.pow(2) + alpha) / rate_squared - q.loc * alpha / p.rate + 0.5 * q.loc.pow(2)
    )
    return first + (alpha - 1) * alpha.digamma() + quadratic / variance


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p: Uniform, q: Beta) -> Tensor:
    width = p.high - p.low
    a, b = q.concentration1, q.concentration0
    log_low = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    log_high = (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    log_beta = a.lgamma() + b.lgamma() - (a + b).lgamma()
    result = (b - 1) * log_high + log_beta - width.log() - (a - 1) * log_low
    return where((p.high > 1.0) | (p.low < 0.0), numpy.inf, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p: Uniform, q: Gamma) -> Tensor:
    width = p.high - p.low
    alpha = q.concentration
    log_normaliser = alpha.lgamma() - alpha * q.rate.log()
    log_term = (1 - alpha) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = -width.log() + log_normaliser + log_term + q.rate * (p.high + p.low) / 2
    return where(p.low < 0.0, numpy.inf, result)


def _infinite_like(parameter: Tensor) -> Tensor:
    return full_like(parameter, numpy.inf)


@register_kl(Gamma, Beta)
@register_kl(Gamma, Uniform)
def _kl_gamma_infinity(p: Gamma, q: Beta | Uniform) -> Tensor:
    # p has mass on all of [0, ∞), beyond any bounded interval.
    return _infinite_like(p.concentration)


@register_kl(Exponential, Beta)
def _kl_exponential_beta(p: Exponential, q: Beta) -> Tensor:
    return _infinite_like(p.rate)


@register_kl(Gumbel, Beta)
@register_kl(Gumbel, Gamma)
@register_kl(Laplace, Beta)
@register_kl(Laplace, Gamma)
@register_kl(Normal, Beta)
@register_kl(Normal, Gamma)
def _kl_real_line_infinity(p: Gumbel | Laplace | Normal, q: Beta | Gamma) -> Tensor:
    # p has mass on the whole real line, q on part of it only.
    return _infinite_like(p.loc)


@register_kl(Poisson, Bernoulli)
@register_kl(Poisson, Binomial)
def _kl_poisson_infinity(p: Poisson, q: Bernoulli | Binomial) -> Tensor:
    # p gives every count a positive probability; q none beyond its number of trials.
    return _infinite_like(p.rate)
