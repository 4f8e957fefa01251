"""The hook of anomaly detection, called by every operation while detection is on.

Whether detection is on is part of the thread's mode (:mod:`chainrule.autograd.grad_mode`);
the detection itself lives in :mod:`chainrule.inspect.anomaly`, which sets ``watch``. The core
only holds the hook, so that with detection off an operation pays one attribute test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class AnomalyMode:
    """``watch(node, inputs, out)`` is called by each operation after its forward while the
    thread's mode has ``anomaly`` set (``check_nan`` false: only creation sites are recorded)."""

    watch: Callable[[Any, tuple, Any], None] | None = None
