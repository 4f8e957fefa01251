"""The device tests run every case on "cuda": CuPy on a GPU when one is there, else the CPU
emulator of CuPy (chainrule.cuda_emulator), which refuses what CuPy refuses. The emulator is
on only during these tests, so that the rest of the suite sees a machine without CuPy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import chainrule as cr

REAL_GPU = cr.cuda.is_available()


@pytest.fixture(autouse=True)
def cuda_device() -> Iterator[None]:
    """ "cuda" is available in each test: the real GPU, or the emulator."""
    if REAL_GPU:
        yield
        return
    cr.cuda.emulate()
    try:
        yield
    finally:
        cr.set_default_device(None)
        cr.cuda.emulate(False)


@pytest.fixture
def on_cuda(cuda_device: None) -> Iterator[None]:
    """New tensors are made on "cuda" inside the test (as torch.set_default_device)."""
    cr.set_default_device("cuda")
    try:
        yield
    finally:
        cr.set_default_device(None)
