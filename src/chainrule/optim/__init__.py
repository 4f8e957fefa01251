"""Optimisers: they own per-parameter state and update parameters in place."""

from chainrule.optim.optimizer import Optimizer
from chainrule.optim.sgd import SGD

__all__ = ["SGD", "Optimizer"]
