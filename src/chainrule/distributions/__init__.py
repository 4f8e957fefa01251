"""``chainrule.distributions``: PyTorch's ``torch.distributions`` for the everyday cases:
policies in reinforcement learning, variational autoencoders, likelihood losses.

- ``Normal``, ``Uniform`` (with ``rsample``), ``Categorical``, ``OneHotCategorical``,
  ``OneHotCategoricalStraightThrough``, ``Bernoulli``, ``Independent``;
- ``MultivariateNormal`` (from a covariance, a precision or a Cholesky factor), and with
  ``rsample`` too ``Exponential``, ``Laplace``, ``Cauchy``, ``Gumbel``, ``LogNormal``,
  ``HalfNormal``; ``Geometric``;
- ``Gamma``, ``Chi2``, ``Beta``, ``Dirichlet``, ``StudentT`` (with ``rsample``: implicit
  reparameterisation gradients of gamma draws), ``Poisson``, ``Binomial``,
  ``NegativeBinomial``, ``Multinomial``;
- ``kl_divergence(p, q)`` and ``register_kl`` (module ``chainrule.distributions.kl``);
- ``constraints``, and ``Distribution``, the base class with its validation switch.

Everything is built from chainrule's differentiable operations: gradients (of any order)
flow from ``rsample``, ``log_prob``, ``entropy`` and ``kl_divergence`` into the parameters.
Samples come from chainrule's generator (``chainrule.manual_seed``): reproducible, but not
PyTorch's numbers.

```pycon
>>> import chainrule as cr
>>> from chainrule.distributions import Categorical
>>> logits = cr.zeros(2, 3, requires_grad=True)  # a policy's scores for 2 states
>>> policy = Categorical(logits=logits)
>>> actions = cr.tensor([0, 2])
>>> loss = -(policy.log_prob(actions) * cr.tensor([1.0, -1.0])).sum()
>>> loss.backward()
>>> logits.grad
tensor([[-0.6667,  0.3333,  0.3333],
        [-0.3333, -0.3333,  0.6667]])

```
"""

from chainrule.distributions import (
    constraints,
    kl_gamma_pairs,  # noqa: F401 - registers the gamma-function families' pairs
    kl_pairs,  # noqa: F401 - registers the other pairs
)
from chainrule.distributions.bernoulli import Bernoulli
from chainrule.distributions.beta import Beta
from chainrule.distributions.binomial import Binomial
from chainrule.distributions.categorical import Categorical
from chainrule.distributions.cauchy import Cauchy
from chainrule.distributions.dirichlet import Dirichlet
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.exponential import Exponential
from chainrule.distributions.gamma import Chi2, Gamma
from chainrule.distributions.geometric import Geometric
from chainrule.distributions.gumbel import Gumbel
from chainrule.distributions.half_normal import HalfNormal
from chainrule.distributions.independent import Independent
from chainrule.distributions.kl import kl_divergence, register_kl
from chainrule.distributions.laplace import Laplace
from chainrule.distributions.log_normal import LogNormal
from chainrule.distributions.multinomial import Multinomial
from chainrule.distributions.multivariate_normal import MultivariateNormal
from chainrule.distributions.negative_binomial import NegativeBinomial
from chainrule.distributions.normal import Normal
from chainrule.distributions.one_hot_categorical import (
    OneHotCategorical,
    OneHotCategoricalStraightThrough,
)
from chainrule.distributions.poisson import Poisson
from chainrule.distributions.student_t import StudentT
from chainrule.distributions.uniform import Uniform

__all__ = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Cauchy",
    "Chi2",
    "Dirichlet",
    "Distribution",
    "Exponential",
    "Gamma",
    "Geometric",
    "Gumbel",
    "HalfNormal",
    "Independent",
    "Laplace",
    "LogNormal",
    "Multinomial",
    "MultivariateNormal",
    "NegativeBinomial",
    "Normal",
    "OneHotCategorical",
    "OneHotCategoricalStraightThrough",
    "Poisson",
    "StudentT",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
]
