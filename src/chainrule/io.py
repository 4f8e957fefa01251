"""Save and load state dicts as safetensors files: named arrays, no code, no pickle.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus an optional ``__metadata__`` map of strings) and the raw
bytes. Loading one runs no code, and PyTorch reads the same file with
``safetensors.torch.load_file``, so a chainrule model and its PyTorch twin share weights.

>>> from chainrule import nn
>>> model = nn.Linear(3, 2)
>>> save(model.state_dict(), "linear.safetensors")  # doctest: +SKIP
>>> model.load_state_dict(load("linear.safetensors"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.creation import from_numpy
from chainrule.files import write_bytes_atomic
from chainrule.tensor import Tensor

ORDER_KEY = "chainrule.key_order"
"""Metadata entry holding the keys in their saved order (safetensors stores them sorted)."""

# safetensors dtype names that NumPy can hold (bfloat16 and float8 have no NumPy dtype).
_NUMPY_DTYPES = {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"}


def _safetensors_numpy(purpose: str) -> Any:
    from chainrule.optional import require

    return require("safetensors.numpy", purpose)


def _as_array(key: Any, value: Any) -> np.ndarray:
    if not isinstance(key, str):
        raise TypeError(f"save: state dict keys must be str, got {type(key).__name__} key {key!r}")
    if isinstance(value, Tensor):
        array = backend.to_numpy(value.array)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        raise TypeError(
            f"save: {key!r} must be a Tensor or a NumPy array, got {type(value).__name__}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: {key!r} has dtype {array.dtype}, which chainrule cannot store")
    # safetensors copies an array's memory as it lies, so a transposed view would be saved
    # scrambled; a C-ordered copy (0-d arrays stay 0-d) has its bytes in index order.
    return array if array.flags.c_contiguous else array.copy(order="C")


def save(
    state_dict: Mapping[str, Any],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``state_dict`` (str -> Tensor or NumPy array, e.g. ``model.state_dict()``) to
    ``path`` as a safetensors file, atomically: an interrupted save leaves the old file.

    ``metadata`` (str -> str) is stored in the header; the key order is stored under
    ``"chainrule.key_order"`` so that :func:`load` gives the keys back in the same order.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a mapping of names to tensors, got {type(state_dict)}")
    arrays = {key: _as_array(key, value) for key, value in state_dict.items()}
    header = {} if metadata is None else dict(metadata)
    for key, value in header.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"save: metadata must map str to str, got {key!r}: {type(value).__name__}"
            )
    if ORDER_KEY in header:
        raise ValueError(f"save: the metadata key {ORDER_KEY!r} is reserved by chainrule")
    header[ORDER_KEY] = json.dumps(list(arrays))
    data = _safetensors_numpy("chainrule.io.save").save(arrays, metadata=header)
    write_bytes_atomic(path, data)


def _read(path: str | os.PathLike[str], where: str) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and its parsed JSON header, or an error naming the path."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{where}: no such file {str(path)!r}") from error
    not_safetensors = f"{where}: {str(path)!r} is not a safetensors file"
    if len(data) < 8:
        raise ValueError(f"{not_safetensors} (only {len(data)} bytes)")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise ValueError(f"{not_safetensors} (its header length {size} exceeds the file)")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except ValueError as error:  # bad UTF-8 or bad JSON
        raise ValueError(f"{not_safetensors} (its header is not JSON: {error})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{not_safetensors} (its header is not a JSON object)")
    return data, header


def load(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a safetensors file into ``{name: Tensor}``, in the order the names were saved
    (files from other writers come in the order their header lists them).

    Missing file: FileNotFoundError; anything that is not a valid safetensors file: ValueError
    naming the path; a tensor NumPy cannot hold (bfloat16, float8): ValueError naming it.
    """
    data, header = _read(path, "load")
    for key, entry in header.items():
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if key != "__metadata__" and dtype is not None and dtype not in _NUMPY_DTYPES:
            raise ValueError(
                f"load: {str(path)!r} stores {key!r} as {dtype}, which NumPy cannot hold; "
                "convert it to float32 before saving (e.g. tensor.float() in PyTorch)"
            )
    try:
        arrays = _safetensors_numpy("chainrule.io.load").load(data)
    except Exception as error:  # the library's SafetensorError, or a malformed entry
        raise ValueError(f"load: {str(path)!r} is not a safetensors file ({error})") from error
    order = [key for key in header if key != "__metadata__"]
    saved_order = (header.get("__metadata__") or {}).get(ORDER_KEY)
    if saved_order is not None:
        saved = json.loads(saved_order)
        if sorted(saved) == sorted(arrays):
            order = saved
    return {key: from_numpy(_writable(arrays[key])) for key in order}


def _writable(array: np.ndarray) -> np.ndarray:
    return array if array.flags.writeable else array.copy()


def load_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``metadata`` given to :func:`save` (or by another writer), without reading tensors."""
    _, header = _read(path, "load_metadata")
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"load_metadata: {str(path)!r} has a malformed __metadata__ entry")
    return {key: value for key, value in metadata.items() if key != ORDER_KEY}
