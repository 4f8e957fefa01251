"""Builders of hostile and broken safetensors files, for tests/test_io_hostile.py.

A safetensors file is an 8-byte little-endian header length, a JSON header and the raw tensor
bytes. This module makes files that break each part of that on purpose:

- :data:`NAMED`: one file per known attack or accident (a header length of 2**64-1, a header
  nested 200,000 levels deep, overlapping byte ranges, a crafted ``chainrule.object``...);
- :func:`damaged_files`: a hypothesis strategy that damages valid files written by
  ``chainrule.save`` (byte flips, truncations, insertions, rewritten headers);
- :class:`RunsCode`: an object whose unpickling creates a marker file, to prove that loading
  a pickle runs none of its code.

Run as a script (``python hostile_files.py load path|file_object TARGET``), it loads TARGET
in a fresh process under a memory limit and prints the outcome as one JSON line: the tests run
files that could hang or exhaust memory (a FIFO, /dev/zero) that way, behind a timeout.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
from typing import Any

import numpy as np
from hypothesis import strategies as st

import chainrule as cr
from chainrule.io import OBJECT_KEY, ORDER_KEY

MAX_LENGTH = 2**64 - 1  # the largest header length that 8 bytes can declare

# ---- raw files -----------------------------------------------------------------------------------


def raw_file(header: Any, data: bytes = b"", length: int | None = None) -> bytes:
    """A file of ``header`` (bytes or str as given, anything else as JSON) and ``data``;
    ``length`` is the declared header length, by default the true one."""
    if isinstance(header, str):
        header = header.encode("utf-8")
    elif not isinstance(header, bytes):
        header = json.dumps(header).encode("utf-8")
    size = len(header) if length is None else length
    return size.to_bytes(8, "little") + header + data


def arrays_file(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """A valid safetensors file of ``arrays``, laid out in dict order, with ``metadata``."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header: dict[str, Any] = {} if metadata is None else {"__metadata__": metadata}
    data = b""
    for name, array in arrays.items():
        end = len(data) + array.nbytes
        header[name] = {
            "dtype": names[array.dtype],
            "shape": list(array.shape),
            "data_offsets": [len(data), end],
        }
        data += array.tobytes()
    return raw_file(header, data)


def _one_tensor(**changes: Any) -> bytes:
    """A file holding the float32 tensor ``w`` = [1.5, -2.0], its entry's fields changed."""
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], **changes}
    entry = {key: value for key, value in entry.items() if value is not _DROP}
    return raw_file({"w": entry}, np.array([1.5, -2.0], np.float32).tobytes())


_DROP = object()  # a field left out of an entry


def _key_order(text: str) -> bytes:
    arrays = {"a": np.array([1.0, 2.0], np.float32), "b": np.array([3], np.int64)}
    return arrays_file(arrays, {ORDER_KEY: text})


def _structure(text: str) -> bytes:
    return arrays_file({"t": np.zeros(2, np.float32)}, {OBJECT_KEY: text})


def _nested_lists(depth: int) -> str:
    return '{"format": 1, "value": ' + '{"list": [' * depth + "]}" * depth + "}"


# ---- valid files ---------------------------------------------------------------------------------


def flat_state() -> dict[str, Any]:
    """A state dict of several dtypes, as ``model.state_dict()`` gives."""
    gen = cr.Generator().manual_seed(1)
    return {
        "0.weight": cr.randn(3, 2, generator=gen),
        "0.bias": cr.randn(3, generator=gen, dtype=cr.float64),
        "1.running_mean": cr.zeros(3, dtype=cr.float16),
        "1.num_batches_tracked": cr.tensor(7),
        "codes": cr.tensor([1, 200, 3], dtype=cr.uint8),
        "mask": cr.tensor([True, False, True]),
    }


def checkpoint() -> dict[str, Any]:
    """A training checkpoint: model, an Adam-like optimizer state with int keys, tuples,
    floats (nan included), None, strings, a NumPy scalar and an array."""
    gen = cr.Generator().manual_seed(2)
    weight, bias = cr.randn(2, 3, generator=gen), cr.randn(2, generator=gen)
    return {
        "epoch": 3,
        "step": 120,
        "model": {"0.weight": weight, "0.bias": bias},
        "optimizer": {
            "state": {
                0: {"step": cr.tensor(5.0), "exp_avg": cr.zeros(2, 3), "exp_avg_sq": cr.ones(2, 3)},
                1: {"step": cr.tensor(5.0), "exp_avg": cr.zeros(2), "exp_avg_sq": cr.ones(2)},
            },
            "param_groups": [
                {
                    "lr": 1e-3,
                    "betas": (0.9, 0.999),
                    "eps": 1e-8,
                    "weight_decay": 0.0,
                    "amsgrad": False,
                    "foreach": None,
                    "params": [0, 1],
                }
            ],
        },
        "scheduler": {"last_epoch": 3, "_last_lr": [0.001]},
        "history": {"loss": [0.5, 0.25, float("nan")], "note": "run-1"},
        "rng": {"seed": np.uint64(12345), "state": np.arange(4, dtype=np.uint32)},
        "same_twice": [bias, bias],
    }


def saved(obj: Any, metadata: dict[str, str] | None = None) -> bytes:
    """The bytes that ``chainrule.save`` writes for ``obj``."""
    buffer = io.BytesIO()
    cr.save(obj, buffer, metadata=metadata)
    return buffer.getvalue()


BASES = {
    "flat": saved(flat_state(), metadata={"note": "hello", "epoch": "3"}),
    "checkpoint": saved(checkpoint(), metadata={"author": "tests"}),
}
"""Valid files that the fuzzer damages."""


# ---- named hostile files -------------------------------------------------------------------------

_DEEP = 200_000
_FLAT = BASES["flat"]

HEADER_CASES = {
    "empty": b"",
    "seven_bytes": _FLAT[:7],
    "length_max": raw_file({}, length=MAX_LENGTH),
    "length_beyond_file": raw_file("{}", length=1000),
    "length_zero": raw_file("", b"{}"),
    "header_not_utf8": raw_file(b'{"\xff\xfe": 1}'),
    "header_not_json": raw_file("{not json"),
    "header_list": raw_file([]),
    "header_string": raw_file('"weights"'),
    "header_number": raw_file("3"),
    "header_nested_lists": raw_file("[" * _DEEP + "]" * _DEEP),
    "header_nested_objects": raw_file('{"a": ' * _DEEP + "1" + "}" * _DEEP),
    "metadata_nested_lists": raw_file('{"__metadata__": ' + "[" * _DEEP + "]" * _DEEP + "}"),
    "metadata_list": raw_file({"__metadata__": ["a", "b"]}),
    "metadata_value_int": raw_file({"__metadata__": {"epoch": 3}}),
    "metadata_value_object": raw_file({"__metadata__": {"note": {"a": "b"}}}),
    "header_truncated": _FLAT[: 8 + int.from_bytes(_FLAT[:8], "little") // 2],
}
"""Files whose length field, header or ``__metadata__`` is broken: ``load`` and
``load_metadata`` must both refuse them."""

BODY_CASES = {
    "dtype_unknown": _one_tensor(dtype="Q7"),
    "dtype_not_text": _one_tensor(dtype=5),
    "dtype_missing": _one_tensor(dtype=_DROP),
    "shape_negative": _one_tensor(shape=[-2]),
    "shape_negative_pair": _one_tensor(shape=[-2, -1]),  # the product, 2, fits the bytes
    "shape_not_list": _one_tensor(shape="2"),
    "shape_number": _one_tensor(shape=2),
    "shape_of_floats": _one_tensor(shape=[2.0]),
    "shape_overflows": _one_tensor(shape=[2**63, 2**63, 4]),
    "shape_wraps_to_fit": _one_tensor(shape=[2**64 + 2]),  # 2 modulo 2**64
    "entry_not_object": raw_file({"w": 3}, bytes(8)),
    "offsets_missing": _one_tensor(data_offsets=_DROP),
    "offsets_beyond_data": _one_tensor(shape=[250], data_offsets=[0, 1000]),
    "offsets_reversed": _one_tensor(data_offsets=[8, 0]),
    "offsets_negative": _one_tensor(data_offsets=[-8, 0]),
    "offsets_not_pair": _one_tensor(data_offsets=[0]),
    "offsets_not_numbers": _one_tensor(data_offsets=["0", "8"]),
    "offsets_huge": _one_tensor(data_offsets=[2**64 - 8, 2**64]),
    "offsets_overlap": raw_file(
        {
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        },
        bytes(12),
    ),
    "size_not_dtype_times_shape": _one_tensor(shape=[3]),
    "data_truncated": _one_tensor(shape=[4], data_offsets=[0, 16]),
    "data_extra": _one_tensor() + bytes(7),
    "saved_file_truncated": _FLAT[:-5],
    "saved_file_extra": _FLAT + b"\x00" * 16,
    "checkpoint_truncated": BASES["checkpoint"][:-3],
    "key_order_not_json": _key_order("[not json"),
    "key_order_object": _key_order('{"a": 1, "b": 2}'),
    "key_order_string": _key_order('"ab"'),  # sorted("ab") == sorted of the names
    "key_order_ints": _key_order("[0, 1]"),
    "key_order_unknown_names": _key_order('["a", "zzz"]'),
    "key_order_missing_name": _key_order('["a"]'),
    "key_order_duplicates": _key_order('["a", "b", "a"]'),
    "key_order_nested": _key_order('[["a"], "b"]'),
    "object_not_json": _structure("{not json"),
    "object_not_object": _structure("[1, 2]"),
    "object_no_value": _structure('{"format": 1}'),
    "object_format_2": _structure('{"format": 2, "value": 1}'),
    "object_format_text": _structure('{"format": "1", "value": 1}'),
    "object_unknown_tag": _structure('{"format": 1, "value": {"set": [1, 2]}}'),
    "object_empty_node": _structure('{"format": 1, "value": {}}'),
    "object_missing_tensor": _structure('{"format": 1, "value": {"tensor": "nope"}}'),
    "object_tensor_name_int": _structure('{"format": 1, "value": {"tensor": 3}}'),
    "object_tensor_flag": _structure('{"format": 1, "value": {"tensor": "t", "parameter": 1}}'),
    "object_list_body": _structure('{"format": 1, "value": {"list": 3}}'),
    "object_dict_pair": _structure('{"format": 1, "value": {"dict": [[1]]}}'),
    "object_dict_list_key": _structure('{"format": 1, "value": {"dict": [[[1], 2]]}}'),
    "object_dict_object_key": _structure('{"format": 1, "value": {"dict": [[{"a": 1}, 2]]}}'),
    "object_float_text": _structure('{"format": 1, "value": {"float": "1.5"}}'),
    "object_nested_lists": _structure(_nested_lists(100_000)),
}
"""Files whose header parses but whose tensors, key order or object structure are broken:
``load`` must refuse them; ``load_metadata`` may read their metadata or refuse them."""

EITHER_CASES = {
    "object_nested_450": _structure(_nested_lists(450)),
    "object_nested_3000": _structure(_nested_lists(3000)),
    "metadata_null": raw_file({"__metadata__": None}),
}
"""Files that a loader may read or refuse (a deep but not absurd structure; ``null``
metadata), as long as it does one or the other."""


class RunsCode:
    """Pickles as a call of ``open(marker, "w")``: unpickling it creates the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


# ---- the fuzzer's damage -------------------------------------------------------------------------


def header_end(data: bytes) -> int:
    """Where the header ends by the length field, clipped to the file."""
    if len(data) < 8:
        return len(data)
    return min(len(data), 8 + int.from_bytes(data[:8], "little"))


def _flip(draw: Any, data: bytes, start: int, stop: int) -> bytes:
    if stop <= start:
        return data
    at = draw(st.integers(start, stop - 1))
    mask = draw(st.integers(1, 255))
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]


_JSON_BYTES = b'0123456789-+.eE[]{}",: \\'  # a byte of these keeps the header UTF-8 text


def flip_in_header(draw: Any, data: bytes) -> bytes:
    """One byte of the length field or the header XORed with a random mask, or one byte of
    the header text replaced by a JSON character (a digit of a shape, a bracket, a quote)."""
    end = header_end(data)
    if end <= 8 or draw(st.booleans()):
        return _flip(draw, data, 0, end)
    at = draw(st.integers(8, end - 1))
    return data[:at] + bytes([draw(st.sampled_from(_JSON_BYTES))]) + data[at + 1 :]


def flip_in_data(draw: Any, data: bytes) -> bytes:
    """One byte of the tensor data XORed with a random mask (the header, if there is none)."""
    start = header_end(data)
    return _flip(draw, data, start if start < len(data) else 0, len(data))


def truncate(draw: Any, data: bytes) -> bytes:
    """The file cut short at a random length."""
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


def insert(draw: Any, data: bytes) -> bytes:
    """Random bytes inserted at a random place."""
    at = draw(st.integers(0, len(data)))
    return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]


class Embedded:
    """A metadata value that is JSON text, parsed so that a rewrite can reach inside it."""

    def __init__(self, value: Any) -> None:
        self.value = value


_WORDS = [
    "F32", "F64", "F16", "I64", "U8", "BOOL", "BF16", "dtype", "shape", "data_offsets",
    "__metadata__", "format", "value", "tensor", "ndarray", "numpy_scalar", "list", "tuple",
    "dict", "OrderedDict", "float", "nan", "inf", "requires_grad", "parameter",
    ORDER_KEY, OBJECT_KEY,
]  # fmt: skip
_ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 2, 8, -1, 2**31, 2**63, 2**64 - 1, 2**64]),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(_WORDS),
)
json_values = st.recursive(
    _ATOMS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(_WORDS), inner, max_size=4)
    ),
    max_leaves=10,
)
"""Random JSON values, biased to the words and numbers that a safetensors header uses."""


def _expand(header: Any) -> Any:
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if isinstance(metadata, dict):
        for key, text in metadata.items():
            with contextlib.suppress(TypeError, ValueError, RecursionError):
                metadata[key] = Embedded(json.loads(text))
    return header


def _collapse(node: Any) -> Any:
    if isinstance(node, Embedded):
        return json.dumps(_collapse(node.value))
    if isinstance(node, dict):
        return {key: _collapse(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_collapse(value) for value in node]
    return node


def _places(node: Any, path: tuple = ()) -> list[tuple]:
    """The path of every value in the tree (keys, indices, and None to enter an Embedded)."""
    places = [path]
    if isinstance(node, Embedded):
        places += _places(node.value, (*path, None))
    elif isinstance(node, dict):
        for key, value in node.items():
            places += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            places += _places(value, (*path, index))
    return places


def _replace(tree: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = tree
    for step in path[:-1]:
        parent = parent.value if step is None else parent[step]
    last = path[-1]
    if last is None:
        parent.value = value
    elif delete:
        del parent[last]
    else:
        parent[last] = value
    return tree


def rewrite_header(draw: Any, data: bytes) -> bytes:
    """The header parsed, one value in it (metadata JSON included) replaced by a random JSON
    value or deleted, and written back with its true length or a wrong one."""
    end = header_end(data)
    try:
        header = json.loads(data[8:end].decode("utf-8"))
    except (ValueError, RecursionError):  # already damaged: damage it some other way
        return flip_in_header(draw, data)
    tree = _expand(copy.deepcopy(header))
    path = draw(st.sampled_from(_places(tree)))
    names = [key for key in header if key != "__metadata__"] if isinstance(header, dict) else []
    value = draw(json_values | st.sampled_from(names or ["w"]))
    delete = bool(path) and path[-1] is not None and draw(st.integers(0, 3)) == 0
    text = json.dumps(_collapse(_replace(tree, path, value, delete))).encode("utf-8")
    kind = draw(st.sampled_from(["true"] * 6 + ["off", "max"]))
    length = draw(_lengths(kind, len(text)))
    return raw_file(text, data[end:], length)


def _lengths(kind: str, true_length: int) -> Any:
    if kind == "true":
        return st.just(true_length)
    if kind == "max":
        return st.sampled_from([MAX_LENGTH, 2**63, 2**32 + true_length])
    return st.integers(-16, 16).map(lambda delta: max(true_length + delta, 0))


# A header rewrite reaches past the parsing of the header into its entries and metadata,
# where most of a loader's checks are: it is drawn as often as the byte-level damage together.
MUTATIONS = [truncate, flip_in_header, flip_in_data, insert] + [rewrite_header] * 4


@st.composite
def damaged_files(draw: Any) -> bytes:
    """A valid file from :data:`BASES` with one to three kinds of damage applied in turn."""
    data = BASES[draw(st.sampled_from(sorted(BASES)))]
    for mutate in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3)):
        data = mutate(draw, data)
    return data


# ---- loading in a separate process ---------------------------------------------------------------


def _load_in_this_process(reader_name: str, kind: str, target: str) -> dict[str, Any]:
    """Load ``target`` (as a path or an open file object); the outcome and memory peak."""
    import tracemalloc

    from chainrule import io as chainrule_io

    reader = getattr(chainrule_io, reader_name)
    load_error = getattr(chainrule_io, "LoadError", ())
    reader(io.BytesIO(BASES["flat"]))  # what the first load imports is not the file's cost
    source: Any = open(target, "rb") if kind == "file_object" else target  # noqa: SIM115
    tracemalloc.start()
    try:
        reader(source)
        outcome: dict[str, Any] = {"raised": None}
    except BaseException as error:  # what escapes, of any kind, is what the test judges
        outcome = {
            "raised": type(error).__name__,
            "load_error": isinstance(error, load_error),
            "message": str(error),
            "path": getattr(error, "path", None),
        }
    outcome["peak"] = tracemalloc.get_traced_memory()[1]
    return outcome


if __name__ == "__main__":
    import resource

    # A loader that reads /dev/zero to its end meets this limit instead of the machine's.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    print(json.dumps(_load_in_this_process(*sys.argv[1:4])))
