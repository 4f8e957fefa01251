"""``chainrule demo NAME``: small networks that train in seconds and show what they learned."""

from __future__ import annotations

import argparse

from chainrule.cli.arguments import non_negative_int, positive_float, positive_int


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="train a small network and show what it learns")
    demos = demo.add_subparsers(dest="demo", metavar="NAME")
    demos.required = True
    xor = demos.add_parser("xor", help="a 2-H-1 sigmoid network learns XOR")
    xor.add_argument("--hidden", type=positive_int, default=4, help="hidden units (default 4)")
    xor.add_argument("--lr", type=positive_float, default=2.0, help="learning rate (default 2.0)")
    xor.add_argument("--steps", type=positive_int, default=5000, help="steps (default 5000)")
    xor.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")


def run(args: argparse.Namespace) -> int:
    if args.demo == "xor":
        from chainrule.demos.xor import train_xor

        result = train_xor(hidden=args.hidden, lr=args.lr, steps=args.steps, seed=args.seed)
        return 0 if result.solved else 1
    return 2  # pragma: no cover - argparse rejects anything else
