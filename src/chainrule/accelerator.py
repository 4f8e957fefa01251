"""``chainrule.accelerator``: PyTorch's device-neutral questions about the accelerator in use.

This build has none: ``is_available()`` is False and ``current_accelerator()`` is None, so
that ``chainrule.accelerator.current_accelerator() or "cpu"``-style code picks the CPU.
"""

from __future__ import annotations

from chainrule.devices import device


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU, through CuPy) can be used."""
    from chainrule import cuda

    return cuda.is_available()


def device_count() -> int:
    """How many accelerators this process computes on: 1 with a GPU, else 0."""
    from chainrule import cuda

    return cuda.device_count()


def current_accelerator(check_available: bool = False) -> device | None:
    """The accelerator device type in use, or None (always None in this build)."""
    from chainrule import cuda

    return device("cuda") if cuda.is_available() else None
