"""The C heap under NumPy's arrays: freed memory kept for the next step instead of handed back.

glibc's malloc serves each block above an mmap threshold with a mapping of its own, unmapped
when freed, and gives the top of its heap back to the system once more than a trim threshold of
it is free. Both thresholds start at 128 KiB and rise only after a mapped block is freed. A
training step allocates and frees the same arrays every time, and an eager backward pass holds
several temporaries of each activation's size at once: at the starting thresholds those arrays
came fresh from the system every step, one page fault per 4 KiB page, and a sigmoid's forward
and backward over 128×512 float32 took 310 µs instead of 105 µs (BENCHMARKS.md).

On import chainrule sets the two thresholds to where glibc's own adjustment would take them
after a 32 MiB array is freed: blocks up to 32 MiB come from the heap, and up to 64 MiB of free
heap is kept. The process then keeps up to that much freed memory for reuse. Setting
``CHAINRULE_MALLOC_TUNING=0`` before the import leaves malloc as it was; other C libraries
(macOS, Windows, musl) are never touched.
"""

from __future__ import annotations

import os

# glibc's mallopt parameters (malloc.h) and the limits of its dynamic adjustment on 64-bit.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD

tuned = False  # whether this process's malloc was tuned by :func:`keep_freed_memory`


def _is_glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr, or not this name: not glibc
        return False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module's docstring); True if done.

    Does nothing, and returns False, where the C library is not glibc or the environment sets
    ``CHAINRULE_MALLOC_TUNING=0``.
    """
    global tuned
    if os.environ.get("CHAINRULE_MALLOC_TUNING", "1") == "0" or not _is_glibc():
        return False
    import ctypes  # NumPy has loaded it already

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    done = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and done
    tuned = tuned or done
    return done
