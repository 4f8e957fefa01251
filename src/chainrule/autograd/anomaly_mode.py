"""The switch of anomaly detection, read by every operation (``Function.apply``).

The detection itself lives in :mod:`chainrule.inspect.anomaly`, which sets ``watch``; the core
only holds the switch, so that with detection off an operation pays one attribute test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class AnomalyMode:
    """Whether operations are watched for NaN and infinity (a class attribute, read cheaply).

    ``watch(node, inputs, out)`` is called by each operation after its forward while
    ``enabled`` is true; ``check_nan`` is false when only the creation sites are recorded.
    """

    enabled = False
    check_nan = True
    watch: Callable[[Any, tuple, Any], None] | None = None
