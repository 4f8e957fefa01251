"""The learning-rate schedules, one family per module; import them from
:mod:`chainrule.optim.lr_scheduler`, as in PyTorch.

- ``base``: :class:`LRScheduler`, the protocol every schedule follows.
- ``decay``: a factor of the rate per epoch (lambda, multiplicative, step, multi-step,
  constant, linear, exponential, polynomial).
- ``cosine``: cosine annealing, with and without warm restarts.
- ``cyclic``: cyclical rates (CyclicLR) and the 1cycle policy (OneCycleLR), which also cycle
  the momentum.
- ``composite``: schedules made of others (SequentialLR, ChainedScheduler).
- ``plateau``: ReduceLROnPlateau, driven by a metric.
"""
