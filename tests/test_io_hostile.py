"""chainrule.load against hostile and broken files: the saved object or a LoadError, nothing else.

Whatever the file (a directory, a FIFO, /dev/zero, a header length of 2**64-1, JSON nested
200,000 levels deep, crafted object metadata, a PyTorch pickle), ``load`` and ``load_metadata``
either give back what was saved or raise ``chainrule.io.LoadError``, whose one-line message
names the file (or says it was a file object) and the reason. They never raise anything else,
never block, never run pickle code, and never hold much more memory than the file is long: a
file's header is read before anything that it declares.

The named files come from tests/hostile_files.py; the fuzzer there damages valid files written
by ``chainrule.save`` (byte flips, truncations, insertions, rewritten headers). Runs:

    pytest tests/test_io_hostile.py                                    # CI: fixed seed
    CHAINRULE_IO_FUZZ_EXAMPLES=20000 pytest tests/test_io_hostile.py -k damaged   # a long run
    CHAINRULE_FUZZ_SEED=7 pytest tests/test_io_hostile.py -k damaged  # a random search from 7

``CHAINRULE_IO_FUZZ_EXAMPLES`` sets the examples of each fuzz test (default 500, and 200 for
the data-byte flips); ``CHAINRULE_FUZZ_SEED`` replaces the fixed derandomised seed, as in
tests/test_gradient_fuzz.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import chainrule as cr
import hostile_files as hf
from chainrule import backend
from chainrule.io import LoadError, MissingFileError, load, load_metadata

COPIES = 4  # a load may hold this many times its file's bytes...
SLACK = 1 << 20  # ...and this much more: objects, the message, the traceback
SMALL = 10 << 20  # the most a load may hold for a file that it must refuse from its header
MAX_REASON = 500  # a message quotes the file's contents only in short
HANG_TIMEOUT = 20  # seconds: a load in a subprocess that takes longer is taken as blocked

READERS = [load, load_metadata]
KINDS = ["path", "file_object"]

_examples = os.environ.get("CHAINRULE_IO_FUZZ_EXAMPLES")
_seed = os.environ.get("CHAINRULE_FUZZ_SEED")


def fuzz_settings(default_examples: int) -> Any:
    """A fixed example count and seed in CI; more examples or another seed from the env."""
    configured = settings(
        max_examples=int(_examples) if _examples else default_examples,
        deadline=None,
        derandomize=_seed is None,
        database=None,
        report_multiple_bugs=_examples is not None or _seed is not None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    def decorate(test: Any) -> Any:
        test = configured(test)
        return seed(int(_seed))(test) if _seed is not None else test

    return decorate


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Both readers run once, to a result and to an error, before any memory is measured:
    what a first call imports or caches is not the cost of the file."""
    for reader in READERS:
        reader(io.BytesIO(hf.BASES["checkpoint"]))
        with contextlib.suppress(Exception):
            reader(io.BytesIO(b"broken"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile") / "damaged.safetensors"


# ---- checks --------------------------------------------------------------------------------------


@dataclass
class Attempt:
    result: Any
    error: LoadError | None
    peak: int  # the most bytes of Python and NumPy memory held at once during the call


def attempt(reader: Any, source: Any) -> Attempt:
    """``reader(source)`` under tracemalloc; any exception but a LoadError escapes."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    result, error = None, None
    try:
        result = reader(source)
    except LoadError as caught:
        error = caught
    finally:
        peak = tracemalloc.get_traced_memory()[1] - start
        if not was_tracing:
            tracemalloc.stop()
    return Attempt(result, error, peak)


def check_memory(outcome: Attempt, size: int) -> None:
    # A load may hold a few copies of what it read (the bytes, the header as text, the metadata
    # strings parsed out of it, arrays made writable); never what a header merely declares.
    bound = COPIES * size + SLACK
    assert outcome.peak <= bound, f"held {outcome.peak} bytes for a file of {size} bytes"


def check_refusal(error: LoadError, source: Any) -> None:
    """One line naming the file (or saying it was a file object) and the reason."""
    message = str(error)
    assert "\n" not in message and "\r" not in message, message
    assert isinstance(error.reason, str) and error.reason, error.reason
    assert error.reason in message, (error.reason, message)
    if isinstance(source, (str, os.PathLike)):
        assert error.path == str(source), error.path
        # as it is, or quoted (a name with a NUL byte or a quote in it is shown escaped)
        assert str(source) in message or repr(str(source)) in message, message
    else:
        assert error.path is None, error.path
        assert "file object" in message, message
    assert len(message) <= len(str(source)) + MAX_REASON, message


def source_of(kind: str, data: bytes, path: Path) -> Any:
    if kind == "file_object":
        return io.BytesIO(data)
    path.write_bytes(data)
    return path


def refused(reader: Any, source: Any, size: int) -> LoadError:
    outcome = attempt(reader, source)
    assert outcome.error is not None, f"{reader.__name__} returned {type(outcome.result)}"
    check_refusal(outcome.error, source)
    check_memory(outcome, size)
    return outcome.error


def check_metadata(result: Any) -> None:
    assert isinstance(result, dict), type(result)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()), result


# ---- named hostile files -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
@pytest.mark.parametrize("name", sorted(hf.HEADER_CASES))
def test_a_broken_header_is_refused(tmp_path, name: str, reader: Any, kind: str) -> None:
    data = hf.HEADER_CASES[name]
    refused(reader, source_of(kind, data, tmp_path / f"{name}.safetensors"), len(data))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(hf.BODY_CASES))
def test_a_broken_body_is_refused_by_load(tmp_path, name: str, kind: str) -> None:
    data = hf.BODY_CASES[name]
    refused(load, source_of(kind, data, tmp_path / f"{name}.safetensors"), len(data))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(hf.BODY_CASES))
def test_load_metadata_of_a_broken_body_reads_or_refuses(tmp_path, name: str, kind: str) -> None:
    data = hf.BODY_CASES[name]
    source = source_of(kind, data, tmp_path / f"{name}.safetensors")
    outcome = attempt(load_metadata, source)
    check_memory(outcome, len(data))
    if outcome.error is None:
        check_metadata(outcome.result)
    else:
        check_refusal(outcome.error, source)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
@pytest.mark.parametrize("name", sorted(hf.EITHER_CASES))
def test_a_doubtful_file_is_read_or_refused(tmp_path, name: str, reader: Any, kind: str) -> None:
    data = hf.EITHER_CASES[name]
    source = source_of(kind, data, tmp_path / f"{name}.safetensors")
    outcome = attempt(reader, source)
    check_memory(outcome, len(data))
    if outcome.error is not None:
        check_refusal(outcome.error, source)


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_a_directory_is_refused(tmp_path, reader: Any) -> None:
    refused(reader, tmp_path, 0)


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_a_missing_file_is_a_missing_file_error(tmp_path, reader: Any) -> None:
    path = tmp_path / "absent.safetensors"
    error = refused(reader, path, 0)
    assert isinstance(error, MissingFileError) and isinstance(error, FileNotFoundError)


def _unopenable(tmp_path: Path, case: str) -> Any:
    if case == "dangling_symlink":
        (tmp_path / "link.safetensors").symlink_to(tmp_path / "gone.safetensors")
        return tmp_path / "link.safetensors"
    if case == "parent_is_a_file":
        (tmp_path / "file.txt").write_text("text")
        return tmp_path / "file.txt" / "model.safetensors"
    if case == "name_too_long":
        return tmp_path / ("m" * 300 + ".safetensors")
    return str(tmp_path / "model\0.safetensors")  # no file can have this name


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
@pytest.mark.parametrize(
    "case", ["dangling_symlink", "parent_is_a_file", "name_too_long", "nul_in_name"]
)
def test_a_path_that_cannot_be_opened_is_refused(tmp_path, case: str, reader: Any) -> None:
    refused(reader, _unopenable(tmp_path, case), 0)


def load_in_child(reader: Any, kind: str, target: Path | str) -> dict[str, Any]:
    """What ``reader`` does with ``target`` in a fresh process, which a hang cannot stall."""
    command = [sys.executable, hf.__file__, reader.__name__, kind, str(target)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=HANG_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{reader.__name__}({str(target)!r}) blocked: no outcome in {HANG_TIMEOUT} s")
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def check_child_refusal(outcome: dict[str, Any], target: Path | None) -> None:
    assert outcome["raised"] is not None, "it returned"
    assert outcome["load_error"], f"it raised {outcome['raised']}: {outcome['message'][:300]}"
    assert "\n" not in outcome["message"], outcome["message"]
    if target is not None:
        assert outcome["path"] == str(target) and str(target) in outcome["message"], outcome
    assert outcome["peak"] < SMALL, f"held {outcome['peak']} bytes"


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_a_symlink_to_dev_zero_is_refused_after_its_header(tmp_path, reader: Any) -> None:
    path = tmp_path / "zero.safetensors"
    path.symlink_to("/dev/zero")
    check_child_refusal(load_in_child(reader, "path", path), path)


def test_dev_zero_as_a_file_object_is_refused_after_its_header() -> None:
    check_child_refusal(load_in_child(load, "file_object", "/dev/zero"), None)


@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_a_fifo_is_refused_without_blocking(tmp_path, reader: Any) -> None:
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    check_child_refusal(load_in_child(reader, "path", path), path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
def test_a_sparse_gigabyte_with_a_bad_header_is_refused_in_little_memory(
    tmp_path, reader: Any, kind: str
) -> None:
    path = tmp_path / "sparse.safetensors"
    with open(path, "wb") as f:
        f.write(hf.raw_file("{not json at all}"))
        f.truncate(1 << 30)  # a hole: no disk used
    if kind == "path":
        outcome = attempt(reader, path)
    else:
        with open(path, "rb") as f:
            outcome = attempt(reader, f)
    assert outcome.error is not None
    assert "\n" not in str(outcome.error)
    assert outcome.peak < SMALL, f"held {outcome.peak} bytes"


def _pickled(kind: str, marker: Path) -> bytes:
    """A file in one of PyTorch's formats, or a bare pickle, that creates ``marker`` when
    unpickled."""
    payload: dict[str, Any] = {"w": [1.0, 2.0], "run": hf.RunsCode(str(marker))}
    if kind.startswith("pickle_"):
        return pickle.dumps(payload, protocol=int(kind.removeprefix("pickle_")))
    import torch

    payload["w"] = torch.ones(2)
    buffer = io.BytesIO()
    torch.save(payload, buffer, _use_new_zipfile_serialization=kind == "torch_zip")
    return buffer.getvalue()


def _unpickle(kind: str, data: bytes) -> None:
    if kind.startswith("pickle_"):
        pickle.loads(data)
    else:
        import torch

        torch.load(io.BytesIO(data), weights_only=False)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "pickled", ["torch_zip", "torch_legacy", "pickle_2", "pickle_4", "pickle_5", "pickle_0"]
)
def test_a_pickle_is_refused_without_running_its_code(tmp_path, pickled: str, kind: str) -> None:
    marker = tmp_path / "pickle-code-ran"
    data = _pickled(pickled, marker)
    error = refused(load, source_of(kind, data, tmp_path / "model.pt"), len(data))
    assert not marker.exists()
    if pickled != "pickle_0":  # protocol 0 is plain text: no sign of PyTorch's formats
        assert "PyTorch" in str(error) and "pickle" in str(error), str(error)
    _unpickle(pickled, data)  # the payload is live: unpickling does run it
    assert marker.exists()


# ---- the fuzzer ----------------------------------------------------------------------------------


def test_the_fuzzers_starting_files_load() -> None:
    flat = load(io.BytesIO(hf.BASES["flat"]))
    assert list(flat) == list(hf.flat_state())
    assert load_metadata(io.BytesIO(hf.BASES["flat"])) == {"note": "hello", "epoch": "3"}
    checkpoint = load(io.BytesIO(hf.BASES["checkpoint"]))
    assert leaves(checkpoint) == leaves(hf.checkpoint())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", READERS, ids=lambda reader: reader.__name__)
@fuzz_settings(500)
@given(data=hf.damaged_files())
def test_a_damaged_file_loads_or_is_refused(scratch, reader: Any, kind: str, data: bytes) -> None:
    source = source_of(kind, data, scratch)
    outcome = attempt(reader, source)
    check_memory(outcome, len(data))
    if outcome.error is not None:
        check_refusal(outcome.error, source)
    elif reader is load_metadata:
        check_metadata(outcome.result)


def leaves(value: Any) -> list[Any]:
    """The value flattened: containers as (type, length) or keys, arrays as (type, dtype,
    shape, bytes), nan as a marker (nan != nan), anything else as (type, value)."""
    kind = "Tensor" if isinstance(value, cr.Tensor) else type(value).__name__
    if isinstance(value, cr.Tensor):
        value = np.asarray(backend.to_numpy(value.array))
    if isinstance(value, (np.ndarray, np.generic)):
        return [("array", kind, value.dtype.str, np.shape(value), value.tobytes())]
    if isinstance(value, dict):
        found: list[Any] = [(type(value).__name__, len(value))]
        for key, item in value.items():
            found += [("key", type(key).__name__, key), *leaves(item)]
        return found
    if isinstance(value, (list, tuple)):
        return [(type(value).__name__, len(value))] + [x for item in value for x in leaves(item)]
    if isinstance(value, float) and math.isnan(value):
        return [("nan",)]
    return [(type(value).__name__, value)]


@st.composite
def data_flips(draw: Any) -> tuple[str, int, int]:
    """A starting file, a byte of its tensor data and a mask to XOR it with."""
    name = draw(st.sampled_from(sorted(hf.BASES)))
    data = hf.BASES[name]
    return name, draw(st.integers(hf.header_end(data), len(data) - 1)), draw(st.integers(1, 255))


def _dtype_at(data: bytes, at: int) -> str:
    start = hf.header_end(data)
    header = json.loads(data[8:start])
    for name, entry in header.items():
        begin, end = entry["data_offsets"] if name != "__metadata__" else (0, 0)
        if begin <= at - start < end:
            return entry["dtype"]
    raise AssertionError(f"byte {at} lies in no tensor")


@fuzz_settings(200)
@given(flip=data_flips())
def test_a_flipped_data_byte_loads_with_that_byte_changed(flip: tuple[str, int, int]) -> None:
    name, at, mask = flip
    data = hf.BASES[name]
    damaged = data[:at] + bytes([data[at] ^ mask]) + data[at + 1 :]
    outcome = attempt(load, io.BytesIO(damaged))
    if outcome.error is not None:  # only a bool may be refused for a byte other than 0 or 1
        assert _dtype_at(data, at) == "BOOL", str(outcome.error)
        return
    before, after = leaves(load(io.BytesIO(data))), leaves(outcome.result)
    assert len(before) == len(after)
    changed = 0
    for old, new in zip(before, after):
        if old[0] == "array" and new[0] == "array":
            assert old[:4] == new[:4]
            diff = sum(a != b for a, b in zip(old[4], new[4]))
            assert diff <= 1
            changed += diff
        else:
            assert old == new
    assert changed >= 1  # the flipped byte, once for each place its tensor sits
