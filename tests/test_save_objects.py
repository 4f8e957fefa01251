"""chainrule.save / chainrule.load of ordinary Python objects: checkpoints, optimizer state dicts,
nested containers, file objects; never a pickle, and malformed files refused by name."""

from __future__ import annotations

import collections
import io
import json
import math
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import chainrule as cr
from chainrule import nn, optim
from chainrule.io import OBJECT_KEY, ORDER_KEY, LoadError, load_metadata


def skeleton(value: Any) -> Any:
    """The value with tensors replaced by (dtype, shape, values, requires_grad): the same for
    a chainrule object and its torch twin when they hold the same things."""
    if isinstance(value, (cr.Tensor, torch.Tensor)):
        array = np.array(value.detach().numpy())
        return ("tensor", str(array.dtype), array.shape, array.tolist(), value.requires_grad)
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, value.tolist())
    if isinstance(value, dict):
        return (type(value).__name__, [(k, skeleton(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [skeleton(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    return (type(value).__name__, value)


def nested(m: Any) -> Any:
    """An object of every kind save accepts, built with library ``m``."""
    weight = m.tensor([[1.5, -2.0], [0.25, 4.0]])
    return {
        "epoch": 3,
        "loss": 0.125,
        "big": 2**70,
        "name": "run-1",
        "done": False,
        "nothing": None,
        "not_finite": [float("inf"), float("-inf"), float("nan")],
        "betas": (0.9, 0.999),
        "state": {0: {"step": 7, "buffer": m.tensor([1.0, 2.0])}, 1: {}},
        "same_twice": [weight, weight],
        "ordered": collections.OrderedDict([("b", 1), ("a", m.tensor([True, False]))]),
        "ints": m.tensor([[1, 2, 3]], dtype=m.int64),
        "scalar": m.tensor(2.5, dtype=m.float64),
        "needs_grad": m.tensor([0.5, 1.5], requires_grad=True),
    }


def test_nested_objects_round_trip_as_torch_save_does(tmp_path) -> None:
    ours, theirs = nested(cr), nested(torch)
    cr.save(ours, tmp_path / "ours.safetensors")
    torch.save(theirs, tmp_path / "theirs.pt")
    back = cr.load(tmp_path / "ours.safetensors")
    reference = torch.load(tmp_path / "theirs.pt")
    assert skeleton(back) == skeleton(reference)
    # The same tensor twice comes back as one object, as pickle's memo gives it in torch.
    assert back["same_twice"][0] is back["same_twice"][1]
    assert reference["same_twice"][0] is reference["same_twice"][1]


def test_a_tuple_key_is_refused_naming_where_it_is(tmp_path) -> None:
    # torch pickles any key; chainrule's keys are str, numbers, bools and None.
    with pytest.raises(TypeError, match=r"obj\['state'\] has a key of type tuple"):
        cr.save({"state": {(1, 2): 3}}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_a_flat_state_dict_makes_exactly_the_file_it_made_before(tmp_path) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    state = model.state_dict()
    path = tmp_path / "model.safetensors"
    cr.save(state, path)
    arrays = {key: value.numpy().copy(order="C") for key, value in state.items()}
    expected = safetensors.numpy.save(arrays, metadata={ORDER_KEY: json.dumps(list(state))})
    assert path.read_bytes() == expected
    loaded = cr.load(path)
    assert list(loaded) == list(state)
    for key in state:
        np.testing.assert_array_equal(loaded[key].numpy(), state[key].numpy())


def test_tensors_sit_under_readable_names_in_an_ordinary_safetensors_file(tmp_path) -> None:
    model = nn.Linear(2, 3)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(cr.ones(4, 2)).sum().backward()
    opt.step()
    path = tmp_path / "checkpoint.safetensors"
    cr.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    tensors = safetensors.torch.load_file(path)
    assert sorted(tensors) == [
        "model.bias",
        "model.weight",
        "optimizer.state.0.momentum_buffer",
        "optimizer.state.1.momentum_buffer",
    ]
    np.testing.assert_array_equal(tensors["model.weight"].numpy(), model.weight.detach().numpy())
    assert OBJECT_KEY in safetensors.safe_open(path, framework="np").metadata()


def test_a_bytes_io_round_trip() -> None:
    for obj in (nested(cr), cr.arange(6.0).reshape(2, 3), {"w": cr.ones(2)}, [1, (2, None)]):
        buffer = io.BytesIO()
        cr.save(obj, buffer)
        buffer.seek(0)
        assert skeleton(cr.load(buffer, weights_only=True, map_location="cpu")) == skeleton(obj)


def test_map_location_and_weights_only_are_accepted(tmp_path) -> None:
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    for map_location in (None, "cpu", "cpu:0"):
        for weights_only in (None, True, False):
            loaded = cr.load(path, map_location=map_location, weights_only=weights_only)
            np.testing.assert_array_equal(loaded["w"].numpy(), [1.0, 1.0])
    with pytest.raises(RuntimeError, match="cuda"):
        cr.load(path, map_location="cuda")
    if not torch.cuda.is_available():  # torch refuses a GPU it does not have, too
        torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(tmp_path / "w.pt", map_location="cuda")


def test_parameters_come_back_as_parameters() -> None:
    # As torch.load gives them back; a flat dict of named tensors, the format of state
    # dicts, holds plain tensors only, as it always has.
    layer = nn.Linear(2, 2)
    frozen = nn.Parameter(cr.ones(2), requires_grad=False)
    buffer = io.BytesIO()
    cr.save({"params": [layer.weight, frozen]}, buffer)
    buffer.seek(0)
    weight, frozen_back = cr.load(buffer)["params"]
    assert isinstance(weight, nn.Parameter) and weight.requires_grad
    assert isinstance(frozen_back, nn.Parameter) and not frozen_back.requires_grad
    np.testing.assert_array_equal(weight.detach().numpy(), layer.weight.detach().numpy())


# ---- training resumed from a file continues bit for bit --------------------------------------


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


OPTIMIZERS = {
    "sgd_momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda params: optim.Adam(params, lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3),
}


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_training_resumed_from_a_checkpoint_is_bit_identical(tmp_path, kind: str) -> None:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(16, 4)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 3, 16))
    loss_fn = nn.CrossEntropyLoss()

    def steps(model: nn.Module, opt: Any, count: int) -> None:
        for _ in range(count):
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

    cr.manual_seed(1)
    straight = make_model()
    straight_opt = OPTIMIZERS[kind](straight.parameters())
    steps(straight, straight_opt, 10)

    cr.manual_seed(1)
    first = make_model()
    first_opt = OPTIMIZERS[kind](first.parameters())
    steps(first, first_opt, 4)
    path = tmp_path / "checkpoint.safetensors"
    cr.save({"epoch": 4, "model": first.state_dict(), "optimizer": first_opt.state_dict()}, path)

    cr.manual_seed(2)  # a different initialisation, overwritten by the checkpoint
    resumed = make_model()
    resumed_opt = OPTIMIZERS[kind](resumed.parameters(), **{})
    checkpoint = cr.load(path)
    assert checkpoint["epoch"] == 4
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    assert skeleton(checkpoint["optimizer"]) == skeleton(first_opt.state_dict())
    steps(resumed, resumed_opt, 6)
    for ours, theirs in zip(resumed.parameters(), straight.parameters()):
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


# ---- refusals ------------------------------------------------------------------------------------


def test_a_whole_module_is_refused_with_what_to_save_instead(tmp_path) -> None:
    model = make_model()
    with pytest.raises(TypeError, match=r"whole Sequential.*model\.state_dict\(\)"):
        cr.save(model, tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match=r"obj\['model'\] is a whole Sequential"):
        cr.save({"epoch": 1, "model": model}, tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match=r"obj\['f'\]\[0\] is of type function"):
        cr.save({"f": [lambda: 0]}, tmp_path / "m.safetensors")
    with pytest.raises(TypeError, match=r"dtype <U1"):
        cr.save({"s": [np.array(["a"])]}, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


def structure_file(tmp_path, structure: Any, arrays: dict | None = None) -> Any:
    """A safetensors file whose object structure is ``structure`` (JSON text as given)."""
    text = structure if isinstance(structure, str) else json.dumps(structure)
    data = safetensors.numpy.save(arrays or {"t": np.zeros(2)}, metadata={OBJECT_KEY: text})
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("structure", "reason"),
    [
        ("{not json", "it is not JSON"),
        ({"format": 1}, "expected a JSON object with 'format' and 'value'"),
        ({"format": 99, "value": 1}, "format 99"),
        ({"format": 1, "value": {"set": [1, 2]}}, "unknown entry"),
        ({"format": 1, "value": {"list": 3}}, "'list' must hold a list"),
        ({"format": 1, "value": {"dict": [[1]]}}, "must be a \\[key, value\\] pair"),
        ({"format": 1, "value": {"dict": [[[1], 2]]}}, "a dict key must be"),
        ({"format": 1, "value": {"list": [{"tensor": "missing"}]}}, "tensor 'missing'"),
        ({"format": 1, "value": {"tensor": "t", "extra": True}}, "unknown entry"),
        ({"format": 1, "value": {"float": "1.5"}}, "unknown entry"),
        ({"format": 1, "value": [1, 2]}, "unexpected list"),
    ],
    ids=[
        "not_json",
        "no_value",
        "format",
        "unknown_tag",
        "list_body",
        "dict_pair",
        "dict_key",
        "missing_tensor",
        "tensor_flags",
        "float_text",
        "bare_list",
    ],
)
def test_malformed_structure_is_refused_naming_the_file_and_the_reason(
    tmp_path, structure: Any, reason: str
) -> None:
    path = structure_file(tmp_path, structure)
    with pytest.raises(LoadError, match=rf"load: '.*bad\.safetensors': malformed .*{reason}"):
        cr.load(path)


def test_load_metadata_leaves_out_chainrules_own_entries(tmp_path) -> None:
    path = tmp_path / "c.safetensors"
    cr.save({"epoch": 2, "w": cr.ones(2)}, path, metadata={"note": "hello"})
    assert load_metadata(path) == {"note": "hello"}
    assert cr.load(path)["epoch"] == 2


def test_bad_file_arguments_are_named(tmp_path) -> None:
    with pytest.raises(TypeError, match="f must be a path or a binary file object"):
        cr.save({"w": cr.ones(2)}, 42)
    with pytest.raises(TypeError, match="f must be a path or a binary file object"):
        cr.load(3.5)
    with pytest.raises(TypeError, match="binary mode"):
        cr.load(io.StringIO("text"))
    with pytest.raises(TypeError, match="map_location"):
        cr.load(tmp_path / "none.safetensors", map_location=lambda storage, loc: storage)


def test_a_file_of_torch_save_is_refused_with_what_to_do(tmp_path) -> None:
    import torch

    for name, kwargs in (("zip.pt", {}), ("legacy.pt", {"_use_new_zipfile_serialization": False})):
        path = tmp_path / name
        torch.save({"w": torch.ones(2)}, path, **kwargs)
        with pytest.raises(LoadError, match=r"torch\.save.*never runs pickle.*save_file"):
            cr.load(path)
