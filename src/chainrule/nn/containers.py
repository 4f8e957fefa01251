"""Containers of modules: Sequential, ModuleList and ModuleDict.

Each entry is registered as a submodule under its key ("0", "1", ... or a dict key), so
``parameters()`` finds its parameters and ``state_dict`` names them "0.weight", "block.bias".
Deleting or inserting an entry of a Sequential or ModuleList numbers the entries again from 0,
as in PyTorch, so that the names stay those of a fresh container. The containers of parameters
are in :mod:`chainrule.nn.parameter_containers`.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

from chainrule.nn.module import Module


class Sequential(Module):
    """Calls its modules in order, each on the previous one's output. Registered as "0", "1",
    ... (so state_dict keys read "0.weight"), or by the names of an OrderedDict.

    Indexing, slicing (a Sequential keeping the names), assignment, deletion, ``append``,
    ``insert``, ``extend``, ``pop``, ``+`` and ``*`` behave as PyTorch's.

    ```pycon
    >>> import chainrule as cr
    >>> model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 1))
    >>> model(cr.zeros(2, 3)).shape
    chainrule.Size([2, 1])
    >>> list(model.state_dict())
    ['0.weight', '0.bias', '2.weight', '2.bias']

    ```
    """

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, _checked(module, name))
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), _checked(module, str(index)))

    def forward(self, input: Any) -> Any:  # noqa: A002
        output = input
        for module in self._modules.values():
            output = module(output)
        return output

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(dict(list(self._modules.items())[index]))
        return self._modules[_key_at(self, index)]

    def __setitem__(self, index: int, module: Module) -> None:
        key = _key_at(self, index)
        setattr(self, key, _checked(module, key))

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)
        for key in keys[index] if isinstance(index, slice) else [_key_at(self, index)]:
            delattr(self, key)
        _renumber(self, list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __add__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential + {type(other).__name__}: only a Sequential can be added")
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        if not isinstance(other, Sequential):
            raise ValueError(
                f"Sequential += {type(other).__name__}: only a Sequential can be added"
            )
        return self.extend(list(other))

    def __mul__(self, times: int) -> Sequential:
        return Sequential(*(list(self) * _repeats(self, times)))

    __rmul__ = __mul__

    def __imul__(self, times: int) -> Sequential:
        return self.extend(list(self) * (_repeats(self, times) - 1))

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), _checked(module, str(len(self))))
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put ``module`` before entry ``index`` (−len ≤ index ≤ len) and number the entries
        again."""
        count = len(self)
        index = operator.index(index)
        if not -count <= index <= count:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {count}")
        modules = list(self._modules.values())
        modules.insert(index, _checked(module, str(index)))
        _renumber(self, modules)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def pop(self, index: int | slice) -> Any:
        module = self[index]
        del self[index]
        return module


class ModuleList(Module):
    """A list of modules whose parameters are registered ("0.weight", "1.weight", ...).

    Indexing, slicing (a new ModuleList), assignment, deletion, ``append``, ``insert``,
    ``extend``, ``pop`` and ``+`` behave as PyTorch's; it has no forward of its own.

    ```pycon
    >>> import chainrule as cr
    >>> layers = cr.nn.ModuleList([cr.nn.Linear(2, 2) for _ in range(3)])
    >>> layers.append(cr.nn.ReLU())
    ModuleList(...)
    >>> len(layers), len(list(layers.parameters()))
    (4, 6)

    ```
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), _checked(module, str(len(self))))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if not isinstance(modules, Iterable):
            raise TypeError(
                "ModuleList.extend should be called with an iterable, but got "
                f"{type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(operator.index(index), _checked(module, str(index)))
        _renumber(self, modules)

    def pop(self, index: int | slice) -> Any:
        module = self[index]
        del self[index]
        return module

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)(list(self._modules.values())[index])
        return self._modules[_key_at(self, index)]

    def __setitem__(self, index: int, module: Module) -> None:
        key = _key_at(self, index)
        setattr(self, key, _checked(module, key))

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)
        for key in keys[index] if isinstance(index, slice) else [_key_at(self, index)]:
            delattr(self, key)
        _renumber(self, list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(chain(self, other))

    def __repr__(self) -> str:
        """One line per run of equal entries, as PyTorch prints: ``(0-2): 3 x Linear(...)``."""
        if not len(self):
            return "ModuleList()"
        runs: list[list] = []  # [first index, last index, repr]
        for index, module in enumerate(self):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = index
            else:
                runs.append([index, index, text])
        lines = [
            f"({first}): {text}"
            if first == last
            else f"({first}-{last}): {last - first + 1} x {text}"
            for first, last, text in runs
        ]
        body = "\n".join(lines).replace("\n", "\n  ")
        return f"ModuleList(\n  {body}\n)"


class ModuleDict(Module):
    """A dict of modules registered under their keys, in insertion order.

    ```pycon
    >>> import chainrule as cr
    >>> blocks = cr.nn.ModuleDict({"act": cr.nn.ReLU(), "fc": cr.nn.Linear(2, 1)})
    >>> list(blocks.keys()), blocks["act"](cr.tensor([-1.0, 1.0])).tolist()
    (['act', 'fc'], [0.0, 1.0])

    ```
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, name: str, module: Module) -> None:
        _checked(module, _checked_key(name, "ModuleDict"))
        if name in self._modules:
            setattr(self, name, module)  # a new value keeps its key's place, as in PyTorch
        else:
            self.add_module(name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __delitem__(self, name: str) -> None:
        if name not in self._modules:
            raise KeyError(name)
        delattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Any:
        return self._modules.keys()

    def values(self) -> Any:
        return self._modules.values()

    def items(self) -> Any:
        return self._modules.items()

    def clear(self) -> None:
        for name in list(self._modules):
            delattr(self, name)

    def pop(self, name: str) -> Module:
        module = self[name]
        del self[name]
        return module

    def update(self, modules: Mapping[str, Module] | Iterable[tuple]) -> None:
        """Add (or replace) entries from a mapping, or from an iterable of (key, module)."""
        for key, module in key_value_pairs(modules, "ModuleDict"):
            self[key] = module


# ---- shared helpers ------------------------------------------------------------------------


def key_value_pairs(entries: Any, where: str, sort_plain_dicts: bool = False) -> list[tuple]:
    """The (key, value) pairs of a mapping (plain dicts sorted by key when asked, as PyTorch's
    ParameterDict does) or of an iterable of pairs, each checked to be a pair."""
    if isinstance(entries, Mapping):
        items = list(entries.items())
        plain = type(entries) is dict
        return sorted(items, key=lambda item: item[0]) if sort_plain_dicts and plain else items
    if not isinstance(entries, Iterable):
        raise TypeError(
            f"{where}.update: expected a mapping or an iterable of (key, value) pairs, got "
            f"{type(entries).__name__}"
        )
    pairs = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Iterable):
            raise TypeError(
                f"{where}.update: element #{index} should be a (key, value) pair, got "
                f"{type(entry).__name__}"
            )
        entry = tuple(entry)
        if len(entry) != 2:
            raise ValueError(
                f"{where}.update: element #{index} has length {len(entry)}; 2 is required"
            )
        pairs.append(entry)
    return pairs


def _checked(module: Any, name: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"container entry {name!r} must be a Module, got {type(module).__name__}")
    return module


def _checked_key(key: Any, where: str) -> str:
    """A key usable as an attribute and a state_dict name: a non-empty string without dots."""
    if not isinstance(key, str):
        raise TypeError(f"{where}: keys must be strings, got {type(key).__name__} {key!r}")
    if not key or "." in key:
        raise KeyError(f"{where}: a key must be a non-empty string without '.', got {key!r}")
    return key


def _key_at(container: Module, index: int) -> str:
    """The key of entry ``index`` (negative counts from the end), or an IndexError."""
    count = len(container._modules)
    index = operator.index(index)
    if not -count <= index < count:
        raise IndexError(f"{type(container).__name__}: index {index} is out of range for {count}")
    return list(container._modules)[index % count]


def _renumber(container: Module, modules: list[Module]) -> None:
    """Register ``modules`` as "0", "1", ... in place of the current entries."""
    for name in list(container._modules):
        delattr(container, name)
    for index, module in enumerate(modules):
        container.add_module(str(index), module)


def _repeats(container: Module, times: Any) -> int:
    if isinstance(times, bool) or not isinstance(times, int):
        raise TypeError(f"{type(container).__name__} * {type(times).__name__}: expected an int")
    if times <= 0:
        raise ValueError(f"{type(container).__name__} * {times}: the factor must be positive")
    return times


__all__ = ["ModuleDict", "ModuleList", "Sequential"]
