"""chainrule.utils.data: torch.utils.data's names, reachable as a PyTorch script reaches them,
with PyTorch's parameter names and defaults."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule
import chainrule.data
import chainrule.utils.data as crd

NAMES = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]


@pytest.mark.parametrize("name", NAMES)
def test_torchs_names_are_there(name: str) -> None:
    assert name in tud.__all__
    ours = getattr(crd, name)
    assert ours is getattr(chainrule.data, name)  # one implementation, two addresses
    assert name in crd.__all__


def test_attribute_access_after_import_chainrule_as_torch() -> None:
    import chainrule as torch

    assert torch.utils.data.DataLoader is crd.DataLoader
    assert torch.utils.data.TensorDataset is crd.TensorDataset


def parameters(function: Any) -> list[tuple[str, Any, Any]]:
    return [
        (p.name, p.kind, p.default if p.default is not inspect.Parameter.empty else "required")
        for p in inspect.signature(function).parameters.values()
    ]


@pytest.mark.parametrize(
    "name",
    [
        "DataLoader",
        "RandomSampler",
        "WeightedRandomSampler",
        "BatchSampler",
        "DistributedSampler",
        "SubsetRandomSampler",
        "SequentialSampler",
        "TensorDataset",
        "Subset",
        "ConcatDataset",
        "random_split",
    ],
)
def test_parameters_are_torchs(name: str) -> None:
    ours, theirs = parameters(getattr(crd, name)), parameters(getattr(tud, name))
    if name == "DataLoader":  # chainrule's own addition, keyword-only, at the end
        assert ours[-1][:2] == ("seed", inspect.Parameter.KEYWORD_ONLY)
        ours = ours[:-1]
    if name == "random_split":
        assert ours[-1][:2] == ("seed", inspect.Parameter.KEYWORD_ONLY)
        ours = ours[:-1]
        # torch's default is its global generator object; chainrule's None means its own.
        assert ours[-1] == ("generator", inspect.Parameter.POSITIONAL_OR_KEYWORD, None)
        ours, theirs = ours[:-1], theirs[:-1]
    assert ours == theirs


def test_save_and_load_take_torchs_arguments() -> None:
    ours = [name for name, *_ in parameters(chainrule.load)]
    assert ours[:2] == ["f", "map_location"]
    assert {"weights_only", "mmap"} <= set(ours)
    assert [name for name, *_ in parameters(chainrule.save)][:2] == ["obj", "f"]


def test_subclasses_work_as_in_torch() -> None:
    class Squares(crd.Dataset):
        def __len__(self) -> int:
            return 5

        def __getitem__(self, index: int) -> Any:
            return np.float32(index**2)

    class Reversed(crd.Sampler):
        def __init__(self, n: int) -> None:
            self.n = n

        def __iter__(self) -> Any:
            return iter(range(self.n - 1, -1, -1))

        def __len__(self) -> int:
            return self.n

    loader = crd.DataLoader(Squares(), batch_size=2, sampler=Reversed(5))
    assert [batch.tolist() for batch in loader] == [[16.0, 9.0], [4.0, 1.0], [0.0]]
    stacked = crd.StackDataset(Squares(), crd.TensorDataset(chainrule.arange(5)))
    reference = tud.StackDataset([i**2 for i in range(5)], tud.TensorDataset(torch.arange(5)))
    assert float(stacked[3][0]) == float(reference[3][0]) and stacked[3][1][0].item() == 3
    named = crd.StackDataset(a=Squares(), b=Squares())
    assert named[2] == {"a": 4.0, "b": 4.0} and len(named) == 5
    assert (crd.IterableDataset() + crd.IterableDataset()).__class__ is crd.ChainDataset


def test_autograd_function_is_pytorchs_protocol() -> None:
    from chainrule.autograd import Function
    from chainrule.autograd.custom_function import Function as Custom
    from chainrule.autograd.function import Function as Op

    assert Function is Custom is chainrule.autograd.Function
    assert chainrule.Function is Op  # the operations' array-level base class is unchanged
    assert hasattr(Function, "apply") and "ctx" in inspect.signature(Function.forward).parameters
