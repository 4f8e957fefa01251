"""The playground's settings: what the page may ask for, checked before anything is built.

A browser sends its settings as JSON, often as the strings its form fields hold; :func:`parse`
turns them into a :class:`Config` or raises :class:`ConfigError`, whose message names the
setting and what is wrong with it (the server answers 400 with that message, and the page
shows it beside the field). The choices offered (data sets, activations, losses, optimisers,
schedules) and the presets live here too, so the page and the server read them from one place.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

DATASETS = {
    "xor": "XOR",
    "circles": "circles",
    "spirals": "spirals",
    "moons": "moons",
    "blobs": "Gaussian blobs",
    "csv": "CSV file",
}
DATASET_NOTES = {
    "xor": "The seeds' four points (noise 0), or four noisy clusters around them.",
    "circles": "A disc (label 1) inside a ring (label 0).",
    "spirals": "Two interleaved spiral arms: hard, it needs depth.",
    "moons": "Two interleaving half circles.",
    "blobs": "Two Gaussian clouds; noise widens them.",
    "csv": "Your own points: rows of x1, x2, label (0 or 1); a header row is skipped.",
}
ACTIVATIONS = {
    "tanh": "tanh",
    "relu": "ReLU",
    "sigmoid": "sigmoid σ",
    "leaky_relu": "leaky ReLU",
    "elu": "ELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "linear": "none (linear)",
}
LOSSES = {
    "bce": "cross-entropy (BCE)",
    "mse": "mean squared error",
    "sse": "Σ squares (seeds)",
}
OPTIMIZERS = {
    "sgd": "SGD",
    "momentum": "SGD, momentum 0.9",
    "rmsprop": "RMSprop",
    "adam": "Adam",
}
SCHEDULES = {
    "constant": "constant",
    "step": "step: ×½ every 500",
    "cosine": "cosine over 2000 steps",
}
INITS = {
    "default": "PyTorch's default",
    "uniform01": "U[0, 1) (seed 000)",
    "uniform11": "2·U[0, 1) − 1 (seed 004)",
}

MAX_LAYERS = 6
MAX_WIDTH = 16
MAX_BATCH = 4096
MAX_SEED = 2**32 - 1
MAX_NOISE = 2.0


class ConfigError(ValueError):
    """A setting the playground cannot use; ``field`` names it (the form field's name)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Config:
    """One session's settings. ``layers`` are the hidden layers' widths, input to output."""

    dataset: str = "xor"
    noise: float = 0.15
    csv: str = ""
    layers: tuple[int, ...] = (4,)
    activation: str = "tanh"
    bias: bool = True
    loss: str = "bce"
    optimizer: str = "adam"
    lr: float = 0.05
    schedule: str = "constant"
    batch_size: int = 16
    l2: float = 0.0
    init: str = "default"
    constant_input: bool = False  # a third input fixed at 1, the seed 000 program's bias
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        """The settings as the page's form holds them (layers as "4,4")."""
        settings = asdict(self)
        settings["layers"] = ",".join(str(width) for width in self.layers)
        settings.pop("csv")
        return settings


PRESETS: dict[str, dict[str, Any]] = {
    "xor": {"title": "XOR, 4 tanh neurons"},
    "seed004": {
        "title": "Seed 004: 2-2-1 on XOR, no biases (fails)",
        "dataset": "xor",
        "noise": 0.0,
        "layers": (2,),
        "activation": "sigmoid",
        "bias": False,
        "loss": "sse",
        # The article takes steps of 1 on ½Σ(y − ŷ)²: steps of 0.5 on Σ(y − ŷ)².
        "lr": 0.5,
        "optimizer": "sgd",
        "batch_size": 4,
        "init": "uniform11",
        "seed": 1,
    },
    "seed004_bias": {
        "title": "Seed 004 with biases (learns)",
        "dataset": "xor",
        "noise": 0.0,
        "layers": (2,),
        "activation": "sigmoid",
        "bias": True,
        "loss": "sse",
        "lr": 0.5,
        "optimizer": "sgd",
        "batch_size": 4,
        "init": "uniform11",
        "seed": 1,
    },
    "seed000": {
        "title": "Seed 000: 3-4-1 on XOR, a constant input as bias",
        "dataset": "xor",
        "noise": 0.0,
        "layers": (4,),
        "activation": "sigmoid",
        "bias": False,
        "loss": "sse",
        "lr": 1.0,
        "optimizer": "sgd",
        "batch_size": 4,
        "init": "uniform01",
        "constant_input": True,
        "seed": 0,
    },
    "circles": {
        "title": "Circles, 4-4 tanh",
        "dataset": "circles",
        "noise": 0.1,
        "layers": (4, 4),
        "lr": 0.03,
    },
    "spirals": {
        "title": "Spirals, 8-8-8 ReLU",
        "dataset": "spirals",
        "noise": 0.1,
        "layers": (8, 8, 8),
        "activation": "relu",
        "lr": 0.01,
    },
}


def preset(name: str) -> Config:
    """The settings of a preset: the defaults with the preset's own values."""
    if name not in PRESETS:
        raise ConfigError("preset", f"unknown preset {name!r}; the presets are {_list(PRESETS)}")
    values = {k: v for k, v in PRESETS[name].items() if k != "title"}
    return Config(**values)


def parse(values: Any) -> Config:
    """Check the settings sent by the page and return them as a :class:`Config`.

    Missing settings take the defaults; numbers may come as strings. Raises ConfigError for
    the first setting that is wrong, naming it.

    ```pycon
    >>> parse({"layers": "4, 2", "lr": "0.1"}).layers
    (4, 2)
    >>> parse({"layers": "4,0"})
    Traceback (most recent call last):
    ...
    chainrule.playground.config.ConfigError: layers: layer 2 has width 0; every hidden layer ...

    ```
    """
    if not isinstance(values, dict):
        raise ConfigError("", "the settings must be a JSON object")
    known = set(Config.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting {unknown[0]!r}; known: {_list(known)}")
    base = Config()
    get = values.get
    config = Config(
        dataset=_choice(get("dataset", base.dataset), DATASETS, "dataset", "data set"),
        noise=_number(get("noise", base.noise), "noise", 0.0, MAX_NOISE),
        csv=_text(get("csv", ""), "csv"),
        layers=parse_layers(get("layers", base.layers)),
        activation=_choice(get("activation", base.activation), ACTIVATIONS, "activation"),
        bias=_flag(get("bias", base.bias), "bias"),
        loss=_choice(get("loss", base.loss), LOSSES, "loss"),
        optimizer=_choice(get("optimizer", base.optimizer), OPTIMIZERS, "optimizer"),
        lr=_learning_rate(get("lr", base.lr)),
        schedule=_choice(get("schedule", base.schedule), SCHEDULES, "schedule"),
        batch_size=_whole(get("batch_size", base.batch_size), "batch_size", 1, MAX_BATCH),
        l2=_number(get("l2", base.l2), "l2", 0.0, 10.0),
        init=_choice(get("init", base.init), INITS, "init", "initialisation"),
        constant_input=_flag(get("constant_input", base.constant_input), "constant_input"),
        seed=_whole(get("seed", base.seed), "seed", 0, MAX_SEED),
    )
    if config.dataset == "csv" and not config.csv.strip():
        raise ConfigError("csv", "data set csv: choose a CSV file first (it is empty)")
    return config


def parse_layers(value: Any) -> tuple[int, ...]:
    """Hidden layer widths from "4, 4" (or a list of whole numbers): between 1 and 6 layers
    of 1 to 16 neurons each."""
    if isinstance(value, str):
        parts = [part.strip() for part in re.split(r"[,\s]+", value.strip())]
        parts = [part for part in parts if part]
    elif isinstance(value, (list, tuple)):
        parts = list(value)
    else:
        raise ConfigError("layers", f"layers: expected widths such as 4,4, got {value!r}")
    if not parts:
        raise ConfigError(
            "layers",
            "layers: the list of hidden layers is empty; give at least one width, e.g. 4,4",
        )
    if len(parts) > MAX_LAYERS:
        raise ConfigError(
            "layers", f"layers: at most {MAX_LAYERS} hidden layers fit the page, got {len(parts)}"
        )
    widths = []
    for number, part in enumerate(parts, start=1):
        width = _as_whole(part)
        if width is None:
            raise ConfigError(
                "layers", f"layers: layer {number}'s width {part!r} is not a whole number"
            )
        if width < 1:
            raise ConfigError(
                "layers",
                f"layers: layer {number} has width {width}; every hidden layer needs at least "
                "1 neuron",
            )
        if width > MAX_WIDTH:
            raise ConfigError(
                "layers",
                f"layers: layer {number} has width {width}; at most {MAX_WIDTH} neurons a layer "
                "fit the page",
            )
        widths.append(width)
    return tuple(widths)


# ---- single values -----------------------------------------------------------------------------


def _learning_rate(value: Any) -> float:
    rate = _as_float(value)
    if rate is None or not math.isfinite(rate):
        raise ConfigError("lr", f"learning rate: expected a finite number, got {value!r}")
    if rate <= 0:
        raise ConfigError(
            "lr",
            f"learning rate: must be above 0, got {rate:g}; with a rate of 0 or less the weights "
            "never move downhill (try 0.01 to 1)",
        )
    return rate


def _choice(value: Any, choices: dict[str, str], field: str, noun: str | None = None) -> str:
    if value not in choices:
        raise ConfigError(
            field, f"unknown {noun or field} {value!r}; choose one of {_list(choices)}"
        )
    return value


def _number(value: Any, field: str, low: float, high: float) -> float:
    number = _as_float(value)
    if number is None or not math.isfinite(number) or not low <= number <= high:
        raise ConfigError(
            field, f"{field}: expected a number from {low:g} to {high:g}, got {value!r}"
        )
    return number


def _whole(value: Any, field: str, low: int, high: int) -> int:
    number = _as_whole(value)
    if number is None or not low <= number <= high:
        raise ConfigError(
            field, f"{field}: expected a whole number from {low} to {high}, got {value!r}"
        )
    return number


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ConfigError(field, f"{field}: expected true or false, got {value!r}")


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(field, f"{field}: expected text, got {type(value).__name__}")
    return value


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _as_whole(value: Any) -> int | None:
    number = _as_float(value)
    if number is None or not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _list(names: Any) -> str:
    return ", ".join(sorted(names) if isinstance(names, set) else names)
