"""Compare the training-step time of two chainrule source trees, each run in its own process.

The trees are imported through PYTHONPATH (``--before /path/to/old/src``, ``--after src``);
runs alternate before, after, before, ... so that a drift of the shared machine falls on
both. Each run is one solo_step.py process; the ratio after/before is taken per round and
reported as min / median / max with the medians of both.

    git worktree add /tmp/base HEAD          # the tree before the change
    python benchmarks/before_after.py --before /tmp/base/src --after src xor digits
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def solo(tree: str, config: str, impl: str, blocks: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    out = subprocess.run(
        [sys.executable, str(HERE / "solo_step.py"), config, impl, "--blocks", str(blocks)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(before: str, after: str, config: str, impl: str, rounds: int, blocks: int) -> dict:
    medians: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(rounds):
        for label, tree in (("before", before), ("after", after)):
            medians[label].append(solo(tree, config, impl, blocks)["median"])
    ratios = [a / b for a, b in zip(medians["after"], medians["before"])]
    return {
        "before": statistics.median(medians["before"]),
        "after": statistics.median(medians["after"]),
        "ratio": (min(ratios), statistics.median(ratios), max(ratios)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the src folder of the old tree")
    parser.add_argument("--after", default="src", help="the src folder of the new tree")
    parser.add_argument("--impl", default="chainrule", help="implementation (solo_step.py)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--blocks", type=int, default=9, help="timed blocks per run")
    parser.add_argument("configs", nargs="*", default=["xor", "digits"])
    args = parser.parse_args()
    print(f"cpu: {_cpu_model()}; python {platform.python_version()}; impl {args.impl}")
    print("per-step median of the per-process medians; ratio after/before min / median / max")
    for config in args.configs:
        r = compare(args.before, args.after, config, args.impl, args.rounds, args.blocks)
        low, mid, high = r["ratio"]
        print(
            f"  {config:8} before {r['before'] * 1e6:9.1f} us  after {r['after'] * 1e6:9.1f} us"
            f"  ratio {low:.3f} / {mid:.3f} / {high:.3f}"
        )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
