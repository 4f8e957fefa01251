"""Reverse-mode automatic differentiation: operation nodes, the reverse walk, gradient modes.

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
    "detect_anomaly",
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "no_grad",
    "set_detect_anomaly",
    "set_grad_enabled",
]

_ANOMALY_NAMES = ("detect_anomaly", "set_detect_anomaly")


def __getattr__(name: str) -> Any:
    # Imported lazily: chainrule.inspect builds on the core, which must not import it first.
    if name in _ANOMALY_NAMES:
        from chainrule.inspect import anomaly

        return getattr(anomaly, name)
    raise AttributeError(f"module 'chainrule.autograd' has no attribute {name!r}")
