"""chainrule.onnx.export on whole models: each exported file is run in ONNX Runtime and its
outputs compared with chainrule's to 1e-5; names, dynamic axes, file objects, opsets and the
model's mode. What cannot be exported is in test_onnx_errors.py.

The layer-by-layer cases are in test_onnx_layers.py, which uses :func:`assert_matches`.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest

import chainrule as cr
from chainrule import nn

F = cr.nn.functional
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}


def _flat(result: object) -> list:
    if isinstance(result, (tuple, list)):
        return [leaf for item in result for leaf in _flat(item)]
    return [result]


def run_onnx(source: object, inputs: tuple) -> list[np.ndarray]:
    """The outputs of the ONNX model at ``source`` (a path or bytes) on ``inputs``."""
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    feeds = {info.name: x.numpy() for info, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)


def expected_outputs(model: nn.Module, inputs: tuple) -> list[np.ndarray]:
    """chainrule's outputs of ``model`` in eval mode (the mode is put back)."""
    training = model.training
    model.eval()
    with cr.no_grad():
        outputs = _flat(model(*inputs))
    model.train(training)
    return [output.numpy() for output in outputs]


def assert_matches(
    model: nn.Module, inputs: tuple, path: object, run_inputs: tuple | None = None, **options
) -> onnx.ModelProto:
    """Export ``model`` on ``inputs`` and check ONNX Runtime's outputs on ``run_inputs``
    (default: the same) against chainrule's."""
    proto = cr.onnx.export(model, inputs, path, **options)
    run_inputs = inputs if run_inputs is None else run_inputs
    got = run_onnx(str(path), run_inputs)
    expected = expected_outputs(model, run_inputs)
    assert len(got) == len(expected)
    for actual, wanted in zip(got, expected):
        assert actual.shape == wanted.shape
        np.testing.assert_allclose(actual, wanted, **TOLERANCE)
    return proto


def randomise_batch_norms(model: nn.Module) -> None:
    """Running statistics and affine parameters away from their initial 1s and 0s."""
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = module.num_features
            module.running_mean.array[...] = np.random.randn(n)
            module.running_var.array[...] = np.random.rand(n) + 0.5
            if module.weight is not None:
                module.weight.array[...] = np.random.randn(n)
                module.bias.array[...] = np.random.randn(n)


# ---- real models -------------------------------------------------------------------------------


def test_mlp_with_softmax_output(tmp_path):
    model = nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4), nn.Softmax(dim=1)
    )
    assert_matches(model, (cr.randn(3, 6),), tmp_path / "mlp.onnx")


def small_cnn() -> nn.Module:
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 10),
    )
    randomise_batch_norms(model)
    return model


def test_cnn_classifier_with_a_dynamic_batch(tmp_path):
    model = small_cnn()
    proto = assert_matches(
        model,
        (cr.randn(2, 1, 8, 8),),
        tmp_path / "cnn.onnx",
        run_inputs=(cr.randn(5, 1, 8, 8),),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
    )
    (image,) = proto.graph.input
    assert image.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [dim.dim_value for dim in image.type.tensor_type.shape.dim[1:]] == [1, 8, 8]


def test_conv1d_net_with_global_pooling(tmp_path):
    model = nn.Sequential(
        nn.Conv1d(3, 8, 5, padding=2),
        nn.BatchNorm1d(8),
        nn.GELU(),
        nn.AvgPool1d(2),
        nn.Conv1d(8, 8, 3, dilation=2, groups=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
        nn.LogSoftmax(dim=-1),
    )
    randomise_batch_norms(model)
    assert_matches(
        model,
        (cr.randn(2, 3, 20),),
        tmp_path / "conv1d.onnx",
        run_inputs=(cr.randn(4, 3, 20),),
        dynamic_axes={"input": [0]},
    )


class TextClassifier(nn.Module):
    """Embedding + LSTM, classifying from the last time step, with zero initial states made
    in the forward as PyTorch tutorials do."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 8)
        self.lstm = nn.LSTM(8, 12, num_layers=2, batch_first=True)
        self.head = nn.Linear(12, 3)

    def forward(self, tokens):
        x = self.embedding(tokens)
        h0 = cr.zeros(2, x.size(0), 12)
        c0 = cr.zeros(2, x.size(0), 12)
        out, _ = self.lstm(x, (h0, c0))
        return self.head(out[:, -1])


def test_embedding_lstm_classifier_with_a_dynamic_batch(tmp_path):
    tokens = cr.randint(0, 20, (2, 7))
    assert_matches(
        TextClassifier(),
        (tokens,),
        tmp_path / "text.onnx",
        run_inputs=(cr.randint(0, 20, (5, 7)),),
        dynamic_axes={"tokens": {0: "batch"}},
    )


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [True, False])
def test_stacked_bidirectional_recurrent_layers(tmp_path, kind, batch_first):
    model = kind(5, 6, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = cr.randn(3, 4, 5)
    # The whole result: output and final states, each in PyTorch's layout.
    proto = assert_matches(model, (x,), tmp_path / "rnn.onnx")
    assert len(proto.graph.output) == (3 if kind is nn.LSTM else 2)
    batch_axis = 0 if batch_first else 1
    longer = cr.randn(2, 9, 5) if batch_first else cr.randn(9, 2, 5)
    assert_matches(
        model,
        (x,),
        tmp_path / "dynamic.onnx",
        run_inputs=(longer,),
        dynamic_axes={"input": {batch_axis: "batch", 1 - batch_axis: "time"}},
    )


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.hidden = nn.Linear(width, 2 * width)
        self.out = nn.Linear(2 * width, width)

    def forward(self, x):
        return x + 0.5 * self.out(F.gelu(self.hidden(self.norm(x))))


def test_layer_norm_gelu_residual_mlp_on_sequences(tmp_path):
    model = nn.Sequential(ResidualBlock(8), ResidualBlock(8), nn.LayerNorm(8), nn.Linear(8, 2))
    assert_matches(model, (cr.randn(3, 5, 8),), tmp_path / "residual.onnx")


class GlueNet(nn.Module):
    """The operations models use between layers: view with size(0), permute, transpose, cat,
    indexing with None and ..., mean, functional activations, a parameter used directly."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6 + 6, 5)
        self.scale = nn.Parameter(cr.randn(5))

    def forward(self, image, extra):
        x = F.relu(self.conv(image))
        x = x.view(x.size(0), -1)
        summary = image.permute(0, 2, 3, 1).mean(dim=(1, 2))  # (N, 2)
        columns = extra.unsqueeze(1).transpose(1, 2).squeeze(2)  # back to (N, 7)
        joined = cr.cat([x, summary, columns[:, :4]], dim=1)
        y = self.fc(joined) * self.scale - 1
        return cr.sigmoid(y), F.softmax(y / 2, dim=-1)


def test_glue_between_layers_and_several_inputs_and_outputs(tmp_path):
    inputs = (cr.randn(2, 2, 6, 6), cr.randn(2, 7))
    proto = assert_matches(
        GlueNet(),
        inputs,
        tmp_path / "glue.onnx",
        run_inputs=(cr.randn(3, 2, 6, 6), cr.randn(3, 7)),
        dynamic_axes={"image": {0: "n"}, "extra": {0: "n"}},
    )
    assert [i.name for i in proto.graph.input] == ["image", "extra"]
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1"]


class Indexing(nn.Module):
    def forward(self, x):
        return x[:, 1:3], x[0, ..., ::2], x[:, -1, None], x[..., -2]


def test_indexing_with_ints_slices_none_and_ellipsis(tmp_path):
    assert_matches(Indexing(), (cr.randn(2, 4, 5),), tmp_path / "index.onnx")


class MasksAndCasts(nn.Module):
    def forward(self, x, tokens):
        mask = (x > 0.5).float()
        reflected = 0 < x  # noqa: SIM300 - the reflected comparison is what is tested
        return mask * x, (x <= 0).long() + tokens, reflected.to(cr.float64), x.long()


def test_comparisons_and_casts(tmp_path):
    inputs = (cr.randn(3, 4) * 3, cr.randint(0, 5, (3, 4)))
    proto = assert_matches(MasksAndCasts(), inputs, tmp_path / "masks.onnx")
    assert [o.type.tensor_type.elem_type for o in proto.graph.output] == [
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.INT64,
        onnx.TensorProto.DOUBLE,
        onnx.TensorProto.INT64,
    ]


class InplaceReuse(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        y = x * 2
        self.act(y)  # y now holds relu(2x), as it does in chainrule
        F.leaky_relu(y, 0.1, inplace=True)
        return y + 1


def test_in_place_activations_change_the_value_later_uses_see(tmp_path):
    x = cr.randn(3, 4)
    before = x.numpy().copy()
    assert_matches(InplaceReuse(), (x,), tmp_path / "inplace.onnx")
    np.testing.assert_array_equal(x.numpy(), before)  # the example input is left alone


def test_a_layer_used_twice_is_stored_once(tmp_path):
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    proto = assert_matches(model, (cr.randn(2, 4),), tmp_path / "shared.onnx")
    names = [initializer.name for initializer in proto.graph.initializer]
    assert sorted(names) == ["0.bias", "0.weight"]


# ---- the interface -----------------------------------------------------------------------------


def test_input_and_output_names_appear_in_the_graph(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    path = tmp_path / "named.onnx"
    cr.onnx.export(model, cr.randn(1, 3), path, input_names=["features"], output_names=["y"])
    graph = onnx.load(path).graph
    assert [value.name for value in graph.input] == ["features"]
    assert [value.name for value in graph.output] == ["y"]
    assert any("y" in node.output for node in graph.node)


def test_an_input_returned_as_output_gets_an_identity(tmp_path):
    class Both(nn.Module):
        def forward(self, x):
            return x, x * 3, x

    assert_matches(Both(), (cr.randn(2, 2),), tmp_path / "both.onnx")


def test_export_to_a_binary_file_object():
    model = nn.Sequential(nn.Linear(3, 4), nn.SiLU())
    x = cr.randn(2, 3)
    buffer = io.BytesIO()
    buffer.write(b"header")  # the model is written from the file's position on
    cr.onnx.export(model, x, buffer)
    (got,) = run_onnx(buffer.getvalue()[len(b"header") :], (x,))
    np.testing.assert_allclose(got, expected_outputs(model, (x,))[0], **TOLERANCE)


@pytest.mark.parametrize("opset", [18, 20])
def test_newer_opsets(tmp_path, opset):
    model = nn.Sequential(nn.Linear(4, 4), nn.GELU(approximate="tanh"), nn.LayerNorm(4))

    class Mean(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = model

        def forward(self, x):
            return self.body(x).mean(dim=1, keepdim=True)

    proto = assert_matches(Mean(), (cr.randn(3, 4),), tmp_path / "m.onnx", opset_version=opset)
    assert proto.opset_import[0].version == opset


def test_training_mode_is_restored_layer_by_layer(tmp_path):
    model = small_cnn()
    model.train()
    model[1].eval()  # a frozen batch norm inside a training model keeps its own mode
    modes = [module.training for module in model.modules()]
    cr.onnx.export(model, cr.randn(2, 1, 8, 8), tmp_path / "m.onnx")
    assert [module.training for module in model.modules()] == modes
    # ... and the export ran in eval mode: the running statistics did not move.
    running = model[5].running_mean.numpy().copy()
    cr.onnx.export(model, cr.randn(2, 1, 8, 8), tmp_path / "m.onnx")
    np.testing.assert_array_equal(model[5].running_mean.numpy(), running)


def test_supported_layers_lists_the_converted_classes():
    names = cr.onnx.supported_layers()
    assert {"Linear", "Conv2d", "LSTM", "GRU", "RNN", "Embedding", "LayerNorm"} <= set(names)
    assert "MultiheadAttention" not in names and names == sorted(names)


def test_importing_chainrule_does_not_import_onnx():
    code = (
        "import sys, chainrule; "
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules; "
        "assert issubclass(chainrule.onnx.UnsupportedLayerError, TypeError)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
