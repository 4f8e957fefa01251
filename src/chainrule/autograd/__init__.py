"""Reverse-mode automatic differentiation: operation nodes, the reverse walk, gradient modes.

``Function`` is PyTorch's protocol for a function with a backward of one's own
(:mod:`chainrule.autograd.custom_function`); the operations of chainrule are written against
the array-level :class:`chainrule.autograd.function.Function`.

``detect_anomaly`` and ``set_detect_anomaly`` are here under PyTorch's names; they live in
:mod:`chainrule.inspect.anomaly` and are imported on first use.
"""

from typing import Any

from chainrule.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "Function",
    "FunctionCtx",
    "Variable",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]

_ANOMALY_NAMES = ("detect_anomaly", "set_detect_anomaly")
_CUSTOM_FUNCTION_NAMES = ("Function", "FunctionCtx")


def __getattr__(name: str) -> Any:
    # Imported lazily: chainrule.inspect builds on the core, which must not import it first.
    if name in _ANOMALY_NAMES:
        from chainrule.inspect import anomaly

        return getattr(anomaly, name)
    if name in _CUSTOM_FUNCTION_NAMES:
        # PyTorch's custom-function protocol builds on Tensor, which imports this package.
        from chainrule.autograd import custom_function

        return getattr(custom_function, name)
    if name in ("gradcheck", "gradgradcheck", "GradcheckError"):
        from chainrule.autograd import gradient_checks

        return getattr(gradient_checks, name)
    if name in ("grad", "backward"):
        from chainrule.autograd import gradients

        return getattr(gradients, name)
    if name == "functional":
        # A submodule: importing it sets it as this package's attribute (``from ... import``
        # would ask this function again before importing, and recurse).
        import importlib

        return importlib.import_module("chainrule.autograd.functional")
    if name == "Variable":
        # PyTorch's pre-0.4 wrapper (chainrule.legacy), which builds on Tensor too.
        from chainrule.legacy import Variable

        return Variable
    raise AttributeError(f"module 'chainrule.autograd' has no attribute {name!r}")
