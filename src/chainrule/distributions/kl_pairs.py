"""The closed forms of KL(p ‖ q) that PyTorch registers for the families added after the
first six, registered with ``kl.register_kl`` when the package is imported:
MultivariateNormal‖MultivariateNormal, Exponential‖Exponential, Laplace‖Laplace,
Cauchy‖Cauchy, Geometric‖Geometric, LogNormal‖LogNormal, HalfNormal‖HalfNormal, and the
cross pairs among Normal, Uniform, Exponential, Laplace and Gumbel.

A pair whose support cannot hold p's mass (Normal ‖ Exponential) is inf, of the shape of p's
first parameter, as PyTorch gives it. Gumbel‖Gumbel and the pairs of the gamma-function
families (Gamma, Beta, Dirichlet, Poisson, Binomial) are in ``kl_gamma_pairs``.
"""

from __future__ import annotations

import math

import numpy

from chainrule.creation import full_like
from chainrule.distributions.cauchy import Cauchy
from chainrule.distributions.exponential import Exponential
from chainrule.distributions.geometric import Geometric
from chainrule.distributions.gumbel import EULER_GAMMA, Gumbel
from chainrule.distributions.half_normal import HalfNormal
from chainrule.distributions.kl import _kl_normal_normal, register_kl
from chainrule.distributions.laplace import Laplace
from chainrule.distributions.log_normal import LogNormal
from chainrule.distributions.multivariate_normal import MultivariateNormal, batch_mahalanobis
from chainrule.distributions.normal import Normal
from chainrule.distributions.uniform import Uniform
from chainrule.ops.elementwise import where
from chainrule.ops.erf import erf
from chainrule.ops.triangular import solve_triangular
from chainrule.tensor import Tensor

__all__: list[str] = []

_HALF_LOG_2PI_E = 0.5 * (1 + math.log(2 * math.pi))


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    # ½ (tr(Σq⁻¹ Σp) + (μq − μp)ᵀ Σq⁻¹ (μq − μp) − n) + log √det Σq − log √det Σp, the trace
    # being ‖Lq⁻¹ Lp‖² (Frobenius).
    if p.event_shape != q.event_shape:
        raise ValueError(
            "KL-divergence between two Multivariate Normals with different event shapes "
            "cannot be computed"
        )
    p_factor, q_factor = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    half_log_det_ratio = q._half_log_det() - p._half_log_det()
    n = p.event_shape[0]
    solved = solve_triangular(q_factor, p_factor, upper=False)
    trace = solved.pow(2).sum(-1).sum(-1)
    distance = batch_mahalanobis(q_factor, q.loc - p.loc)
    return half_log_det_ratio + 0.5 * (trace + distance - n)


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p: Exponential, q: Exponential) -> Tensor:
    ratio = q.rate / p.rate
    return -ratio.log() + ratio - 1


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p: Laplace, q: Laplace) -> Tensor:
    scale_ratio = p.scale / q.scale
    distance = (p.loc - q.loc).abs()
    return -scale_ratio.log() + distance / q.scale + scale_ratio * (-distance / p.scale).exp() - 1


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p: Cauchy, q: Cauchy) -> Tensor:
    # log(((γp + γq)² + (μp − μq)²) / (4 γp γq)), a closed form found by Chyzak and Nielsen.
    spread = ((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
    return spread - (4 * p.scale * q.scale).log()


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p: Geometric, q: Geometric) -> Tensor:
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(LogNormal, LogNormal)
def _kl_log_normal_log_normal(p: LogNormal, q: LogNormal) -> Tensor:
    # exp is one-to-one: the divergence is the Normals'.
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(HalfNormal, HalfNormal)
def _kl_half_normal_half_normal(p: HalfNormal, q: HalfNormal) -> Tensor:
    return _kl_normal_normal(p.base_dist, q.base_dist)


def _infinite_like(parameter: Tensor) -> Tensor:
    return full_like(parameter, numpy.inf)


@register_kl(Exponential, Uniform)
def _kl_exponential_infinity(p: Exponential, q: Uniform) -> Tensor:
    # p has mass on all of [0, ∞), beyond any bounded interval.
    return _infinite_like(p.rate)


@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Uniform)
@register_kl(Laplace, Exponential)
@register_kl(Laplace, Uniform)
@register_kl(Normal, Exponential)
@register_kl(Normal, Uniform)
def _kl_real_line_infinity(p: Gumbel | Laplace | Normal, q: Exponential | Uniform) -> Tensor:
    # p has mass on the whole real line, q on part of it only.
    return _infinite_like(p.loc)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p: Exponential, q: Gumbel) -> Tensor:
    rate_scale = p.rate * q.scale
    loc_ratio = q.loc / q.scale
    return (
        (rate_scale.log() - 1)
        - loc_ratio
        + loc_ratio.exp() * rate_scale / (rate_scale + 1)
        + rate_scale.reciprocal()
    )


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p: Exponential, q: Normal) -> Tensor:
    variance = q.scale.pow(2)
    rate_squared = p.rate.pow(2)
    log_term = 0.5 * (rate_squared * variance * 2 * math.pi).log()
    quadratic = rate_squared.reciprocal() - q.loc / p.rate + q.loc.pow(2) * 0.5
    return log_term - 1 + quadratic / variance


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p: Gumbel, q: Normal) -> Tensor:
    ratio = p.scale / q.scale
    log_term = (ratio / math.sqrt(2 * math.pi)).log()
    spread = (math.pi * ratio * 0.5).pow(2) / 3
    shift = ((p.loc + p.scale * EULER_GAMMA - q.loc) / q.scale).pow(2) * 0.5
    return -log_term + spread + shift - (EULER_GAMMA + 1)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p: Laplace, q: Normal) -> Tensor:
    variance = q.scale.pow(2)
    ratio = p.scale.pow(2) / variance
    log_term = 0.5 * (2 * ratio / math.pi).log()
    quadratic = 0.5 * p.loc.pow(2) - p.loc * q.loc + 0.5 * q.loc.pow(2)
    return -log_term + ratio + quadratic / variance - 1


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p: Normal, q: Gumbel) -> Tensor:
    mean_ratio = p.loc / q.scale
    variance_ratio = (p.scale / q.scale).pow(2)
    loc_ratio = q.loc / q.scale
    return (
        -(variance_ratio.log() * 0.5)
        + (mean_ratio - loc_ratio)
        + (-mean_ratio + 0.5 * variance_ratio + loc_ratio).exp()
        - _HALF_LOG_2PI_E
    )


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p: Normal, q: Laplace) -> Tensor:
    shift = p.loc - q.loc
    standardised = shift / p.scale
    spread = math.sqrt(2 / math.pi) * p.scale * (-0.5 * standardised.pow(2)).exp()
    folded = shift * erf(math.sqrt(0.5) * standardised)
    constant = 0.5 * (1 + math.log(0.5 * math.pi))
    return -(p.scale / q.scale).log() + (spread + folded) / q.scale - constant


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p: Uniform, q: Exponential) -> Tensor:
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return where(p.low < 0, numpy.inf, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p: Uniform, q: Gumbel) -> Tensor:
    ratio = q.scale / (p.high - p.low)
    high = (p.high - q.loc) / q.scale
    low = (p.low - q.loc) / q.scale
    first = ratio.log() + 0.5 * (high + low)
    return first - ratio * ((-high).exp() - (-low).exp())


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p: Uniform, q: Normal) -> Tensor:
    width = p.high - p.low
    log_term = (math.sqrt(math.pi * 2) * q.scale / width).log()
    spread = width.pow(2) / 12
    shift = ((p.high + p.low - 2 * q.loc) / 2).pow(2)
    return log_term + 0.5 * (spread + shift) / q.scale.pow(2)
