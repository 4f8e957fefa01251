"""``chainrule.cuda``: PyTorch's ``torch.cuda`` questions, answered for a build without a GPU.

``is_available()`` is False and ``device_count()`` is 0, so that scripts choose the CPU by
themselves (``device = "cuda" if chainrule.cuda.is_available() else "cpu"``). The seeding
functions do nothing, as in a CPU-only PyTorch: scripts call them beside ``manual_seed``.
Anything that needs a GPU raises the error of :mod:`chainrule.devices`. A CuPy backend is
planned; with it these answers will change.
"""

from __future__ import annotations

from chainrule.devices import device, no_gpu_message


def is_available() -> bool:
    """Whether a CUDA GPU can be used: never, in this build."""
    return False


def device_count() -> int:
    """How many CUDA GPUs there are to use: 0 in this build."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Seed the GPU generators: nothing to seed here, so nothing happens (as in PyTorch
    without a GPU)."""


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator: nothing to seed here, so nothing happens."""


def seed_all() -> None:
    """Seed every GPU's generator at random: nothing to seed here."""


def synchronize(device: object = None) -> None:
    """Wait for the GPU's queued work: there is none, so this returns at once."""


def empty_cache() -> None:
    """Release the GPU memory cache: there is none."""


def current_device() -> int:
    """The index of the current GPU: there is none, so this raises."""
    raise RuntimeError(no_gpu_message("cuda.current_device", device("cuda")))


def get_device_name(device_index: object = None) -> str:
    """The name of a GPU: there is none, so this raises."""
    raise RuntimeError(no_gpu_message("cuda.get_device_name", device("cuda")))
