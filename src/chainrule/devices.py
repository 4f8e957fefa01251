"""Devices: where a tensor's data lives, with PyTorch's ``device`` object and ``device=`` rules.

This build of chainrule computes on the CPU with NumPy. A ``device`` for any of PyTorch's
device types can be made (``device("cuda:0")``, as in a CPU-only PyTorch), so that the idiom

    device = chainrule.device("cuda" if chainrule.cuda.is_available() else "cpu")

runs unchanged; only putting data on a device other than the CPU is an error, which says how to
run on the CPU. A GPU backend (CuPy) is planned; it will lift that error for ``"cuda"``.
"""

from __future__ import annotations

import re
from typing import Any

# PyTorch's device types, in the order its error message lists them.
DEVICE_TYPES = (
    "cpu",
    "cuda",
    "ipu",
    "xpu",
    "mkldnn",
    "opengl",
    "opencl",
    "ideep",
    "hip",
    "ve",
    "fpga",
    "maia",
    "xla",
    "lazy",
    "vulkan",
    "mps",
    "meta",
    "hpu",
    "mtia",
    "privateuseone",
)
_PATTERN = re.compile(r"([A-Za-z_]+)(?::(0|[1-9][0-9]*))?")


class device:  # noqa: N801 - PyTorch's name
    """A device: its ``type`` ("cpu", "cuda", ...) and ``index`` (an int, or None for "the
    current one").

    Made from a string (``device("cuda:1")``), a type and an index (``device("cuda", 1)``),
    or another device. Devices are immutable and hashable; one equals another of the same
    type and index, and (unlike PyTorch, where the comparison is always False) a string that
    names it: ``device("cpu") == "cpu"``.

    ```pycon
    >>> device("cuda:0")
    device(type='cuda', index=0)
    >>> str(device("cpu"))
    'cpu'

    ```
    """

    __slots__ = ("_index", "_previous", "_type")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise RuntimeError(
                    f"type (string) must not include an index because index was passed "
                    f"explicitly: {type}"
                )
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            # PyTorch reads a bare int as an index of the current accelerator.
            raise RuntimeError(
                f"device({type}): cannot access accelerator device when none is available "
                "(this chainrule build has no GPU backend); use device('cpu')"
            )
        if not isinstance(type, str):
            if not (hasattr(type, "type") and hasattr(type, "index")):
                raise TypeError(f"device(): expected a string or a device, got {_name(type)}")
            type = str(type)  # noqa: A001 - another library's device (torch.device), by name
        match = _PATTERN.fullmatch(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: {type!r}")
        kind, text_index = match.groups()
        if kind not in DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                f"string: {type}"
            )
        if index is not None:
            if text_index is not None:
                raise RuntimeError(
                    f"type (string) must not include an index because index was passed "
                    f"explicitly: {type}"
                )
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(
                    f"device(): argument 'index' (position 2) must be int, not {_name(index)}"
                )
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        elif text_index is not None:
            index = int(text_index)
        self._type, self._index = kind, index

    @property
    def type(self) -> str:
        """The device type: ``"cpu"``, ``"cuda"``, ``"mps"``..."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device's index among those of its type, or None (the current one)."""
        return self._index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self) -> int:
        return hash(str(self))  # equal to a string that names it, so hashed as that string

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type={self._type!r})"
        return f"device(type={self._type!r}, index={self._index})"

    def __reduce__(self) -> tuple:
        return (device, (str(self),))

    def __enter__(self) -> device:
        # ``with device("cpu"):`` makes it the default device of the tensors made inside.
        self._previous = get_default_device()
        set_default_device(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        set_default_device(self._previous)


CPU = device("cpu")


def _name(value: Any) -> str:
    return type(value).__name__


class _Default:
    device = CPU


def get_default_device() -> device:
    """The device that creation functions use when ``device=`` is not given (the CPU).

    ```pycon
    >>> import chainrule as cr
    >>> cr.get_default_device()
    device(type='cpu')

    ```
    """
    return _Default.device


def set_default_device(new_device: Any) -> None:
    """Set the default device of new tensors, as ``torch.set_default_device``. Only the CPU
    is available in this build; None restores it.

    ```pycon
    >>> import chainrule as cr
    >>> cr.set_default_device("cpu")
    >>> cr.zeros(2).device
    device(type='cpu')

    ```
    """
    _Default.device = CPU if new_device is None else check(new_device, "set_default_device")


def cuda_device(index: Any = None) -> device:
    """The CUDA device that ``.cuda(index)`` names: ``cuda`` for None, ``cuda:i`` for i."""
    if index is None:
        return device("cuda")
    if isinstance(index, int) and not isinstance(index, bool):
        return device("cuda", index)
    return device(index)


def no_gpu_message(where: str, wanted: device) -> str:
    """The error for data asked on a device this build cannot hold data on."""
    return (
        f"{where}: device '{wanted}' is not available: this chainrule build computes on the CPU "
        "with NumPy and has no GPU backend (chainrule.cuda.is_available() is False; a CuPy "
        "backend is planned). Use device='cpu', e.g. device = chainrule.device('cuda' if "
        "chainrule.cuda.is_available() else 'cpu')"
    )


def check(wanted: Any, where: str) -> device:
    """``wanted`` (a device, a string naming one, or None for the default) as a device, when
    this build can hold data there; else a RuntimeError naming ``where`` and the fix."""
    if wanted is None:
        return _Default.device
    if wanted is CPU or wanted == "cpu":  # the common case, without parsing anything
        return CPU
    if not isinstance(wanted, device):
        wanted = device(wanted)
    if wanted.type != "cpu":
        raise RuntimeError(no_gpu_message(where, wanted))
    return wanted
