"""``chainrule.cuda``: PyTorch's ``torch.cuda`` questions, answered through CuPy.

With CuPy installed (``pip install "chainrule[gpu]"``) and a GPU visible, ``is_available()``
is True and tensors and modules move there with ``.to("cuda")``. Without, it is False, so that
scripts choose the CPU by themselves (``device = "cuda" if chainrule.cuda.is_available() else
"cpu"``). chainrule computes on one GPU per process (``cuda:0``); several GPUs are used by
several processes (:mod:`chainrule.distributed`), each shown its own GPU.

:func:`emulate` makes "cuda" run on the CPU emulator of CuPy (:mod:`chainrule.cuda_emulator`),
which follows CuPy's rules: a test of device code without a GPU.

The seeding functions do nothing: chainrule draws random numbers on the CPU, from the
generators that ``manual_seed`` seeds, and copies them to the GPU, so that a seed gives the same
numbers on either device.
"""

from __future__ import annotations

from typing import Any

from chainrule import devices


def emulate(enabled: bool = True) -> None:
    """Run the "cuda" device on the CPU emulator of CuPy, for this process: device code is
    then tested without a GPU (NumPy arrays mixed with device arrays, ``numpy.asarray`` on
    device data and names CuPy lacks raise, as on a GPU). ``emulate(False)`` turns it off
    again: "cuda" is CuPy's GPU again, if there is one.

    ```pycon
    >>> import chainrule as cr
    >>> cr.cuda.emulate()
    >>> cr.ones(2, device="cuda").device
    device(type='cuda', index=0)
    >>> cr.cuda.emulate(False)

    ```
    """
    from chainrule import cuda_emulator

    if enabled:
        if not devices._Cuda.emulated:
            devices._Cuda.real = devices._Cuda.module
        devices.use_cuda_module(cuda_emulator, emulated=True)
    elif devices._Cuda.emulated:
        devices._Cuda.module, devices._Cuda.emulated = devices._Cuda.real, False


def is_emulated() -> bool:
    """Whether "cuda" runs on the CPU emulator (:func:`emulate`)."""
    return devices._Cuda.emulated


def is_available() -> bool:
    """Whether a CUDA GPU can be used: CuPy is installed and sees one (or is emulated).

    ```pycon
    >>> import chainrule as cr
    >>> device = cr.device("cuda" if cr.cuda.is_available() else "cpu")
    >>> cr.zeros(2, device=device).device == device
    True

    ```
    """
    try:
        devices.cuda_module("cuda.is_available")
    except RuntimeError:
        return False
    return True


def device_count() -> int:
    """How many GPUs this process computes on: 1 when one is available, else 0."""
    return 1 if is_available() else 0


def is_initialized() -> bool:
    """Whether the GPU backend has been set up in this process."""
    return devices._Cuda.module is not None


def manual_seed(seed: int) -> None:
    """Seed the GPU generators: chainrule draws on the CPU (see the module's docstring), so
    ``chainrule.manual_seed`` already covers the GPU and this does nothing."""


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator: nothing to do (see :func:`manual_seed`)."""


def seed_all() -> None:
    """Seed every GPU's generator at random: nothing to do (see :func:`manual_seed`)."""


def synchronize(device: object = None) -> None:
    """Wait until the GPU has finished its queued work (before reading a clock, for one)."""
    if devices._Cuda.module is not None:
        devices._Cuda.module.cuda.Device(0).synchronize()


def empty_cache() -> None:
    """Release the blocks that CuPy's memory pool keeps for reuse."""
    module = devices._Cuda.module
    if module is not None and not devices._Cuda.emulated:
        module.get_default_memory_pool().free_all_blocks()


def memory_allocated(device: Any = None) -> int:
    """Bytes of GPU memory held by arrays now (CuPy's pool), 0 without a GPU."""
    module = devices._Cuda.module
    if module is None or devices._Cuda.emulated:
        return 0
    return int(module.get_default_memory_pool().used_bytes())


def current_device() -> int:
    """The index of the GPU this process computes on: 0."""
    devices.cuda_module("cuda.current_device")
    return 0


def get_device_name(device_index: object = None) -> str:
    """The GPU's name, as the driver reports it."""
    module = devices.cuda_module("cuda.get_device_name")
    name = module.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)
