"""``kl_divergence(p, q)``: the Kullback-Leibler divergence KL(p ‖ q) = E_p[log p − log q]
between two distributions, in closed form, for the pairs of families registered with
``register_kl`` (as ``torch.distributions.kl``).

Registered here: Normal‖Normal, Categorical‖Categorical, OneHotCategorical‖OneHotCategorical,
Bernoulli‖Bernoulli, Uniform‖Uniform and Independent‖Independent; the module ``kl_pairs``
registers those of the other families (MultivariateNormal, Exponential, Laplace...). Every
formula is made of chainrule's differentiable operations, so gradients (and second
derivatives) reach the parameters of both distributions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import total_ordering
from typing import Any

import numpy

from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.independent import Independent, sum_rightmost
from chainrule.distributions.normal import Normal
from chainrule.distributions.one_hot_categorical import OneHotCategorical
from chainrule.distributions.uniform import Uniform
from chainrule.nn.functional import softplus
from chainrule.ops.elementwise import log, where
from chainrule.tensor import Tensor

__all__ = ["kl_divergence", "register_kl"]

KLFunction = Callable[[Any, Any], Tensor]

# (type of p, type of q) -> function, as registered; and the lookup for the exact types seen,
# cleared whenever a registration may change which function is the most specific.
_REGISTRY: dict[tuple[type, type], KLFunction] = {}
_CHOSEN: dict[tuple[type, type], Any] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[KLFunction], KLFunction]:
    """A decorator registering ``fn(p, q)`` as KL(p ‖ q) for p of ``type_p`` and q of
    ``type_q`` (and their subclasses, unless a more specific pair is registered).

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Normal, kl_divergence, register_kl
    >>> class Standard(Normal):
    ...     def __init__(self):
    ...         super().__init__(0.0, 1.0)
    >>> @register_kl(Standard, Standard)
    ... def _same(p, q):
    ...     return cr.zeros(())
    >>> kl_divergence(Standard(), Standard())
    tensor(0.)

    ```
    """
    for name, kind in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(kind, type) and issubclass(kind, Distribution)):
            raise TypeError(
                f"register_kl: expected {name} to be a Distribution subclass but got {kind!r}"
            )

    def decorator(fn: KLFunction) -> KLFunction:
        _REGISTRY[type_p, type_q] = fn
        _CHOSEN.clear()
        return fn

    return decorator


@total_ordering
class _Specificity:
    """Orders registered pairs: a pair is smaller (more specific) when its first type is a
    subclass of the other's, ties broken by the second type."""

    __slots__ = ("types",)

    def __init__(self, *types: type) -> None:
        self.types = types

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Specificity) and self.types == other.types

    def __hash__(self) -> int:
        return hash(self.types)

    def __le__(self, other: _Specificity) -> bool:
        for mine, theirs in zip(self.types, other.types):
            if not issubclass(mine, theirs):
                return False
            if mine is not theirs:
                break
        return True


def _dispatch(type_p: type, type_q: type) -> Any:
    matches = [(p, q) for p, q in _REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return NotImplemented
    # The most specific match by p first, and by q first: they should agree.
    left_p, left_q = min(_Specificity(*m) for m in matches).types
    right_q, right_p = min(_Specificity(*reversed(m)) for m in matches).types
    left, right = _REGISTRY[left_p, left_q], _REGISTRY[right_p, right_q]
    if left is not right:
        warnings.warn(
            f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
            f"Please register_kl({left_p.__name__}, {right_q.__name__})",
            RuntimeWarning,
            stacklevel=3,
        )
    return left


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p ‖ q), of shape ``batch_shape`` (p's and q's, broadcast). An unregistered pair of
    families raises NotImplementedError.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule.distributions import Normal, kl_divergence
    >>> kl_divergence(Normal(cr.tensor([0.0, 1.0]), 1.0), Normal(0.0, 1.0))  # ½ Δμ²
    tensor([0.0, 0.5])

    ```
    """
    key = (type(p), type(q))
    fn = _CHOSEN.get(key)
    if fn is None:
        fn = _CHOSEN[key] = _dispatch(*key)
    if fn is NotImplemented:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
            f"{type(q).__name__}"
        )
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    # ½ (σp²/σq² + (μp − μq)²/σq² − 1 − log(σp²/σq²))
    variance_ratio = (p.scale / q.scale).pow(2)
    shift = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (variance_ratio + shift - 1 - log(variance_ratio))


def _categorical_terms(p: Categorical, q: Categorical) -> Tensor:
    terms = p.probs * (p.logits - q.logits)
    # A class q cannot give costs inf, unless p cannot give it either (0 log 0 = 0).
    terms = where((q.probs == 0).expand_as(terms), numpy.inf, terms)
    return where((p.probs == 0).expand_as(terms), 0.0, terms)


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    # Σ_k p_k (log p_k − log q_k)
    return _categorical_terms(p, q).sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_one_hot_categorical(p: OneHotCategorical, q: OneHotCategorical) -> Tensor:
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    # p log(p/q) + (1 − p) log((1 − p)/(1 − q)), each log ratio from the logits through
    # softplus: log p = −softplus(−logit), log(1 − p) = −softplus(logit).
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    ones = where(q.probs == 0, numpy.inf, ones)
    ones = where(p.probs == 0, 0.0, ones)
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    zeros = where(q.probs == 1, numpy.inf, zeros)
    zeros = where(p.probs == 1, 0.0, zeros)
    return ones + zeros


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform) -> Tensor:
    # log(width q / width p) when p's interval lies inside q's, inf otherwise.
    result = log((q.high - q.low) / (p.high - p.low))
    outside = (q.low > p.low) | (q.high < p.high)
    return where(outside, numpy.inf, result)


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            "kl_divergence(Independent, Independent): the two reinterpret different numbers "
            f"of batch dimensions ({p.reinterpreted_batch_ndims} and "
            f"{q.reinterpreted_batch_ndims})"
        )
    result = kl_divergence(p.base_dist, q.base_dist)
    return sum_rightmost(result, p.reinterpreted_batch_ndims)
