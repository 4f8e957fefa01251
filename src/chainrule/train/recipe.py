"""A training run described by plain values: what ``chainrule train`` builds from its flags or
a TOML/YAML config file, and what it writes beside the model so the run can be rebuilt.

A recipe names a data set (built-in or a CSV file), the network (an MLP of hidden sizes and
activation, or a recurrent network that reads the features as a sequence), the loss, the
optimiser and its learning-rate schedule, and the stopping rules. Everything here is
data; :func:`build` turns it into a model, a loss, an optimiser and a scheduler.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy

BUILT_IN = ("digits", "spirals", "moons", "xor", "linear", "mnist1d")
ARCHITECTURES = ("mlp", "rnn", "lstm", "gru")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "silu", "leaky_relu", "elu")
LOSSES = ("auto", "cross_entropy", "mse", "l1", "huber", "bce")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
SCHEDULES = ("constant", "linear", "exponential", "step", "cosine", "plateau")


@dataclass
class Recipe:
    """Every choice of a training run, with the defaults of ``chainrule train``."""

    data: str = "auto"  # a built-in name, a CSV path, or "auto" (digits, else spirals)
    target: str | None = None  # the target column of a CSV file
    # mlp: Linear-activation layers; rnn, lstm, gru: the F features as F steps of one value
    # (see sequence_model.py), one recurrent layer per entry of hidden.
    architecture: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    activation: str = "relu"
    loss: str = "auto"
    optimizer: str = "adam"
    lr: float = 1e-2  # Adam at 1e-2 trains every built-in data set in 30 epochs
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    gamma: float = 0.5
    step_size: int = 10
    epochs: int = 30
    batch_size: int = 32
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    stop_at_loss: float | None = None
    max_steps: int | None = None
    patience: int | None = None

    def resolved_data(self) -> str:
        if self.data != "auto":
            return self.data
        try:
            import sklearn  # noqa: F401 - only asking whether digits can be loaded
        except ImportError:
            return "spirals"
        return "digits"

    def to_toml(self) -> str:
        """The recipe as TOML text (None values left out), loadable by :func:`load_config`."""
        lines = ["# chainrule train recipe: rebuild with `chainrule train --config THIS_FILE`"]
        for name, value in dataclasses.asdict(self).items():
            if value is None:
                continue
            if isinstance(value, str):
                lines.append(f"{name} = {_toml_string(value)}")
            elif isinstance(value, bool):
                lines.append(f"{name} = {str(value).lower()}")
            elif isinstance(value, list):
                lines.append(f"{name} = [{', '.join(str(v) for v in value)}]")
            else:
                lines.append(f"{name} = {value!r}")
        return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings of a TOML (``.toml``) or YAML (``.yaml``/``.yml``, needs PyYAML) file,
    checked against :class:`Recipe`'s fields; errors name the file and the key."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"config file {str(path)!r} is a folder, not a file")
    if not path.is_file():
        raise FileNotFoundError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"config file {str(path)!r} is not a text file (not UTF-8)") from None
    kind = "yaml" if path.suffix in (".yaml", ".yml") else "toml"
    return parse_config(text, f"config file {str(path)!r}", kind)


def parse_config(text: str, where: str, kind: str = "toml") -> dict[str, Any]:
    """The settings in ``text`` (``kind`` "toml" or "yaml"), checked against :class:`Recipe`'s
    fields; ``where`` names the source in errors (``config file 'run.toml'``)."""
    if kind == "yaml":
        from chainrule.optional import require

        yaml = require("yaml", "reading a YAML config")
        try:
            settings = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{where} is not valid YAML: {error}") from None
    else:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            from chainrule.optional import require

            tomllib = require("tomli", "reading a TOML config on Python 3.10")
        try:
            settings = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{where} is not valid TOML: {error}") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{where} must hold key = value settings")
    known = {f.name for f in dataclasses.fields(Recipe)}
    for key in settings:
        if str(key).replace("-", "_") not in known:
            raise ValueError(
                f"{where}: unknown setting {key!r}; the settings are {', '.join(sorted(known))}"
            )
    return {str(key).replace("-", "_"): value for key, value in settings.items()}


def check(recipe: Recipe) -> None:
    """ValueError naming the first setting that is out of range."""

    def fail(name: str, expected: str) -> None:
        raise ValueError(f"setting {name} = {getattr(recipe, name)!r}: expected {expected}")

    for name, choices in (
        ("architecture", ARCHITECTURES),
        ("activation", ACTIVATIONS),
        ("loss", LOSSES),
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
    ):
        if getattr(recipe, name) not in choices:
            fail(name, "one of " + ", ".join(choices))
    if not isinstance(recipe.hidden, list) or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in recipe.hidden
    ):
        fail("hidden", "a list of positive layer sizes such as [64, 64] (or [] for none)")
    if recipe.architecture != "mlp" and (not recipe.hidden or len(set(recipe.hidden)) > 1):
        # nn.RNN/LSTM/GRU stack num_layers layers of one hidden_size.
        fail(
            "hidden",
            f"the size of the {recipe.architecture} layers, such as [64], or equal sizes such "
            f"as [64, 64] for stacked layers (architecture = {recipe.architecture!r})",
        )
    for name in ("epochs", "batch_size", "step_size"):
        value = getattr(recipe, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail(name, "a positive integer")
    for name in ("max_steps", "patience"):
        value = getattr(recipe, name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            fail(name, "a non-negative integer")
    if isinstance(recipe.seed, bool) or not isinstance(recipe.seed, int) or recipe.seed < 0:
        fail("seed", "an integer >= 0")
    for name, low, high in (
        ("lr", 0.0, math.inf),
        ("momentum", 0.0, 1.0),
        ("weight_decay", 0.0, math.inf),
        ("gamma", 0.0, 1.0),
        ("val_fraction", 0.0, 0.9),
        ("test_fraction", 0.0, 0.9),
    ):
        value = getattr(recipe, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            fail(name, f"a number in [{low}, {high}]")
    if recipe.lr <= 0:
        fail("lr", "a number above 0")
    stop = recipe.stop_at_loss
    if stop is not None and (
        isinstance(stop, bool) or not isinstance(stop, (int, float)) or not 0 <= stop < math.inf
    ):
        fail("stop_at_loss", "a finite number >= 0")
    data = recipe.data
    if not isinstance(data, str) or (data not in (*BUILT_IN, "auto") and not data.endswith(".csv")):
        fail("data", "one of " + ", ".join(BUILT_IN) + ", or the path of a .csv file")
    if recipe.target is not None and not isinstance(recipe.target, str):
        fail("target", "the name of a column of the CSV file (a string)")
    if data.endswith(".csv") and not recipe.target:
        fail("target", "the name of the target column of the CSV file (--target)")


def load_data(recipe: Recipe) -> tuple[Any, Any | None]:
    """(train, test) data sets; test is None for data sets that have no split."""
    from chainrule import data as datasets

    name = recipe.resolved_data()
    if name.endswith(".csv"):
        return datasets.from_csv(
            name, recipe.target, test_fraction=recipe.test_fraction, seed=recipe.seed
        )
    if name in ("xor", "linear"):
        return getattr(datasets, name)(), None
    if name == "mnist1d":
        return datasets.mnist1d()
    return getattr(datasets, name)(test_fraction=recipe.test_fraction, seed=recipe.seed)


def task_of(train: Any) -> tuple[str, int, int]:
    """("classification" | "binary" | "regression", input features, outputs) of a data set."""
    from chainrule.train.inputs import tensor_columns

    x, y = tensor_columns(train)[0], tensor_columns(train)[-1]
    features = int(numpy.prod(x.shape[1:]))
    if y.dtype.kind in "iu":
        return "classification", features, int(y.max()) + 1
    if y.ndim == 2 and y.shape[1] == 1 and numpy.isin(y, (0.0, 1.0)).all():
        return "binary", features, 1
    return "regression", features, int(numpy.prod(y.shape[1:])) if y.ndim > 1 else 1


def build(recipe: Recipe, task: str, features: int, outputs: int) -> tuple[Any, Any, Any, Any]:
    """(model, loss_fn, optimizer, scheduler) for the recipe; seeded from ``recipe.seed``.

    The model maps (N, features) to (N, outputs): an ``nn.Sequential`` MLP, or for a recurrent
    architecture a :class:`~chainrule.train.sequence_model.SequenceModel` that reads the
    ``features`` values of each sample as that many steps."""
    from chainrule import nn, optim

    model = build_model(recipe, features, outputs)
    loss = recipe.loss
    if loss == "auto":
        loss = {"classification": "cross_entropy", "binary": "bce"}.get(task, "mse")
    loss_fn = {
        "cross_entropy": nn.CrossEntropyLoss,
        "mse": nn.MSELoss,
        "l1": nn.L1Loss,
        "huber": nn.HuberLoss,
        "bce": nn.BCEWithLogitsLoss,
    }[loss]()

    params = model.parameters()
    kind = recipe.optimizer
    if kind == "sgd":
        optimizer = optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    elif kind == "rmsprop":
        optimizer = optim.RMSprop(
            params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
        )
    else:
        cls = {"adam": optim.Adam, "adamw": optim.AdamW, "adagrad": optim.Adagrad}[kind]
        optimizer = cls(params, lr=recipe.lr, weight_decay=recipe.weight_decay)

    schedulers = optim.lr_scheduler
    scheduler = {
        "constant": lambda: None,
        "linear": lambda: schedulers.LinearLR(optimizer, 1.0, 0.01, total_iters=recipe.epochs),
        "exponential": lambda: schedulers.ExponentialLR(optimizer, gamma=recipe.gamma),
        "step": lambda: schedulers.StepLR(optimizer, recipe.step_size, gamma=recipe.gamma),
        "cosine": lambda: schedulers.CosineAnnealingLR(optimizer, T_max=recipe.epochs),
        "plateau": lambda: schedulers.ReduceLROnPlateau(optimizer, factor=recipe.gamma),
    }[recipe.schedule]()
    return model, loss_fn, optimizer, scheduler


def build_model(recipe: Recipe, features: int, outputs: int) -> Any:
    """The model of :func:`build` alone, initialised from ``recipe.seed``: what a model file's
    weights are loaded into."""
    import chainrule

    chainrule.manual_seed(recipe.seed)
    if recipe.architecture == "mlp":
        return _mlp(recipe, features, outputs)
    from chainrule.train.sequence_model import SequenceModel

    return SequenceModel(
        recipe.architecture, recipe.hidden[0], outputs, num_layers=len(recipe.hidden)
    )


def _mlp(recipe: Recipe, features: int, outputs: int) -> Any:
    """Linear(features, h₁), activation, ..., Linear(h_last, outputs) as an nn.Sequential."""
    from chainrule import nn

    activation = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU,
    }[recipe.activation]
    layers: list[Any] = []
    width = features
    for size in recipe.hidden:
        layers += [nn.Linear(width, size), activation()]
        width = size
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)
