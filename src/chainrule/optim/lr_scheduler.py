"""Learning-rate schedulers: they set each parameter group's ``lr`` once per :meth:`step`.

Call ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per batch, for schedules
counted in batches: CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts with a fractional epoch).
Like PyTorch's, most schedules here are *chainable*: a step multiplies the group's current rate
by a factor instead of recomputing it from the initial rate, so two schedulers on one optimizer
compose, and a rate changed from outside is carried along.

The schedules live in :mod:`chainrule.optim.schedules`, one family per module; this module
gathers them under PyTorch's name, ``torch.optim.lr_scheduler``.
"""

from chainrule.optim.schedules.base import LRScheduler
from chainrule.optim.schedules.composite import ChainedScheduler, SequentialLR
from chainrule.optim.schedules.cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from chainrule.optim.schedules.cyclic import CyclicLR, OneCycleLR
from chainrule.optim.schedules.decay import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    StepLR,
)
from chainrule.optim.schedules.plateau import ReduceLROnPlateau

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]
