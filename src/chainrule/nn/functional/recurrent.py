"""The math of the recurrent layers: stacks of layers and directions over the fused one-layer
operations of :mod:`chainrule.ops.recurrent`.

PyTorch has no public ``F.lstm``, so nothing here is exported through ``nn.functional``; the
modules of :mod:`chainrule.nn.layers.recurrent` call these functions. Sequences are
time-major here: x (T, B, I); the modules handle batch_first and unbatched inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chainrule import backend, random
from chainrule.ops.movement import cat
from chainrule.ops.recurrent import GRULayer, LSTMLayer, RNNLayer
from chainrule.tensor import Tensor

__all__: list[str] = []

# (W_ih, W_hh, b_ih, b_hh) of one layer and direction; the biases may be None.
Weights = Sequence[Any]


def lstm(
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    weights: Sequence[Weights],
    num_layers: int,
    bidirectional: bool,
    dropout: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """A stack of LSTM layers: x (T, B, I), h0 and c0 (L·D, B, H) or None for zeros →
    output (T, B, D·H) of the last layer, h_n and c_n (L·D, B, H)."""
    return _stack("lstm", x, h0, c0, weights, num_layers, bidirectional, dropout, training)


def gru(
    x: Tensor,
    h0: Tensor | None,
    weights: Sequence[Weights],
    num_layers: int,
    bidirectional: bool,
    dropout: float = 0.0,
    training: bool = False,
) -> tuple[Tensor, Tensor]:
    """A stack of GRU layers: x (T, B, I), h0 (L·D, B, H) or None → output (T, B, D·H), h_n."""
    out, h_n, _ = _stack("gru", x, h0, None, weights, num_layers, bidirectional, dropout, training)
    return out, h_n


def rnn(
    x: Tensor,
    h0: Tensor | None,
    weights: Sequence[Weights],
    num_layers: int,
    bidirectional: bool,
    dropout: float = 0.0,
    training: bool = False,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor]:
    """A stack of Elman RNN layers (tanh or relu): shapes as :func:`gru`."""
    out, h_n, _ = _stack(
        "rnn", x, h0, None, weights, num_layers, bidirectional, dropout, training, nonlinearity
    )
    return out, h_n


def _stack(
    kind: str,
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    weights: Sequence[Weights],
    num_layers: int,
    bidirectional: bool,
    dropout: float,
    training: bool,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run the layers bottom-up: each layer and direction is one fused operation over the
    whole sequence, the directions' outputs are concatenated along features, and h_n (c_n)
    stacks each one's final state: at step T − 1 going forward, at step 0 in reverse."""
    directions = 2 if bidirectional else 1
    n_steps = x.shape[0]
    h_finals, c_finals = [], []
    layer_input = x
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            reverse = direction == 1
            h_init = None if h0 is None else h0[k]
            last = 0 if reverse else n_steps - 1  # where this direction's final state sits
            if kind == "lstm":
                c_init = None if c0 is None else c0[k]
                packed = LSTMLayer.apply(layer_input, h_init, c_init, *weights[k], reverse=reverse)
                outputs.append(packed[:n_steps])
                c_finals.append(packed[n_steps:])
            elif kind == "gru":
                packed = GRULayer.apply(layer_input, h_init, *weights[k], reverse=reverse)
                outputs.append(packed.view(packed.shape))  # apart from h_n; a view, no copy
            else:
                packed = RNNLayer.apply(
                    layer_input, h_init, *weights[k], nonlinearity=nonlinearity, reverse=reverse
                )
                outputs.append(packed.view(packed.shape))  # apart from h_n; a view, no copy
            h_finals.append(packed[last : last + 1])
        layer_input = outputs[0] if directions == 1 else cat(outputs, dim=2)
        if dropout > 0 and training and layer < num_layers - 1:
            layer_input = layer_input * _dropout_mask(layer_input, dropout)
    h_n = h_finals[0] if len(h_finals) == 1 else cat(h_finals, dim=0)
    c_n = None
    if c_finals:
        c_n = c_finals[0] if len(c_finals) == 1 else cat(c_finals, dim=0)
    return layer_input, h_n, c_n


def _dropout_mask(x: Tensor, p: float) -> Tensor:
    """Keep each element with probability 1 − p and scale the kept ones by 1/(1 − p), drawn
    from chainrule's generator (so manual_seed makes it reproducible)."""
    keep = random.default_generator().random(x.shape) >= p
    scale = 0.0 if p >= 1 else 1 / (1 - p)
    mask = backend.as_array(keep, dtype=x.dtype) * x.dtype.type(scale)
    # Drawn on the CPU, so that a seed gives the same mask on every device; then moved.
    return Tensor(backend.transfer(mask, backend.module_of(x.array)))


# ---- single steps (the cells) --------------------------------------------------------------------


def lstm_cell(
    x: Tensor, h: Tensor | None, c: Tensor | None, weights: Weights
) -> tuple[Tensor, Tensor]:
    """One LSTM step: x (B, I), h and c (B, H) or None → (h', c'), each (B, H).

    The one-layer sequence operation with T = 1: one node and the same derivative code.
    """
    packed = LSTMLayer.apply(x.unsqueeze(0), h, c, *weights)
    return packed[0], packed[1]


def gru_cell(x: Tensor, h: Tensor | None, weights: Weights) -> Tensor:
    """One GRU step: x (B, I), h (B, H) or None → h' (B, H)."""
    return GRULayer.apply(x.unsqueeze(0), h, *weights)[0]


def rnn_cell(x: Tensor, h: Tensor | None, weights: Weights, nonlinearity: str = "tanh") -> Tensor:
    """One Elman RNN step: x (B, I), h (B, H) or None → h' (B, H)."""
    return RNNLayer.apply(x.unsqueeze(0), h, *weights, nonlinearity=nonlinearity)[0]
