"""``chainrule summary MODEL``: what a model file holds, without running anything on data.

For a file of ``chainrule train``: the recipe that trained it, the data it reads, the layer
table of :func:`chainrule.summary` (output shapes and parameter counts for a batch of one),
then every tensor's name, shape and dtype. Any other safetensors file (a checkpoint, weights
from PyTorch) gets the tensor list alone, with a note that it holds no recipe.
"""

from __future__ import annotations

import argparse
from typing import Any

from chainrule.cli.paths import input_file


def add_parser(commands: argparse._SubParsersAction) -> None:
    summary = commands.add_parser(
        "summary",
        help="show the recipe, layers and tensors of a model file",
        description=(
            "Print the recipe, the data columns, the layer table with parameter counts, and "
            "the tensors (name, shape, dtype) of a model file written by chainrule train; for "
            "any other safetensors file, its tensors."
        ),
    )
    summary.add_argument("model", metavar="MODEL.safetensors", help="the model file")


def run(args: argparse.Namespace) -> int:
    from chainrule.cli.model_file import open_model, read_card
    from chainrule.io import load

    path = input_file(args.model, "model file")
    card = read_card(path)
    if card is None:
        print(f"{path}: not written by chainrule train (no recipe); the tensors it holds:")
    else:
        import chainrule

        model, card = open_model(path)
        print(f"{path}: a model of chainrule train")
        print()
        print(card.recipe.to_toml().rstrip())
        print()
        reads = (
            f"the columns {card.feature_names}"
            if card.feature_names is not None
            else f"{card.features} features"
        )
        target = f" (target column {card.target!r})" if card.target else ""
        outputs = f"{card.outputs} output{'s' if card.outputs > 1 else ''}"
        print(f"task: {card.task}{target}; reads {reads}; {outputs}")
        print(chainrule.summary(model, input_size=(1, card.features), verbose=0))
    print(tensor_table(_flatten(load(path))))
    return 0


def _flatten(value: Any, name: str = "") -> dict[str, Any]:
    """The tensors and arrays of a loaded object, under dotted names (``optimizer.state.0``)."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return {name or "(the object)": value}
    found: dict[str, Any] = {}
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return found
    for key, item in items:
        found.update(_flatten(item, f"{name}.{key}" if name else str(key)))
    return found


def tensor_table(tensors: dict[str, Any]) -> str:
    """One line per tensor: name, shape and dtype, then the count of numbers and bytes."""
    if not tensors:
        return "no tensors"
    width = max(len("tensor"), *(len(name) for name in tensors)) + 2
    lines = [f"{'tensor'.ljust(width)}{'shape'.ljust(20)}dtype"]
    numbers = size = 0
    for name, tensor in tensors.items():
        shape = str(tuple(int(n) for n in tensor.shape))
        lines.append(f"{name.ljust(width)}{shape.ljust(20)}{_dtype_name(tensor.dtype)}")
        count = 1
        for n in tensor.shape:
            count *= int(n)
        numbers += count
        size += count * tensor.dtype.itemsize
    lines.append(f"{len(tensors)} tensors, {numbers:,} numbers, {size:,} bytes")
    return "\n".join(lines)


def _dtype_name(dtype: Any) -> str:
    return getattr(dtype, "name", str(dtype))
