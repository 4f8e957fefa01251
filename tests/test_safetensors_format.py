"""chainrule.safetensors_format against the safetensors library: the same bytes written, the
same tensors read, in both directions."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import safetensors
import safetensors.numpy
import safetensors.torch
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import safetensors_format as fmt

DTYPES = sorted(fmt.NUMPY_DTYPES.values(), key=str)

arrays = st.dictionaries(
    st.text(max_size=6).filter(lambda name: name != "__metadata__"),
    st.sampled_from(DTYPES).flatmap(
        lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))
    ),
    max_size=6,
)
metadata = st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=1)


def written(tensors: dict, meta: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    fmt.write(buffer, tensors, meta)
    return buffer.getvalue()


def read(data: bytes) -> tuple[fmt.Header, dict[str, np.ndarray]]:
    stream = io.BytesIO(data)
    header = fmt.read_header(stream, len(data))
    return header, fmt.read_arrays(stream, header)


@settings(max_examples=60, deadline=None)
@given(tensors=arrays, meta=metadata)
def test_the_bytes_written_are_the_librarys(tensors, meta) -> None:
    # One metadata entry at most: the library writes several in its hash map's random order.
    # (It writes broken JSON for no tensors and empty metadata, a bug not to copy.)
    assume(tensors or meta != {})
    ours = written(tensors, meta)
    assert ours == safetensors.numpy.save(tensors, metadata=meta)
    header, back = read(ours)
    assert (header.metadata, sorted(back)) == (meta or {}, sorted(tensors))
    for name, array in tensors.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape
        assert back[name].tobytes() == array.tobytes() and back[name].flags.writeable


@settings(max_examples=60, deadline=None)
@given(tensors=arrays)
def test_files_of_the_library_read_as_it_reads_them(tensors) -> None:
    data = safetensors.numpy.save(tensors, metadata={"a": "1", "b": "2"})
    header, ours = read(data)
    theirs = safetensors.numpy.load(data)
    assert header.metadata == {"a": "1", "b": "2"}
    assert list(ours) == [entry.name for entry in header.entries]
    assert sorted(ours) == sorted(theirs)
    for name, array in theirs.items():
        assert ours[name].dtype == array.dtype and ours[name].shape == array.shape
        assert ours[name].tobytes() == array.tobytes()


def test_many_metadata_entries_hold_the_same_header(tmp_path) -> None:
    tensors = {"b": np.arange(3, dtype=np.int8), "a": np.ones((2, 2), np.float16)}
    meta = {f"key{i}": f"value {i}" for i in range(10)}
    ours, theirs = written(tensors, meta), safetensors.numpy.save(tensors, metadata=meta)
    size = int.from_bytes(ours[:8], "little")
    assert len(ours) == len(theirs) and ours[:8] == theirs[:8]
    assert json.loads(ours[8 : 8 + size]) == json.loads(theirs[8 : 8 + size])
    assert ours[8 + size :] == theirs[8 + size :]


def test_a_file_of_safetensors_torch_loads_identically(tmp_path) -> None:
    generator = torch.Generator().manual_seed(0)
    state = {
        "f32": torch.randn(3, 4, generator=generator),
        "f64": torch.randn(2, dtype=torch.float64, generator=generator),
        "f16": torch.randn(5, generator=generator).half(),
        "i64": torch.arange(-3, 3),
        "i32": torch.tensor([7, -8], dtype=torch.int32),
        "i16": torch.tensor([[1], [2]], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "transposed": torch.arange(6.0).reshape(2, 3).t().contiguous(),
    }
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(state, path, metadata={"format": "pt"})
    loaded = cr.load(path)
    with open(path, "rb") as handle:
        header = fmt.read_header(handle)
    assert list(loaded) == [entry.name for entry in header.entries]  # the file's own order
    reference = safetensors.numpy.load_file(path)
    for name, tensor in state.items():
        assert loaded[name].dtype == reference[name].dtype
        np.testing.assert_array_equal(loaded[name].numpy(), tensor.numpy())
    assert cr.io.load_metadata(path) == {"format": "pt"}


def test_a_chainrule_file_opens_in_safe_open_and_load_file(tmp_path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    model = cr.nn.Linear(3, 2)
    cr.save({"epoch": 2, "model": model.state_dict()}, path, metadata={"run": "7"})
    with safetensors.safe_open(path, framework="np") as handle:
        assert sorted(handle.keys()) == ["model.bias", "model.weight"]
        assert handle.metadata()["run"] == "7"
        np.testing.assert_array_equal(
            handle.get_tensor("model.weight"), model.weight.detach().numpy()
        )
    flat = safetensors.numpy.load_file(path)
    np.testing.assert_array_equal(flat["model.bias"], model.bias.detach().numpy())


@pytest.mark.parametrize(
    ("array", "why"),
    [
        (np.zeros(2, np.complex64), "dtype complex64"),
        (np.zeros(2, np.float128), "dtype float128"),
        (np.array(["a"]), "dtype <U1"),
    ],
)
def test_arrays_the_format_cannot_hold_are_refused_before_writing(array, why) -> None:
    with pytest.raises(ValueError, match=f"cannot hold the {why} of tensor 'x'"):
        fmt.encode_header({"x": array})


def test_big_endian_and_strided_arrays_are_written_as_the_format_lays_them_out() -> None:
    base = np.arange(12, dtype=">i4").reshape(3, 4)
    tensors = {"big": base, "strided": base[:, ::2], "transposed": base.T}
    expected = {name: np.ascontiguousarray(a, dtype="<i4") for name, a in tensors.items()}
    assert written(tensors) == safetensors.numpy.save(expected)
    _, back = read(written(tensors))
    for name, array in tensors.items():
        np.testing.assert_array_equal(back[name], array)
