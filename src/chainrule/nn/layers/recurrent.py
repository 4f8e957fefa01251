"""Recurrent layers: RNN, LSTM and GRU over whole sequences, and their single-step cells.

Parameter names, shapes, gate order and initialisation are PyTorch's, so a PyTorch state_dict
loads and computes the same: ``weight_ih_l{k}`` (G·H, I) for layer k (``_reverse`` for the
backward direction), ``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G·H,),
with G = 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n) or 1, all uniform in ±1/√hidden_size.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from chainrule import backend, dtypes
from chainrule.autograd.function import OpError
from chainrule.nn import init
from chainrule.nn.functional import recurrent as R
from chainrule.nn.layers.packed import run_packed
from chainrule.nn.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.nn.utils.rnn import PackedSequence
from chainrule.tensor import Tensor

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_sizes(name: str, input_size: Any, hidden_size: Any) -> None:
    for what, value, least in (("input_size", input_size, 0), ("hidden_size", hidden_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            bound = "non-negative" if least == 0 else "positive"
            raise ValueError(f"{name}: {what} must be a {bound} int, got {value!r}")


class RNNBase(Module):
    """The common part of RNN, LSTM and GRU: parameters, checks, and the layout of inputs and
    states (batch_first, unbatched)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        _check_sizes(name, input_size, hidden_size)
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout is applied between layers, so dropout={dropout} does nothing "
                "with num_layers=1",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = 0
        dtype = dtypes.to_dtype(dtype)
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {
                    f"weight_ih{suffix}": (gate_size, layer_input),
                    f"weight_hh{suffix}": (gate_size, hidden_size),
                }
                if bias:
                    shapes[f"bias_ih{suffix}"] = (gate_size,)
                    shapes[f"bias_hh{suffix}"] = (gate_size,)
                for param_name, shape in shapes.items():
                    setattr(self, param_name, Parameter(backend.xp.empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(param_name)
        self.reset_parameters()
        self._place(device)

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped by layer and direction: [[W_ih, W_hh, b_ih, b_hh], ...]."""
        per = 4 if self.bias else 2
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i : i + per]] for i in range(0, len(names), per)]

    def flatten_parameters(self) -> None:
        """Does nothing: PyTorch compacts its cuDNN weight buffer here; kept so that PyTorch
        code that calls it runs unchanged."""

    def _weights(self) -> list[tuple]:
        """(W_ih, W_hh, b_ih, b_hh) per layer and direction, biases None without bias."""
        return [tuple(group) if self.bias else (*group, None, None) for group in self.all_weights]

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _sequence(self, input: Tensor) -> tuple[Tensor, bool]:  # noqa: A002
        """The input as time-major (T, B, I), and whether it came with a batch dimension."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}: input must be a Tensor, got {type(input)}")
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise OpError(
                f"{self._describe()}: expected input of shape (L, N, {self.input_size}) "
                f"{'or (N, L, ' + str(self.input_size) + ') ' if self.batch_first else ''}"
                f"or unbatched (L, {self.input_size}), got {input.shape}"
            )
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype:
            raise OpError(
                f"{self._describe()}: input has dtype {input.dtype} but the parameters have "
                f"{weight.dtype}; convert one of them (e.g. input.float() or model.double())"
            )
        if input.ndim == 2:
            return input.unsqueeze(1), False
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _state(self, state: Any, what: str, batch: int, batched: bool) -> Tensor | None:
        """A given initial state checked against (L·D, N, H) (or (L·D, H) unbatched)."""
        if state is None:
            return None
        layers = self.num_layers * (2 if self.bidirectional else 1)
        expected = (layers, batch, self.hidden_size) if batched else (layers, self.hidden_size)
        if not isinstance(state, Tensor) or state.shape != expected:
            shape = state.shape if isinstance(state, Tensor) else type(state).__name__
            raise OpError(f"{self._describe()}: expected {what} of shape {expected}, got {shape}")
        if state.dtype != self.weight_ih_l0.dtype:
            raise OpError(
                f"{self._describe()}: {what} has dtype {state.dtype} but the parameters have "
                f"{self.weight_ih_l0.dtype}"
            )
        return state if batched else state.unsqueeze(1)

    def _output(self, output: Tensor, batched: bool) -> Tensor:
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def _final(self, state: Tensor, batched: bool) -> Tensor:
        return state if batched else state.squeeze(1)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), act tanh or relu.

    input (L, N, H_in) (or (N, L, H_in) with batch_first, or unbatched (L, H_in)), h0
    (D·num_layers, N, H) optional → (output (L, N, D·H), h_n (D·num_layers, N, H)), D = 2 if
    bidirectional else 1.

    ```pycon
    >>> import chainrule
    >>> rnn = RNN(10, 20, 2)
    >>> output, h_n = rnn(chainrule.randn(5, 3, 10))
    >>> output.shape, h_n.shape
    (chainrule.Size([5, 3, 20]), chainrule.Size([2, 3, 20]))

    ```
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'"
            )
        super().__init__(
            f"RNN_{nonlinearity.upper()}",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        if isinstance(input, PackedSequence):
            return run_packed(self, input, hx)
        x, batched = self._sequence(input)
        h0 = self._state(hx, "hx", x.shape[1], batched)
        output, h_n = R.rnn(
            x,
            h0,
            self._weights(),
            self.num_layers,
            self.bidirectional,
            self.dropout,
            self.training,
            self.nonlinearity,
        )
        return self._output(output, batched), self._final(h_n, batched)


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), PyTorch's gate order i, f, g, o:
    i, f, o = σ(…), g = tanh(…), each of x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh;
    c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ tanh(c_t).

    input as :class:`RNN`, hx = (h0, c0) optional → (output, (h_n, c_n)). Each layer and
    direction is one fused operation over the whole sequence.

    ```pycon
    >>> import chainrule
    >>> lstm = LSTM(10, 20, batch_first=True)
    >>> output, (h_n, c_n) = lstm(chainrule.randn(3, 5, 10))
    >>> output.shape, h_n.shape, c_n.shape
    (chainrule.Size([3, 5, 20]), chainrule.Size([1, 3, 20]), chainrule.Size([1, 3, 20]))

    ```
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if proj_size != 0:
            raise ValueError(f"LSTM: proj_size={proj_size} is not supported (only 0)")
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if isinstance(input, PackedSequence):
            return run_packed(self, input, hx)
        x, batched = self._sequence(input)
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._describe()}: hx must be a tuple (h0, c0)")
            h0 = self._state(hx[0], "h0", x.shape[1], batched)
            c0 = self._state(hx[1], "c0", x.shape[1], batched)
        output, h_n, c_n = R.lstm(
            x,
            h0,
            c0,
            self._weights(),
            self.num_layers,
            self.bidirectional,
            self.dropout,
            self.training,
        )
        return self._output(output, batched), (self._final(h_n, batched), self._final(c_n, batched))


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), PyTorch's gate order r, z, n:
    r, z = σ(x_t W_iᵀ + b_i + h_{t−1} W_hᵀ + b_h), n = tanh(x_t W_inᵀ + b_in + r ⊙ (h_{t−1}
    W_hnᵀ + b_hn)), h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.

    Shapes as :class:`RNN`.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> gru = cr.nn.GRU(input_size=4, hidden_size=8)
    >>> output, h_n = gru(cr.randn(5, 3, 4))  # (L, N, H_in)
    >>> output.shape, h_n.shape
    (chainrule.Size([5, 3, 8]), chainrule.Size([1, 3, 8]))

    ```
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        if isinstance(input, PackedSequence):
            return run_packed(self, input, hx)
        x, batched = self._sequence(input)
        h0 = self._state(hx, "hx", x.shape[1], batched)
        output, h_n = R.gru(
            x,
            h0,
            self._weights(),
            self.num_layers,
            self.bidirectional,
            self.dropout,
            self.training,
        )
        return self._output(output, batched), self._final(h_n, batched)


# ---- cells: one time step ------------------------------------------------------------------------


class RNNCellBase(Module):
    """The common part of the cells: ``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H),
    ``bias_ih`` and ``bias_hh`` (G·H,), uniform in ±1/√hidden_size."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        gates: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = dtypes.to_dtype(dtype)
        xp = backend.xp
        self.weight_ih = Parameter(xp.empty((gates * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(xp.empty((gates * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(xp.empty(gates * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(xp.empty(gates * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        self._place(device)

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            init.uniform_(param, -bound, bound)

    def _weights(self) -> tuple:
        return (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def _step_input(self, input: Tensor) -> tuple[Tensor, bool]:  # noqa: A002
        """The input as (B, I), and whether it came with a batch dimension."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}: input must be a Tensor, got {type(input)}")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise OpError(
                f"{self._describe()}: expected input of shape (N, {self.input_size}) or "
                f"({self.input_size},), got {input.shape}"
            )
        if input.dtype != self.weight_ih.dtype:
            raise OpError(
                f"{self._describe()}: input has dtype {input.dtype} but the parameters have "
                f"{self.weight_ih.dtype}"
            )
        return (input, True) if input.ndim == 2 else (input.unsqueeze(0), False)

    def _step_state(self, state: Any, what: str, batch: int, batched: bool) -> Tensor | None:
        if state is None:
            return None
        expected = (batch, self.hidden_size) if batched else (self.hidden_size,)
        if not isinstance(state, Tensor) or state.shape != expected:
            shape = state.shape if isinstance(state, Tensor) else type(state).__name__
            raise OpError(f"{self._describe()}: expected {what} of shape {expected}, got {shape}")
        if state.dtype != self.weight_ih.dtype:
            raise OpError(
                f"{self._describe()}: {what} has dtype {state.dtype} but the parameters have "
                f"{self.weight_ih.dtype}"
            )
        return state if batched else state.unsqueeze(0)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            text += f", nonlinearity={nonlinearity}"
        return text


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act tanh or relu.

    input (N, H_in) or (H_in,), hx of the matching (N, H) or (H,) (zeros if omitted) → h'.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cell = cr.nn.RNNCell(4, 8)
    >>> cell(cr.randn(3, 4)).shape
    chainrule.Size([3, 8])

    ```
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from 'tanh' or 'relu'"
            )
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, batched = self._step_input(input)
        h = self._step_state(hx, "hx", x.shape[0], batched)
        h_new = R.rnn_cell(x, h, self._weights(), self.nonlinearity)
        return h_new if batched else h_new.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): input (N, H_in) or (H_in,), hx = (h, c) optional →
    (h', c').

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> h, c = cr.nn.LSTMCell(4, 8)(cr.randn(3, 4))
    >>> h.shape, c.shape
    (chainrule.Size([3, 8]), chainrule.Size([3, 8]))

    ```
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        x, batched = self._step_input(input)
        h = c = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._describe()}: hx must be a tuple (h, c)")
            h = self._step_state(hx[0], "h", x.shape[0], batched)
            c = self._step_state(hx[1], "c", x.shape[0], batched)
        h_new, c_new = R.lstm_cell(x, h, c, self._weights())
        if not batched:
            return h_new.squeeze(0), c_new.squeeze(0)
        return h_new, c_new


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n): input (N, H_in) or (H_in,), hx optional → h'.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> cell = cr.nn.GRUCell(4, 8)
    >>> h = cell(cr.randn(3, 4))
    >>> cell(cr.randn(3, 4), h).shape  # the next step, from h
    chainrule.Size([3, 8])

    ```
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, batched = self._step_input(input)
        h = self._step_state(hx, "hx", x.shape[0], batched)
        h_new = R.gru_cell(x, h, self._weights())
        return h_new if batched else h_new.squeeze(0)
