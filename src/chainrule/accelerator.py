"""``chainrule.accelerator``: PyTorch's device-neutral questions about the accelerator in use.

This build has none: ``is_available()`` is False and ``current_accelerator()`` is None, so
that ``chainrule.accelerator.current_accelerator() or "cpu"``-style code picks the CPU.
"""

from __future__ import annotations

from chainrule.devices import device


def is_available() -> bool:
    """Whether an accelerator (GPU) can be used: never, in this build."""
    return False


def device_count() -> int:
    """How many accelerators there are: 0 in this build."""
    return 0


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator device type in use, or None (always None in this build)."""
    return None
