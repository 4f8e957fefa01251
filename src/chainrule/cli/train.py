"""``chainrule train``: train an MLP (or a recurrent network over the features read as a
sequence) on a built-in data set or a CSV file, chosen by flags or a TOML/YAML config; show
progress, print the final metrics, save the model and the loss plot.

With no arguments it trains on scikit-learn's digits (spirals without scikit-learn) in seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from chainrule.cli.arguments import non_negative_int, number, positive_float, positive_int
from chainrule.cli.paths import input_file, output_file, output_folder
from chainrule.train.recipe import (
    ACTIVATIONS,
    ARCHITECTURES,
    BUILT_IN,
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    Recipe,
    check,
    load_config,
)

_fraction = number(float, 0.0, strict=False)

CHECKPOINT = "checkpoint.safetensors"  # in the output folder, rewritten after every epoch


def _sizes(text: str) -> list[int]:
    """'64,32' -> [64, 32]; '' or 'none' -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected layer sizes such as 64,32, got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train a network on a built-in data set or a CSV file",
        description=(
            "Train an MLP (Linear-activation-...-Linear), or with --architecture rnn, lstm or gru "
            "a recurrent network that reads each sample's features as a sequence, with "
            "chainrule.train.fit. Settings come from the defaults, then --config FILE, then the "
            "flags given here."
        ),
        argument_default=argparse.SUPPRESS,  # absent flags must not override the config file
    )
    add = train.add_argument
    add("--config", metavar="FILE", help="TOML (or YAML, with PyYAML) file of settings")
    add(
        "--data",
        metavar="NAME|FILE.csv",
        help=f"{', '.join(BUILT_IN)}, or a CSV file (default: digits, or spirals without "
        "scikit-learn)",
    )
    add("--target", metavar="COLUMN", help="the target column of a CSV file")
    add(
        "--architecture",
        choices=ARCHITECTURES,
        help="mlp: Linear and activation layers (the default); rnn, lstm, gru: the F features "
        "of a sample as F time steps of one value (e.g. --data mnist1d), one recurrent layer "
        "per --hidden size (equal sizes), and a Linear layer on the last step's hidden state",
    )
    add("--hidden", type=_sizes, metavar="N,N,...", help="hidden layer sizes (default 64,64)")
    add("--activation", choices=ACTIVATIONS, help="hidden activation of an mlp (default relu)")
    add("--loss", choices=LOSSES, help="loss (default auto: by the kind of target)")
    add("--optimizer", choices=OPTIMIZERS, help="optimiser (default adam)")
    add("--lr", type=positive_float, help="learning rate (default 0.01)")
    add("--momentum", type=_fraction, help="momentum for sgd/rmsprop (default 0.9)")
    add("--weight-decay", dest="weight_decay", type=_fraction, help="L2 penalty (default 0)")
    add("--schedule", choices=SCHEDULES, help="learning-rate schedule per epoch (default constant)")
    add("--gamma", type=positive_float, help="decay factor of exponential/step/plateau (0.5)")
    add("--step-size", dest="step_size", type=positive_int, help="epochs per step decay (10)")
    add("--epochs", type=positive_int, help="epoch budget (default 30)")
    add("--batch-size", dest="batch_size", type=positive_int, help="batch size (default 32)")
    add("--seed", type=non_negative_int, help="random seed (default 0)")
    add(
        "--val-fraction",
        dest="val_fraction",
        type=_fraction,
        help="share of the training data held out for validation (default 0.1)",
    )
    add(
        "--test-fraction",
        dest="test_fraction",
        type=_fraction,
        help="share of the data kept for the final test (default 0.2)",
    )
    add(
        "--stop-at-loss",
        dest="stop_at_loss",
        type=_fraction,
        help="stop once an epoch's training loss is at or below this",
    )
    add("--max-steps", dest="max_steps", type=positive_int, help="stop after this many steps")
    add(
        "--patience",
        type=non_negative_int,
        help="early stopping: epochs without a better validation loss",
    )
    add(
        "--out",
        metavar="DIR",
        help="folder for the model, plot, log and recipe (default chainrule-run)",
    )
    add(
        "--save",
        metavar="FILE",
        help="model file (default DIR/model.safetensors): the weights, with the recipe and "
        "what chainrule predict, export and summary need in its metadata; checked before "
        "training starts",
    )
    add(
        "--resume",
        metavar="CHECKPOINT",
        help="continue the run whose checkpoint (DIR/checkpoint.safetensors, rewritten after "
        "every epoch) this is, with the same settings; --epochs counts all epochs, so the "
        "result equals one uninterrupted run",
    )
    add(
        "--device",
        choices=("cpu", "cuda"),
        help="where to train: cpu (NumPy, the default) or cuda (an NVIDIA GPU through CuPy: "
        'pip install "chainrule[gpu]"); the model file is written from the CPU either way',
    )
    add("--plot", metavar="FILE", help="loss plot (default DIR/loss.png)")
    add(
        "--monitor",
        metavar="FILE.png",
        help="watch every layer's gradients (GradientMonitor): warn on vanishing or exploding "
        "gradients and dead units, and plot the gradient norms to FILE.png",
    )
    add(
        "--find-lr",
        dest="find_lr",
        action="store_true",
        help="run the learning-rate range test, plot it, print a suggestion, and stop",
    )
    add("--no-progress", dest="no_progress", action="store_true", help="no progress bar")


def _recipe(args: argparse.Namespace) -> Recipe:
    settings: dict[str, Any] = {}
    if "config" in args:
        settings.update(load_config(args.config))
    fields = {f.name for f in dataclasses.fields(Recipe)}
    settings.update({k: v for k, v in vars(args).items() if k in fields})
    recipe = Recipe(**settings)
    if isinstance(recipe.hidden, int):
        recipe.hidden = [recipe.hidden]
    check(recipe)
    return recipe


def _table(rows: dict[str, dict[str, float]]) -> str:
    names = list(dict.fromkeys(name for figures in rows.values() for name in figures))
    width = max(10, *(len(n) + 2 for n in names))
    lines = ["".ljust(8) + "".join(name.rjust(width) for name in names)]
    for label, figures in rows.items():
        cells = "".join(
            (f"{figures[name]:.4f}" if name in figures else "-").rjust(width) for name in names
        )
        lines.append(label.ljust(8) + cells)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from chainrule.cli.model_file import card_for, save_model
    from chainrule.data import random_split
    from chainrule.train import CSVLogger, EarlyStopping, evaluate, fit, lr_find
    from chainrule.train.recipe import build, load_data, task_of

    recipe = _recipe(args)
    recipe.data = recipe.resolved_data()  # the saved recipe must name what was used
    out = output_folder(getattr(args, "out", "chainrule-run"), "output folder (--out)")
    find_lr = getattr(args, "find_lr", False)
    if not find_lr:  # every file a run writes is checked before it trains, not after
        model_path = output_file(getattr(args, "save", out / "model.safetensors"), "model file")
        output_file(model_path.with_suffix(".toml"), "recipe file")
        plot_path = output_file(getattr(args, "plot", out / "loss.png"), "loss plot (--plot)")
        if "monitor" in args:
            output_file(args.monitor, "gradient plot (--monitor)")
    resume = input_file(args.resume, "checkpoint (--resume)") if "resume" in args else None
    if recipe.data.endswith(".csv"):
        input_file(recipe.data, "data file")
    train, test = load_data(recipe)
    task, features, outputs = task_of(train)
    model, loss_fn, optimizer, scheduler = build(recipe, task, features, outputs)
    metrics = {"classification": ["accuracy", "f1"], "binary": ["accuracy"]}.get(
        task, ["mae", "r2"]
    )
    print(
        f"chainrule train: {recipe.resolved_data()} ({len(train)} training samples, "
        f"{features} features, {task}{f', {outputs} classes' if task == 'classification' else ''})"
    )
    print(f"model: {model!r}".replace("\n", "\n       "))
    print(f"loss: {type(loss_fn).__name__}, optimiser: {type(optimizer).__name__} lr={recipe.lr}")

    device = getattr(args, "device", None)
    if find_lr:
        result = lr_find(
            model,
            loss_fn,
            optimizer,
            train,
            batch_size=recipe.batch_size,
            seed=recipe.seed,
            device=device,
        )
        plot = out / "lr_find.png"
        _try_plot(lambda: result.plot(plot), plot)
        if result.suggestion is None:
            print("lr_find: no clear descent in the loss; try a wider range or more data")
            return 1
        print(f"lr_find: {result.reason}; suggested learning rate {result.suggestion:.3g}")
        print(f"train with it: chainrule train ... --lr {result.suggestion:.3g}")
        return 0

    if resume is not None:
        _check_checkpoint(resume, model)
    val = None
    if recipe.val_fraction > 0 and len(train) >= 10:
        held = max(1, round(len(train) * recipe.val_fraction))
        train, val = random_split(train, [len(train) - held, held], seed=recipe.seed)
    callbacks: list[Any] = [CSVLogger(out / "history.csv")]  # a resumed run keeps its rows
    gradient_monitor = None
    if "monitor" in args:
        from chainrule.inspect import GradientMonitor

        gradient_monitor = GradientMonitor(model)
        callbacks.append(gradient_monitor)
    if recipe.patience is not None:
        monitor = "val_loss" if val is not None else "loss"
        callbacks.append(EarlyStopping(monitor, patience=recipe.patience, restore_best=True))
    checkpoint = out / CHECKPOINT
    earlier = _identity(checkpoint)  # a checkpoint left by an earlier run is not this run's
    try:
        history = fit(
            model,
            loss_fn,
            optimizer,
            train,
            epochs=recipe.epochs,
            val_data=val,
            batch_size=recipe.batch_size,
            scheduler=scheduler,
            callbacks=callbacks,
            metrics=metrics,
            stop_at_loss=recipe.stop_at_loss,
            max_steps=recipe.max_steps,
            progress=not getattr(args, "no_progress", False),
            seed=recipe.seed,
            checkpoint=checkpoint,
            resume_from=resume,
            device=device,
        )
    except KeyboardInterrupt:
        message = "interrupted"
        if _identity(checkpoint) not in (None, earlier):
            message += (
                f"; the last checkpoint is {str(checkpoint)!r}: continue with the same "
                f"settings and --resume {checkpoint}"
            )
        raise KeyboardInterrupt(message) from None
    print(f"stopped: {history.stop_reason} ({history.steps} steps)")
    model.to("cpu")  # the figures below, and a model file that loads on any machine
    rows = {"train": evaluate(model, train, metrics, loss_fn=loss_fn)}
    if val is not None:
        rows["val"] = evaluate(model, val, metrics, loss_fn=loss_fn)
    if test is not None:
        rows["test"] = evaluate(model, test, metrics, loss_fn=loss_fn)
    print(_table(rows))

    from chainrule.files import write_text_atomic

    save_model(model, card_for(recipe, task, features, outputs), model_path)
    recipe_path = model_path.with_suffix(".toml")
    write_text_atomic(recipe_path, recipe.to_toml())
    print(f"saved the model to {model_path} (recipe: {recipe_path})")
    _try_plot(lambda: history.plot(plot_path), plot_path)
    if gradient_monitor is not None:
        print(gradient_monitor.summary())
        _try_plot(lambda: gradient_monitor.plot(args.monitor), Path(args.monitor))
    print(f"per-epoch log: {out / 'history.csv'}; checkpoint: {checkpoint}")
    return 0


def _identity(path: Path) -> tuple[int, int] | None:
    """(inode, modification time) of a file, None if there is none: each atomic rewrite of
    the checkpoint makes a new file, so a change means this run wrote it."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns


def _check_checkpoint(path: Path, model: Any) -> None:
    """A ValueError unless the checkpoint's model has this model's tensor names and shapes:
    --resume needs the settings of the run that wrote it."""
    from chainrule.train import load_checkpoint

    saved = load_checkpoint(path, map_location="cpu")["model"]
    own = model.state_dict()
    problem = None
    missing = [name for name in own if name not in saved]
    unexpected = [name for name in saved if name not in own]
    if missing or unexpected:
        problem = f"it lacks {missing}" if missing else f"it has the extra tensors {unexpected}"
    else:
        for name, tensor in own.items():
            if tuple(saved[name].shape) != tuple(tensor.shape):
                problem = (
                    f"its {name} has shape {tuple(saved[name].shape)}, this model's "
                    f"{tuple(tensor.shape)}"
                )
                break
    if problem is not None:
        raise ValueError(
            f"the checkpoint {str(path)!r} does not fit the model of these settings: {problem}; "
            "resume with the settings (flags or --config) of the run that wrote it"
        )


def _try_plot(draw: Any, path: Path) -> None:
    try:
        draw()
    except ImportError as error:
        print(f"no plot: {error}", file=sys.stderr)
    else:
        print(f"wrote the plot {path}")
