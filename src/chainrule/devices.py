"""Devices: where a tensor's data lives, with PyTorch's ``device`` object and ``device=`` rules.

"cpu" is NumPy's memory. "cuda" is a GPU through CuPy (``pip install "chainrule[gpu]"``), or,
after ``chainrule.cuda.emulate()``, the CPU emulator of CuPy that tests device code without a
GPU. A ``device`` for any of PyTorch's device types can be made (``device("mps")``), so that
scripts run unchanged; putting data on a type with no backend is an error that says what to
do. A tensor's device is read off its array's type (:func:`of_array`): data, not a flag.
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
CUDA = device("cuda", 0)


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


class _Cuda:
    """The "cuda" backend, once chosen: CuPy's module (or the emulator's)."""

    module: Any = None
    emulated = False
    real: Any = None  # CuPy, kept while the emulator stands in for it


def cuda_module(where: str = "cuda", wanted: device | None = None) -> Any:
    """The array module of "cuda" devices: CuPy, imported and registered on first use (or the
    emulator once ``chainrule.cuda.emulate()`` chose it). Without either, a RuntimeError that
    says how to install CuPy."""
    if _Cuda.module is not None:
        return _Cuda.module
    try:
        import cupy
    except ImportError:
        raise RuntimeError(no_gpu_message(where, wanted or device("cuda"))) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy's CUDARuntimeError when no driver is installed
        raise RuntimeError(
            f"{where}: CuPy is installed but cannot reach a GPU ({error}); check the NVIDIA "
            "driver and that the CuPy wheel matches its CUDA major version (cupy-cuda12x or "
            "cupy-cuda13x)"
        ) from None
    if count == 0:
        raise RuntimeError(f"{where}: CuPy is installed but sees no CUDA GPU")
    use_cuda_module(cupy, emulated=False)
    return cupy


def use_cuda_module(module: Any, emulated: bool) -> None:
    """Make ``module`` the array module of "cuda" devices (CuPy, or the emulator)."""
    from chainrule import backend

    _Cuda.module, _Cuda.emulated = module, emulated
    backend.register(module, "cuda")


def of_array(array: Any) -> device:
    """The device that ``array`` lives on: the CPU for NumPy data, ``cuda:0`` for a GPU array.

    ```pycon
    >>> import numpy
    >>> from chainrule import devices
    >>> devices.of_array(numpy.zeros(3))
    device(type='cpu')

    ```
    """
    from chainrule import backend

    kind = backend.device_type_of(array)
    if kind == "cpu":
        return CPU
    return device(kind, getattr(getattr(array, "device", None), "id", 0))


def module_for(wanted: device, where: str) -> Any:
    """The array module of ``wanted`` (a checked device): NumPy, or CuPy for "cuda"."""
    import numpy

    if wanted.type == "cpu":
        return numpy
    return cuda_module(where)


def no_gpu_message(where: str, wanted: device) -> str:
    """The error for data asked on a device this build cannot hold data on."""
    return (
        f"{where}: device '{wanted}' is not available: chainrule computes on the CPU with "
        "NumPy, and on an NVIDIA GPU through CuPy, which is not installed (install it with "
        'pip install "chainrule[gpu]", which takes cupy-cuda12x for CUDA 12; use cupy-cuda13x '
        "for CUDA 13). Or use device='cpu', e.g. device = chainrule.device('cuda' if "
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
    if wanted.type == "cuda":
        cuda_module(where, wanted)  # raises, saying how to install CuPy, when there is none
        if wanted.index not in (None, 0):
            raise RuntimeError(
                f"{where}: device '{wanted}': chainrule computes on one GPU per process, "
                "cuda:0 (select which with CUDA_VISIBLE_DEVICES; run one process per GPU "
                "with chainrule.distributed)"
            )
        return CUDA
    if wanted.type != "cpu":
        raise RuntimeError(
            f"{where}: device '{wanted}' is not available: chainrule computes on the CPU "
            "(NumPy) and on NVIDIA GPUs ('cuda', through CuPy); use device='cpu' or "
            "device='cuda'"
        )
    return wanted
