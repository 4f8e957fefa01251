"""Reverse-mode automatic differentiation: operation nodes, the reverse walk, gradient modes."""

from chainrule.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]
