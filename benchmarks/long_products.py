"""A convolution's weight gradient, big · smallᵀ over many positions: one product against the
chunked sum of ``chainrule.ops.conv._chunked_product``.

For each output shape (C_out × C_in·kernel, or the other way round) and number of positions
(batch · height · width), both ways are timed in this process, NumPy alone (best of 5 blocks);
the last column says whether ``ops/conv.py`` takes the chunked sum for that shape.

    python benchmarks/long_products.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from timing import best_per_call

from chainrule.ops import conv

SHAPES = [(16, 9), (32, 9), (64, 9), (27, 16), (32, 27), (64, 27), (144, 32), (72, 64)]
POSITIONS = (12544, 50176)  # 64 images of 14×14 and of 28×28


def best_time(run: Callable[[], Any]) -> float:
    """Seconds per call, the best of 5 blocks of 10 calls."""
    return best_per_call(run, 10, warmup=1)


def main() -> None:
    rng = np.random.default_rng(0)
    print("| result | positions | one product | chunked | chunked / one | ops/conv.py takes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rows, columns in SHAPES:
        for positions in POSITIONS:
            big = rng.standard_normal((rows, positions)).astype(np.float32)
            small = rng.standard_normal((columns, positions)).astype(np.float32)
            one = best_time(lambda big=big, small=small: big @ small.T)
            chunked = best_time(lambda big=big, small=small: conv._chunked_product(big, small))
            taken = min(rows, columns) <= conv.CHUNKED_UP_TO and positions >= 4 * conv.CHUNK
            print(
                f"| {rows}×{columns} | {positions} | {one * 1e6:.0f} µs | {chunked * 1e6:.0f} µs "
                f"| {chunked / one:.2f} | {'chunked' if taken else 'one product'} |"
            )


if __name__ == "__main__":
    main()
