"""Second derivatives of the neural-network layers whose backward is a tuned kernel:
convolution, pooling, recurrent layers, normalisation, embedding and dropout.

Each case builds the same computation in chainrule and in PyTorch from the same float64
values (a module's parameters are passed in with ``func.functional_call``). The first
derivative is taken with ``create_graph=True`` against a random upstream gradient v that itself
requires grad; a random weighting of it is differentiated again, with respect to every input
and to v, and must match PyTorch's double backward. ``gradgradcheck`` (central finite
differences of the first derivative) must pass as well, on the same tiny sizes.

Layers that are linear in their input get a tanh in front, so that their backward is also
differentiated through a curved input, not only with respect to v.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


@dataclass
class NNCase:
    """``fn(m, *tensors)`` computes the layer in framework m (chainrule or torch) from tensors
    made of ``shapes``' random values; ``torch_check`` False where PyTorch's own double backward
    is not the reference (see the case). ``gradgrad_inputs``: the inputs that gradgradcheck
    varies (None: all), to keep the finite differences of the larger layers fast; the others
    are held fixed there, and PyTorch checks every input."""

    id: str
    fn: Callable[..., Any]
    shapes: list
    torch_check: bool = True
    gradgrad_inputs: tuple | None = None


def _F(m: Any) -> Any:
    return m.nn.functional


def _module_call(factory: Callable[[Any], Any], output: Callable[[Any], Any] = lambda o: o):
    """A case function running ``factory(m)``'s module on x with the given parameters."""

    def fn(m: Any, x: Any, *params: Any) -> Any:
        module = factory(m).double()
        names = [name for name, _ in module.named_parameters()]
        return output(m.func.functional_call(module, dict(zip(names, params)), (x,)))

    return fn


def _parameter_shapes(factory: Callable[[Any], Any]) -> list:
    return [tuple(p.shape) for p in factory(torch).parameters()]


def _rnn_case(
    case_id: str, kind: str, x_shape: tuple, hidden: int = 2, checked: Any = None, **options: Any
) -> NNCase:
    def factory(m: Any) -> Any:
        return getattr(m.nn, kind)(x_shape[-1], hidden, **options)

    def both(out: tuple) -> Any:
        # The sequence and the final state(s), so that every output's derivative is checked.
        output, state = out
        states = state if isinstance(state, tuple) else (state,)
        return [output, *states]

    shapes = [x_shape, *_parameter_shapes(factory)]
    return NNCase(case_id, _module_call(factory, both), shapes, gradgrad_inputs=checked)


def _rnn_with_states(case_id: str, kind: str, **options: Any) -> NNCase:
    """x (T=2, B=2, I=2) and initial states given as inputs that require grad; gradgradcheck
    varies x, the states and the first layer's forward-direction parameters."""
    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)

    def factory(m: Any) -> Any:
        return getattr(m.nn, kind)(2, 2, **options)

    def fn(m: Any, x: Any, h0: Any, *rest: Any) -> Any:
        module = factory(m).double()
        names = [name for name, _ in module.named_parameters()]
        if kind == "LSTM":
            c0, params = rest[0], rest[1:]
            state = (h0, c0)
        else:
            state, params = h0, rest
        output, final = m.func.functional_call(module, dict(zip(names, params)), (x, state))
        return [output, *(final if isinstance(final, tuple) else (final,))]

    states = [(layers, 2, 2)] * (2 if kind == "LSTM" else 1)
    checked = tuple(range(1 + len(states) + 4))
    return NNCase(case_id, fn, [(2, 2, 2), *states, *_parameter_shapes(factory)], True, checked)


def _dropout_case(case_id: str, drop: Callable[[Any, Any], Any], shape: tuple) -> NNCase:
    """A dropout in training mode: chainrule draws its mask from a fixed seed, and PyTorch
    applies that same affine map x ↦ x·scale + shift (recovered from chainrule's outputs on
    ones and zeros), so that both differentiate the same function."""

    def drawn(x: Any) -> Any:
        cr.manual_seed(3)
        return drop(cr, x)

    def fn(m: Any, x: Any) -> Any:
        if m is cr:
            return drawn(x.tanh())
        shift = drawn(cr.zeros(shape, dtype=cr.float64)).numpy()
        scale = drawn(cr.ones(shape, dtype=cr.float64)).numpy() - shift
        return x.tanh() * torch.tensor(scale) + torch.tensor(shift)

    return NNCase(case_id, fn, [shape])


def _conv3d(m: Any, x: Any, w: Any, b: Any) -> Any:
    return _F(m).conv3d(x, w, b, stride=(1, 2, 1), padding=(1, 0, 1))


def _alpha_dropout(m: Any, x: Any) -> Any:
    return _F(m).alpha_dropout(x, 0.4, training=True)


def _embedding(options: dict) -> Callable[..., Any]:
    indices = np.array([[0, 2, 4, 2], [1, 1, 3, 0]])
    return lambda m, w: _F(m).embedding(m.tensor(indices), w.tanh(), **options)


def _batch_norm(training: bool) -> Callable[..., Any]:
    def fn(m: Any, x: Any, weight: Any, bias: Any) -> Any:
        running_mean = m.tensor(np.array([0.2, -0.1, 0.3]))
        running_var = m.tensor(np.array([0.5, 1.5, 2.0]))
        return _F(m).batch_norm(
            x.tanh(), running_mean, running_var, weight, bias, training=training
        )

    return fn


CASES = [
    # ---- convolution
    NNCase(
        "conv1d_stride_padding_bias",
        lambda m, x, w, b: _F(m).conv1d(x, w, b, stride=2, padding=1),
        [(2, 2, 7), (3, 2, 3), (3,)],
    ),
    NNCase(
        "conv2d_stride_padding_dilation_groups",
        lambda m, x, w, b: _F(m).conv2d(
            x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2
        ),
        [(1, 4, 5, 4), (4, 2, 3, 2), (4,)],
    ),
    NNCase(
        "conv2d_same_no_bias",
        lambda m, x, w: _F(m).conv2d(x.tanh(), w, padding="same"),
        [(1, 2, 4, 5), (3, 2, 2, 3)],
    ),
    NNCase(
        "conv2d_unbatched",
        lambda m, x, w, b: _F(m).conv2d(x, w, b, stride=2),
        [(2, 5, 5), (2, 2, 3, 3), (2,)],
    ),
    NNCase("conv3d_padding_stride_bias", _conv3d, [(1, 2, 3, 4, 3), (2, 2, 2, 2, 2), (2,)]),
    # ---- pooling
    NNCase(
        "max_pool1d_dilation",
        lambda m, x: _F(m).max_pool1d(x.tanh(), 2, stride=1, dilation=2).square(),
        [(2, 2, 7)],
    ),
    NNCase(
        "max_pool2d_stride_padding_ceil",
        lambda m, x: _F(m).max_pool2d(x.tanh(), 3, stride=2, padding=1, ceil_mode=True).square(),
        [(2, 2, 6, 5)],
    ),
    NNCase(
        "max_pool2d_after_conv",
        lambda m, x, w: _F(m).max_pool2d(_F(m).conv2d(x, w).tanh(), 2),
        [(2, 1, 5, 5), (2, 1, 2, 2)],
    ),
    NNCase(
        "avg_pool2d_padding_exclude_ceil",
        lambda m, x: _F(m).avg_pool2d(
            x.tanh(), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False
        ),
        [(2, 2, 6, 5)],
    ),
    NNCase(
        "avg_pool2d_divisor_override",
        lambda m, x: _F(m).avg_pool2d(x.tanh(), 2, divisor_override=3),
        [(1, 2, 4, 4)],
    ),
    NNCase(
        "adaptive_avg_pool2d_unequal_bins",
        lambda m, x: _F(m).adaptive_avg_pool2d(x.tanh(), (3, 2)),
        [(2, 2, 5, 7)],
    ),
    NNCase(
        "adaptive_avg_pool2d_equal_bins",
        lambda m, x: _F(m).adaptive_avg_pool2d(x.tanh(), 2),
        [(1, 2, 4, 6)],
    ),
    # ---- recurrent layers
    _rnn_case("lstm", "LSTM", (3, 2, 2)),
    _rnn_case(
        "lstm_2_layers_bidirectional_batch_first",
        "LSTM",
        (2, 3, 2),
        hidden=1,
        checked=(0, 13, 14),  # x and the second layer's reverse-direction weights
        num_layers=2,
        bidirectional=True,
        batch_first=True,
    ),
    _rnn_case("gru", "GRU", (3, 2, 2)),
    _rnn_case(
        "gru_2_layers_no_bias", "GRU", (3, 2, 2), checked=(0, 3, 4), num_layers=2, bias=False
    ),
    _rnn_case("rnn_tanh_bidirectional", "RNN", (3, 2, 2), bidirectional=True),
    _rnn_case("rnn_relu_2_layers", "RNN", (3, 2, 2), num_layers=2, nonlinearity="relu"),
    _rnn_with_states("lstm_initial_states_bidirectional", "LSTM", bidirectional=True),
    _rnn_with_states("gru_initial_state_2_layers", "GRU", num_layers=2),
    _rnn_with_states("rnn_initial_state", "RNN"),
    NNCase(
        "lstm_cell",
        _module_call(lambda m: m.nn.LSTMCell(2, 2), lambda out: list(out)),
        [(3, 2), *_parameter_shapes(lambda m: m.nn.LSTMCell(2, 2))],
    ),
    NNCase(
        "gru_cell",
        _module_call(lambda m: m.nn.GRUCell(2, 2)),
        [(3, 2), *_parameter_shapes(lambda m: m.nn.GRUCell(2, 2))],
    ),
    # ---- normalisation
    NNCase("batch_norm_train", _batch_norm(True), [(4, 3, 2), (3,), (3,)]),
    NNCase("batch_norm_eval", _batch_norm(False), [(4, 3, 2), (3,), (3,)]),
    NNCase(
        "layer_norm",
        lambda m, x, w, b: _F(m).layer_norm(x.tanh(), (2, 3), w, b),
        [(3, 2, 3), (2, 3), (2, 3)],
    ),
    NNCase(
        "group_norm",
        lambda m, x, w, b: _F(m).group_norm(x.tanh(), 2, w, b),
        [(2, 4, 3), (4,), (4,)],
    ),
    NNCase(
        "instance_norm",
        lambda m, x, w, b: _F(m).instance_norm(x.tanh(), weight=w, bias=b),
        [(2, 3, 4), (3,), (3,)],
    ),
    # ---- embedding
    NNCase("embedding", _embedding({}), [(5, 3)]),
    NNCase("embedding_padding_idx", _embedding({"padding_idx": 2}), [(5, 3)]),
    # PyTorch's double backward of embedding drops the 1/frequency factor with respect to the
    # incoming gradient (it gathers it unscaled); gradgradcheck is the reference here.
    NNCase(
        "embedding_scale_grad_by_freq",
        _embedding({"padding_idx": 0, "scale_grad_by_freq": True}),
        [(5, 3)],
        torch_check=False,
    ),
    # ---- dropout
    NNCase(
        "dropout_eval",
        lambda m, x: _F(m).dropout(x.tanh(), 0.4, training=False),
        [(3, 4)],
    ),
    _dropout_case("dropout_train", lambda m, x: _F(m).dropout(x, 0.4), (3, 4)),
    # in place, on a copy: the tanh in front keeps its output, which PyTorch too refuses to lose
    _dropout_case(
        "dropout_inplace_train", lambda m, x: _F(m).dropout(x * 1.0, 0.4, inplace=True), (3, 4)
    ),
    _dropout_case("dropout2d_train", lambda m, x: _F(m).dropout2d(x, 0.5), (2, 3, 2, 2)),
    _dropout_case("alpha_dropout_train", _alpha_dropout, (3, 4)),
]


def _inputs(case: NNCase, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * 0.8 for shape in case.shapes]


def _joined(m: Any, out: Any) -> Any:
    """One tensor of every output's elements (a list of outputs is flattened and joined)."""
    if isinstance(out, (list, tuple)):
        return m.cat([o.reshape(-1) for o in out])
    return out


def second_derivatives(m: Any, case: NNCase, arrays: list) -> list:
    """∂/∂(inputs, v) of Σᵢ ⟨wᵢ, ∂⟨fn(inputs), v⟩/∂inputᵢ⟩ as NumPy arrays (zeros for None)."""
    rng = np.random.default_rng(11)
    xs = [m.tensor(a, dtype=m.float64, requires_grad=True) for a in arrays]
    out = _joined(m, case.fn(m, *xs))
    v = m.tensor(rng.standard_normal(tuple(out.shape)), dtype=m.float64, requires_grad=True)
    grads = m.autograd.grad(out, xs, v, create_graph=True, allow_unused=True)
    # One weighting per input, drawn even where a gradient is None (chainrule) and zeros
    # (PyTorch), so that both frameworks weight the same gradients alike.
    weights = [m.tensor(rng.standard_normal(tuple(x.shape))) for x in xs]
    total = sum((g * w).sum() for g, w in zip(grads, weights) if g is not None)
    wrt = [*xs, v]
    seconds = m.autograd.grad(total, wrt, allow_unused=True)
    return [
        np.zeros(tuple(x.shape)) if s is None else s.detach().numpy().copy()
        for s, x in zip(seconds, wrt)
    ]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own copy
@pytest.mark.parametrize("case", [c for c in CASES if c.torch_check], ids=lambda c: c.id)
def test_second_derivatives_match_torch(case: NNCase) -> None:
    arrays = _inputs(case, 1)
    ours = second_derivatives(cr, case, arrays)
    theirs = second_derivatives(torch, case, arrays)
    for i, (a, e) in enumerate(zip(ours, theirs)):
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(
            a, e, rtol=1e-8, atol=1e-10 * scale, err_msg=f"{case.id}: second derivative {i}"
        )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradgradcheck(case: NNCase) -> None:
    checked = case.gradgrad_inputs or range(len(case.shapes))
    inputs = [
        cr.tensor(a, dtype=cr.float64, requires_grad=i in checked)
        for i, a in enumerate(_inputs(case, 2))
    ]
    fn = lambda *xs: _joined(cr, case.fn(cr, *xs))  # noqa: E731
    assert cr.autograd.gradgradcheck(fn, inputs) is True


def test_second_derivative_of_the_dropout_mask_is_the_drawn_mask() -> None:
    # ∂C/∂x = m ⊙ ∂C/∂y, so ∂/∂v ⟨w, m ⊙ v⟩ = m ⊙ w: the mask the forward drew, not a new one.
    x = cr.ones(50, dtype=cr.float64, requires_grad=True)
    out = cr.nn.functional.dropout(x, 0.5)
    v = cr.ones(50, dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad(out, x, v, create_graph=True)
    w = cr.tensor(np.linspace(1, 2, 50))
    (second,) = cr.autograd.grad((g * w).sum(), v)
    np.testing.assert_allclose(second.numpy(), out.detach().numpy() * w.numpy())
    assert 0 < int((out.detach().numpy() == 0).sum()) < 50


def test_sampled_values_have_zero_second_derivative() -> None:
    # normal(mean, std) is not differentiable in its parameters (PyTorch: zero gradient);
    # recording a graph through it must neither fail nor invent a term.
    mean = cr.tensor([0.5, -1.0, 2.0], dtype=cr.float64, requires_grad=True)
    out = cr.normal(mean.tanh(), 1.0) + mean.square()
    (g,) = cr.autograd.grad(out.sum(), mean, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * mean.detach().numpy())
    (second,) = cr.autograd.grad(g.sum(), mean)
    np.testing.assert_allclose(second.numpy(), np.full(3, 2.0))
