"""Time one implementation of one training-step configuration, alone in this process.

Two libraries in one process share the machine's cores through two BLAS thread pools, and
each distorts the other's figures; here only the implementation asked for is imported and
built (the configurations are those of train_step.py). The result is one JSON line: the
per-step time of every timed block, and their median, min and max.

    python benchmarks/solo_step.py xor chainrule
    python benchmarks/solo_step.py digits torch --blocks 21

before_after.py runs this script in alternating processes to compare two source trees.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from train_step import LABELS, configuration, time_block


def measure(config: str, impl: str, blocks: int, warmup: int = 3) -> dict:
    """Per-step seconds of ``blocks`` timed blocks of ``impl`` on ``config``."""
    steps_by_impl, steps = configuration(config, only=impl)
    step = steps_by_impl[impl]
    for _ in range(warmup):  # allocations, BLAS thread start, caches
        time_block(step, steps // 4 + 1)
    times = []
    for _ in range(blocks):
        time.sleep(0.02)
        times.append(time_block(step, steps))
    return {
        "config": config,
        "impl": impl,
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "blocks": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", choices=sorted(LABELS))
    parser.add_argument("impl", help="chainrule, chainrule_trainstep, chainrule_tensors, ...")
    parser.add_argument("--blocks", type=int, default=15, help="timed blocks (default 15)")
    args = parser.parse_args()
    print(json.dumps(measure(args.config, args.impl, args.blocks)))


if __name__ == "__main__":
    main()
