"""The safetensors file format, read and written a piece at a time.

A file is an 8-byte little-endian length ``N``, then ``N`` bytes of UTF-8 JSON (the header),
then the data. The header maps each tensor's name to ``{"dtype": "F32", "shape": [2, 3],
"data_offsets": [begin, end]}``, byte offsets counted from the start of the data, and may hold
``"__metadata__"``, a map of strings to strings. The tensors tile the data exactly: no gaps,
no overlaps, nothing after the last one.

:func:`read_header` reads the length and the header and checks all of that before a byte of
data is touched; :func:`read_arrays` then reads exactly the bytes the header declares, each
tensor straight into its own array. :func:`write` sends the header and then each array's bytes
to the stream, one tensor at a time. Neither ever holds a second copy of the tensors, and what
:func:`write` makes is byte for byte what the ``safetensors`` library makes of the same arrays.
"""

from __future__ import annotations

import json
import math
import reprlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_HEADER_SIZE = 100_000_000
"""The longest header read, in bytes (the ``safetensors`` library's own limit)."""

_CHUNK = 1 << 24  # bytes asked of a stream at a time when it cannot read into a buffer

# Every dtype the format names, in the order of the ``safetensors`` library's Dtype enum: it
# writes tensors sorted by that order, largest first, then by name. Values: bits per element.
_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8,
    "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16,
    "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64,
    "U64": 64,
}  # fmt: skip
_RANK = {name: rank for rank, name in enumerate(_BITS)}

# The dtypes NumPy holds (and chainrule stores), little-endian as the format requires.
NUMPY_DTYPES = {
    name: np.dtype(code)
    for name, code in [
        ("BOOL", "|b1"), ("U8", "|u1"), ("I8", "|i1"), ("U16", "<u2"), ("I16", "<i2"),
        ("F16", "<f2"), ("U32", "<u4"), ("I32", "<i4"), ("F32", "<f4"), ("U64", "<u8"),
        ("I64", "<i8"), ("F64", "<f8"),
    ]
}  # fmt: skip
_NAME_OF = {(dtype.kind, dtype.itemsize): name for name, dtype in NUMPY_DTYPES.items()}

# Signatures of PyTorch's torch.save: a zip archive, or a bare pickle of protocol 2 to 5.
_TORCH_PICKLE = "it looks like a file of PyTorch's torch.save (a pickle, in a zip archive or "
_TORCH_PICKLE += "bare), and chainrule never runs pickle code; in PyTorch, write the tensors with "
_TORCH_PICKLE += "safetensors.torch.save_file(state_dict, path) and load that file here"


class FormatError(ValueError):
    """A stream that does not hold a valid safetensors file; the message says why."""


class NotBinaryError(TypeError):
    """A file object that gives text, not bytes."""


@dataclass(frozen=True)
class Entry:
    """One tensor of a header: its bytes are ``data[begin:end]``."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """A checked header: its entries in the order it lists them, and its metadata."""

    entries: tuple[Entry, ...]
    metadata: dict[str, str]
    length: int  # N, the bytes of the JSON text (with its padding)
    data_size: int

    @property
    def file_size(self) -> int:
        return 8 + self.length + self.data_size


def dtype_name(dtype: np.dtype) -> str | None:
    """The format's name for a NumPy dtype (``"F32"`` for float32), or None if it has none."""
    return _NAME_OF.get((dtype.kind, dtype.itemsize)) if dtype.kind in "biuf" else None


# ---- reading -------------------------------------------------------------------------------------


def _bad(reason: str) -> FormatError:
    return FormatError(f"not a safetensors file: {reason}")


def read_header(stream: Any, available: int | None = None) -> Header:
    """Read and check the length and the header of the file at ``stream``'s position.

    ``available`` is how many bytes the stream holds from there, when known: a header longer
    than that is refused before it is read, and so is a file whose size differs from what
    its header declares. Reads ``8 + N`` bytes at most.
    """
    prefix = _read(stream, 8)
    if len(prefix) < 8:
        raise _bad(f"only {len(prefix)} bytes, fewer than the 8 of a header length")
    length = int.from_bytes(prefix, "little")
    if length > MAX_HEADER_SIZE:
        _refuse_torch_pickle(prefix)
        raise _bad(f"a header length of {length} bytes, over the limit of {MAX_HEADER_SIZE}")
    if available is not None and 8 + length > available:
        _refuse_torch_pickle(prefix)
        raise _bad(f"a header length of {length} bytes in a file of {available}")
    text = _read(stream, length)
    if len(text) < length:
        raise _bad(f"the file ends {len(text)} bytes into its {length}-byte header")
    try:
        header = parse_header(text)
    except FormatError:
        _refuse_torch_pickle(prefix)
        raise
    if available is not None and header.file_size != available:
        raise _bad(
            f"its header declares {header.file_size} bytes in all, but the file has {available}"
        )
    return header


def _refuse_torch_pickle(prefix: bytes) -> None:
    """Say what to do with a file of PyTorch's torch.save: a zip archive, or a bare pickle of
    protocol 2 to 5 (its legacy format)."""
    if prefix[:4] == b"PK\x03\x04" or (prefix[:1] == b"\x80" and 2 <= prefix[1] <= 5):
        raise _bad(_TORCH_PICKLE)


def parse_header(text: bytes) -> Header:
    """The checked header of the JSON ``text``: a FormatError says what is wrong with it."""
    try:
        document = json.loads(
            text.decode("utf-8"), object_pairs_hook=_unique, parse_constant=_no_constant
        )
    except UnicodeDecodeError:
        raise _bad("its header is not UTF-8 text") from None
    except _DuplicateNameError as duplicate:
        raise _bad(f"its header names {duplicate.args[0]!r} twice") from None
    except RecursionError:  # json gives up on deep nesting this way, before memory runs out
        raise _bad("its header is nested too deeply") from None
    except ValueError as error:
        raise _bad(f"its header is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise _bad(f"its header is a JSON {type(document).__name__}, not an object")
    metadata = document.pop("__metadata__", None) or {}  # null: none, as the library reads it
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad(f"its __metadata__ is not a map of strings to strings: {_short(metadata)}")
    entries = tuple(_entry(name, value) for name, value in document.items())
    return Header(entries, metadata, len(text), _data_size(entries))


class _DuplicateNameError(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateNameError(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _entry(name: str, value: Any) -> Entry:
    """The entry of tensor ``name``, checked: a known dtype, a shape, offsets that agree."""
    if not isinstance(value, dict):
        raise _bad(f"the entry of {name!r} is {_short(value)}, not a JSON object")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in value:
            raise _bad(f"the entry of {name!r} has no {field!r}")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _BITS:
        raise _bad(f"{name!r} has an unknown dtype {_short(dtype)}")
    if not isinstance(shape, list) or not all(_is_count(size) for size in shape):
        raise _bad(f"{name!r} has the shape {_short(shape)}, not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise _bad(f"{name!r} has the data_offsets {_short(offsets)}, not [begin, end]")
    begin, end = offsets
    if end < begin:
        raise _bad(f"{name!r} has the data_offsets [{begin}, {end}], which end before they begin")
    bits = _BITS[dtype]
    if _elements(shape, (end - begin) * 8 // bits) * bits != (end - begin) * 8:
        raise _bad(
            f"{name!r} has {end - begin} bytes, which do not hold a {dtype} tensor of shape "
            f"{_short(shape)}"
        )
    return Entry(name, dtype, tuple(shape), begin, end)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _elements(shape: list[int], most: int) -> int:
    """The product of ``shape``, or ``most + 1`` as soon as it passes ``most``: a hostile
    shape of huge sizes is never multiplied out."""
    if 0 in shape:
        return 0
    count = 1
    for size in shape:
        count *= size
        if count > most:
            return most + 1
    return count


def _data_size(entries: tuple[Entry, ...]) -> int:
    """The length of the data, which the entries must tile with no gap and no overlap."""
    end, last = 0, None
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        if entry.begin < end:
            raise _bad(f"the bytes of {last!r} and {entry.name!r} overlap")
        if entry.begin > end:
            raise _bad(f"data bytes {end} to {entry.begin} belong to no tensor")
        end, last = entry.end, entry.name
    return end


def read_arrays(stream: Any, header: Header) -> dict[str, np.ndarray]:
    """Read the data that follows ``header`` on ``stream``: each tensor as a writable NumPy
    array, in the header's order. Reads the declared bytes, and one more to see that the
    file ends there."""
    for entry in header.entries:
        if entry.dtype not in NUMPY_DTYPES:
            raise FormatError(
                f"it stores {entry.name!r} as {entry.dtype}, which NumPy cannot hold; convert it "
                "to float32 before saving (e.g. tensor.float() in PyTorch)"
            )
        if len(entry.shape) > 64:
            raise FormatError(
                f"{entry.name!r} has {len(entry.shape)} dimensions; NumPy holds at most 64"
            )
    arrays = {}
    for entry in sorted(header.entries, key=lambda e: (e.begin, e.end)):
        arrays[entry.name] = _read_array(stream, entry)
    if _read(stream, 1):
        raise _bad(f"it goes on after the {header.file_size} bytes that its header declares")
    return {entry.name: arrays[entry.name] for entry in header.entries}


def _read_array(stream: Any, entry: Entry) -> np.ndarray:
    size = entry.end - entry.begin
    try:
        buffer = np.empty(size, dtype=np.uint8)
    except MemoryError:
        reason = f"its header gives {entry.name!r} {size} bytes, more than memory holds"
        raise _bad(reason) from None
    got = _read_into(stream, buffer)
    if got < size:
        raise _bad(f"the file ends {got} bytes into the {size} bytes of {entry.name!r}")
    dtype = NUMPY_DTYPES[entry.dtype]
    if dtype.kind == "b" and size and buffer.max() > 1:  # NumPy misbehaves on other bytes
        raise _bad(f"the bool tensor {entry.name!r} holds bytes other than 0 and 1")
    array = buffer.view(dtype).reshape(entry.shape)
    if sys.byteorder == "big":
        array = array.astype(dtype.newbyteorder("="))
    return array


def _read(stream: Any, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream`` (fewer only at its end), asked for a chunk at a
    time, so that a stream shorter than it claims costs only what it holds."""
    chunks, wanted = [], size
    while wanted > 0:
        chunk = stream.read(min(wanted, _CHUNK))
        _check_binary(chunk)
        if not chunk:
            break
        chunks.append(bytes(chunk))
        wanted -= len(chunk)
    return b"".join(chunks)[:size]


def _check_binary(chunk: Any) -> None:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise NotBinaryError(f"the file object gave {type(chunk).__name__}; open it in binary mode")


def _read_into(stream: Any, buffer: Any) -> int:
    """Fill ``buffer`` from ``stream`` as far as the stream goes; the number of bytes read."""
    view = memoryview(buffer).cast("B")
    readinto = getattr(stream, "readinto", None)
    done = 0
    while done < len(view):
        if readinto is not None:
            count = readinto(view[done:])
        else:
            chunk = stream.read(min(len(view) - done, _CHUNK))
            _check_binary(chunk)
            count = min(len(chunk), len(view) - done)
            view[done : done + count] = chunk[:count]
        if not count:
            break
        done += count
    return done


# ---- writing -------------------------------------------------------------------------------------


def encode_header(
    arrays: Mapping[str, Any], metadata: Mapping[str, str] | None = None
) -> tuple[bytes, list[str]]:
    """The length and header of a file of ``arrays`` (anything with a NumPy ``dtype`` and a
    ``shape``), and the order their bytes follow in: the ``safetensors`` library's order."""
    for name, array in arrays.items():
        if name == "__metadata__" or dtype_name(array.dtype) is None:
            what = "the name" if name == "__metadata__" else f"the dtype {array.dtype}"
            raise ValueError(f"a safetensors file cannot hold {what} of tensor {name!r}")
    names = sorted(arrays, key=lambda name: (-_RANK[dtype_name(arrays[name].dtype)], name))
    header: dict[str, Any] = {} if metadata is None else {"__metadata__": dict(metadata)}
    offset = 0
    for name in names:
        array = arrays[name]
        size = math.prod(array.shape) * array.dtype.itemsize
        entry = [offset, offset + size]
        header[name] = {"dtype": dtype_name(array.dtype), "shape": list(array.shape)}
        header[name]["data_offsets"] = entry
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the library pads the header to 8 bytes with spaces
    return len(text).to_bytes(8, "little") + text, names


def write_arrays(
    stream: Any, arrays: Mapping[str, Any], names: list[str], as_numpy: Callable = np.asarray
) -> None:
    """Write the bytes of ``arrays[name]`` for each name in turn. ``as_numpy`` makes each a
    NumPy array (a copy off the GPU, say) when its turn comes, so one at a time is held."""
    for name in names:
        array = as_numpy(arrays[name])
        # A strided view or a big-endian array is copied, alone; anything else goes as it lies.
        array = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        write_all(stream, memoryview(array.reshape(-1).view(np.uint8)))


def write(
    stream: Any,
    arrays: Mapping[str, Any],
    metadata: Mapping[str, str] | None = None,
    as_numpy: Callable = np.asarray,
) -> None:
    """Write a safetensors file of ``arrays`` and ``metadata`` to ``stream``."""
    header, names = encode_header(arrays, metadata)
    write_all(stream, memoryview(header))
    write_arrays(stream, arrays, names, as_numpy)


def write_all(stream: Any, data: memoryview) -> None:
    """Write all of ``data``: an unbuffered stream may take only part of it at a time."""
    while len(data):
        count = stream.write(data)
        if count is None:  # a buffered stream took it all
            return
        if count <= 0:
            raise OSError(f"the file object took {count} of {len(data)} bytes")
        data = data[count:]


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 3, 6, 4, 40


def _short(value: Any) -> str:
    """``value`` for a message: short however big or deep a hostile header makes it."""
    return _SHORT.repr(value)
