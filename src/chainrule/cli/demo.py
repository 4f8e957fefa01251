"""``chainrule demo NAME``: the seed articles' programs and classic problems, each in seconds."""

from __future__ import annotations

import argparse
import importlib

from chainrule.cli.arguments import non_negative_int, positive_float, positive_int
from chainrule.demos import SEEDS


def add_parser(commands: argparse._SubParsersAction) -> None:
    from chainrule.demos.classic import CLASSICS

    demo = commands.add_parser(
        "demo",
        help="run a seed article's program or a classic problem",
        description="Small complete programs: the seed articles' networks and classic problems.",
    )
    demos = demo.add_subparsers(dest="demo", metavar="NAME")
    demos.required = True
    xor = demos.add_parser("xor", help="a 2-H-1 sigmoid network learns XOR")
    xor.add_argument("--hidden", type=positive_int, default=4, help="hidden units (default 4)")
    xor.add_argument("--lr", type=positive_float, default=2.0, help="learning rate (default 2.0)")
    xor.add_argument("--steps", type=positive_int, default=5000, help="steps (default 5000)")
    xor.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    for name, (_, summary) in SEEDS.items():
        demos.add_parser(name, help=summary, description=summary)
    for name, setup in CLASSICS.items():
        classic = demos.add_parser(name, help=setup.description, description=setup.description)
        classic.add_argument("--epochs", type=positive_int, help=f"default {setup.epochs}")
        classic.add_argument("--seed", type=non_negative_int, default=0, help="default 0")
        classic.add_argument(
            "--plot",
            metavar="FILE.png",
            help="write the decision regions (2-D problems) or the confusion matrix",
        )
        classic.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.demo == "xor":
        from chainrule.demos.xor import train_xor

        result = train_xor(hidden=args.hidden, lr=args.lr, steps=args.steps, seed=args.seed)
        return 0 if result.solved else 1
    if args.demo in SEEDS:
        module = importlib.import_module(f"chainrule.demos.{SEEDS[args.demo][0]}")
        module.main()
        return 0
    from chainrule.cli.paths import output_file
    from chainrule.demos.classic import run_classic

    if args.plot is not None:
        output_file(args.plot, "plot (--plot)")
    # A missing optional package (scikit-learn for digits) ends in one line, status 2: main().
    run_classic(args.demo, args.epochs, args.seed, args.plot, not args.no_progress)
    return 0
