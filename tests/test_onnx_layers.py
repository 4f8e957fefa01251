"""Every layer kind chainrule.onnx converts, with its options, exported alone and run in ONNX
Runtime: outputs must match chainrule's to 1e-5. One table of cases drives the test."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from test_onnx_export import assert_matches, randomise_batch_norms

# (id, make the layer, input shape); integer inputs are written as ("int", high, shape).
CASES = [
    # dense
    ("linear", lambda: nn.Linear(5, 3), (4, 5)),
    ("linear-3d", lambda: nn.Linear(5, 3), (2, 4, 5)),
    ("linear-1d", lambda: nn.Linear(5, 3), (5,)),
    ("linear-no-bias", lambda: nn.Linear(5, 3, bias=False), (2, 3, 5)),
    # convolution
    ("conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2), (2, 3, 11)),
    ("conv1d-same", lambda: nn.Conv1d(3, 4, 4, padding="same"), (2, 3, 9)),
    ("conv1d-valid", lambda: nn.Conv1d(3, 4, 3, padding="valid", bias=False), (2, 3, 9)),
    ("conv1d-unbatched", lambda: nn.Conv1d(3, 4, 3), (3, 9)),
    ("conv2d", lambda: nn.Conv2d(2, 4, 3, stride=(2, 1), padding=(1, 2)), (2, 2, 7, 6)),
    ("conv2d-groups", lambda: nn.Conv2d(4, 6, 3, groups=2, bias=False), (2, 4, 6, 6)),
    (
        "conv2d-same-dilated",
        lambda: nn.Conv2d(2, 3, (2, 3), padding="same", dilation=2),
        (1, 2, 7, 7),
    ),
    ("conv2d-reflect", lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), (2, 2, 5, 5)),
    (
        "conv2d-replicate",
        lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"),
        (2, 2, 5, 5),
    ),
    # pooling
    ("maxpool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1), (2, 3, 10)),
    ("maxpool1d-ceil", lambda: nn.MaxPool1d(3, stride=2, ceil_mode=True), (2, 3, 10)),
    ("maxpool2d", lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
    ("maxpool2d-dilated", lambda: nn.MaxPool2d(2, stride=1, dilation=2), (2, 3, 6, 6)),
    ("maxpool2d-ceil", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 8)),
    ("avgpool1d", lambda: nn.AvgPool1d(3, stride=2, padding=1), (2, 3, 10)),
    ("avgpool1d-exclude-pad", lambda: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 10)),
    ("avgpool2d", lambda: nn.AvgPool2d(2), (2, 3, 6, 6)),
    ("avgpool2d-padded", lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 7)),
    ("avgpool2d-ceil", lambda: nn.AvgPool2d(3, stride=2, ceil_mode=True), (2, 3, 8, 8)),
    (
        "avgpool2d-ceil-padded",
        lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
        (2, 3, 8, 8),
    ),
    (
        "avgpool2d-ceil-exclude-pad",
        lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        (2, 3, 8, 8),
    ),
    ("avgpool2d-unbatched", lambda: nn.AvgPool2d(2), (3, 6, 6)),
    ("adaptive-global", lambda: nn.AdaptiveAvgPool2d((1, 1)), (2, 3, 5, 7)),
    ("adaptive-tiles", lambda: nn.AdaptiveAvgPool2d((2, None)), (2, 3, 6, 4)),
    ("adaptive1d", lambda: nn.AdaptiveAvgPool1d(1), (2, 3, 9)),
    # normalisation
    ("batchnorm1d", lambda: nn.BatchNorm1d(4), (3, 4)),
    ("batchnorm1d-sequence", lambda: nn.BatchNorm1d(4), (3, 4, 5)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3, eps=1e-3), (2, 3, 4, 4)),
    ("batchnorm2d-no-affine", lambda: nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
    ("layernorm", lambda: nn.LayerNorm(6), (2, 3, 6)),
    ("layernorm-2d", lambda: nn.LayerNorm((3, 6), eps=1e-3), (2, 3, 6)),
    ("layernorm-no-bias", lambda: nn.LayerNorm(6, bias=False), (2, 6)),
    ("layernorm-no-affine", lambda: nn.LayerNorm(6, elementwise_affine=False), (2, 6)),
    # shapes and the identity
    ("flatten", lambda: nn.Flatten(), (2, 3, 4, 5)),
    ("flatten-middle", lambda: nn.Flatten(1, 2), (2, 3, 4, 5)),
    ("flatten-all", lambda: nn.Flatten(0), (2, 3, 4)),
    ("unflatten", lambda: nn.Unflatten(1, (2, 6)), (3, 12, 2)),
    ("identity", lambda: nn.Identity(), (2, 3)),
    ("dropout", lambda: nn.Dropout(0.5), (2, 3)),
    ("dropout2d", lambda: nn.Dropout2d(0.5), (2, 3, 4, 4)),
    ("alpha-dropout", lambda: nn.AlphaDropout(0.5), (2, 3)),
    # embedding
    ("embedding", lambda: nn.Embedding(10, 4), ("int", 10, (3, 5))),
    ("embedding-padding", lambda: nn.Embedding(10, 4, padding_idx=0), ("int", 10, (6,))),
    # softmax
    ("softmax", lambda: nn.Softmax(dim=1), (2, 5)),
    ("softmax-first-dim", lambda: nn.Softmax(dim=0), (3, 4, 2)),
    ("log-softmax", lambda: nn.LogSoftmax(dim=-1), (2, 3, 5)),
]

ACTIVATIONS = [
    nn.ReLU(),
    nn.ReLU6(),
    nn.LeakyReLU(0.2),
    nn.PReLU(),
    nn.PReLU(3, init=0.1),
    nn.ELU(alpha=0.7),
    nn.CELU(alpha=1.5),
    nn.SELU(),
    nn.GELU(),
    nn.GELU(approximate="tanh"),
    nn.Sigmoid(),
    nn.Tanh(),
    nn.Softplus(),
    nn.Softplus(beta=2.0, threshold=3.0),
    nn.SiLU(),
    nn.Mish(),
    nn.Hardtanh(-0.5, 2.0),
    nn.Hardsigmoid(),
    nn.Hardswish(),
    nn.Softsign(),
    nn.Tanhshrink(),
]

RECURRENT = [
    (kind, layers, bidirectional, batch_first)
    for kind in ("LSTM", "GRU", "RNN")
    for layers, bidirectional, batch_first in ((1, False, False), (2, True, True), (3, False, True))
]


def _input(shape: tuple) -> cr.Tensor:
    if shape and shape[0] == "int":
        return cr.randint(0, shape[1], shape[2])
    # Wide enough to reach every piece of the piecewise activations (Softplus's threshold).
    return cr.randn(*shape) * 3


@pytest.mark.parametrize(("make", "shape"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer(tmp_path, make, shape):
    layer = make()
    randomise_batch_norms(layer)
    for param in layer.parameters():  # γ, β and biases away from their 1s and 0s
        param.array[...] = np.random.randn(*param.shape)
    assert_matches(nn.Sequential(layer), (_input(shape),), tmp_path / "layer.onnx")


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=repr)
def test_activation(tmp_path, layer):
    assert_matches(nn.Sequential(layer), (cr.randn(2, 3, 4) * 3,), tmp_path / "act.onnx")


@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional", "batch_first"),
    RECURRENT,
    ids=[f"{k}-{n}layer-{'bi' if b else 'uni'}-{'bf' if f else 'tf'}" for k, n, b, f in RECURRENT],
)
def test_recurrent(tmp_path, kind, layers, bidirectional, batch_first):
    layer = getattr(nn, kind)(
        4, 5, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first
    )
    assert_matches(layer, (cr.randn(3, 6, 4),), tmp_path / "rnn.onnx")


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_with_given_initial_states(tmp_path, kind):
    layer = getattr(nn, kind)(4, 5, num_layers=2, bidirectional=True)
    x = cr.randn(6, 3, 4)
    h0 = cr.randn(4, 3, 5)
    state = (h0, cr.randn(4, 3, 5)) if kind == "LSTM" else h0

    class WithState(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = layer

        def forward(self, x, *states):
            return self.rnn(x, states if kind == "LSTM" else states[0])

    states = state if kind == "LSTM" else (state,)
    assert_matches(WithState(), (x, *states), tmp_path / "rnn.onnx")


def test_recurrent_variants(tmp_path):
    """RNN with relu, layers without biases, and unbatched sequences."""
    for layer, shape in [
        (nn.RNN(4, 5, nonlinearity="relu", num_layers=2), (6, 3, 4)),
        (nn.LSTM(4, 5, bias=False, bidirectional=True), (6, 3, 4)),
        (nn.GRU(4, 5, num_layers=2, bidirectional=True), (6, 4)),
    ]:
        assert_matches(layer, (cr.randn(*shape),), tmp_path / "rnn.onnx")
