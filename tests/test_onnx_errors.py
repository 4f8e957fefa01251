"""What chainrule.onnx.export refuses, and how: an unsupported layer, layer option or
operation is an UnsupportedLayerError naming the layer by its path in the model; bad
arguments are ValueErrors naming the argument; a failed export leaves the file as it was."""

from __future__ import annotations

import sys

import onnx
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.onnx import UnsupportedLayerError

F = cr.nn.functional


def test_the_file_is_replaced_whole(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    model = nn.Sequential(nn.Linear(3, 3), nn.MultiheadAttention(3, 1))
    with pytest.raises(UnsupportedLayerError):
        cr.onnx.export(model, cr.randn(2, 3), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]
    cr.onnx.export(nn.Sequential(nn.Linear(3, 3)), cr.randn(2, 3), path)
    onnx.checker.check_model(onnx.load(path))


def test_bad_arguments_are_clear_errors(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3))
    x = cr.randn(2, 3)
    with pytest.raises(ValueError, match="opset_version"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", opset_version=9)
    with pytest.raises(ValueError, match="'nonsense'"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", dynamic_axes={"nonsense": {0: "b"}})
    with pytest.raises(ValueError, match="dimensions"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", dynamic_axes={"input": {2: "b"}})
    with pytest.raises(ValueError, match="2 input_names"):
        cr.onnx.export(model, x, tmp_path / "m.onnx", input_names=["a", "b"])
    with pytest.raises(TypeError, match="Module"):
        cr.onnx.export(lambda v: v, x, tmp_path / "m.onnx")


def test_a_missing_onnx_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"chainrule\[onnx\]"):
        cr.onnx.export(nn.Linear(2, 2), cr.randn(1, 2), tmp_path / "m.onnx")


def test_an_unsupported_layer_is_named_by_its_path(tmp_path):
    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.MultiheadAttention(4, 2))

        def forward(self, x):
            return self.layers(x)

    with pytest.raises(UnsupportedLayerError) as caught:
        cr.onnx.export(Encoder(), cr.randn(2, 4), tmp_path / "m.onnx")
    error = caught.value
    assert (error.path, error.layer_type) == ("layers.2", "MultiheadAttention")
    message = str(error)
    assert "'layers.2' (MultiheadAttention)" in message
    assert "Linear" in message and "LSTM" in message  # the layers that do export
    assert isinstance(error, TypeError)


@pytest.mark.parametrize(
    ("layer", "reason"),
    [
        (nn.TransformerEncoderLayer(4, 2, 8), "no ONNX converter"),
        (nn.GroupNorm(2, 4), "no ONNX converter"),
        (nn.BatchNorm1d(4, track_running_stats=False), "track_running_stats=False"),
        (nn.MaxPool1d(2, return_indices=True), "return_indices"),
        (nn.AdaptiveAvgPool1d(3), "does not divide"),
    ],
    ids=["transformer", "group-norm", "batch-statistics", "indices", "uneven-windows"],
)
def test_unsupported_layers_and_options(tmp_path, layer, reason):
    x = (
        cr.randn(2, 4, 4)
        if not isinstance(layer, nn.TransformerEncoderLayer)
        else cr.randn(3, 2, 4)
    )
    with pytest.raises(UnsupportedLayerError, match=reason) as caught:
        cr.onnx.export(nn.Sequential(layer), x, tmp_path / "m.onnx")
    assert caught.value.path == "0"


class Custom(nn.Module):
    def __init__(self, body) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.body = body

    def forward(self, x):
        return self.body(self.fc(x))


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (lambda x: x.cumsum(1), "Tensor.cumsum"),
        (lambda x: cr.sort(x, dim=1)[0], "chainrule.sort"),
        (lambda x: cr.cumprod(x, 1), "chainrule.cumprod"),
        (lambda x: x if x.sum() > 0 else -x, "condition"),
        (lambda x: x[cr.tensor([0, 1])], "indexes a traced value with Tensor"),
    ],
    ids=["method", "function", "function-2", "control-flow", "tensor-index"],
)
def test_unsupported_operations_name_the_layer_whose_forward_calls_them(tmp_path, body, named):
    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = Custom(body)

        def forward(self, x):
            return self.block(x)

    with pytest.raises(UnsupportedLayerError, match=named) as caught:
        cr.onnx.export(Outer(), cr.randn(2, 4), tmp_path / "m.onnx")
    assert caught.value.path == "block"
    assert "'block' (Custom)" in str(caught.value)


def test_functions_are_restored_after_an_export(tmp_path):
    relu, cat = F.relu, cr.cat
    with pytest.raises(UnsupportedLayerError):
        cr.onnx.export(Custom(lambda x: x.cumsum(1)), cr.randn(2, 4), tmp_path / "m.onnx")
    assert F.relu is relu and cr.cat is cat
    model = Custom(F.relu)
    assert "forward" not in vars(model) and "forward" not in vars(model.fc)
