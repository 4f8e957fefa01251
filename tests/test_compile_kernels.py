"""chainrule.compile(step, kernels=True): numba's kernels against eager mode, operation by
operation (on the values where rounding and NaN rules differ most) and over whole training
steps, and the calls where a kernel hands back to the operation itself."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.compiled import CompiledStep, kernels
from chainrule.compiled.kernels import updates
from chainrule.ops.classification_losses import ClassIndexLogLikelihood
from chainrule.ops.linalg import Linear
from chainrule.ops.rectifiers import ReLU
from chainrule.ops.regression_losses import SquaredError
from chainrule.ops.smooth_activations import Sigmoid, Tanh
from chainrule.optim.optimizer import add_scaled_
from test_compile import standard_step

pytest.importorskip("numba", reason="the kernels need numba: pip install 'chainrule[numba]'")

# Values where the rules of NumPy and of a loop could part: signed zeros, NaN, infinities,
# tiny and huge magnitudes (σ's exponent overflows past 88 in float32).
EDGES = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30, -1e-30, 88.5, -88.5, 100.0, -100.0, 3.5]


def node_of(operation: type, needs: list) -> object:
    node = object.__new__(operation)
    node.needs_input_grad = list(needs)
    return node


def run_both(operation, arrays, options, grad_of_output):
    """The kernel's forward and backward, and the operation's own, on the same arrays."""
    node = node_of(operation, [True] + [False] * (len(arrays) - 1))
    kernel = kernels.for_operation(node, arrays, options)
    assert kernel is not None, f"no kernel built for {operation.__name__}"
    out, saved = kernel.forward(*arrays, **options)
    (grad,) = kernel.backward(grad_of_output(out), saved)
    eager = node_of(operation, node.needs_input_grad)
    want = np.asarray(eager.forward(*arrays, **options))
    want_grad = eager.backward(grad_of_output(want))[0]
    return out, grad, want, want_grad


def same_bits(a, b) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_eager_bit_for_bit_at_zeros_nan_and_infinities(dtype) -> None:
    z = np.array(EDGES, dtype).reshape(3, 4)
    grad = np.array([[1.0, np.nan, -2.0, np.inf]] * 3, dtype)
    out, g, want, want_g = run_both(ReLU, [z], {}, lambda _: grad)
    assert same_bits(out, want)  # −0 → +0, NaN kept
    assert same_bits(g, want_g)  # +0 where the output is 0, even for a NaN or ∞ gradient


@pytest.mark.parametrize("operation", [Sigmoid, Tanh])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smooth_activations_agree_with_eager_to_a_few_units_in_the_last_place(
    operation, dtype
) -> None:
    rng = np.random.default_rng(0)
    z = np.concatenate([np.array(EDGES), rng.normal(scale=6, size=500)]).astype(dtype)
    grad = rng.normal(size=z.shape).astype(dtype)
    out, g, want, want_g = run_both(
        operation, [z.reshape(8, -1)], {}, lambda _: grad.reshape(8, -1)
    )
    assert out.dtype == want.dtype == dtype and g.dtype == dtype
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(out, want, rtol=4 * eps, atol=4 * np.finfo(dtype).tiny)
    # tanh′ = 1 − y² cancels where y is near ±1: an ulp of y there is an absolute error of
    # about 2 ulp of 1 in the derivative, times the incoming gradient.
    np.testing.assert_allclose(g, want_g, rtol=8 * eps, atol=8 * eps * np.abs(grad).max())


def test_a_strided_input_keeps_the_operation_and_its_layout() -> None:
    z = np.arange(-24, 24, dtype=np.float32).reshape(4, 12)[:, ::2]  # gaps in memory
    assert kernels.for_operation(node_of(ReLU, [True]), [z], {}) is None
    assert kernels.for_operation(node_of(Sigmoid, [True]), [z.T.copy().T], {}) is None
    # A kernel built for a contiguous input still reads a strided one in its logical order.
    kernel = kernels.for_operation(node_of(ReLU, [True]), [np.ascontiguousarray(z)], {})
    out, saved = kernel.forward(z)
    (grad,) = kernel.backward(np.ones_like(out), saved)
    eager = node_of(ReLU, [True])
    assert same_bits(out, np.ascontiguousarray(eager.forward(z)))
    assert same_bits(grad, np.ascontiguousarray(eager.backward(np.ones_like(out))[0]))


@pytest.mark.parametrize("grad_layout", ["same", "C"])
def test_relu_on_a_batch_last_layout_keeps_it_and_is_eager_bit_for_bit(grad_layout) -> None:
    # A convolution's output (N, C, H, W) with the batch axis fastest in memory.
    rng = np.random.default_rng(0)
    values = np.concatenate([np.array(EDGES), rng.normal(size=3 * 4 * 5 * 6 - len(EDGES))])
    z = values.astype(np.float32).reshape(4, 5, 6, 3).transpose(3, 0, 1, 2)
    kernel = kernels.for_operation(node_of(ReLU, [True]), [z], {})
    assert kernel is not None
    out, saved = kernel.forward(z)
    grad = rng.normal(size=z.shape).astype(np.float32)
    grad[0, 0, 0, :4] = [np.nan, np.inf, -1.0, 0.0]
    if grad_layout == "same":
        grad = grad.transpose(1, 2, 3, 0).copy().transpose(3, 0, 1, 2)
    (got,) = kernel.backward(grad, saved)
    eager = node_of(ReLU, [True])
    want = eager.forward(z)
    (want_grad,) = eager.backward(grad)
    assert out.strides == want.strides == z.strides
    assert same_bits(np.ascontiguousarray(out), np.ascontiguousarray(want))
    assert same_bits(np.ascontiguousarray(got), np.ascontiguousarray(want_grad))


def test_sigmoid_on_a_large_array_keeps_numpy_s_vectorised_exp() -> None:
    big = np.zeros(16385, np.float32)
    assert kernels.for_operation(node_of(Sigmoid, [True]), [big], {}) is None
    assert kernels.for_operation(node_of(Sigmoid, [True]), [big[:16384]], {}) is not None


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_agrees_with_blas(with_bias) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    weight = rng.normal(size=(3, 5)).astype(np.float32)
    arrays = [x, weight, rng.normal(size=3).astype(np.float32) if with_bias else None]
    node = node_of(Linear, [True, True, with_bias])
    kernel = kernels.for_operation(node, arrays, {})
    out, saved = kernel.forward(*arrays)
    grad = rng.normal(size=out.shape).astype(np.float32)
    got = kernel.backward(grad, saved)
    eager = node_of(Linear, node.needs_input_grad)
    want = eager.forward(*arrays)
    want_grads = [g for g in eager.backward(grad) if g is not None]
    assert kernel.grads == ((0, 1, 2) if with_bias else (0, 1))
    np.testing.assert_allclose(out, want, rtol=1e-6, atol=1e-6)
    for g, w in zip(got, want_grads, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_a_product_too_large_for_a_loop_gets_no_kernel() -> None:
    arrays = [np.ones((64, 64), np.float32), np.ones((128, 64), np.float32), None]
    assert kernels.for_operation(node_of(Linear, [False, True, False]), arrays, {}) is None


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_squared_error_and_its_gradients(reduction) -> None:
    rng = np.random.default_rng(2)
    x, y = (rng.normal(size=(16, 3)).astype(np.float32) for _ in range(2))
    node = node_of(SquaredError, [True, True])
    kernel = kernels.for_operation(node, [x, y], {"reduction": reduction})
    out, saved = kernel.forward(x, y, reduction=reduction)
    grad = np.array(0.75, np.float32)
    grad_x, grad_y = kernel.backward(grad, saved)
    eager = node_of(SquaredError, [True, True])
    want = np.asarray(eager.forward(x, y, reduction))
    want_x, want_y = eager.backward(grad)
    assert out.shape == () and out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-6)
    assert same_bits(grad_x, want_x) and same_bits(grad_y, want_y)  # one rounding each, as eager


def test_cross_entropy_with_a_nan_logit_and_an_infinite_one() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 4)).astype(np.float32)
    z[1, 2], z[4, 0] = np.nan, np.inf
    target = np.array([0, 1, 2, 3, 0, 1])
    options = {"reduction": "mean", "ignore_index": -100, "where": "cross_entropy"}
    out, grad, want, want_grad = run_both(
        ClassIndexLogLikelihood, [z, target], options, lambda _: np.array(1.0, np.float32)
    )
    assert np.isnan(out) and np.isnan(want)
    np.testing.assert_array_equal(np.isnan(grad), np.isnan(want_grad))
    finite = ~np.isnan(want_grad)
    np.testing.assert_allclose(grad[finite], want_grad[finite], rtol=1e-6, atol=1e-7)


def test_the_sgd_update_is_eager_bit_for_bit() -> None:
    rng = np.random.default_rng(4)
    for size in (3, 1000, 100_000):  # eager mode goes through a cache-sized block above 65,536
        p, g = (rng.normal(size=size).astype(np.float32) for _ in range(2))
        want, got = p.copy(), p.copy()
        add_scaled_(want, -0.1, g)
        updates._add_scaled_jit(got, -0.1, g)
        assert same_bits(got, want)


def xor_run(kernels_on: bool, steps: int, make_opt=lambda p: optim.SGD(p, lr=0.5)):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid())
    loss_fn, optimizer = nn.MSELoss(), make_opt(model.parameters())

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    runner = CompiledStep(step, kernels=kernels_on)
    x = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = cr.tensor([[0.0], [1.0], [1.0], [0.0]])
    losses = [runner(x, y).item() for _ in range(steps)]
    return runner, losses, [p.detach().numpy().copy() for p in model.parameters()]


def test_xor_trains_through_kernels_as_it_does_eagerly() -> None:
    runner, losses, params = xor_run(True, 300)
    _, eager_losses, eager_params = xor_run(False, 300)
    (source,) = runner.source()
    assert source.count(" = K") == 5  # every operation of the step runs a kernel
    assert runner.replays == 298
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for got, want in zip(params, eager_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert losses[-1] < losses[0]


def test_momentum_takes_sgd_s_own_update_and_stays_close() -> None:
    def momentum(params):
        return optim.SGD(params, lr=0.5, momentum=0.9, weight_decay=1e-3)

    _, losses, params = xor_run(True, 50, momentum)
    _, eager_losses, eager_params = xor_run(False, 50, momentum)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for got, want in zip(params, eager_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def classifier_step(kernels_on: bool):
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    step = standard_step(model, nn.CrossEntropyLoss(), optimizer)
    return model, CompiledStep(step, kernels=kernels_on)


def test_an_ignored_target_in_a_later_batch_takes_the_general_path() -> None:
    rng = np.random.default_rng(5)
    x = cr.tensor(rng.normal(size=(6, 4)).astype(np.float32))
    targets = [rng.integers(0, 3, 6) for _ in range(4)]
    targets[3][2] = -100  # ignore_index, in a replay
    results = {}
    for on in (True, False):
        model, runner = classifier_step(on)
        losses = [runner(x, cr.tensor(t)).item() for t in targets]
        assert runner.replays == 2
        results[on] = losses, [p.detach().numpy().copy() for p in model.parameters()]
    np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-5)
    for got, want in zip(results[True][1], results[False][1], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_class_out_of_range_in_a_replay_is_eager_mode_s_error() -> None:
    x = cr.randn(6, 4)
    _, runner = classifier_step(True)
    for _ in range(3):
        runner(x, cr.tensor([0, 1, 2, 0, 1, 2]))
    with pytest.raises(Exception, match="target class 7 is out of range for 3 classes"):
        runner(x, cr.tensor([0, 1, 7, 0, 1, 2]))


def test_a_parameter_replaced_by_another_shape_is_not_read_past_its_end() -> None:
    model, runner = classifier_step(True)
    x, y = cr.randn(6, 4), cr.tensor([0, 1, 2, 0, 1, 2])
    for _ in range(3):
        runner(x, y)
    assert runner.replays == 1
    model[2].weight.data = cr.randn(3, 5)  # no longer fits the hidden layer's 8 outputs
    with pytest.raises(Exception, match="linear"):
        runner(x, y)


def test_kernels_must_be_a_bool_and_need_numba(monkeypatch) -> None:
    with pytest.raises(TypeError, match="kernels must be True or False"):
        cr.compile(lambda x: x, kernels="yes")
    monkeypatch.setattr(kernels, "available", lambda: False)
    with pytest.raises(ImportError, match=r"pip install \"chainrule\[numba\]\""):
        cr.compile(lambda x: x, kernels=True)
    assert isinstance(cr.compile(lambda x: x), CompiledStep)  # the NumPy replay needs nothing


def test_a_network_whose_every_operation_has_a_kernel_runs_as_one_fused_call() -> None:
    runner, _, _ = xor_run(True, 4)
    (source,) = runner.source()
    # The forward and backward of all five operations in one numba call; the gradients are
    # delivered to the parameters after it, and SGD's update through its kernel.
    assert source.count("_fused = R0(") == 1 and "R1(" not in source
    assert source.index("_fused = R0(") < source.index("t2._grad = _make(")


def test_the_fused_call_gives_the_kernels_numbers_bit_for_bit(monkeypatch) -> None:
    from chainrule.compiled import fusion

    _, losses, params = xor_run(True, 30)
    monkeypatch.setattr(fusion, "fuse", lambda lines, *rest: lines)  # kernels one by one
    runner, one_by_one, one_by_one_params = xor_run(True, 30)
    assert "_fused" not in runner.source()[0]
    assert losses == one_by_one
    for got, want in zip(params, one_by_one_params, strict=True):
        assert same_bits(got, want)


def test_a_fused_run_that_numba_cannot_compile_warns_once_and_hands_back() -> None:
    from chainrule.compiled.fusion import FusedRun

    def broken(a):
        return a.no_such_attribute

    run = FusedRun(kernels.jit(broken), "def broken(a): ...")
    with pytest.warns(RuntimeWarning, match="did not compile"):
        assert run(np.ones(3)) is None
    assert run(np.ones(3)) is None  # quietly, from then on


@pytest.mark.parametrize(
    "options",
    [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True}],
    ids=["plain", "l2", "decoupled"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_adam_update_is_eager_bit_for_bit(options, dtype) -> None:
    rng = np.random.default_rng(6)
    shapes = [(3, 5), (5,), (700, 130)]

    def run(kernel: bool) -> list:
        params = [cr.nn.Parameter(cr.tensor(rng_p.astype(dtype))) for rng_p in start]
        optimizer = optim.Adam(params, lr=0.01, **options)
        for grads in steps:
            for p, g in zip(params, grads, strict=True):
                p.grad = cr.tensor(g.astype(dtype))
            (updates.adam_step if kernel else optimizer.step)(*((optimizer,) if kernel else ()))
        return [p.detach().numpy().copy() for p in params] + [
            optimizer.state[p][name].copy() for p in params for name in ("exp_avg", "exp_avg_sq")
        ]

    start = [rng.normal(size=shape) for shape in shapes]
    steps = [[rng.normal(size=shape) for shape in shapes] for _ in range(5)]
    for got, want in zip(run(True), run(False), strict=True):
        assert same_bits(got, want)


def test_amsgrad_through_the_kernel_is_adam_s_own_update_bit_for_bit() -> None:
    p = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
    twin = cr.nn.Parameter(cr.tensor([1.0, -2.0]))
    ours, theirs = (optim.Adam([q], lr=0.1, amsgrad=True) for q in (p, twin))
    for step in range(3):
        for q in (p, twin):
            q.grad = cr.tensor([0.5 * step - 1.0, 2.0])
        updates.adam_step(ours)
        theirs.step()
    assert same_bits(p.detach().numpy(), twin.detach().numpy())


def test_xor_with_adam_replays_through_the_adam_kernel(monkeypatch) -> None:
    calls = []
    kernel_step = updates.adam_step
    monkeypatch.setattr(updates, "adam_step", lambda opt: calls.append(1) or kernel_step(opt))

    def adam(params):
        return optim.Adam(params, lr=0.05)

    runner, losses, params = xor_run(True, 60, adam)
    assert len(calls) == runner.replays == 58
    monkeypatch.undo()
    _, eager_losses, eager_params = xor_run(False, 60, adam)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-5)
    for got, want in zip(params, eager_params, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_fit_with_compile_kernels_trains_as_eager_fit_does() -> None:
    from chainrule.data import TensorDataset
    from chainrule.train import TrainStep

    rng = np.random.default_rng(7)
    x = cr.tensor(rng.normal(size=(40, 4)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 3, 40))
    results = {}
    for compile_ in (False, "kernels"):
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
        history = cr.train.fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            TensorDataset(x, y),
            epochs=4,
            batch_size=8,
            seed=0,
            progress=False,
            compile=compile_,
        )
        results[compile_] = (
            history.history["loss"],
            [p.detach().numpy() for p in model.parameters()],
        )
    np.testing.assert_allclose(results["kernels"][0], results[False][0], rtol=1e-5)
    for got, want in zip(results["kernels"][1], results[False][1], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    step = TrainStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters()), compile="kernels")
    assert step.compiled.kernels and step.compile is True
    with pytest.raises(TypeError, match="compile must be None, True, False or 'kernels'"):
        TrainStep(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters()), compile="fast")


# ---- the LSTM layer ------------------------------------------------------------------------------


def test_the_kernels_tanh_is_within_one_unit_in_the_last_place_of_tanh() -> None:
    from chainrule.native.tanh import tanh_array

    # Every 7th float32 from 0 up to 12 (past where tanh rounds to 1), both signs, and edges.
    bits = np.arange(0, np.float32(12).view(np.int32), 7, dtype=np.int32)
    x = np.concatenate([bits.view(np.float32), -bits.view(np.float32)])
    got = np.empty_like(x)
    tanh_array(x, got)
    exact = np.tanh(x.astype(np.float64))
    ulps = np.abs(got - exact) / np.spacing(exact.astype(np.float32))
    assert ulps.max() < 1.0, f"{ulps.max():.2f} units at x = {x[ulps.argmax()]!r}"
    edges = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45, 40.0, -40.0], np.float32)
    out = np.empty_like(edges)
    tanh_array(edges, out)
    assert same_bits(out, np.tanh(edges))  # −0 stays −0, NaN stays NaN, ±1 beyond the cutoff


def lstm_arrays(steps, batch, inputs, hidden, states, bias, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)

    def draw(*shape, scale=1.0):
        return (rng.normal(size=shape) * scale).astype(dtype)

    x = draw(steps, batch, inputs)
    h0, c0 = (draw(batch, hidden), draw(batch, hidden)) if states else (None, None)
    weights = [draw(4 * hidden, inputs, scale=0.4), draw(4 * hidden, hidden, scale=0.4)]
    if bias:
        weights += [draw(4 * hidden, scale=0.3), draw(4 * hidden, scale=0.3)]
    else:
        weights += [None, None]  # as nn.LSTM(bias=False) passes them
    return [x, h0, c0, *weights]


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("states", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_layer_agrees_with_eager_mode_in_every_output_and_gradient(
    reverse, states, bias
) -> None:
    from chainrule.ops.recurrent import LSTMLayer

    arrays = lstm_arrays(6, 3, 4, 5, states, bias)
    # Every input that is an array wants its gradient (x too: a layer of a stack).
    needs = [array is not None for array in arrays]
    node = node_of(LSTMLayer, needs)
    kernel = kernels.for_operation(node, arrays, {"reverse": reverse})
    assert kernel is not None
    out, saved = kernel.forward(*arrays, reverse=reverse)
    grad = np.random.default_rng(1).normal(size=out.shape).astype(np.float32)
    got = kernel.backward(grad, saved)
    again = kernel.backward(grad, saved)  # a retained graph: its arrays are still there
    eager = node_of(LSTMLayer, needs)
    want_out = eager.forward(*arrays, reverse=reverse)
    want = [g for g, need in zip(eager.backward(grad), needs) if need]
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-6)
    assert len(got) == len(want) == sum(needs)
    for g, w, a in zip(got, want, again, strict=True):
        assert g.dtype == np.float32 and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
        assert same_bits(g, a)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gru_layer_agrees_with_eager_mode_in_every_output_and_gradient(
    reverse, state, bias
) -> None:
    from chainrule.ops.recurrent import GRULayer

    rng = np.random.default_rng(2)
    x, h0, _, w_ih, w_hh, *biases = lstm_arrays(6, 3, 4, 5, state, bias)
    # GRU weights have three gates' rows, not four
    w_ih, w_hh = w_ih[:15], w_hh[:15]
    biases = [None if b is None else b[:15] for b in biases]
    arrays = [x, h0, w_ih, w_hh, *biases]
    needs = [array is not None for array in arrays]
    node = node_of(GRULayer, needs)
    kernel = kernels.for_operation(node, arrays, {"reverse": reverse})
    assert kernel is not None
    out, saved = kernel.forward(*arrays, reverse=reverse)
    grad = rng.normal(size=out.shape).astype(np.float32)
    got = kernel.backward(grad, saved)
    eager = node_of(GRULayer, needs)
    want_out = eager.forward(*arrays, reverse=reverse)
    want = [g for g, need in zip(eager.backward(grad), needs) if need]
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-6)
    assert len(got) == len(want) == sum(needs)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float32 and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_lstm_in_float64_gets_no_kernel_and_stays_eager_bit_for_bit() -> None:
    from chainrule.ops.recurrent import LSTMLayer

    arrays = lstm_arrays(4, 2, 3, 4, True, True, dtype=np.float64)
    node = node_of(LSTMLayer, [True] * 7)
    assert kernels.for_operation(node, arrays, {}) is None


def test_a_stacked_bidirectional_lstm_runs_every_layer_through_the_kernel() -> None:
    from test_compile import StackedLSTM, adam, batches, trace

    step, _ = trace(StackedLSTM, nn.MSELoss, adam, batches((5, 7, 3), out=2), True, kernels=True)
    (source,) = step.source()
    assert source.count(" = K") >= 4  # two layers, two directions each


# ---- max pooling ---------------------------------------------------------------------------------


def pool_input(layout: str, dtype=np.float32, shape=(3, 4, 6, 8)):
    """x (N, C, H, W) laid out in memory as the layout names its axes, slowest first."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype)
    # Ties, NaN first, NaN later, two NaNs, infinities: each in a window of its own.
    x[0, 0, 0:2, 0:2] = [[1.0, 1.0], [0.5, 1.0]]
    x[0, 0, 0:2, 2:4] = [[np.nan, 2.0], [3.0, 1.0]]
    x[0, 0, 0:2, 4:6] = [[2.0, 3.0], [np.nan, 1.0]]
    x[0, 0, 2:4, 0:2] = [[np.nan, 1.0], [2.0, np.nan]]
    x[0, 0, 2:4, 2:4] = [[-np.inf, -np.inf], [-np.inf, -np.inf]]
    x[0, 0, 2:4, 4:6] = [[np.inf, 1.0], [np.inf, 2.0]]
    order = ["NCHW".index(axis) for axis in layout]
    return np.ascontiguousarray(x.transpose(order)).transpose(np.argsort(order))


def pool_both(x, grad_layout=None):
    from chainrule.ops.max_pooling import MaxPoolNd

    options = [(2, 2), (2, 2), (1, 1), (x.shape[2] // 2, x.shape[3] // 2), ((0, 0), (0, 0))]
    node = node_of(MaxPoolNd, [True] + [False] * 5)
    kernel = kernels.for_operation(node, [x, *options], {})
    assert kernel is not None
    out, saved = kernel.forward(x, *options)
    grad = np.random.default_rng(1).normal(size=out.shape).astype(x.dtype)
    if grad_layout is not None:
        grad = np.ascontiguousarray(grad)  # plain NCHW, unlike the output
    (got,) = kernel.backward(grad, saved)
    eager = node_of(MaxPoolNd, node.needs_input_grad)
    want = eager.forward(x, *options)
    (want_grad,) = eager.backward(grad)
    return out, got, want, want_grad, saved


@pytest.mark.parametrize("layout", ["CHWN", "NHWC"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_is_eager_bit_for_bit_with_ties_nan_and_infinities(layout, dtype) -> None:
    x = pool_input(layout, dtype)
    out, got, want, want_grad, saved = pool_both(x)
    assert type(saved) is tuple  # the kernel ran, not the operation
    assert same_bits(np.ascontiguousarray(out), np.ascontiguousarray(want))
    # Equal values; the kernel's zeros are +0 as PyTorch's, where eager mode's product of a
    # mask and a negative gradient gives −0.
    np.testing.assert_array_equal(got, want_grad)
    assert not np.signbit(got[got == 0]).any()
    assert out.strides == want.strides  # laid out as eager mode lays it out


def test_max_pool_copies_a_gradient_in_another_layout_first() -> None:
    _, got, _, want_grad, _ = pool_both(pool_input("CHWN"), grad_layout="NCHW")
    np.testing.assert_array_equal(got, want_grad)


def test_max_pool_on_plain_nchw_runs_the_operation_itself() -> None:
    out, got, want, want_grad, saved = pool_both(pool_input("NCHW"))
    assert type(saved) is not tuple
    assert same_bits(out, want) and same_bits(got, want_grad)


@pytest.mark.parametrize(
    "kernel, stride, shape",
    [
        ((3, 3), (3, 3), (2, 2, 6, 6)),
        ((2, 2), (1, 1), (2, 2, 6, 6)),
        ((2, 2), (2, 2), (2, 2, 7, 6)),
    ],
    ids=["3x3", "overlapping", "not-tiling"],
)
def test_max_pool_gets_no_kernel_for_other_windows(kernel, stride, shape) -> None:
    from chainrule.ops.max_pooling import MaxPoolNd

    x = pool_input("CHWN", shape=shape)
    counts = tuple((size - k) // s + 1 for size, k, s in zip(shape[2:], kernel, stride))
    arrays = [x, kernel, stride, (1, 1), counts, ((0, 0), (0, 0))]
    assert kernels.for_operation(node_of(MaxPoolNd, [True] + [False] * 5), arrays, {}) is None


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 2 * 2, 3),
    )


def test_a_cnn_trains_through_the_pooling_kernel_as_it_does_eagerly() -> None:
    from test_compile import adam, assert_close_with_kernels, batches, trace

    data = batches((5, 1, 8, 8), classes=3)
    _, want = trace(small_cnn, nn.CrossEntropyLoss, adam, data, False)
    assert_close_with_kernels(small_cnn, nn.CrossEntropyLoss, adam, data, want)
    step, _ = trace(small_cnn, nn.CrossEntropyLoss, adam, data, True, kernels=True)
    (source,) = step.source()
    pools = [line for line in source.splitlines() if "(2, 2), (2, 2), (1, 1)" in line]
    assert len(pools) == 2 and all(" = K" in line for line in pools), pools
