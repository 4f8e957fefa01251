"""Softmax and log-softmax along a dimension: the operations of ``ops.softmax``."""

from __future__ import annotations

from chainrule.ops.softmax import log_softmax, softmax

__all__ = ["log_softmax", "softmax"]
