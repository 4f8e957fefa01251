"""``chainrule explain``: one backprop step of the seed articles' XOR network, equation by equation.

The network is the articles' 2-2-1 sigmoid net on the four XOR points with mean squared error.
The command runs one forward and backward pass (the weights are not updated), prints the trace
table, then for each layer the backprop equations with this step's numbers and a check of each
against autodiff. ``--html PATH`` also writes the same content as one self-contained page with
the computational graph and a chart of the per-layer gradient norms. Exit status 1 means some
equation did not match autodiff.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chainrule.cli.arguments import non_negative_int, positive_int


def html_path(text: str) -> Path:
    """An argparse type: a path ending in .html or .htm whose directory exists."""
    path = Path(text)
    if path.suffix.lower() not in (".html", ".htm"):
        raise argparse.ArgumentTypeError(f"expected a file name ending in .html, got {text!r}")
    directory = path.parent
    if not directory.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: no directory {str(directory)!r}")
    return path


def add_parser(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain",
        help="show one backprop step of the XOR network, equation by equation",
        description=(
            "Run one forward and backward pass of the seed articles' 2-H-1 sigmoid XOR network "
            "(MSE loss, weights not updated) and print, for every layer, a, z, δ and the "
            "gradients, the backprop equations with the numbers of this step, and a check of "
            "each equation against autodiff."
        ),
    )
    explain.add_argument("--hidden", type=positive_int, default=2, help="hidden units (default 2)")
    explain.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    explain.add_argument(
        "--html",
        type=html_path,
        metavar="PATH",
        help="also write the table, equations, graph and gradient chart as one HTML page",
    )


def run(args: argparse.Namespace) -> int:
    import chainrule as cr
    from chainrule import nn
    from chainrule.demos.xor import INPUTS, TARGETS
    from chainrule.inspect.explain import explain_layer, format_text
    from chainrule.inspect.trace import trace

    cr.manual_seed(args.seed)
    hidden = args.hidden
    model = nn.Sequential(nn.Linear(2, hidden), nn.Sigmoid(), nn.Linear(hidden, 1), nn.Sigmoid())
    keep_graph = args.html is not None
    step = trace(model, cr.tensor(INPUTS), cr.tensor(TARGETS), nn.MSELoss(), keep_graph)

    print(f"One backprop step of a 2-{args.hidden}-1 sigmoid network on XOR (seed {args.seed})")
    print(model)
    print()
    print(step.table())
    explanations = [explain_layer(step, record.index) for record in step.layers]
    for explanation in explanations:
        print()
        print(format_text(explanation), end="")
    checks = [c for e in explanations for c in e.checks]
    failed = sum(not c.ok for c in checks)
    print()
    if failed:
        print(f"{failed} of {len(checks)} checked equations differ from autodiff")
    else:
        print(f"all {len(checks)} checked equations match autodiff")
    if keep_graph:
        from chainrule.inspect.report import write_report

        write_report(step, args.html)
        print(f"wrote {args.html}")
    return 1 if failed else 0
