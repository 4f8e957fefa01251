"""The recurrent model of ``chainrule train --architecture rnn|lstm|gru``: each sample's F
features read as F time steps of one value (a signal such as MNIST-1D's 40 points), a recurrent
network over them, and a Linear head on the last step's hidden state."""

from __future__ import annotations

from typing import Any

from chainrule.autograd.function import OpError
from chainrule.nn.layers.linear import Linear
from chainrule.nn.layers.recurrent import GRU, LSTM, RNN
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

RECURRENT_LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class SequenceModel(Module):
    """x (N, L) or (N, L, 1) → (N, outputs): ``recurrent`` (an RNN with tanh, an LSTM or a GRU
    of ``num_layers`` layers of ``hidden_size`` units, batch_first, one input feature per
    step) runs over the L steps, and ``head`` (Linear) maps the top layer's hidden state after
    the last step to the outputs (class scores or regression targets).

    The state_dict holds ``recurrent.weight_ih_l0``... with PyTorch's names and
    ``head.weight``, ``head.bias``.
    """

    def __init__(
        self,
        kind: str,
        hidden_size: int,
        outputs: int,
        num_layers: int = 1,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if kind not in RECURRENT_LAYERS:
            raise ValueError(
                f"SequenceModel: kind must be one of {', '.join(RECURRENT_LAYERS)}, got {kind!r}"
            )
        self.kind = kind
        layer = RECURRENT_LAYERS[kind]
        self.recurrent = layer(1, hidden_size, num_layers=num_layers, batch_first=True, dtype=dtype)
        self.head = Linear(hidden_size, outputs, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 2:  # one value per step: the feature axis of the recurrent layer
            x = x.unsqueeze(-1)
        elif x.ndim != 3 or x.shape[2] != 1:
            raise OpError(
                f"{self._name()}: expected input of shape (N, L) or (N, L, 1) (L steps of one "
                f"value), got {x.shape}"
            )
        output, _ = self.recurrent(x)
        # output[:, t] is the top layer's hidden state after step t: the last one has read all.
        return self.head(output[:, -1])

    def _name(self) -> str:
        return (
            f"SequenceModel({type(self.recurrent).__name__}, hidden_size="
            f"{self.recurrent.hidden_size}, outputs={self.head.out_features})"
        )
