"""The device tests run every case on "cuda" twice: on the CPU emulator of CuPy
(chainrule.cuda_emulator), which refuses what CuPy refuses, on any machine; and on CuPy with a
real GPU, skipped with the reason shown where there is none. The emulator is on only during
these tests, so that the rest of the suite sees the machine as it is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import chainrule as cr

REAL_GPU = cr.cuda.is_available()
NO_GPU = (
    "no CUDA GPU with CuPy on this machine (pip install 'chainrule[gpu]' where there is one); "
    "the same cases ran on the CuPy emulator"
)


@pytest.fixture(autouse=True, params=["emulator", "cupy"])
def cuda_device(request: pytest.FixtureRequest) -> Iterator[str]:
    """ "cuda" in each test: the emulator, or the real GPU through CuPy."""
    if request.param == "cupy":
        if not REAL_GPU:
            pytest.skip(NO_GPU)
        yield "cupy"
        return
    cr.cuda.emulate()
    try:
        yield "emulator"
    finally:
        cr.set_default_device(None)
        cr.cuda.emulate(False)


@pytest.fixture
def on_cuda(cuda_device: str) -> Iterator[None]:
    """New tensors are made on "cuda" inside the test (as torch.set_default_device)."""
    cr.set_default_device("cuda")
    try:
        yield
    finally:
        cr.set_default_device(None)
