"""The ``chainrule`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

chainrule demo NAME              the seed programs and classic problems (--help lists them)
chainrule train [--config FILE] [--data NAME|FILE.csv] ... [--find-lr]
chainrule explain [--hidden 2] [--seed 0] [--html out.html]
chainrule explain --model run/model.safetensors [--data NAME|FILE.csv] [--batch 8]
chainrule --version
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
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
    try:
        return importlib.import_module(f"chainrule.cli.{args.command}").run(args)
    except BrokenPipeError:
        # The reader went away (`chainrule explain | head`): stop quietly, as Unix tools do,
        # and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
