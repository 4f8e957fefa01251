"""Every layer, activation, container and loss of chainrule.nn run on "cuda" against the CPU.

Each case builds its module on the CPU with a fixed seed, in float64; a deep copy moved with
``.to("cuda")`` runs the same inputs, seeded the same way (so dropout draws the same mask),
and receives the same upstream gradient. The outputs, the input gradients, every parameter
gradient and every buffer (batch norm's running statistics) must equal the CPU's and live on
cuda:0. The CPU results are themselves proven against PyTorch in the rest of the suite.
"""

from __future__ import annotations

import copy
import inspect
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's spelling
from chainrule.nn.utils.rnn import PackedSequence, pack_padded_sequence

TOL = 1e-10


def _rng(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def _normal(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def _uniform(low: float, high: float, *shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(low, high, shape)


def _ints(high: int, *shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.integers(0, high, shape)


def _const(value: Any) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: np.asarray(value)


@dataclass
class Case:
    """A module (made by ``make``), its inputs (arrays drawn by ``inputs``), how it is called,
    and which inputs need a gradient (default: the floating ones)."""

    id: str
    make: Callable[[], nn.Module]
    inputs: list[Callable[[np.random.Generator], np.ndarray]]
    call: Callable[..., Any] = field(default=lambda module, *xs: module(*xs))
    train: bool = True
    grads: tuple[bool, ...] | None = None


class _Lambda(nn.Module):
    """A module around a functional call, for the functions that have no layer here."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        super().__init__()
        self.fn, self.name = fn, name

    def forward(self, *xs: Any) -> Any:
        return self.fn(*xs)

    def extra_repr(self) -> str:
        return self.name


class _Containers(nn.Module):
    """Every container kind: Sequential, ModuleList, ModuleDict, ParameterList/Dict."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 4))
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Identity()])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 3), "b": nn.Linear(4, 3)})
        self.scales = nn.ParameterList([nn.Parameter(cr.randn(4)) for _ in range(2)])
        self.shifts = nn.ParameterDict({"s": nn.Parameter(cr.randn(3))})

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = self.seq(x) * self.scales[0]
        for block in self.blocks:
            x = block(x) + self.scales[1]
        return self.heads["a"](x) * self.heads["b"](x) + self.shifts["s"]


def _with_stats(module: nn.Module) -> nn.Module:
    """A batch/instance norm whose running statistics are not the initial ones (for eval)."""
    cr.nn.init.normal_(module.running_mean)
    cr.nn.init.uniform_(module.running_var, 0.5, 2.0)
    return module


def _mha_masks(module: nn.Module, q: Any, k: Any, v: Any, pad: Any, attn: Any) -> Any:
    return module(q, k, v, key_padding_mask=pad, attn_mask=attn, average_attn_weights=False)


def _packed(module: nn.Module, x: Any, h0: Any) -> Any:
    packed = pack_padded_sequence(x, [5, 2, 4], batch_first=True, enforce_sorted=False)
    return module(packed, h0)


def _attention_cases() -> list[Case]:
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    pad = np.zeros((2, 5), dtype=bool)
    pad[1, 3:] = True
    float_pad = np.where(pad, -np.inf, 0.0)  # a float mask beside a float attn_mask
    float_mask = np.triu(np.full((4, 5), -1.5), 1)
    return [
        Case("MultiheadAttention", lambda: nn.MultiheadAttention(6, 2), [_normal(4, 2, 6)] * 3),
        Case(
            "MultiheadAttention-masks-kdim-vdim-bias_kv-zero_attn-dropout",
            lambda: nn.MultiheadAttention(
                6,
                3,
                dropout=0.3,
                add_bias_kv=True,
                add_zero_attn=True,
                kdim=5,
                vdim=7,
                batch_first=True,
            ),
            [
                _normal(2, 4, 6),
                _normal(2, 5, 5),
                _normal(2, 5, 7),
                _const(float_pad),
                _const(float_mask),
            ],
            call=_mha_masks,
        ),
        Case(
            "MultiheadAttention-averaged-weights-causal-unbatched",
            lambda: nn.MultiheadAttention(6, 2, bias=False),
            [_normal(4, 6), _normal(4, 6), _normal(4, 6), _const(causal)],
            call=lambda m, q, k, v, mask: m(q, k, v, attn_mask=mask, is_causal=True),
        ),
        Case(
            "TransformerEncoderLayer",
            lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.2, batch_first=True),
            [_normal(2, 4, 8), _const(causal)],
            call=lambda m, x, mask: m(x, src_mask=mask),
        ),
        Case(
            "TransformerEncoderLayer-norm_first-gelu-eval",
            lambda: nn.TransformerEncoderLayer(8, 4, 12, activation="gelu", norm_first=True),
            [_normal(4, 2, 8), _const(pad[:, :4])],
            call=lambda m, x, pad: m(x, src_key_padding_mask=pad),
            train=False,
        ),
        Case(
            "TransformerDecoderLayer",
            lambda: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.2),
            [_normal(4, 2, 8), _normal(5, 2, 8), _const(causal), _const(pad)],
            call=lambda m, t, mem, mask, pad: m(t, mem, tgt_mask=mask, memory_key_padding_mask=pad),
        ),
        Case(
            "TransformerEncoder",
            lambda: nn.TransformerEncoder(
                nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1), 2, norm=nn.LayerNorm(8)
            ),
            [_normal(4, 2, 8)],
        ),
        Case(
            "TransformerDecoder",
            lambda: nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.1), 2),
            [_normal(4, 2, 8), _normal(5, 2, 8)],
        ),
        Case(
            "Transformer",
            lambda: nn.Transformer(8, 2, 1, 1, 16, dropout=0.1, batch_first=True),
            [_normal(2, 5, 8), _normal(2, 4, 8), _const(causal)],
            call=lambda m, s, t, mask: m(s, t, tgt_mask=mask),
        ),
    ]


def _h0(rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((4, 3, 5))  # 2 layers x 2 directions, batch 3, hidden 5


def _with_state(run: Callable[..., Any]) -> Callable[..., Any]:
    """``run(module, x, h0)``, with an LSTM's (h0, c0) given as two inputs."""
    return lambda module, x, *state: run(module, x, state[0] if len(state) == 1 else state)


def _recurrent_cases() -> list[Case]:
    cases = [
        Case("RNN-relu", lambda: nn.RNN(4, 5, nonlinearity="relu"), [_normal(6, 3, 4)]),
        Case("GRU-unbatched", lambda: nn.GRU(4, 5, num_layers=2), [_normal(6, 4)]),
        Case("LSTMCell-unbatched", lambda: nn.LSTMCell(4, 5), [_normal(4)]),
    ]
    for kind in ("RNN", "LSTM", "GRU"):
        cls = getattr(nn, kind)
        states = [_h0, _h0] if kind == "LSTM" else [_h0]
        cases += [
            Case(kind, lambda cls=cls: cls(4, 5), [_normal(6, 3, 4)]),
            Case(
                f"{kind}-2layers-bidirectional-batch_first-dropout-h0",
                lambda cls=cls: cls(
                    4, 5, num_layers=2, bidirectional=True, batch_first=True, dropout=0.3
                ),
                [_normal(3, 6, 4), *states],
                call=_with_state(lambda m, x, h: m(x, h)),
            ),
            Case(
                f"{kind}-packed",
                lambda cls=cls: cls(4, 5, num_layers=2, bidirectional=True, batch_first=True),
                [_normal(3, 5, 4), *states],
                call=_with_state(_packed),
            ),
        ]
    for kind in ("RNNCell", "LSTMCell", "GRUCell"):
        cls = getattr(nn, kind)
        states = [_normal(3, 5), _normal(3, 5)] if kind == "LSTMCell" else [_normal(3, 5)]
        cases += [
            Case(kind, lambda cls=cls: cls(4, 5), [_normal(3, 4)]),
            Case(
                f"{kind}-state",
                lambda cls=cls: cls(4, 5),
                [_normal(3, 4), *states],
                call=_with_state(lambda m, x, h: m(x, h)),
            ),
        ]
    return cases


ACTIVATIONS = [
    ("CELU", lambda: nn.CELU(0.7)),
    ("ELU", lambda: nn.ELU(1.3)),
    ("SELU", nn.SELU),
    ("Hardsigmoid", nn.Hardsigmoid),
    ("Hardswish", nn.Hardswish),
    ("Hardtanh", lambda: nn.Hardtanh(-0.5, 0.8)),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.1)),
    ("PReLU", lambda: nn.PReLU(4)),
    ("ReLU", nn.ReLU),
    ("ReLU6", nn.ReLU6),
    ("GELU", nn.GELU),
    ("GELU-tanh", lambda: nn.GELU("tanh")),
    ("Mish", nn.Mish),
    ("Sigmoid", nn.Sigmoid),
    ("SiLU", nn.SiLU),
    ("Softplus", lambda: nn.Softplus(2.0, 3.0)),
    ("Softsign", nn.Softsign),
    ("Tanh", nn.Tanh),
    ("Tanhshrink", nn.Tanhshrink),
    ("Softmax", lambda: nn.Softmax(dim=1)),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1)),
    ("Softmin", lambda: nn.Softmin(dim=1)),
    ("LogSigmoid", nn.LogSigmoid),
    ("GLU", lambda: nn.GLU(dim=1)),
    ("Softmax2d", nn.Softmax2d),
    ("Threshold", lambda: nn.Threshold(0.1, -2.0)),
    ("Hardshrink", nn.Hardshrink),
    ("Softshrink", lambda: nn.Softshrink(0.3)),
    ("RReLU", lambda: nn.RReLU(0.1, 0.3).eval()),
]

LAYERS = [
    Case("Linear", lambda: nn.Linear(4, 3), [_normal(5, 4)]),
    Case("Linear-nobias-3d", lambda: nn.Linear(4, 3, bias=False), [_normal(2, 5, 4)]),
    Case("Identity", nn.Identity, [_normal(3, 4)]),
    Case("Flatten", nn.Flatten, [_normal(2, 3, 4, 2)]),
    Case("Unflatten", lambda: nn.Unflatten(1, (2, 3)), [_normal(4, 6, 2)]),
    Case("Conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), [_normal(2, 3, 9)]),
    Case(
        "Conv1d-groups-dilation-same-circular",
        lambda: nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2, padding_mode="circular"),
        [_normal(2, 4, 8)],
    ),
    Case("Conv2d", lambda: nn.Conv2d(3, 4, 3, stride=(1, 2), padding=1), [_normal(2, 3, 6, 7)]),
    Case(
        "Conv2d-groups-reflect-nobias",
        lambda: nn.Conv2d(4, 4, (2, 3), groups=4, padding=1, padding_mode="reflect", bias=False),
        [_normal(2, 4, 5, 6)],
    ),
    Case(
        "Conv2d-replicate",
        lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"),
        [_normal(1, 2, 4, 5)],
    ),
    Case(
        "Conv3d-groups-replicate",
        lambda: nn.Conv3d(4, 2, (2, 3, 2), padding=1, groups=2, padding_mode="replicate"),
        [_normal(2, 4, 3, 4, 3)],
    ),
    Case(
        "Conv3d-same-unbatched", lambda: nn.Conv3d(2, 3, 3, padding="same"), [_normal(2, 3, 4, 3)]
    ),
    Case(
        "ConvTranspose3d",
        lambda: nn.ConvTranspose3d(4, 2, (2, 3, 2), stride=2, padding=1, output_padding=(1, 0, 1)),
        [_normal(2, 4, 2, 3, 2)],
    ),
    Case(
        "ConvTranspose1d",
        lambda: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1),
        [_normal(2, 3, 5)],
    ),
    Case(
        "ConvTranspose2d",
        lambda: nn.ConvTranspose2d(4, 6, (3, 2), stride=2, groups=2, dilation=(1, 2)),
        [_normal(2, 4, 3, 4)],
    ),
    Case("MaxPool1d", lambda: nn.MaxPool1d(3, 2, padding=1), [_normal(2, 3, 9)]),
    Case(
        "MaxPool1d-indices-ceil-dilation",
        lambda: nn.MaxPool1d(2, 2, dilation=2, return_indices=True, ceil_mode=True),
        [_normal(2, 3, 10)],
    ),
    Case("MaxPool2d", lambda: nn.MaxPool2d(2), [_normal(2, 3, 6, 5)]),
    Case(
        "MaxPool2d-indices-padding",
        lambda: nn.MaxPool2d(3, (2, 1), padding=1, return_indices=True),
        [_normal(2, 3, 6, 5)],
    ),
    Case(
        "MaxPool3d-indices-ceil",
        lambda: nn.MaxPool3d((2, 3, 2), 2, padding=1, ceil_mode=True, return_indices=True),
        [_normal(2, 2, 4, 5, 3)],
    ),
    Case(
        "AvgPool1d",
        lambda: nn.AvgPool1d(3, 2, padding=1, count_include_pad=False),
        [_normal(2, 3, 8)],
    ),
    Case("AvgPool2d", lambda: nn.AvgPool2d(2, ceil_mode=True), [_normal(2, 3, 5, 5)]),
    Case(
        "AvgPool2d-divisor",
        lambda: nn.AvgPool2d(3, 2, padding=1, divisor_override=5),
        [_normal(2, 3, 6, 6)],
    ),
    Case(
        "AvgPool3d-divisor-exclude-pad",
        lambda: nn.AvgPool3d(3, 2, padding=1, count_include_pad=False, divisor_override=4),
        [_normal(2, 2, 4, 5, 3)],
    ),
    Case("AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d((2, None, 3)), [_normal(2, 2, 5, 3, 7)]),
    Case("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), [_normal(2, 3, 7)]),
    Case("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), [_normal(2, 3, 5, 7)]),
    Case("AdaptiveMaxPool1d", lambda: nn.AdaptiveMaxPool1d(3), [_normal(2, 3, 7)]),
    Case(
        "AdaptiveMaxPool2d-None-indices",
        lambda: nn.AdaptiveMaxPool2d((2, None), return_indices=True),
        [_normal(2, 3, 5, 4)],
    ),
    Case("Bilinear", lambda: nn.Bilinear(3, 4, 2), [_normal(5, 3), _normal(5, 4)]),
    Case("BatchNorm1d-train", lambda: nn.BatchNorm1d(3), [_normal(5, 3)]),
    Case(
        "BatchNorm1d-3d-train-cumulative",
        lambda: nn.BatchNorm1d(3, momentum=None),
        [_normal(4, 3, 6)],
    ),
    Case(
        "BatchNorm1d-eval", lambda: _with_stats(nn.BatchNorm1d(3)), [_normal(5, 3, 2)], train=False
    ),
    Case("BatchNorm2d-train", lambda: nn.BatchNorm2d(3, momentum=0.3), [_normal(2, 3, 4, 5)]),
    Case(
        "BatchNorm2d-eval",
        lambda: _with_stats(nn.BatchNorm2d(3)),
        [_normal(2, 3, 4, 5)],
        train=False,
    ),
    Case(
        "BatchNorm2d-noaffine-notrack",
        lambda: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
        [_normal(2, 3, 4, 5)],
    ),
    Case("BatchNorm3d-train", lambda: nn.BatchNorm3d(2), [_normal(2, 2, 3, 2, 3)]),
    Case(
        "BatchNorm3d-eval",
        lambda: _with_stats(nn.BatchNorm3d(2)),
        [_normal(2, 2, 3, 2, 3)],
        train=False,
    ),
    Case("LayerNorm", lambda: nn.LayerNorm((3, 4)), [_normal(2, 5, 3, 4)]),
    Case("LayerNorm-nobias", lambda: nn.LayerNorm(4, bias=False), [_normal(3, 4)]),
    Case("GroupNorm", lambda: nn.GroupNorm(2, 4), [_normal(3, 4, 5)]),
    Case("RMSNorm", lambda: nn.RMSNorm((3, 4)), [_normal(2, 5, 3, 4)]),
    Case("RMSNorm-noaffine", lambda: nn.RMSNorm(4, 1e-3, False), [_normal(3, 4)]),
    *[
        Case(f"{name}-{padding}", lambda name=name, p=padding: getattr(nn, name)(p), [_normal(*s)])
        for name, padding, s in (
            ("ZeroPad1d", (2, -1), (2, 3, 5)),
            ("ZeroPad2d", 1, (2, 3, 4, 5)),
            ("ZeroPad3d", 1, (1, 2, 3, 4, 3)),
            ("ReflectionPad1d", 2, (2, 3, 5)),
            ("ReflectionPad2d", (1, 2, 0, 1), (2, 3, 4, 5)),
            ("ReflectionPad3d", 1, (2, 3, 4, 3)),
            ("ReplicationPad1d", (3, 1), (3, 5)),
            ("ReplicationPad2d", 2, (2, 3, 4, 5)),
            ("ReplicationPad3d", (1, 0, 0, 2, 1, 1), (1, 2, 3, 4, 3)),
            ("CircularPad1d", (-1, 2), (2, 3, 5)),
            ("CircularPad2d", 2, (2, 3, 4, 5)),
            ("CircularPad3d", 1, (1, 2, 3, 4, 3)),
        )
    ],
    *[
        Case(f"{name}-{value}", lambda name=name, v=value: getattr(nn, name)(1, v), [_normal(*s)])
        for name, value, s in (
            ("ConstantPad1d", 0.5, (2, 3, 5)),
            ("ConstantPad2d", -1.0, (2, 3, 4, 5)),
            ("ConstantPad3d", 2.0, (1, 2, 3, 4, 3)),
        )
    ],
    Case("PixelShuffle", lambda: nn.PixelShuffle(2), [_normal(2, 8, 3, 4)]),
    Case("PixelUnshuffle", lambda: nn.PixelUnshuffle(2), [_normal(2, 2, 4, 6)]),
    Case("Upsample-nearest", lambda: nn.Upsample(scale_factor=1.5), [_normal(2, 3, 4, 5)]),
    Case(
        "Upsample-bicubic",
        lambda: nn.Upsample(size=(7, 3), mode="bicubic", align_corners=True),
        [_normal(2, 3, 4, 5)],
    ),
    Case(
        "Upsample-trilinear",
        lambda: nn.Upsample(size=5, mode="trilinear"),
        [_normal(1, 2, 3, 4, 3)],
    ),
    Case("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(size=6), [_normal(2, 3, 4, 5)]),
    Case(
        "UpsamplingBilinear2d",
        lambda: nn.UpsamplingBilinear2d(scale_factor=2),
        [_normal(2, 3, 4, 5)],
    ),
    Case("CosineSimilarity", lambda: nn.CosineSimilarity(dim=-1), [_normal(4, 5), _normal(4, 5)]),
    Case("PairwiseDistance", lambda: nn.PairwiseDistance(p=3.0), [_normal(4, 5), _normal(4, 5)]),
    Case("InstanceNorm1d", lambda: nn.InstanceNorm1d(3, affine=True), [_normal(2, 3, 6)]),
    Case(
        "InstanceNorm2d-track-train",
        lambda: nn.InstanceNorm2d(3, track_running_stats=True),
        [_normal(2, 3, 4, 5)],
    ),
    Case(
        "InstanceNorm2d-track-eval",
        lambda: _with_stats(nn.InstanceNorm2d(3, track_running_stats=True)),
        [_normal(2, 3, 4, 5)],
        train=False,
    ),
    Case("InstanceNorm3d", lambda: nn.InstanceNorm3d(2, affine=True), [_normal(2, 2, 3, 4, 3)]),
    Case("Embedding", lambda: nn.Embedding(7, 4), [_ints(7, 3, 5)]),
    Case(
        "Embedding-padding_idx",
        lambda: nn.Embedding(7, 4, padding_idx=2),
        [_const([[2, 0, 2], [1, 6, 2]])],
    ),
    Case(
        "Embedding-max_norm-scale_grad",
        lambda: nn.Embedding(7, 4, max_norm=1.0, scale_grad_by_freq=True),
        [_const([[3, 0, 3], [1, 6, 3]])],
    ),
    Case("EmbeddingBag-2d-mean", lambda: nn.EmbeddingBag(7, 4), [_ints(7, 3, 5)]),
    Case(
        "EmbeddingBag-offsets-sum-weights-padding",
        lambda: nn.EmbeddingBag(7, 4, mode="sum", padding_idx=2),
        [_const([2, 0, 2, 1, 6, 2]), _const([0, 2, 2]), _normal(6)],
    ),
    Case(
        "EmbeddingBag-max",
        lambda: nn.EmbeddingBag(7, 4, mode="max"),
        [_const([3, 0, 3, 1, 6]), _const([0, 3])],
    ),
    Case("Dropout", lambda: nn.Dropout(0.4), [_normal(6, 7)]),
    Case("Dropout-eval", lambda: nn.Dropout(0.4), [_normal(6, 7)], train=False),
    Case("Dropout1d", lambda: nn.Dropout1d(0.5), [_normal(3, 6, 4)]),
    Case("Dropout2d", lambda: nn.Dropout2d(0.5), [_normal(3, 6, 4, 2)]),
    Case("Dropout3d", lambda: nn.Dropout3d(0.5), [_normal(3, 6, 2, 2, 2)]),
    Case("AlphaDropout", lambda: nn.AlphaDropout(0.3), [_normal(6, 7)]),
    Case("FeatureAlphaDropout", lambda: nn.FeatureAlphaDropout(0.3), [_normal(3, 6, 4)]),
    Case("Containers", _Containers, [_normal(3, 4)]),
    # Arrays past 256 KiB come from the convolutions' cache of work arrays, and sums over 32
    # rows or more from a product with ones: both must stay on the device.
    Case("Conv2d-large", lambda: nn.Conv2d(8, 8, 3, padding=1), [_normal(4, 8, 32, 32)]),
    Case(
        "ConvTranspose2d-large",
        lambda: nn.ConvTranspose2d(8, 4, 2, stride=2),
        [_normal(4, 8, 24, 24)],
    ),
    Case(
        "MaxPool2d-large-indices",
        lambda: nn.MaxPool2d(2, return_indices=True),
        [_normal(4, 8, 48, 48)],
    ),
    Case("AvgPool2d-large", lambda: nn.AvgPool2d(2), [_normal(4, 8, 48, 48)]),
    Case("BatchNorm1d-train-64rows", lambda: nn.BatchNorm1d(5), [_normal(64, 5)]),
    Case("Linear-64rows", lambda: nn.Linear(5, 3), [_normal(64, 5)]),
    Case("LSTM-large", lambda: nn.LSTM(32, 32), [_normal(40, 32, 32)]),
    Case(
        "Embedding-from_pretrained",
        lambda: nn.Embedding.from_pretrained(cr.randn(6, 3), freeze=False, padding_idx=1),
        [_const([[1, 0, 5], [2, 1, 1]])],
    ),
    *[Case(name, make, [_normal(3, 4, 5)]) for name, make in ACTIVATIONS],
    *_recurrent_cases(),
    *_attention_cases(),
]


_SDPA_MASK = np.tril(np.ones((3, 6), dtype=bool), 3)


def _fill(mode: str) -> float | None:
    return 0.5 if mode == "constant" else None


FUNCTIONS = [
    Case(
        f"F.pad-{mode}",
        lambda mode=mode: _Lambda(
            lambda x: F.pad(x, (1, 2, 2, 1), mode=mode, value=_fill(mode)), "pad"
        ),
        [_normal(2, 3, 4, 5)],
    )
    for mode in ("constant", "reflect", "replicate", "circular")
] + [
    Case("F.one_hot", lambda: _Lambda(lambda i: F.one_hot(i, 6), "one_hot"), [_ints(6, 3, 4)]),
    Case("F.embedding", lambda: _Lambda(F.embedding, "embedding"), [_ints(5, 2, 3), _normal(5, 4)]),
    Case(
        "F.scaled_dot_product_attention-causal",
        lambda: _Lambda(
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), "sdpa"
        ),
        [_normal(2, 3, 4, 5)] * 3,
    ),
    Case(
        "F.scaled_dot_product_attention-gqa-mask-dropout",
        lambda: _Lambda(
            lambda q, k, v, mask: F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=0.3, enable_gqa=True
            ),
            "sdpa",
        ),
        [_normal(2, 4, 3, 5), _normal(2, 2, 6, 5), _normal(2, 2, 6, 4), _const(_SDPA_MASK)],
    ),
    Case(
        "F.cosine_similarity",
        lambda: _Lambda(F.cosine_similarity, "cos"),
        [_normal(4, 5), _normal(4, 5)],
    ),
    Case(
        "F.pairwise_distance",
        lambda: _Lambda(F.pairwise_distance, "dist"),
        [_normal(4, 5), _normal(4, 5)],
    ),
    Case(
        "F.interpolate-linear",
        lambda: _Lambda(lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"), "interp"),
        [_normal(2, 3, 5)],
    ),
    Case(
        "F.interpolate-area-3d",
        lambda: _Lambda(lambda x: F.interpolate(x, size=(2, 3, 2), mode="area"), "interp"),
        [_normal(1, 2, 3, 4, 5)],
    ),
    Case(
        "F.normalize",
        lambda: _Lambda(lambda x: F.normalize(x, p=3.0), "normalize"),
        [_normal(3, 4)],
    ),
]


def _probs(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    def draw(rng: np.random.Generator) -> np.ndarray:
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=1, keepdims=True)

    return draw


def _signs(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.choice([-1.0, 1.0], shape)


_WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
_TARGET_IGNORED = np.array([[0, 3, -100], [2, 1, 3]])

LOSSES = [
    Case("MSELoss", nn.MSELoss, [_normal(3, 4), _normal(3, 4)]),
    Case("MSELoss-sum", lambda: nn.MSELoss(reduction="sum"), [_normal(3, 4), _normal(3, 4)]),
    Case("L1Loss-none", lambda: nn.L1Loss(reduction="none"), [_normal(3, 4), _normal(3, 4)]),
    Case("SmoothL1Loss", lambda: nn.SmoothL1Loss(beta=0.5), [_normal(3, 4), _normal(3, 4)]),
    Case("HuberLoss", lambda: nn.HuberLoss(delta=0.7), [_normal(3, 4), _normal(3, 4)]),
    Case("PoissonNLLLoss", nn.PoissonNLLLoss, [_normal(3, 4), _uniform(0, 3, 3, 4)]),
    Case(
        "PoissonNLLLoss-full-rate",
        lambda: nn.PoissonNLLLoss(log_input=False, full=True),
        [_uniform(0.2, 2, 3, 4), _uniform(0, 4, 3, 4)],
    ),
    Case(
        "GaussianNLLLoss",
        nn.GaussianNLLLoss,
        [_normal(3, 4), _normal(3, 4), _uniform(0.2, 2, 3, 4)],
    ),
    Case(
        "GaussianNLLLoss-full-shared-var",
        lambda: nn.GaussianNLLLoss(full=True),
        [_normal(3, 4), _normal(3, 4), _uniform(0.2, 2, 3, 1)],
    ),
    Case("CrossEntropyLoss", nn.CrossEntropyLoss, [_normal(5, 4), _ints(4, 5)]),
    Case(
        "CrossEntropyLoss-weight-ignore-smoothing",
        lambda: nn.CrossEntropyLoss(
            weight=cr.tensor(_WEIGHT), ignore_index=-100, label_smoothing=0.2
        ),
        [_normal(2, 4, 3), _const(_TARGET_IGNORED)],
    ),
    Case(
        "CrossEntropyLoss-ignore-sum",
        lambda: nn.CrossEntropyLoss(ignore_index=1, reduction="sum"),
        [_normal(6, 4), _const([1, 0, 3, 1, 2, 2])],
    ),
    Case(
        "CrossEntropyLoss-probabilities-weight-smoothing",
        lambda: nn.CrossEntropyLoss(weight=cr.tensor(_WEIGHT), label_smoothing=0.1),
        [_normal(5, 4), _probs(5, 4)],
    ),
    Case(
        "CrossEntropyLoss-spatial-probabilities-none",
        lambda: nn.CrossEntropyLoss(reduction="none", label_smoothing=0.05),
        [_normal(2, 4, 3), _probs(2, 4, 3)],
    ),
    Case("CrossEntropyLoss-40rows", nn.CrossEntropyLoss, [_normal(40, 6), _ints(6, 40)]),
    Case("NLLLoss", nn.NLLLoss, [_normal(5, 4), _ints(4, 5)]),
    Case(
        "NLLLoss-weight-ignore-none",
        lambda: nn.NLLLoss(weight=cr.tensor(_WEIGHT), reduction="none"),
        [_normal(2, 4, 3), _const(_TARGET_IGNORED)],
    ),
    Case(
        "NLLLoss-weight-ignore-mean",
        lambda: nn.NLLLoss(weight=cr.tensor(_WEIGHT)),
        [_normal(2, 4, 3), _const(_TARGET_IGNORED)],
    ),
    Case("BCELoss", nn.BCELoss, [_uniform(0.05, 0.95, 3, 4), _uniform(0, 1, 3, 4)]),
    Case(
        "BCELoss-weight",
        lambda: nn.BCELoss(weight=cr.tensor([0.5, 1.0, 2.0, 1.5])),
        [_uniform(0.05, 0.95, 3, 4), _uniform(0, 1, 3, 4)],
    ),
    Case("BCEWithLogitsLoss", nn.BCEWithLogitsLoss, [_normal(3, 4), _uniform(0, 1, 3, 4)]),
    Case(
        "BCEWithLogitsLoss-pos_weight-weight",
        lambda: nn.BCEWithLogitsLoss(
            weight=cr.tensor([1.0, 0.5, 2.0, 1.0]), pos_weight=cr.tensor([2.0, 1.0, 0.5, 3.0])
        ),
        [_normal(3, 4), _uniform(0, 1, 3, 4)],
    ),
    Case("KLDivLoss", lambda: nn.KLDivLoss(reduction="batchmean"), [_normal(3, 4), _probs(3, 4)]),
    Case(
        "KLDivLoss-log_target-sum",
        lambda: nn.KLDivLoss(reduction="sum", log_target=True),
        [_normal(3, 4), _normal(3, 4)],
    ),
    Case("SoftMarginLoss", nn.SoftMarginLoss, [_normal(3, 4), _signs(3, 4)], grads=(True, False)),
    Case(
        "MarginRankingLoss", lambda: nn.MarginRankingLoss(0.3), [_normal(6), _normal(6), _signs(6)]
    ),
    Case("HingeEmbeddingLoss", lambda: nn.HingeEmbeddingLoss(0.8), [_normal(3, 4), _signs(3, 4)]),
    Case(
        "CosineEmbeddingLoss",
        lambda: nn.CosineEmbeddingLoss(0.2),
        [_normal(4, 5), _normal(4, 5), _signs(4)],
    ),
    Case(
        "TripletMarginLoss-swap",
        lambda: nn.TripletMarginLoss(margin=2.0, p=1.5, swap=True),
        [_normal(4, 5), _normal(4, 5), _normal(4, 5)],
    ),
    Case(
        "TripletMarginWithDistanceLoss-none",
        lambda: nn.TripletMarginWithDistanceLoss(margin=2.0, reduction="none"),
        [_normal(4, 5), _normal(4, 5), _normal(4, 5)],
    ),
    Case(
        "MultiMarginLoss-p2-weight",
        lambda: nn.MultiMarginLoss(p=2, margin=0.8, weight=cr.tensor(_WEIGHT)),
        [_normal(5, 4), _ints(4, 5)],
    ),
    Case(
        "MultiLabelMarginLoss",
        nn.MultiLabelMarginLoss,
        [_normal(3, 4), _const([[0, 2, -1, 1], [3, -1, 0, 0], [1, 0, 2, 3]])],
    ),
    Case(
        "MultiLabelSoftMarginLoss-weight",
        lambda: nn.MultiLabelSoftMarginLoss(weight=cr.tensor(_WEIGHT), reduction="sum"),
        [_normal(3, 4), _uniform(0, 1, 3, 4)],
    ),
]

ALL = LAYERS + FUNCTIONS + LOSSES


def _leaves(out: Any) -> list[cr.Tensor]:
    """The tensors inside an output: a tensor, a (nested) tuple, a PackedSequence."""
    if isinstance(out, cr.Tensor):
        return [out]
    if isinstance(out, PackedSequence):
        return [out.data]  # batch_sizes stay on the CPU, as in PyTorch
    if isinstance(out, (tuple, list)):
        return [t for piece in out if piece is not None for t in _leaves(piece)]
    raise TypeError(f"unexpected output {type(out).__name__}")


def _run(case: Case, module: nn.Module, arrays: list, device: str, upstream: Any) -> tuple:
    wants = case.grads or tuple(a.dtype.kind == "f" for a in arrays)
    xs = [
        cr.tensor(a, device=device, requires_grad=bool(want and a.dtype.kind == "f"))
        for a, want in zip(arrays, wants)
    ]
    module.train(case.train)
    cr.manual_seed(1234)  # dropout draws the same mask on either device
    outs = _leaves(case.call(module, *xs))
    floats = [o for o in outs if o.is_floating_point() and o.requires_grad]
    joined = cr.cat([o.reshape(-1) for o in floats]) if floats else None
    if upstream is not None:
        joined.backward(cr.tensor(upstream, device=device))
    return outs, joined, xs


def _host(t: cr.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _same(got: cr.Tensor, expected: cr.Tensor, what: str) -> None:
    assert got.device == cr.device("cuda", 0), f"{what} is on {got.device}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    np.testing.assert_allclose(_host(got), _host(expected), rtol=TOL, atol=TOL, err_msg=what)


def _build(case: Case) -> nn.Module:
    cr.manual_seed(0)
    return case.make().double()


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_module_on_cuda_equals_the_cpu(case: Case) -> None:
    cpu = _build(case)
    gpu = copy.deepcopy(cpu).to("cuda")
    for name, param in gpu.named_parameters():
        assert param.device == cr.device("cuda", 0), name
    arrays = [draw(_rng(case.id, i)) for i, draw in enumerate(case.inputs)]

    # A first pass without backward gives the output size, for the upstream gradient.
    probe = copy.deepcopy(cpu)
    _, joined, _ = _run(case, probe, arrays, "cpu", None)
    upstream = None
    if joined is not None:
        upstream = _rng(case.id, "upstream").standard_normal(tuple(joined.shape))

    expected, _, expected_xs = _run(case, cpu, arrays, "cpu", upstream)
    got, _, got_xs = _run(case, gpu, arrays, "cuda", upstream)

    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        _same(g, e, f"output {i}")
    for i, (g, e) in enumerate(zip(got_xs, expected_xs)):
        assert (g.grad is None) == (e.grad is None), f"input {i} gradient"
        if e.grad is not None:
            _same(g.grad, e.grad, f"input {i} gradient")
    gpu_params = dict(gpu.named_parameters())
    for name, param in cpu.named_parameters():
        assert (gpu_params[name].grad is None) == (param.grad is None), f"{name}.grad"
        _same(gpu_params[name], param, name)  # a max_norm embedding renormalises in place
        if param.grad is not None:
            _same(gpu_params[name].grad, param.grad, f"{name}.grad")
    gpu_buffers = dict(gpu.named_buffers())
    assert gpu_buffers.keys() == dict(cpu.named_buffers()).keys()
    for name, buffer in cpu.named_buffers():
        _same(gpu_buffers[name], buffer, f"buffer {name}")


def test_every_layer_and_loss_is_covered() -> None:
    """Each module class that chainrule.nn exports runs in at least one case above."""
    used = set()
    for case in LAYERS + LOSSES:
        cr.manual_seed(0)
        used.update(type(m) for m in case.make().modules())
    exported = {
        obj
        for name in nn.__all__
        if inspect.isclass(obj := getattr(nn, name)) and issubclass(obj, nn.Module)
    }
    missing = {cls.__name__ for cls in exported - used} - {"Module"}
    assert not missing, f"no device case for {sorted(missing)}"


# ---- moving, saving and loading --------------------------------------------------------------


def _model() -> nn.Module:
    cr.manual_seed(0)
    return nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.Flatten(), nn.Linear(12, 2))


def test_cuda_and_cpu_keep_the_parameters_and_their_values() -> None:
    model = _model()
    params = list(model.parameters())
    values = [p.detach().numpy().copy() for p in params]
    assert model.cuda() is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.device == cr.device("cuda", 0) for p in params)
    assert all(b.device == cr.device("cuda", 0) for b in model.buffers())
    model(cr.randn(4, 2, 6, device="cuda")).sum().backward()
    assert all(p.grad.device == cr.device("cuda", 0) for p in params)
    assert model.cpu() is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    for p, v in zip(params, values):
        assert p.device == cr.device("cpu")
        assert p.grad.device == cr.device("cpu")
        np.testing.assert_array_equal(p.detach().numpy(), v)


def test_state_dict_of_a_cuda_model_holds_cuda_tensors() -> None:
    model = _model().to("cuda")
    state = model.state_dict()
    assert set(state) == {
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
        "3.weight",
        "3.bias",
    }
    for name, tensor in state.items():
        assert tensor.device == cr.device("cuda", 0), name


def test_load_state_dict_copies_cpu_tensors_to_the_cuda_model() -> None:
    source = _model()
    cr.manual_seed(5)
    for p in source.parameters():
        cr.nn.init.normal_(p)
    cr.nn.init.uniform_(source[1].running_var, 1.0, 2.0)
    source[1].num_batches_tracked.fill_(7)
    target = _model().to("cuda")
    params = list(target.parameters())
    target.load_state_dict(source.state_dict())
    assert [id(p) for p in target.parameters()] == [id(p) for p in params]
    mine = target.state_dict()
    for name, tensor in source.state_dict().items():
        assert mine[name].device == cr.device("cuda", 0), name
        np.testing.assert_array_equal(_host(mine[name]), tensor.numpy(), err_msg=name)
    # and back: a cuda state dict loads into a CPU model
    back = _model()
    back.load_state_dict(target.state_dict())
    for name, tensor in back.state_dict().items():
        assert tensor.device == cr.device("cpu"), name
        np.testing.assert_array_equal(tensor.numpy(), _host(mine[name]), err_msg=name)


INITS = [
    ("uniform_", lambda t: nn.init.uniform_(t, -0.3, 0.7)),
    ("normal_", lambda t: nn.init.normal_(t, 0.5, 2.0)),
    ("constant_", lambda t: nn.init.constant_(t, 0.25)),
    ("zeros_", nn.init.zeros_),
    ("ones_", nn.init.ones_),
    ("xavier_uniform_", lambda t: nn.init.xavier_uniform_(t, gain=2.0)),
    ("xavier_normal_", nn.init.xavier_normal_),
    ("kaiming_uniform_", lambda t: nn.init.kaiming_uniform_(t, a=0.1)),
    ("kaiming_normal_", lambda t: nn.init.kaiming_normal_(t, mode="fan_out")),
    ("orthogonal_", lambda t: nn.init.orthogonal_(t, gain=1.5)),
]
INITS += [
    (name, getattr(nn.init, name))
    for name in ("eye_", "dirac_", "trunc_normal_", "sparse_")
    if hasattr(nn.init, name)
]


def _init_shape(name: str) -> tuple[int, ...]:
    return {"eye_": (4, 6), "dirac_": (4, 2, 3), "sparse_": (6, 4)}.get(name, (4, 3, 2))


@pytest.mark.parametrize(("name", "init"), INITS, ids=[name for name, _ in INITS])
def test_init_on_a_cuda_parameter_draws_what_the_cpu_draws(name: str, init: Callable) -> None:
    shape = _init_shape(name)
    args = (0.5,) if name == "sparse_" else ()
    cpu = nn.Parameter(cr.zeros(*shape, dtype=cr.float64))
    gpu = nn.Parameter(cr.zeros(*shape, dtype=cr.float64, device="cuda"))
    cr.manual_seed(3)
    out_cpu = init(cpu, *args)
    cr.manual_seed(3)
    out_gpu = init(gpu, *args)
    assert out_gpu is gpu and out_cpu is cpu
    assert gpu.device == cr.device("cuda", 0)
    np.testing.assert_allclose(_host(gpu), cpu.detach().numpy(), rtol=TOL, atol=TOL)


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: nn.Linear(4, 3, **kw),
        lambda **kw: nn.Conv2d(2, 3, 3, **kw),
        lambda **kw: nn.ConvTranspose1d(2, 3, 3, **kw),
        lambda **kw: nn.Embedding(5, 3, **kw),
        lambda **kw: nn.MultiheadAttention(4, 2, **kw),
    ],
    ids=["Linear", "Conv2d", "ConvTranspose1d", "Embedding", "MultiheadAttention"],
)
def test_layers_made_on_cuda_hold_the_cpu_values(make: Callable) -> None:
    cr.manual_seed(0)
    cpu = make()
    cr.manual_seed(0)
    gpu = make(device="cuda")
    for (name, p), (_, q) in zip(cpu.named_parameters(), gpu.named_parameters()):
        assert q.device == cr.device("cuda", 0), name
        np.testing.assert_array_equal(_host(q), p.detach().numpy(), err_msg=name)


def test_a_model_made_under_the_default_device_cuda_lives_there(on_cuda: None) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    assert all(p.device == cr.device("cuda", 0) for p in model.parameters())
    assert all(b.device == cr.device("cuda", 0) for b in model.buffers())
    cr.set_default_device(None)
    cr.manual_seed(0)
    reference = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_array_equal(_host(p), q.detach().numpy())
    model(cr.randn(5, 3, device="cuda")).sum().backward()
    assert all(p.grad.device == cr.device("cuda", 0) for p in model.parameters())
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.device == cr.device("cpu")
    cr.set_default_device("cuda")
    assert nn.Transformer.generate_square_subsequent_mask(3).device == cr.device("cuda", 0)


def test_an_encoder_at_inference_zeroes_padded_positions_on_cuda() -> None:
    """PyTorch's nested-tensor inference path (eval, no grad, batch_first, key padding mask)."""
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    cpu = nn.TransformerEncoder(layer, 2).double().eval()
    gpu = copy.deepcopy(cpu).to("cuda")
    x = _rng("encoder-inference").standard_normal((3, 5, 8))
    pad = np.zeros((3, 5), dtype=bool)
    pad[1, 3:] = pad[2, 1:] = True
    with cr.no_grad():
        expected = cpu(cr.tensor(x), src_key_padding_mask=cr.tensor(pad))
        got = gpu(cr.tensor(x, device="cuda"), src_key_padding_mask=cr.tensor(pad, device="cuda"))
    _same(got, expected, "output")
    assert not _host(got)[pad].any()


def test_sequence_utilities_keep_cuda_data_on_cuda() -> None:
    from chainrule.nn.utils import rnn

    rng = _rng("sequences")
    arrays = [rng.standard_normal((n, 3)) for n in (4, 2, 5)]
    results = {}
    for device in ("cpu", "cuda"):
        xs = [cr.tensor(a, device=device, requires_grad=True) for a in arrays]
        padded = rnn.pad_sequence(xs, batch_first=True, padding_value=-1.0)
        packed = rnn.pack_sequence(xs, enforce_sorted=False)
        unpacked, lengths = rnn.pad_packed_sequence(packed, batch_first=True, total_length=6)
        pieces = rnn.unpad_sequence(padded, lengths, batch_first=True)
        pieces += rnn.unpack_sequence(packed)
        outs = [padded, packed.data, unpacked, *pieces]
        cr.cat([o.reshape(-1) for o in outs]).backward(
            cr.tensor(
                _rng("sequences", "up").standard_normal(sum(o.numel() for o in outs)), device=device
            )
        )
        results[device] = (outs, [x.grad for x in xs], lengths)
    (expected, expected_grads, expected_lengths), (got, grads, lengths) = results.values()
    for i, (g, e) in enumerate(zip(got, expected)):
        _same(g, e, f"result {i}")
    for i, (g, e) in enumerate(zip(grads, expected_grads)):
        _same(g, e, f"gradient {i}")
    assert lengths.tolist() == expected_lengths.tolist()
    assert lengths.device == cr.device("cpu")  # as PyTorch's, with batch_sizes
    packed = rnn.pack_sequence([cr.tensor(a) for a in arrays], enforce_sorted=False)
    moved = packed.to("cuda")
    assert moved.data.device == moved.sorted_indices.device == cr.device("cuda", 0)
    assert moved.unsorted_indices.device == cr.device("cuda", 0)
    assert moved.batch_sizes.device == cr.device("cpu")
    back = moved.cpu()
    assert back.data.device == back.sorted_indices.device == cr.device("cpu")
    assert back.sorted_indices.tolist() == packed.sorted_indices.tolist()


def test_parameters_to_vector_and_back_on_cuda() -> None:
    from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

    model = _model().to("cuda")
    vector = parameters_to_vector(model.parameters())
    assert vector.device == cr.device("cuda", 0)
    vector_to_parameters(vector * 2, model.parameters())
    reference = _model()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.device == cr.device("cuda", 0)
        np.testing.assert_array_equal(_host(p), 2 * q.detach().numpy())
