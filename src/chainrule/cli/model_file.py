"""The model file of ``chainrule train``: weights that say which network they belong to.

The file is a safetensors file of the model's ``state_dict()``. Its metadata (strings) hold
what rebuilds the network and reads new data for it, so ``chainrule predict``, ``export``,
``summary`` and ``explain`` need no other file:

- ``chainrule.recipe``: the recipe as TOML, the same text as the ``.toml`` file beside it;
- ``chainrule.task``: "classification", "binary" or "regression";
- ``chainrule.features``, ``chainrule.outputs``: the model's input and output sizes;
- ``chainrule.feature_names``: a JSON list of the CSV columns the model reads, in order
  (absent for a built-in data set, whose columns have no names);
- ``chainrule.target``: the CSV column the model predicts (absent for a built-in data set);
- ``chainrule.version``: the chainrule that wrote the file.

Files written before the metadata existed are read through the recipe ``.toml`` beside them.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from chainrule.cli.paths import input_file
from chainrule.train.recipe import Recipe, build_model, check, parse_config

PREFIX = "chainrule."
TASKS = ("classification", "binary", "regression")


@dataclass
class ModelCard:
    """What a model file says about its network and the data it reads."""

    recipe: Recipe
    task: str
    features: int
    outputs: int
    feature_names: list[str] | None = None
    target: str | None = None

    def metadata(self) -> dict[str, str]:
        """The card as safetensors metadata (str -> str)."""
        import chainrule

        entries = {
            "recipe": self.recipe.to_toml(),
            "task": self.task,
            "features": str(self.features),
            "outputs": str(self.outputs),
            "version": chainrule.__version__,
        }
        if self.feature_names is not None:
            entries["feature_names"] = json.dumps(self.feature_names)
        if self.target is not None:
            entries["target"] = self.target
        return {PREFIX + key: value for key, value in entries.items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], name: str) -> ModelCard | None:
        """The card in a file's metadata, None if it has no recipe; ``name`` is the file's,
        for errors about malformed entries."""
        if PREFIX + "recipe" not in metadata:
            return None

        def entry(key: str) -> str:
            value = metadata.get(PREFIX + key)
            if value is None:
                raise ValueError(f"model file {name!r}: the metadata has no {PREFIX + key!r}")
            return value

        def fail(key: str, expected: str) -> NoReturn:
            raise ValueError(
                f"model file {name!r}: the metadata entry {PREFIX + key!r} = "
                f"{entry(key)[:60]!r} is malformed: expected {expected}"
            )

        recipe = _recipe(entry("recipe"), f"the recipe in model file {name!r}")
        task = entry("task")
        if task not in TASKS:
            fail("task", "one of " + ", ".join(TASKS))
        sizes = []
        for key in ("features", "outputs"):
            if not entry(key).isdigit() or int(entry(key)) < 1:
                fail(key, "a positive whole number")
            sizes.append(int(entry(key)))
        names = None
        if PREFIX + "feature_names" in metadata:
            try:
                names = json.loads(entry("feature_names"))
            except ValueError:
                names = None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                fail("feature_names", "a JSON list of column names")
            if len(names) != sizes[0]:
                fail("feature_names", f"{sizes[0]} names, one per feature")
        return cls(recipe, task, sizes[0], sizes[1], names, metadata.get(PREFIX + "target"))


def _recipe(text: str, where: str) -> Recipe:
    recipe = Recipe(**parse_config(text, where))
    check(recipe)
    return recipe


def card_for(recipe: Recipe, task: str, features: int, outputs: int) -> ModelCard:
    """The card of a model that ``chainrule train`` built for ``recipe``'s data."""
    names, target = None, None
    data = recipe.resolved_data()
    if data.endswith(".csv"):
        target = recipe.target
        names = [name for name in csv_header(Path(data)) if name != target]
    return ModelCard(recipe, task, features, outputs, names, target)


def csv_header(path: Path) -> list[str]:
    """The column names in the first row of a CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        return [name.strip() for name in next(csv.reader(file), [])]


def save_model(model: Any, card: ModelCard, path: str | os.PathLike[str]) -> None:
    """Write ``model``'s weights and ``card`` to ``path`` (atomically)."""
    from chainrule.io import save

    save(model.state_dict(), path, metadata=card.metadata())


def read_card(path: Path) -> ModelCard | None:
    """The card of a model file: from its metadata, else from the recipe ``.toml`` beside it
    (files written before the metadata), else None."""
    from chainrule.io import load_metadata

    card = ModelCard.from_metadata(load_metadata(path), str(path))
    if card is not None:
        return card
    sidecar = path.with_suffix(".toml")
    if path.suffix == ".toml" or not sidecar.is_file():
        return None
    return _card_from_sidecar(sidecar)


def _card_from_sidecar(sidecar: Path) -> ModelCard:
    """An older file's card: its recipe's data set tells the task and the sizes."""
    from chainrule.train.recipe import load_config, load_data, task_of

    recipe = Recipe(**load_config(sidecar))
    check(recipe)
    train, _ = load_data(recipe)
    return card_for(recipe, *task_of(train))


def open_model(path: str | os.PathLike[str]) -> tuple[Any, ModelCard]:
    """The model of a ``chainrule train`` model file, with its weights, and its card."""
    from chainrule.io import load

    path = input_file(path, "model file")
    card = read_card(path)
    if card is None and _is_checkpoint(load(path)):
        raise ValueError(
            f"{str(path)!r} is a training checkpoint, for chainrule train --resume; give the "
            "model file that the run saved (--save, by default model.safetensors beside it)"
        )
    if card is None:
        raise ValueError(
            f"{str(path)!r} was not written by chainrule train: it holds no recipe (no "
            f"{PREFIX}recipe metadata, and no {str(path.with_suffix('.toml'))!r} beside it), "
            "so the network its tensors belong to is unknown"
        )
    model = build_model(card.recipe, card.features, card.outputs)
    state = load(path)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"the tensors in {str(path)!r} do not fit the network its recipe describes "
            f"({card.features} features, {card.outputs} outputs): {error}"
        ) from None
    model.eval()
    return model, card


def _is_checkpoint(saved: Any) -> bool:
    return isinstance(saved, dict) and {"model", "optimizer", "epoch"} <= set(saved)
