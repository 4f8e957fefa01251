"""The ``chainrule`` command line.

chainrule demo xor [--hidden 4] [--lr 2.0] [--steps 5000] [--seed 0]
chainrule --version
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import chainrule


def _number(kind: type, minimum: float, strict: bool) -> Callable[[str], Any]:
    """An argparse type: a finite ``kind`` (int or float) above (or from) ``minimum``."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            bound = f"above {minimum}" if strict else f"of at least {minimum}"
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text}")
        return value

    return parse


_positive_int = _number(int, 1, strict=False)
_positive_float = _number(float, 0.0, strict=True)
_non_negative_int = _number(int, 0, strict=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Neural networks trained by backpropagation, on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser("demo", help="train a small network and show what it learns")
    demos = demo.add_subparsers(dest="demo", metavar="NAME")
    demos.required = True
    xor = demos.add_parser("xor", help="a 2-H-1 sigmoid network learns XOR")
    xor.add_argument("--hidden", type=_positive_int, default=4, help="hidden units (default 4)")
    xor.add_argument("--lr", type=_positive_float, default=2.0, help="learning rate (default 2.0)")
    xor.add_argument("--steps", type=_positive_int, default=5000, help="steps (default 5000)")
    xor.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo" and args.demo == "xor":
        from chainrule.demos.xor import train_xor

        result = train_xor(hidden=args.hidden, lr=args.lr, steps=args.steps, seed=args.seed)
        return 0 if result.solved else 1
    return 2  # pragma: no cover - argparse rejects anything else


if __name__ == "__main__":
    sys.exit(main())
