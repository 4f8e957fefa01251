"""``chainrule playground``: train a small network in the browser and watch every δ.

Starts the playground's web server (:mod:`chainrule.playground.server`) on 127.0.0.1 and opens
its page in the default browser. It needs Flask, which the ``[playground]`` extra installs.
"""

from __future__ import annotations

import argparse
import contextlib

PORT = 8765
EXTRA_HINT = 'pip install "chainrule[playground]"'


def add_parser(commands: argparse._SubParsersAction) -> None:
    playground = commands.add_parser(
        "playground",
        help="train a small network on 2-D data in the browser, the backward pass on show",
        description=(
            "Serve the playground on http://127.0.0.1:PORT/ and open it in the browser: choose "
            "data, layers, activation, loss, optimiser and learning rate, press Play, and watch "
            "the loss, the decision boundary, each neuron, and every δ and ∂C/∂W of the backward "
            f"pass, computed by chainrule. Needs Flask: {EXTRA_HINT}."
        ),
    )
    playground.add_argument(
        "--port",
        type=port_number,
        default=PORT,
        help=f"the port to serve on; 0 picks a free one (default {PORT})",
    )
    playground.add_argument(
        "--no-browser", action="store_true", help="print the address without opening a browser"
    )


def port_number(text: str) -> int:
    """An argparse type: a TCP port, a whole number from 0 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 0 to 65535, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        import flask  # noqa: F401 - only to say which extra is missing
    except ImportError:
        raise ImportError(
            "the playground needs the optional package 'flask', which is not installed: "
            + EXTRA_HINT
        ) from None
    from chainrule.playground.server import serve

    # serve returns on Ctrl-C; one that lands outside its loop stops the playground just as well.
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, open_browser=not args.no_browser)
    print("the playground stopped")
    return 0
