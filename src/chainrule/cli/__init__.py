"""The ``chainrule`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

chainrule demo xor [--hidden 4] [--lr 2.0] [--steps 5000] [--seed 0]
chainrule --version
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

import chainrule

# Subcommand modules under chainrule.cli, in the order --help lists them.
COMMANDS = ("demo", "train", "explain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Neural networks trained by backpropagation, on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMANDS:
        importlib.import_module(f"chainrule.cli.{name}").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return importlib.import_module(f"chainrule.cli.{args.command}").run(args)
