"""The ``chainrule`` command line: one module per subcommand, each with ``add_parser`` and ``run``.

chainrule demo NAME              the seed programs and classic problems (--help lists them)
chainrule train [--config FILE] [--data NAME|FILE.csv] ... [--save FILE] [--resume CHECKPOINT]
chainrule predict model.safetensors data.csv [--out predictions.csv]
chainrule export model.safetensors --onnx model.onnx
chainrule summary model.safetensors
chainrule explain [--hidden 2] [--seed 0] [--html out.html]
chainrule explain --model run/model.safetensors [--data NAME|FILE.csv] [--batch 8]
chainrule docs [--port 8000] [--build-only] [--out DIR]
chainrule playground [--port 8765] [--no-browser]
chainrule --version

Every subcommand takes ``--debug`` (before or after its name). A mistake in what it is given
ends in one line on stderr and a non-zero status (see :mod:`chainrule.cli.errors`); with
``--debug``, in the error's traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import chainrule
from chainrule.cli.errors import run_reporting

# Subcommand modules under chainrule.cli, in the order --help lists them.
COMMANDS = ("demo", "train", "predict", "export", "summary", "explain", "docs", "playground")

DEBUG_HELP = "show the traceback of an error instead of a one-line message"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Neural networks trained by backpropagation, on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name in COMMANDS:
        importlib.import_module(f"chainrule.cli.{name}").add_parser(commands)
    for subparser in _subparsers(parser):
        # SUPPRESS: a subcommand without the flag must not undo `chainrule --debug COMMAND`.
        subparser.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
        )
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below ``parser``: the subcommands' and theirs (``demo xor``)."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += [child, *_subparsers(child)]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"chainrule.cli.{args.command}")
    try:
        return run_reporting(args.command, lambda: module.run(args), args.debug)
    except BrokenPipeError:
        # The reader went away (`chainrule explain | head`): stop quietly, as Unix tools do,
        # and keep Python from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
