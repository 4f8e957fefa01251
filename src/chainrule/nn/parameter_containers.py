"""Containers of parameters: ParameterList and ParameterDict.

Each Parameter entry is registered on the container under its index or key, so a model that
holds ``self.params = ParameterList([...])`` lists them in ``parameters()`` and names them
"params.0", "params.1" in its state_dict, as PyTorch does. A plain Tensor put in is made a
Parameter (sharing its memory); other objects are kept as they are, unregistered.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chainrule.nn.containers import _checked_key, key_value_pairs
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def _as_parameter(value: Any) -> Any:
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


class ParameterList(Module):
    """A list of parameters registered as "0", "1", ...: indexing, slicing (a new
    ParameterList), assignment, ``append``, ``extend``, ``+=``, ``len`` and iteration.

    ```pycon
    >>> from chainrule import randn
    >>> weights = ParameterList([Parameter(randn(4, 4)) for _ in range(3)])
    >>> [name for name, _ in weights.named_parameters()]
    ['0', '1', '2']

    ```
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return type(self)([self[i] for i in range(len(self))[index]])
        return getattr(self, self._key(index))

    def __setitem__(self, index: int, value: Any) -> None:
        setattr(self, self._key(index), _as_parameter(value))

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        index = len(self)
        object.__setattr__(self, "_size", index + 1)
        self[index] = value
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(
                "ParameterList.extend should be called with an iterable, but got "
                f"{type(values).__name__}"
            )
        for value in values:
            self.append(value)
        return self

    def _key(self, index: int) -> str:
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"ParameterList: index {index} is out of range for {len(self)}")
        return str(index % len(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called: index it for its parameters")

    def __repr__(self) -> str:
        return _entries_repr(self, enumerate(self))


class ParameterDict(Module):
    """A dict of parameters registered under their (string) keys, in insertion order; a plain
    dict given to the constructor or ``update`` is added in sorted key order, as PyTorch does.

    ```pycon
    >>> from chainrule import randn
    >>> heads = ParameterDict({"left": randn(5, 10), "right": randn(5, 10)})
    >>> sorted(name for name, _ in heads.named_parameters())
    ['left', 'right']

    ```
    """

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(f"ParameterDict: no key {key!r} (keys: {list(self._keys)})")
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        _checked_key(key, "ParameterDict")
        if key not in self._keys and hasattr(self, key):
            raise KeyError(f"ParameterDict: key {key!r} would hide the attribute of that name")
        self._keys[key] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(key)
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> Any:
        return self._keys.keys()

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((key, self[key]) for key in self._keys)

    def values(self) -> Iterator[Any]:
        return (self[key] for key in self._keys)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default  # noqa: SIM401 - this is get itself

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str) -> Any:
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last inserted (key, value) pair."""
        if not self._keys:
            raise KeyError("popitem(): ParameterDict is empty")
        key = next(reversed(list(self._keys)))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same parameters (not copies of them)."""
        return ParameterDict(list(self.items()))

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> ParameterDict:
        return ParameterDict([(key, default) for key in keys])

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple]) -> None:
        """Add (or replace) entries from a mapping, or from an iterable of (key, value)."""
        ordered = isinstance(parameters, ParameterDict)
        pairs = parameters.items() if ordered else None
        for key, value in pairs or key_value_pairs(parameters, "ParameterDict", True):
            self[key] = value

    def __or__(self, other: ParameterDict) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other: ParameterDict) -> ParameterDict:
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other: ParameterDict) -> ParameterDict:
        self.update(other)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterDict should not be called: index it for its parameters")

    def __repr__(self) -> str:
        return _entries_repr(self, self.items())


def _entries_repr(container: Module, entries: Iterable[tuple[Any, Any]]) -> str:
    """``(key): Parameter containing: [float32 of size 2x3]`` per entry, as PyTorch prints."""
    lines = []
    for key, value in entries:
        if isinstance(value, Tensor):
            kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
            size = "x".join(str(n) for n in value.shape)
            lines.append(f"    ({key}): {kind} containing: [{value.dtype} of size {size}]")
        else:
            lines.append(f"    ({key}): Object of type: {type(value).__name__}")
    name = type(container).__name__
    return f"{name}(\n" + "\n".join(lines) + "\n)" if lines else f"{name}()"


__all__ = ["ParameterDict", "ParameterList"]
