"""How :func:`chainrule.save` stores an object that is not a flat dict of tensors.

A checkpoint such as ``{"epoch": 3, "model": {...}, "optimizer": {"state": {0: {...}}}}``
becomes named tensors plus a JSON structure. Each tensor is stored under a name made from
where it sits (``model.0.weight``, ``optimizer.state.0.exp_avg``); the structure, kept in the
file's metadata, says where each goes back: ``{"dict": [["epoch", 3], ["model", {"dict":
[...]}]]}``. Tagged nodes keep what JSON alone would lose: tuples stay tuples, integer dict
keys stay integers, ``inf`` and ``nan`` survive, and a tensor met twice is stored once and
loaded as one object.
"""

from __future__ import annotations

import collections
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule import backend, devices
from chainrule.creation import from_numpy
from chainrule.safetensors_format import dtype_name
from chainrule.tensor import Tensor

FORMAT = 1  # the version of the structure


def device_name(array: Any) -> str:
    """The device ``array`` lives on, as saved in a file: "cpu", "cuda:0"."""
    return str(devices.of_array(array))


def array_of(value: Any, label: str) -> Any:
    """The array behind ``value`` (a Tensor, a NumPy array or a GPU array), not copied;
    ``label`` names it in errors. Its dtype must be one a safetensors file holds. A GPU array
    stays there: the writer copies each to the host when its bytes are written."""
    if isinstance(value, Tensor):
        array = value.array
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    elif backend.is_array(value):
        array = value
    else:
        raise TypeError(
            f"save: {label} must be a Tensor or a NumPy array, got {type(value).__name__}"
        )
    if dtype_name(array.dtype) is None:
        raise TypeError(f"save: {label} has dtype {array.dtype}, which chainrule cannot store")
    return array


class Packer:
    """Turns an object into JSON-ready structure, collecting its arrays under unique names."""

    def __init__(self) -> None:
        self.arrays: dict[str, Any] = {}
        self.names: dict[int, str] = {}  # id(tensor or array) -> its name: stored once
        self.kept: list[Any] = []

    def encode(self, value: Any, where: str, name: str) -> Any:
        """``value`` as JSON; ``where`` says where it sits for messages (``obj['model']``)
        and ``name`` is the dotted name its tensors get."""
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, Tensor):
            entry: dict[str, Any] = {"tensor": self._store(value, where, name)}
            if value.requires_grad:
                entry["requires_grad"] = True
            if _is_parameter(value):
                entry["parameter"] = True
            if type(value.array) is not np.ndarray:  # on a GPU: loaded back there
                entry["device"] = device_name(value.array)
            return entry
        if isinstance(value, np.ndarray):
            return {"ndarray": self._store(value, where, name)}
        if backend.is_array(value):  # a GPU array (an optimiser's state): loaded back there
            return {"ndarray": self._store(value, where, name), "device": device_name(value)}
        if isinstance(value, np.generic):
            return {"numpy_scalar": self._store(value, where, name)}
        if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
            items = [
                self.encode(item, f"{where}[{i}]", _join(name, str(i)))
                for i, item in enumerate(value)
            ]
            return {type(value).__name__: items}
        if isinstance(value, Mapping):
            pairs = [
                [_key(key, where), self.encode(item, f"{where}[{key!r}]", _join(name, str(key)))]
                for key, item in value.items()
            ]
            ordered = isinstance(value, collections.OrderedDict)
            return {"OrderedDict" if ordered else "dict": pairs}
        raise TypeError(_unsupported(value, where))

    def _store(self, value: Any, where: str, name: str) -> str:
        known = self.names.get(id(value))
        if known is not None:  # the same object twice: stored once, loaded as one object
            return known
        key, n = name or "obj", 1
        while key in self.arrays or key == "__metadata__":  # the header's own entry
            n += 1
            key = f"{name or 'obj'}~{n}"
        self.arrays[key] = array_of(value, where)
        self.names[id(value)] = key
        self.kept.append(value)  # alive until the save ends, so that its id stays its own
        return key


def _join(name: str, part: str) -> str:
    return f"{name}.{part}" if name else part


def _key(key: Any, where: str) -> Any:
    if key is None or isinstance(key, (bool, str, int)):
        return key
    if isinstance(key, float) and math.isfinite(key):
        return key
    raise TypeError(
        f"save: {where} has a key of type {type(key).__name__} ({key!r}); dict keys must be "
        "str, int, float, bool or None"
    )


def _is_parameter(value: Tensor) -> bool:
    from chainrule.nn.parameter import Parameter

    return isinstance(value, Parameter)


def _unsupported(value: Any, where: str) -> str:
    kind = type(value).__name__
    what = "chainrule saves tensors, NumPy arrays, numbers, strings, bools, None and "
    what += "dicts, lists and tuples of them"
    if hasattr(value, "state_dict") and hasattr(value, "load_state_dict"):
        # A Module or an Optimizer: its state dict holds everything that a file needs.
        return (
            f"save: {where} is a whole {kind}, which cannot be stored as data ({what}); save "
            f"its state instead, e.g. save(model.state_dict(), f), and restore it with "
            f"model.load_state_dict(load(f))"
        )
    return f"save: {where} is of type {kind}, which cannot be stored ({what})"


# ---- loading -------------------------------------------------------------------------------------


class MalformedStructureError(ValueError):
    """A structure that does not describe an object: ``reason`` says why, ``where`` where
    (``obj['model']``, or empty for the whole)."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason, self.where = reason, where


def parse(text: Any) -> Any:
    """The value node of the structure ``text``, with its envelope checked."""
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except RecursionError:
        _fail("it is nested too deeply", "")
    except ValueError as error:
        _fail(f"it is not JSON: {error}", "")
    if not isinstance(document, dict) or set(document) != {"format", "value"}:
        _fail("expected a JSON object with 'format' and 'value'", "")
    if document["format"] != FORMAT:
        _fail(f"format {_short(document['format'])}; this chainrule reads format {FORMAT}", "")
    return document["value"]


def _fail(reason: str, where: str) -> Any:
    raise MalformedStructureError(reason, where)


class Unpacker:
    """Rebuilds a saved object from its structure and the file's arrays (writable, and
    owned by the result); anything malformed is a MalformedStructureError. ``place(array,
    saved_device)`` moves each array where it is to be loaded (by default: left on the host).
    """

    _CONTAINERS = ("list", "tuple", "dict", "OrderedDict")

    def __init__(self, arrays: dict[str, np.ndarray], place: Any = None) -> None:
        self.arrays = arrays
        self.place = place or (lambda array, saved: array)
        self.loaded: dict[str, Any] = {}  # name -> the object made of it: shared as saved

    def decode(self, node: Any, where: str = "obj") -> Any:
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if not isinstance(node, dict) or not node:
            _fail(f"unexpected {type(node).__name__} {_short(node)}", where)
        tag = next(iter(node))
        body = node[tag]
        if tag in self._CONTAINERS:
            if len(node) != 1 or not isinstance(body, list):
                _fail(f"{tag!r} must hold a list", where)
            if tag in ("list", "tuple"):
                items = [self.decode(item, f"{where}[{i}]") for i, item in enumerate(body)]
                return items if tag == "list" else tuple(items)
            return self.mapping(tag, body, where)
        if tag == "float" and len(node) == 1 and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("tensor", "ndarray", "numpy_scalar"):
            return self.array(tag, node, where)
        return _fail(f"unknown entry {_short(node)}", where)

    def mapping(self, tag: str, pairs: list, where: str) -> Any:
        result = {} if tag == "dict" else collections.OrderedDict()
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                _fail(f"a {tag} entry must be a [key, value] pair, got {_short(pair)}", where)
            key, value = pair
            if key is not None and not isinstance(key, (bool, str, int, float)):
                _fail(f"a dict key must be a str, number, bool or null, got {_short(key)}", where)
            result[key] = self.decode(value, f"{where}[{key!r}]")
        return result

    def array(self, tag: str, node: dict, where: str) -> Any:
        key = node[tag]
        saved_on = node.get("device")
        flags = set(node) - {tag, "device"}
        allowed = {"requires_grad", "parameter"} if tag == "tensor" else set()
        if (
            not isinstance(key, str)
            or not flags <= allowed
            or (tag == "numpy_scalar" and "device" in node)
        ):
            _fail(f"unknown entry {_short(node)}", where)
        if any(node[flag] is not True for flag in flags):
            _fail(f"the flags of {_short(node)} must be true", where)
        if saved_on is not None and not isinstance(saved_on, str):
            _fail(f"the device of {_short(node)} must be a device's name", where)
        if key not in self.arrays:
            _fail(f"it refers to the tensor {key!r}, which the file does not hold", where)
        cache_key = f"{tag}:{key}"
        if cache_key not in self.loaded:
            array = self.arrays[key]
            if tag == "numpy_scalar":
                value: Any = array[()]
            else:
                array = self.place(array, saved_on)
                if tag == "ndarray":
                    value = array
                elif type(array) is np.ndarray:
                    value = _tensor(from_numpy(array), node)
                else:
                    value = _tensor(Tensor._make(array, False, None), node)
            self.loaded[cache_key] = value
        return self.loaded[cache_key]


def _tensor(tensor: Tensor, entry: dict) -> Tensor:
    if entry.get("parameter"):
        from chainrule.nn.parameter import Parameter

        return Parameter(tensor, requires_grad=bool(entry.get("requires_grad")))
    if entry.get("requires_grad"):
        tensor.requires_grad_()
    return tensor


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (RecursionError, ValueError):  # nested too deeply to show
        return f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."
