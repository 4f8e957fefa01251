"""Save and load tensors and checkpoints as safetensors files: named arrays, no code, no pickle.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus an optional ``__metadata__`` map of strings) and the raw
bytes. Loading one runs no code, and PyTorch reads the same file with
``safetensors.torch.load_file``, so a chainrule model and its PyTorch twin share weights.

:func:`save` takes what ``torch.save`` is mostly given: a state dict, or a checkpoint such as
``{"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict()}``. A flat dict
of named tensors is stored as it is. Anything else (nested dicts, lists and tuples of tensors,
numbers, strings, bools and None) keeps its tensors in the body, under names made from where
they sit (``model.0.weight``, ``optimizer.state.0.exp_avg``), and its structure as JSON in the
metadata entry ``"chainrule.object"``, which :func:`load` reads back into the same object:
tuples stay tuples, and integer dict keys (an optimizer's ``state``) stay integers.

>>> from chainrule import nn
>>> model = nn.Linear(3, 2)
>>> save(model.state_dict(), "linear.safetensors")  # doctest: +SKIP
>>> model.load_state_dict(load("linear.safetensors"))  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import io
import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import from_numpy
from chainrule.files import read_bytes, write_bytes
from chainrule.tensor import Tensor

ORDER_KEY = "chainrule.key_order"
"""Metadata entry holding the keys in their saved order (safetensors stores them sorted)."""

OBJECT_KEY = "chainrule.object"
"""Metadata entry holding the structure of a saved object that is not a flat dict of tensors."""

_FORMAT = 1  # the version of the structure written under OBJECT_KEY

# safetensors dtype names that NumPy can hold (bfloat16 and float8 have no NumPy dtype).
_NUMPY_DTYPES = {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"}

File = str | os.PathLike[str] | io.IOBase | Any
"""A path, or a binary file object (``open(path, "wb")``, ``io.BytesIO()``)."""


def _safetensors_numpy(purpose: str) -> Any:
    from chainrule.optional import require

    return require("safetensors.numpy", purpose)


def _as_array(value: Any, label: str) -> np.ndarray:
    """``value`` as a C-ordered NumPy array; ``label`` names it in errors."""
    if isinstance(value, Tensor):
        array = backend.to_numpy(value.array)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        raise TypeError(
            f"save: {label} must be a Tensor or a NumPy array, got {type(value).__name__}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: {label} has dtype {array.dtype}, which chainrule cannot store")
    # safetensors copies an array's memory as it lies, so a transposed view would be saved
    # scrambled; a C-ordered copy (0-d arrays stay 0-d) has its bytes in index order.
    return array if array.flags.c_contiguous else array.copy(order="C")


def save(obj: Any, f: File, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``obj`` to ``f`` (a path, written atomically, or a binary file object) as a
    safetensors file.

    ``obj`` is a dict of named tensors or NumPy arrays (``model.state_dict()``), stored as
    such, or any nesting of dicts, lists and tuples of tensors, arrays, numbers, strings,
    bools and None (an optimizer's ``state_dict()``, a checkpoint). Anything else, a whole
    Module for instance, is a TypeError that says what to save instead.

    ``metadata`` (str -> str) is stored in the header, and :func:`load_metadata` reads it.
    """
    header = {} if metadata is None else dict(metadata)
    for key, value in header.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"save: metadata must map str to str, got {key!r}: {type(value).__name__}"
            )
    for reserved in (ORDER_KEY, OBJECT_KEY):
        if reserved in header:
            raise ValueError(f"save: the metadata key {reserved!r} is reserved by chainrule")
    if _is_flat(obj):
        arrays = {key: _as_array(value, repr(key)) for key, value in obj.items()}
        header[ORDER_KEY] = json.dumps(list(arrays))
    else:
        packer = _Packer()
        structure = packer.encode(obj, "obj", "")
        header[OBJECT_KEY] = json.dumps({"format": _FORMAT, "value": structure})
        arrays = packer.arrays
    data = _safetensors_numpy("chainrule.io.save").save(arrays, metadata=header)
    write_bytes(f, data, "save")


def _is_flat(obj: Any) -> bool:
    """A dict of str to arrays: the file format before nested objects, kept byte for byte."""
    return isinstance(obj, Mapping) and all(
        isinstance(key, str) and isinstance(value, (Tensor, np.ndarray, np.generic))
        for key, value in obj.items()
    )


class _Packer:
    """Turns an object into JSON-ready structure, collecting its arrays under unique names."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
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
            return entry
        if isinstance(value, np.ndarray):
            return {"ndarray": self._store(value, where, name)}
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
        while key in self.arrays:
            n += 1
            key = f"{name or 'obj'}~{n}"
        self.arrays[key] = _as_array(value, where)
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


def _read(f: File, where: str) -> tuple[bytes, dict[str, Any], str]:
    """The file's bytes, its parsed JSON header and its name, or an error naming the file."""
    data, name = read_bytes(f, where)
    not_safetensors = f"{where}: {name!r} is not a safetensors file"
    if len(data) < 8:
        raise ValueError(f"{not_safetensors} (only {len(data)} bytes)")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        _refuse_torch_pickle(data, not_safetensors)
        raise ValueError(f"{not_safetensors} (its header length {size} exceeds the file)")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except ValueError as error:  # bad UTF-8 or bad JSON
        _refuse_torch_pickle(data, not_safetensors)
        raise ValueError(f"{not_safetensors} (its header is not JSON: {error})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{not_safetensors} (its header is not a JSON object)")
    return data, header, name


def _refuse_torch_pickle(data: bytes, not_safetensors: str) -> None:
    """Say what to do with a file that is not safetensors but PyTorch's: a zip archive (what
    torch.save writes) or a bare pickle (its legacy format, protocol 2 or above)."""
    if data[:4] == b"PK\x03\x04" or (data[:1] == b"\x80" and 2 <= data[1] <= 5):
        raise ValueError(
            f"{not_safetensors}: it looks like a file of PyTorch's torch.save (a pickle, in a "
            "zip archive or bare), and chainrule never runs pickle code; in PyTorch, write the "
            "tensors with safetensors.torch.save_file(state_dict, path) and load that file here"
        )


def load(
    f: File,
    map_location: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
) -> Any:
    """Read what :func:`save` wrote to ``f`` (a path or a binary file object): a dict of
    tensors in the order the names were saved (files from other writers come in the order
    their header lists them), or the nested object that was saved.

    ``map_location`` (None, ``"cpu"`` or a device) and ``weights_only`` are accepted as in
    ``torch.load``: the tensors come back on the array module in use, and loading never runs
    code, so ``weights_only=True`` and ``False`` read files alike. ``mmap`` is accepted and
    ignored (the file is read into memory).

    Missing file: FileNotFoundError; anything that is not a valid safetensors file, or a
    malformed object structure: ValueError naming the file and the reason; a tensor NumPy
    cannot hold (bfloat16, float8): ValueError naming it.
    """
    _check_map_location(map_location)
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load: weights_only must be a bool or None, got {weights_only!r}")
    data, header, name = _read(f, "load")
    for key, entry in header.items():
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if key != "__metadata__" and dtype is not None and dtype not in _NUMPY_DTYPES:
            raise ValueError(
                f"load: {name!r} stores {key!r} as {dtype}, which NumPy cannot hold; "
                "convert it to float32 before saving (e.g. tensor.float() in PyTorch)"
            )
    try:
        arrays = _safetensors_numpy("chainrule.io.load").load(data)
    except Exception as error:  # the library's SafetensorError, or a malformed entry
        raise ValueError(f"load: {name!r} is not a safetensors file ({error})") from error
    metadata = header.get("__metadata__") or {}
    if isinstance(metadata, dict) and OBJECT_KEY in metadata:
        return _Unpacker(arrays, name).load(metadata[OBJECT_KEY])
    order = [key for key in header if key != "__metadata__"]
    saved_order = metadata.get(ORDER_KEY) if isinstance(metadata, dict) else None
    if saved_order is not None:
        saved = json.loads(saved_order)
        if sorted(saved) == sorted(arrays):
            order = saved
    return {key: from_numpy(_writable(arrays[key])) for key in order}


def _check_map_location(map_location: Any) -> None:
    if map_location is None:
        return
    if isinstance(map_location, Mapping) or callable(map_location):
        raise TypeError(
            f"load: map_location as a {type(map_location).__name__} is not supported; "
            "chainrule puts every tensor on the array module in use: pass 'cpu' or None"
        )
    device = str(map_location)
    if device.startswith("cuda") and backend.xp is np:
        raise RuntimeError(
            f"load: map_location={device!r} asks for a GPU, but chainrule is running on "
            "NumPy (CPU); pass map_location='cpu'"
        )
    if not device.startswith(("cpu", "cuda")):
        raise ValueError(f"load: map_location must be 'cpu', a device or None, got {device!r}")


def _writable(array: np.ndarray) -> np.ndarray:
    return array if array.flags.writeable else array.copy()


class _Unpacker:
    """Rebuilds a saved object from its JSON structure and the file's arrays; anything
    malformed is a ValueError naming the file, where in the object, and what is wrong."""

    _CONTAINERS = ("list", "tuple", "dict", "OrderedDict")

    def __init__(self, arrays: dict[str, np.ndarray], name: str) -> None:
        self.arrays, self.name = arrays, name
        self.loaded: dict[str, Any] = {}  # name -> the object made of it: shared as saved

    def load(self, text: Any) -> Any:
        try:
            document = json.loads(text) if isinstance(text, str) else None
        except ValueError as error:
            self.fail(f"it is not JSON: {error}", "")
        if not isinstance(document, dict) or set(document) != {"format", "value"}:
            self.fail("expected a JSON object with 'format' and 'value'", "")
        if document["format"] != _FORMAT:
            self.fail(f"format {document['format']!r}; this chainrule reads format {_FORMAT}", "")
        return self.decode(document["value"], "obj")

    def fail(self, reason: str, where: str) -> Any:
        at = f" at {where}" if where else ""
        raise ValueError(
            f"load: {self.name!r} has a malformed {OBJECT_KEY!r} structure{at}: {reason}"
        )

    def decode(self, node: Any, where: str) -> Any:
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if not isinstance(node, dict) or not node:
            self.fail(f"unexpected {type(node).__name__} {_short(node)}", where)
        tag = next(iter(node))
        body = node[tag]
        if tag in self._CONTAINERS:
            if len(node) != 1 or not isinstance(body, list):
                self.fail(f"{tag!r} must hold a list", where)
            if tag in ("list", "tuple"):
                items = [self.decode(item, f"{where}[{i}]") for i, item in enumerate(body)]
                return items if tag == "list" else tuple(items)
            return self.mapping(tag, body, where)
        if tag == "float" and len(node) == 1 and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("tensor", "ndarray", "numpy_scalar"):
            return self.array(tag, node, where)
        return self.fail(f"unknown entry {_short(node)}", where)

    def mapping(self, tag: str, pairs: list, where: str) -> Any:
        result = {} if tag == "dict" else collections.OrderedDict()
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                self.fail(f"a {tag} entry must be a [key, value] pair, got {_short(pair)}", where)
            key, value = pair
            if key is not None and not isinstance(key, (bool, str, int, float)):
                self.fail(
                    f"a dict key must be a str, number, bool or null, got {_short(key)}", where
                )
            result[key] = self.decode(value, f"{where}[{key!r}]")
        return result

    def array(self, tag: str, node: dict, where: str) -> Any:
        key = node[tag]
        flags = set(node) - {tag}
        allowed = {"requires_grad", "parameter"} if tag == "tensor" else set()
        if not isinstance(key, str) or not flags <= allowed:
            self.fail(f"unknown entry {_short(node)}", where)
        if any(node[flag] is not True for flag in flags):
            self.fail(f"the flags of {_short(node)} must be true", where)
        if key not in self.arrays:
            self.fail(f"it refers to the tensor {key!r}, which the file does not hold", where)
        cache_key = f"{tag}:{key}"
        if cache_key not in self.loaded:
            array = _writable(self.arrays[key])
            if tag == "ndarray":
                value: Any = array
            elif tag == "numpy_scalar":
                value = array[()]
            else:
                value = _tensor(from_numpy(array), node)
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
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_metadata(f: File) -> dict[str, str]:
    """The ``metadata`` given to :func:`save` (or by another writer), without reading tensors."""
    _, header, name = _read(f, "load_metadata")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"load_metadata: {name!r} has a malformed __metadata__ entry")
    return {key: value for key, value in metadata.items() if key not in (ORDER_KEY, OBJECT_KEY)}
