"""The timing loop the micro-benchmarks share: the best of a few blocks of calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_per_call(run: Callable[[], Any], calls: int, warmup: int = 5, blocks: int = 5) -> float:
    """Seconds per call of ``run``: after ``warmup`` calls, the fastest of ``blocks`` blocks of
    ``calls`` calls each (the minimum, as the machine only ever adds time)."""
    for _ in range(warmup):
        run()
    best = float("inf")
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, (time.perf_counter() - start) / calls)
    return best
