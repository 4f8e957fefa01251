"""``chainrule explain``: one backprop step, equation by equation.

By default the network is the seed articles' 2-2-1 sigmoid net on the four XOR points with mean
squared error. ``--model run/model.safetensors`` explains a model saved by ``chainrule train``
instead: the recipe in the file (or, for older files, ``run/model.toml`` beside it) says how
to rebuild the network, which data set it learned and its loss; the step runs on the first
``--batch`` training samples of that data set, or of ``--data NAME_OR_CSV``.

The command runs one forward and backward pass (the weights are not updated), prints the trace
table, then for each layer the backprop equations with this step's numbers and a check of each
against autodiff, then the curvature of the loss at these weights: λ_max, the largest eigenvalue
of its Hessian (:func:`chainrule.inspect.sharpness`), and 2/λ_max, the largest learning rate at
which plain gradient descent is stable. ``--html PATH`` also writes the table and equations as
one self-contained page with the computational graph and a chart of the per-layer gradient
norms. Exit status 1 means some equation did not match autodiff; 2, bad arguments or a model
that cannot be loaded (one line, from :mod:`chainrule.cli.errors`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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
            "Run one forward and backward pass (weights not updated) of the seed articles' "
            "2-H-1 sigmoid XOR network with MSE, or of a model saved by chainrule train, and "
            "print, for every layer, a, z, δ and the gradients, the backprop equations with the "
            "numbers of this step, a check of each equation against autodiff, and the "
            "curvature λ_max of the loss with the largest stable learning rate 2/λ_max."
        ),
    )
    # Combinations of options are checked in run(), with the same usage message as argparse's.
    explain.set_defaults(usage_error=explain.error)
    xor = explain.add_argument_group("the XOR network (the default)")
    xor.add_argument("--hidden", type=positive_int, help="hidden units (default 2)")
    xor.add_argument("--seed", type=non_negative_int, help="random seed (default 0)")
    saved = explain.add_argument_group("a model saved by chainrule train")
    saved.add_argument(
        "--model",
        type=Path,
        metavar="FILE.safetensors",
        help="a model file of chainrule train (its recipe describes the network)",
    )
    saved.add_argument(
        "--data",
        metavar="NAME|FILE.csv",
        help="a built-in data set or a CSV file for the step (default: the recipe's)",
    )
    saved.add_argument(
        "--batch", type=positive_int, default=8, help="training samples in the step (default 8)"
    )
    explain.add_argument(
        "--html",
        type=html_path,
        metavar="PATH",
        help="also write the table, equations, graph and gradient chart as one HTML page",
    )


def run(args: argparse.Namespace) -> int:
    from chainrule.inspect.explain import explain_layer, format_text
    from chainrule.inspect.tracer import trace

    if args.model is None:
        if args.data is not None:
            args.usage_error("--data needs --model (the XOR network has its own four points)")
        title, model, x, y, loss_fn = _xor(args)
    else:
        if args.hidden is not None or args.seed is not None:
            args.usage_error("--hidden and --seed set up the XOR network; --model brings its own")
        title, model, x, y, loss_fn = _saved_model(args)
    keep_graph = args.html is not None
    step = trace(model, x, y, loss_fn, keep_graph=keep_graph)

    print(title)
    print(model)
    print()
    print(step.table())
    explanations = [explain_layer(step, record.index) for record in step.layers]
    for explanation in explanations:
        print()
        print(format_text(explanation), end="")
    print()
    print(_curvature_text(model, x, y, loss_fn))
    checks = [c for e in explanations for c in e.checks]
    failed = sum(not c.ok for c in checks)
    print()
    if failed:
        print(f"{failed} of {len(checks)} checked equations differ from autodiff")
    else:
        print(f"all {len(checks)} checked equations match autodiff")
    if keep_graph:
        from chainrule.inspect.report import write_report

        write_report(step, args.html, title=title)
        print(f"wrote {args.html}")
    return 1 if failed else 0


def _curvature_text(model: Any, x: Any, y: Any, loss_fn: Any) -> str:
    """λ_max of the loss Hessian at the step's weights and batch, explained in words."""
    from chainrule.inspect.curvature import sharpness

    heading = "Curvature of the loss at these weights (power iteration on Hessian-vector products)"
    try:
        result = sharpness(model, (x, y), loss_fn)
    except (RuntimeError, NotImplementedError) as error:
        # A layer without second derivatives yet: say so rather than fail the explanation.
        return f"{heading}\nnot available for this model: {error}"
    return f"{heading}\n{result}"


def _xor(args: argparse.Namespace) -> tuple[str, Any, Any, Any, Any]:
    """The seed articles' 2-H-1 sigmoid network on the four XOR points, with MSE."""
    import chainrule as cr
    from chainrule import nn
    from chainrule.demos.xor import INPUTS, TARGETS

    hidden = 2 if args.hidden is None else args.hidden
    seed = 0 if args.seed is None else args.seed
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, hidden), nn.Sigmoid(), nn.Linear(hidden, 1), nn.Sigmoid())
    title = f"One backprop step of a 2-{hidden}-1 sigmoid network on XOR (seed {seed})"
    return title, model, cr.tensor(INPUTS), cr.tensor(TARGETS), nn.MSELoss()


def _saved_model(args: argparse.Namespace) -> tuple[str, Any, Any, Any, Any]:
    """The network of a ``chainrule train`` run, its weights, loss and a batch of its data."""
    import chainrule as cr
    from chainrule.cli.model_file import open_model
    from chainrule.train.inputs import tensor_columns
    from chainrule.train.recipe import build, check, load_data, task_of

    model, card = open_model(args.model)
    model.train()
    recipe = card.recipe
    if args.data is not None:
        recipe.data = args.data
    check(recipe)
    train, _test = load_data(recipe)
    task, features, outputs = task_of(train)
    if (task, features, outputs) != (card.task, card.features, card.outputs):
        raise ValueError(
            f"the model {str(args.model)!r} is a {card.task} model of {card.features} "
            f"features and {card.outputs} outputs, but {recipe.resolved_data()!r} is "
            f"{task} data of {features} features and {outputs} outputs"
        )
    _model, loss_fn, _optimizer, _scheduler = build(recipe, card.task, features, outputs)
    x, y = tensor_columns(train)[0], tensor_columns(train)[-1]
    count = min(args.batch, len(x))
    title = (
        f"One backprop step of the model {str(args.model)!r} on the first {count} training "
        f"samples of {recipe.resolved_data()!r}"
    )
    return title, model, cr.tensor(x[:count]), cr.tensor(y[:count]), loss_fn
