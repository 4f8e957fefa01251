"""chainrule.heap: glibc's malloc keeps freed blocks of up to 32 MiB in the heap after import."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from chainrule import heap

# Asks glibc for blocks of these sizes after ``import chainrule`` and prints, for each, whether
# glibc served it with a mapping of its own: bit 1 (IS_MMAPPED) of the chunk's size word, which
# sits just before the block.
_PROBE = """
import ctypes, sys
import chainrule
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
word = ctypes.sizeof(ctypes.c_size_t)
for size in map(int, sys.argv[1:]):
    block = libc.malloc(size)
    print(bool(ctypes.c_size_t.from_address(block - word).value & 2))
    libc.free(block)
"""

_SIZES = (16 << 20, 48 << 20)  # below and above the 32 MiB threshold


def _mapped(tuning: str) -> list[bool]:
    env = {**os.environ, "CHAINRULE_MALLOC_TUNING": tuning}
    sizes = [str(s) for s in _SIZES]
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *sizes], env=env, capture_output=True, text=True, check=True
    )
    return [line == "True" for line in out.stdout.split()]


def test_blocks_up_to_32_mib_come_from_the_heap_after_import() -> None:
    if not heap._is_glibc():  # other C libraries are left alone
        assert heap.keep_freed_memory() is False
        return
    assert _mapped("1") == [False, True]
    # Without the tuning, glibc maps the 16 MiB block: the probe sees the difference.
    assert _mapped("0") == [True, True]


def test_the_import_tuned_this_process() -> None:
    assert heap.tuned is heap._is_glibc() and heap.tuned is (
        os.environ.get("CHAINRULE_MALLOC_TUNING", "1") != "0"
    )


def test_opting_out_and_other_c_libraries_leave_malloc_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAINRULE_MALLOC_TUNING", "0")
    assert heap.keep_freed_memory() is False
    monkeypatch.delenv("CHAINRULE_MALLOC_TUNING")

    def musl(name: str) -> str:
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(heap.os, "confstr", musl)
    assert heap._is_glibc() is False
    assert heap.keep_freed_memory() is False
