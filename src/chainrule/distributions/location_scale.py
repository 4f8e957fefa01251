"""The families of a location and a positive scale on the real line (Normal, Laplace, Cauchy):
their parameters, checked and broadcast together, and what follows from symmetry about loc.
"""

from __future__ import annotations

from typing import Any

from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.parameters import broadcast_parameters
from chainrule.size import Size
from chainrule.tensor import Tensor


class LocationScale(Distribution):
    """A distribution of x = loc + scale·ε for a fixed standard ε, symmetric about loc; batch
    shape the broadcast shape of ``loc`` and ``scale`` (() when both are numbers)."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}  # noqa: RUF012
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float, validate_args: Any = None):
        family = type(self).__name__
        self.loc, self.scale = broadcast_parameters(family, "loc", "scale")(loc, scale)
        both_numbers = not isinstance(loc, Tensor) and not isinstance(scale, Tensor)
        batch_shape = Size() if both_numbers else self.loc.size()
        super().__init__(batch_shape, validate_args=validate_args)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc
