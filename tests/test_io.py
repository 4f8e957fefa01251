"""chainrule.io: round trips, files shared with PyTorch, atomic and streaming saves that keep a
file's permissions, and writers killed mid-save."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import safetensors.torch
import torch

import chainrule as cr
from chainrule import nn
from chainrule.io import (
    ORDER_KEY,
    LoadError,
    load,
    load_metadata,
    save,
)


def _chainrule_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 4)
    )


def _torch_net() -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv1d(2, 3, 3),
        torch.nn.BatchNorm1d(3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(12, 4),
    )


def _inputs(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(5, 2, 6)).astype(np.float32)


def _trained_chainrule_net() -> nn.Sequential:
    model = _chainrule_net()
    model(cr.tensor(_inputs(1)))  # a training-mode pass moves the batch-norm statistics
    return model.eval()


def test_round_trip_gives_identical_outputs(tmp_path):
    model = _trained_chainrule_net()
    path = tmp_path / "net.safetensors"
    save(model.state_dict(), path)
    loaded = load(path)
    assert list(loaded) == list(model.state_dict())
    assert loaded["1.num_batches_tracked"].shape == ()
    assert loaded["1.num_batches_tracked"].dtype == cr.int64
    assert int(loaded["1.num_batches_tracked"].item()) == 1

    cr.manual_seed(123)  # a different initialisation, overwritten by the load
    twin = _chainrule_net().eval()
    twin.load_state_dict(loaded)
    x = cr.tensor(_inputs())
    np.testing.assert_array_equal(twin(x).detach().numpy(), model(x).detach().numpy())


@pytest.mark.parametrize(
    "array",
    [
        np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32),
        np.random.default_rng(1).normal(size=(2, 1, 5)),
        np.arange(-5, 7, dtype=np.int64).reshape(3, 4),
        np.array([True, False, True]),
        np.arange(6, dtype=np.int32),
        np.arange(4, dtype=np.uint8),
        np.array([0.5, -2.0], dtype=np.float16),
        np.array(3.25, dtype=np.float64),  # 0-d stays 0-d
        np.zeros((0, 3), dtype=np.float32),
    ],
    ids=["f32", "f64", "i64", "bool", "i32", "u8", "f16", "scalar", "empty"],
)
def test_dtypes_and_shapes_round_trip(tmp_path, array):
    path = tmp_path / "a.safetensors"
    save({"as_array": array, "as_tensor": cr.from_numpy(array)}, path)
    loaded = load(path)
    for key in ("as_array", "as_tensor"):
        assert isinstance(loaded[key], cr.Tensor)
        assert loaded[key].dtype == array.dtype
        assert loaded[key].shape == array.shape
        np.testing.assert_array_equal(loaded[key].numpy(), array)


def test_non_contiguous_arrays_are_saved_in_index_order(tmp_path):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    views = {"transposed": base.T, "strided": base[:, ::2], "tensor_view": cr.from_numpy(base.T)}
    save(views, tmp_path / "v.safetensors")
    loaded = load(tmp_path / "v.safetensors")
    np.testing.assert_array_equal(loaded["transposed"].numpy(), base.T)
    np.testing.assert_array_equal(loaded["strided"].numpy(), base[:, ::2])
    np.testing.assert_array_equal(loaded["tensor_view"].numpy(), base.T)


def test_key_order_and_metadata_survive(tmp_path):
    keys = ["zeta", "alpha", "10.weight", "2.weight", "mid"]
    state = {key: np.full(2, i, dtype=np.float32) for i, key in enumerate(keys)}
    path = tmp_path / "o.safetensors"
    save(state, path, metadata={"epoch": "3", "note": "ordered"})
    assert list(load(path)) == keys
    assert load_metadata(path) == {"epoch": "3", "note": "ordered"}
    # The order travels as ordinary metadata, visible to any safetensors reader.
    with safetensors.safe_open(path, framework="np") as handle:
        assert json.loads(handle.metadata()[ORDER_KEY]) == keys


def test_loaded_tensors_are_writable(tmp_path):
    save({"w": np.ones(3, dtype=np.float32)}, tmp_path / "w.safetensors")
    weight = load(tmp_path / "w.safetensors")["w"]
    weight.data += 1.0
    np.testing.assert_array_equal(weight.numpy(), [2.0, 2.0, 2.0])


def test_empty_state_dict_round_trips(tmp_path):
    save({}, tmp_path / "e.safetensors")
    assert load(tmp_path / "e.safetensors") == {}


# ---- PyTorch compatibility ------------------------------------------------------------------


def test_a_chainrule_file_loads_in_torch(tmp_path):
    model = _trained_chainrule_net()
    path = tmp_path / "cr.safetensors"
    save(model.state_dict(), path)
    state = safetensors.torch.load_file(path)
    assert state["1.num_batches_tracked"].dtype == torch.int64
    twin = _torch_net()
    twin.load_state_dict(state)
    twin.eval()
    x = _inputs()
    with torch.no_grad():
        expected = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(cr.tensor(x)).detach().numpy(), expected, atol=1e-6)


def test_a_torch_file_loads_in_chainrule(tmp_path):
    torch.manual_seed(0)
    reference = _torch_net()
    reference(torch.from_numpy(_inputs(1)))  # move the batch-norm statistics
    reference.eval()
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(reference.state_dict(), path)

    model = _chainrule_net().eval()
    model.load_state_dict(load(path))
    x = _inputs()
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(cr.tensor(x)).detach().numpy(), expected, atol=1e-6)


def test_bfloat16_is_refused_by_name(tmp_path):
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, path)
    with pytest.raises(LoadError, match=r"stores 'w' as BF16, which NumPy cannot hold"):
        load(path)
    assert load_metadata(path) == {}  # the header alone is fine


# ---- atomic saves ---------------------------------------------------------------------------


def test_a_failing_fsync_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save({"w": np.zeros(4, dtype=np.float32)}, path)
    before = path.read_bytes()

    def fail(fd):
        raise OSError("disk failure")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk failure"):
        save({"w": np.ones(4, dtype=np.float32)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]
    np.testing.assert_array_equal(load(path)["w"].numpy(), np.zeros(4))


def test_a_write_interrupted_half_way_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save({"w": np.zeros(1000, dtype=np.float32)}, path)
    before = path.read_bytes()
    real_fdopen = os.fdopen
    written = []

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            written.append(len(data) // 2)
            raise KeyboardInterrupt  # the user presses Ctrl-C mid-save

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.handle.close()

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(KeyboardInterrupt):
        save({"w": np.ones(1000, dtype=np.float32)}, path)
    monkeypatch.undo()
    assert written and written[0] > 0
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


# ---- bad inputs -----------------------------------------------------------------------------


def test_bad_state_dicts_are_named(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="'s' has dtype <U1"):
        save({"s": np.array(["a"])}, path)
    with pytest.raises(TypeError, match="metadata must map str to str"):
        save({"w": np.zeros(2)}, path, metadata={"epoch": 3})
    with pytest.raises(ValueError, match="is reserved"):
        save({"w": np.zeros(2)}, path, metadata={ORDER_KEY: "[]"})
    assert not path.exists()

    with pytest.raises(ValueError, match="name or metadata value is not valid Unicode"):
        save({"w\ud800": np.zeros(2)}, path)
    assert not path.exists()


def test_a_tensor_named_like_the_header_entry_round_trips(tmp_path):
    state = {"__metadata__": cr.arange(3.0), "w": cr.ones(2)}
    save(state, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert list(loaded) == ["__metadata__", "w"]
    np.testing.assert_array_equal(loaded["__metadata__"].numpy(), state["__metadata__"])


def test_importing_chainrule_io_does_not_import_safetensors():
    # chainrule reads and writes the format itself: the package is for PyTorch's side.
    code = "import sys, chainrule.io; print('safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- saving streams ------------------------------------------------------------------------------


def traced_peak(action) -> int:
    """The most bytes of Python and NumPy memory that ``action()`` held at once."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


MB = 1 << 20


def test_saving_streams_one_tensor_at_a_time(tmp_path):
    state = {f"w{i}": cr.full((1024, 1024), float(i)) for i in range(12)}  # 48 MB
    state["transposed"] = cr.ones(1024, 512).t()  # 2 MB, copied alone to be written in order
    path = tmp_path / "m.safetensors"
    save(state, path)  # once first: imports and caches are not what saving costs
    assert traced_peak(lambda: save(state, path)) < 3 * MB
    nested = {"epoch": 1, "model": state}
    assert traced_peak(lambda: save(nested, path)) < 3 * MB
    np.testing.assert_array_equal(load(path)["model"]["transposed"].numpy(), np.ones((512, 1024)))


# ---- permissions and writers killed mid-save ----------------------------------------------------


def test_saving_over_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "private.safetensors"
    save({"w": np.zeros(2)}, path)
    path.chmod(0o600)
    save({"w": np.ones(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    np.testing.assert_array_equal(load(path)["w"].numpy(), [1.0, 1.0])


WRITER = """
import sys
import numpy as np
from chainrule.io import save

arrays = {f"w{i}": np.zeros(1 << 19, dtype=np.float32) for i in range(8)}  # 16 MB
print("ready", flush=True)
sys.stdin.readline()  # wait for the word
version = 0
while True:
    version += 1
    for array in arrays.values():
        array.fill(version)
    save(arrays, sys.argv[1], metadata={"version": str(version)})
"""


def temporaries(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def check_complete(path) -> None:
    """The file loads, and every tensor holds the version its metadata names: not a mix."""
    version = float(load_metadata(path)["version"])
    for array in load(path).values():
        assert np.all(array.numpy() == version)


def test_writers_killed_mid_save_leave_whole_files_and_no_temporaries(tmp_path):
    path = tmp_path / "model.safetensors"

    def writer() -> subprocess.Popen:
        command = [sys.executable, "-c", WRITER, str(path)]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    delays = random.Random(0)
    left_behind = 0
    upcoming = writer()
    for round_ in range(10):
        # The next writer starts up (imports) while this one is saved and killed.
        child, upcoming = upcoming, writer() if round_ < 9 else None
        assert child.stdout.readline() == "ready\n"
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(delays.uniform(0.0, 0.2))
        child.kill()
        child.wait()  # reaped: its process id is free, as after a crash
        child.stdin.close()
        child.stdout.close()
        left_behind += len(temporaries(tmp_path))
        if path.exists():  # the last complete save, never a part of one
            check_complete(path)
        save({"w0": np.zeros(3, np.float32)}, path, metadata={"version": "0"})
        assert temporaries(tmp_path) == []
        check_complete(path)
    assert left_behind > 0  # most kills land mid-save, with a temporary file open
