"""chainrule.load and load_metadata refuse what they cannot load with a LoadError naming the file
and the reason, read no more than a file's header declares, and take file objects of any kind."""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import os
import pickle
import re
import tracemalloc

import numpy as np
import pytest

from chainrule.io import (
    OBJECT_KEY,
    ORDER_KEY,
    LoadError,
    MissingFileError,
    load,
    load_metadata,
    save,
)


def raw(header, data: bytes = b"", length: int | None = None) -> bytes:
    """A file of ``header`` (bytes as given, anything else as JSON) and ``data``, declaring
    the header length ``length`` (by default the true one)."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return (len(text) if length is None else length).to_bytes(8, "little") + text + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def with_metadata(**metadata: str) -> bytes:
    return raw({"__metadata__": metadata, "a": entry(), "b": entry(offsets=(8, 16))}, bytes(16))


_ONE = raw({"w": entry()}, bytes(8))  # a valid file of 77 bytes

BROKEN = {
    "empty": (b"", "only 0 bytes"),
    "short": (b"\x10\x00", "only 2 bytes"),
    "header_over_limit": (raw({}, length=2**40), "over the limit"),
    "header_beyond_file": (raw({}, length=100), "header length of 100 bytes in a file of 10"),
    "header_truncated": (raw({"w": entry()}, length=20)[:20], "header length of 20"),
    "header_not_utf8": (raw(b'{"\xff": 1}'), "not UTF-8"),
    "header_not_json": (raw(b"{weights"), "not JSON"),
    "header_deep": (raw(b"[" * 200_000 + b"]" * 200_000), "nested too deeply"),
    "header_list": (raw([]), "a JSON list, not an object"),
    "header_nan": (raw(b'{"w": NaN}'), "not JSON"),
    "duplicate_names": (raw(b'{"w": {}, "w": {}}'), "names 'w' twice"),
    "entry_not_object": (raw({"w": 3}, bytes(8)), "the entry of 'w' is 3"),
    "no_dtype": (raw({"w": {"shape": [2], "data_offsets": [0, 8]}}, bytes(8)), "no 'dtype'"),
    "unknown_dtype": (raw({"w": entry("f32")}, bytes(8)), "unknown dtype 'f32'"),
    "negative_shape": (raw({"w": entry(shape=[-2, -1])}, bytes(8)), "not a list of sizes"),
    "float_shape": (raw({"w": entry(shape=[2.0])}, bytes(8)), "not a list of sizes"),
    "bool_shape": (raw({"w": entry(shape=[True, 2])}, bytes(8)), "not a list of sizes"),
    "huge_shape": (raw({"w": entry(shape=[2**62] * 50)}, bytes(8)), "do not hold"),
    "three_offsets": (raw({"w": entry(offsets=[0, 4, 8])}, bytes(8)), "not \\[begin, end\\]"),
    "reversed_offsets": (raw({"w": entry(offsets=[8, 0])}, bytes(8)), "end before they begin"),
    "wrong_size": (raw({"w": entry(shape=[3])}, bytes(8)), "8 bytes, which do not hold"),
    "overlap": (raw({"a": entry(), "b": entry(offsets=(4, 12))}, bytes(12)), "overlap"),
    "gap": (raw({"a": entry(), "b": entry(offsets=(12, 20))}, bytes(20)), "8 to 12 belong to"),
    "late_start": (raw({"w": entry(offsets=(4, 12))}, bytes(12)), "0 to 4 belong to no"),
    "file_longer": (_ONE + b"\0", f"declares {len(_ONE)} bytes in all, but the file has 78"),
    "file_shorter": (_ONE[:-1], f"declares {len(_ONE)} bytes in all, but the file has 76"),
    "metadata_list": (raw({"__metadata__": ["a"]}), "__metadata__ is not a map of strings"),
    "metadata_int": (raw({"__metadata__": {"epoch": 3}}), "__metadata__ is not a map of strings"),
    "key_order_not_json": (with_metadata(**{ORDER_KEY: "[a"}), "not a JSON list of names"),
    "key_order_not_list": (with_metadata(**{ORDER_KEY: '{"a": 1}'}), "not a JSON list of names"),
    "key_order_ints": (with_metadata(**{ORDER_KEY: "[1, 2]"}), "not a JSON list of names"),
    "key_order_other_names": (with_metadata(**{ORDER_KEY: '["a", "c"]'}), "not those of its 2"),
    "object_not_json": (with_metadata(**{OBJECT_KEY: "{"}), "malformed .* it is not JSON"),
    "object_deep": (
        with_metadata(**{OBJECT_KEY: '{"format": 1, "value": ' + "[" * 5000 + "]" * 5000 + "}"}),
        "nested too deeply",
    ),
    "bfloat16": (raw({"w": entry("BF16", [4])}, bytes(8)), "stores 'w' as BF16, which NumPy"),
    "float8": (raw({"w": entry("F8_E4M3", [8])}, bytes(8)), "stores 'w' as F8_E4M3"),
    "bool_byte_2": (
        raw({"m": entry("BOOL", [2], (0, 2))}, b"\x01\x02"),
        "bool tensor 'm' holds bytes",
    ),
    "too_many_dims": (raw({"w": entry(shape=[1] * 65, offsets=(0, 4))}, bytes(4)), "at most 64"),
}


def check_load_error(error: LoadError, where: str, path, reason: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{where}: ")
    assert error.reason in message and re.search(reason, error.reason), message
    if isinstance(path, (str, os.PathLike)):
        assert error.path == str(path) and repr(str(path)) in message
    else:
        assert error.path is None and "file object" in message


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_file_is_a_load_error_naming_it(tmp_path, name):
    data, reason = BROKEN[name]
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(data)
    for source in (path, str(path), io.BytesIO(data)):
        with pytest.raises(LoadError) as caught:
            load(source)
        check_load_error(caught.value, "load", source, reason)


@pytest.mark.parametrize("name", [n for n in sorted(BROKEN) if BROKEN[n][0][8:9] != b"{"])
def test_load_metadata_refuses_a_broken_header_too(tmp_path, name):
    data, reason = BROKEN[name]
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(data)
    with pytest.raises(LoadError) as caught:
        load_metadata(path)
    check_load_error(caught.value, "load_metadata", path, reason)


def test_a_missing_file_is_a_missing_file_error(tmp_path):
    path = tmp_path / "absent.safetensors"
    for reader in (load, load_metadata):
        with pytest.raises(MissingFileError) as caught:
            reader(path)
        error = caught.value
        assert isinstance(error, FileNotFoundError) and isinstance(error, ValueError)
        assert error.errno == errno.ENOENT and error.filename == str(path)
        check_load_error(error, reader.__name__, path, "no such file")
    (tmp_path / "link.safetensors").symlink_to(path)  # dangling
    with pytest.raises(MissingFileError):
        load(tmp_path / "link.safetensors")


def test_files_that_are_not_files_are_refused_before_being_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.safetensors")  # opening it for reading would wait for a writer
    (tmp_path / "zero.safetensors").symlink_to("/dev/zero")  # endless
    cases = {
        tmp_path: "is a directory",
        tmp_path / "pipe.safetensors": "is not a regular file but a pipe",
        tmp_path / "zero.safetensors": "is not a regular file but a character device",
        tmp_path / "a\0.safetensors": "is not a valid path",
        tmp_path / ("m" * 300): "file name too long",
    }
    for path, reason in cases.items():
        with pytest.raises(LoadError) as caught:
            load(path)
        check_load_error(caught.value, "load", path, reason)


def test_a_file_it_may_not_read_is_a_load_error(tmp_path, monkeypatch):
    path = tmp_path / "secret.safetensors"
    save({"w": np.ones(2)}, path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: make the open fail as it would
        real_open = os.open

        def refuse(name, *args, **kwargs):
            if os.fspath(name) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(LoadError) as caught:
        load(path)
    check_load_error(caught.value, "load", path, "permission denied")


def test_load_error_survives_pickling_for_worker_processes(tmp_path):
    with pytest.raises(LoadError) as caught:
        load(tmp_path)
    for error in (caught.value, MissingFileError("load", "gone.safetensors")):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert (copy.path, copy.reason) == (error.path, error.reason)


# ---- file objects --------------------------------------------------------------------------------


class Stream(io.RawIOBase):
    """A pipe-like binary stream: no seek, no size, reads of at most 5 bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(5, len(buffer), len(self.data) - self.at)
        buffer[:count] = self.data[self.at : self.at + count]
        self.at += count
        return count


def test_file_objects_of_every_kind_load(tmp_path):
    state = {"b": np.arange(6, dtype=np.int16).reshape(2, 3), "a": np.array(2.5)}
    path = tmp_path / "s.safetensors"
    save(state, path, metadata={"note": "x"})
    data = path.read_bytes()
    with open(path, "rb") as handle:
        sources = [handle, io.BytesIO(data), Stream(data), io.BufferedReader(Stream(data))]
        for source in sources:
            loaded = load(source)
            assert list(loaded) == ["b", "a"]
            np.testing.assert_array_equal(loaded["b"].numpy(), state["b"])
    assert load_metadata(Stream(data)) == {"note": "x"}
    with pytest.raises(LoadError, match=f"goes on after the {len(data)} bytes"):
        load(Stream(data[:-2] + b"\x00\x00\x00"))
    with pytest.raises(LoadError, match=r"ends 0 bytes into the 12 bytes of 'b'"):
        load(Stream(data[:-12]))
    with open(path, "rb") as handle, pytest.raises(LoadError) as caught:
        handle.seek(3)
        load(handle)
    assert f"file object {str(path)!r} (BufferedReader)" in str(caught.value)


# ---- memory: a file costs what it holds, never what a header claims, and saving streams ----------


def traced_peak(action) -> int:
    """The most bytes of Python and NumPy memory that ``action()`` held at once."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        with contextlib.suppress(LoadError):
            action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


MB = 1 << 20


@pytest.mark.parametrize(
    "header",
    [b"{not json", json.dumps({"w": entry(shape=[10], offsets=(0, 40))}).encode()],
    ids=["bad_json", "declares_40_bytes"],
)
def test_a_big_file_with_a_bad_header_costs_only_its_header(tmp_path, header):
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as handle:
        handle.write(raw(header))
        handle.truncate(200 * MB)  # a hole: 200 MB that take no disk
    load(io.BytesIO(raw({})))  # what a first load imports is not the file's cost
    for reader in (load, load_metadata):
        with pytest.raises(LoadError):
            reader(path)
        assert traced_peak(functools.partial(reader, path)) < MB
        with open(path, "rb") as handle:
            assert traced_peak(functools.partial(reader, handle)) < MB


def test_a_header_length_beyond_the_file_is_never_read(tmp_path):
    path = tmp_path / "claims.safetensors"
    path.write_bytes(raw({}, length=99 * MB))
    assert traced_peak(lambda: load(path)) < MB
    assert traced_peak(lambda: load(Stream(raw({}, length=99 * MB)))) < MB


def test_loading_holds_the_tensors_once(tmp_path):
    state = {f"w{i}": np.full(2 * MB, i, dtype=np.float32) for i in range(4)}  # 32 MB
    path = tmp_path / "m.safetensors"
    save(state, path)
    loaded = {}
    peak = traced_peak(lambda: loaded.update(load(path)))
    assert 32 * MB <= peak < 34 * MB  # the arrays themselves, and no second copy
    for key, array in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), array)
