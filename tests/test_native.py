"""chainrule.native: eager operations through numba's loops (2×2 max pooling, ReLU's backward,
the LSTM and GRU layers, Adam's update) against their NumPy form and PyTorch, the switch that
turns them off, and what loads numba when.

The loops take the layouts that chainrule's own layers produce (a convolution's output is
batch-last in memory), so the pooling cases below build those layouts on purpose: a plain
C-contiguous NCHW array runs the NumPy form.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's spelling
from bit_patterns import bits
from chainrule import native
from chainrule.ops.max_pooling import MaxPoolNd
from chainrule.ops.recurrent import GRULayer, LSTMLayer

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")


def _laid_out(array: np.ndarray, layout: str) -> np.ndarray:
    """The same values (N, C, H, W) in memory as a convolution leaves them (batch-last), with
    channels last, or plain C order."""
    order = {"batch_last": (1, 2, 3, 0), "channels_last": (0, 2, 3, 1), "nchw": (0, 1, 2, 3)}
    axes = order[layout]
    stored = np.ascontiguousarray(array.transpose(axes))
    return stored.transpose(np.argsort(axes))


def _pool_case(dtype: str, seed: int, finite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (3, 4, 6, 8) with ties, signed zeros, NaN and ±inf in some windows, and an
    upstream gradient with negative entries, and NaN and ±inf unless ``finite``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4, 6, 8)).astype(dtype)
    x[0, 0, :2, :2] = 0.0
    x[0, 0, 0, 1] = -0.0  # a window holding −0 and +0
    x[0, 1, :2, :2] = [[-0.0, 0.0], [0.0, -0.0]]
    x[1, 2, 2:4, 4:6] = 1.5  # a four-way tie
    x[2, 3, 0, 0] = np.nan
    x[2, 3, 1, 1] = np.nan  # two NaNs in one window: the last one takes the gradient
    x[2, 0, 4, 6] = np.inf
    x[1, 1, 3, 3] = -np.inf
    grad = rng.standard_normal((3, 4, 3, 4)).astype(dtype)
    if finite:  # the NumPy form's product with a mask gives −0 here; PyTorch and the loops +0
        return x, grad
    grad[0, 2, 1, 1] = np.nan
    grad[1, 0, 2, 3] = np.inf
    grad[2, 1, 0, 0] = -np.inf
    return x, grad


def _pool(array: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray, MaxPoolNd]:
    x = cr.tensor(array, requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(cr.tensor(grad))
    return out.detach().numpy(), x.grad.numpy(), out._ctx


@pytest.mark.parametrize("finite", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["batch_last", "channels_last"])
def test_pooling_loops_give_pytorchs_maxima_and_gradients_bit_for_bit(
    native_switch, layout: str, dtype: str, finite: bool
) -> None:
    values, grad = _pool_case(dtype, seed=1, finite=finite)
    native.enable(True)
    out, grad_x, node = _pool(_laid_out(values, layout), grad)
    assert node.held is not None  # the loops ran
    x_torch = torch.tensor(values, requires_grad=True)
    out_torch = torch.nn.functional.max_pool2d(x_torch, 2)
    out_torch.backward(torch.tensor(grad))
    assert np.array_equal(bits(out), bits(out_torch.detach().numpy()))
    assert np.array_equal(bits(grad_x), bits(x_torch.grad.numpy()))


@pytest.mark.parametrize("layout", ["batch_last", "channels_last", "nchw"])
def test_pooling_loops_and_numpy_agree_up_to_the_sign_of_zero(native_switch, layout: str) -> None:
    values, grad = _pool_case("float32", seed=2)
    native.enable(True)
    out_native, grad_native, node = _pool(_laid_out(values, layout), grad)
    assert (node.held is not None) == (layout != "nchw")  # NCHW: W is contiguous, NumPy runs
    native.enable(False)
    out_numpy, grad_numpy, node = _pool(_laid_out(values, layout), grad)
    assert node.held is None
    # Equal as numbers (−0 == +0, NaN where NaN), the layout of the input kept.
    np.testing.assert_array_equal(out_native, out_numpy)
    np.testing.assert_array_equal(grad_native, grad_numpy)
    assert np.argsort(grad_native.strides).tolist() == np.argsort(grad_numpy.strides).tolist()


def test_pooling_the_loops_do_not_cover_runs_numpy(native_switch) -> None:
    native.enable(True)
    rng = np.random.default_rng(3)
    odd = _laid_out(rng.standard_normal((2, 3, 5, 6)).astype(np.float32), "batch_last")
    x = cr.tensor(odd, requires_grad=True)
    for out in (
        F.max_pool2d(x, 2),  # H = 5: the windows do not tile it
        F.max_pool2d(x, 2, padding=1),
        F.max_pool2d(x, 3, stride=2),
        F.max_pool2d(x, 2, stride=1),
    ):
        assert out._ctx.held is None
        out.sum().backward()
    reference = torch.tensor(odd, requires_grad=True)
    for pool in (
        lambda t: torch.nn.functional.max_pool2d(t, 2),
        lambda t: torch.nn.functional.max_pool2d(t, 2, padding=1),
        lambda t: torch.nn.functional.max_pool2d(t, 3, stride=2),
        lambda t: torch.nn.functional.max_pool2d(t, 2, stride=1),
    ):
        pool(reference).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), reference.grad.numpy())


def test_pooling_gradient_in_another_layout_and_second_order(native_switch) -> None:
    native.enable(True)
    values, _ = _pool_case("float64", seed=4)
    values = np.nan_to_num(values, nan=0.5, posinf=3.0, neginf=-3.0)
    x = cr.tensor(_laid_out(values, "batch_last"), requires_grad=True)
    out = F.max_pool2d(x, 2)
    assert out._ctx.held is not None
    weights = cr.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))
    (grad_x,) = cr.autograd.grad((out * out * weights).sum(), x, create_graph=True)
    (second,) = cr.autograd.grad((grad_x * grad_x).sum(), x)
    reference = torch.tensor(values, requires_grad=True)
    pooled = torch.nn.functional.max_pool2d(reference, 2)
    (grad_ref,) = torch.autograd.grad(
        (pooled * pooled * torch.tensor(weights.numpy())).sum(), reference, create_graph=True
    )
    (second_ref,) = torch.autograd.grad((grad_ref * grad_ref).sum(), reference)
    np.testing.assert_allclose(grad_x.detach().numpy(), grad_ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(second.numpy(), second_ref.numpy(), rtol=1e-12)


def _counting_relu_loop(monkeypatch) -> list:
    """Counts the calls of the ReLU loop (it returns None where it does not cover the arrays)."""
    from chainrule.native import rectifiers

    calls = []
    original = rectifiers.relu_backward

    def counted(grad, out):
        result = original(grad, out)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(rectifiers, "relu_backward", counted)
    return calls


@pytest.mark.parametrize("layout", ["batch_last", "nchw"])
def test_relu_backward_loop_is_the_numpy_form_bit_for_bit(
    native_switch, monkeypatch, layout: str
) -> None:
    calls = _counting_relu_loop(monkeypatch)
    rng = np.random.default_rng(5)
    values = rng.standard_normal((8, 8, 64, 32)).astype(np.float32)  # 131,072: the loop's size
    values[0, 0, 0, :4] = [0.0, -0.0, np.nan, -np.nan]
    grad = rng.standard_normal(values.shape).astype(np.float32)
    grad[values < 0] *= -1  # negative gradients where the output is 0: +0, never −0
    grad[0, 0, 0, :6] = [np.nan, np.inf, np.nan, -np.inf, np.nan, -0.0]
    results = []
    for enabled in (True, False):
        native.enable(enabled)
        x = cr.tensor(_laid_out(values, layout), requires_grad=True)
        y = cr.relu(x)
        y.backward(cr.tensor(_laid_out(grad, layout)))
        results.append(x.grad.numpy())
    assert calls == [True]  # the loop ran once, with numba enabled
    assert np.array_equal(bits(results[0]), bits(results[1]))
    x_torch = torch.tensor(values, requires_grad=True)
    torch.relu(x_torch).backward(torch.tensor(grad))
    assert np.array_equal(bits(results[0]), bits(x_torch.grad.numpy()))


def test_relu_backward_with_gradient_in_another_layout(native_switch, monkeypatch) -> None:
    calls = _counting_relu_loop(monkeypatch)
    native.enable(True)
    rng = np.random.default_rng(6)
    values = rng.standard_normal((8, 8, 64, 32)).astype(np.float32)
    grad = _laid_out(rng.standard_normal(values.shape).astype(np.float32), "channels_last")
    x = cr.tensor(_laid_out(values, "batch_last"), requires_grad=True)
    cr.relu(x).backward(cr.tensor(grad))
    assert calls == [False]  # two layouts: NumPy's form
    np.testing.assert_array_equal(x.grad.numpy(), np.where(values > 0, grad, 0))


def test_relu_backward_of_a_perceptron_layer_keeps_numba_unloaded(
    native_switch, monkeypatch
) -> None:
    calls = _counting_relu_loop(monkeypatch)
    native.enable(True)
    monkeypatch.setattr(native, "loaded", lambda: False)  # as in a process that has not used it
    x = cr.randn(128, 512, requires_grad=True)  # 65,536 elements: NumPy's form
    cr.relu(x).sum().backward()
    assert calls == []


def test_relu_backward_of_any_size_takes_the_loop_once_numba_is_loaded(
    native_switch, monkeypatch
) -> None:
    calls = _counting_relu_loop(monkeypatch)
    native.enable(True)
    monkeypatch.setattr(native, "loaded", lambda: True)  # an optimiser's loop loaded it
    rng = np.random.default_rng(7)
    grads = []
    for shape in [(4, 2), (128, 512)]:
        values = rng.standard_normal(shape).astype(np.float32)
        grad = rng.standard_normal(shape).astype(np.float32)
        grad.reshape(-1)[:4] = [np.nan, np.inf, -0.0, np.nan]
        x = cr.tensor(values, requires_grad=True)
        cr.relu(x).backward(cr.tensor(grad))
        grads.append(x.grad.numpy())
        x_torch = torch.tensor(values, requires_grad=True)
        torch.relu(x_torch).backward(torch.tensor(grad))
        assert np.array_equal(bits(grads[-1]), bits(x_torch.grad.numpy()))
    assert calls == [True, True]


def _recurrent_run(
    kind: str, bidirectional: bool, states: bool, seed: int
) -> dict[str, np.ndarray]:
    """An LSTM's or a GRU's output and every gradient, from fixed weights and inputs."""
    cr.manual_seed(seed)
    layer = cr.nn.LSTM if kind == "lstm" else cr.nn.GRU
    lstm = layer(6, 16, num_layers=2, bidirectional=bidirectional, batch_first=True)
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal((5, 9, 6)).astype(np.float32), requires_grad=True)
    directions = 2 if bidirectional else 1
    initial = [
        cr.tensor(rng.standard_normal((2 * directions, 5, 16)).astype(np.float32))
        for _ in range(2 if kind == "lstm" else 1)
    ]
    for state in initial:
        state.requires_grad_()
    extra = () if not states else (tuple(initial),) if kind == "lstm" else (initial[0],)
    out, final = lstm(x, *extra)
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    cost = (out * cr.tensor(upstream)).sum()
    for state in final if kind == "lstm" else (final,):
        cost = cost + (state * state).sum()
    cost.backward()
    found = {"out": out.detach().numpy(), "x": x.grad.numpy()}
    if states:
        for number, state in enumerate(initial):
            found[f"state{number}"] = state.grad.numpy()
    for name, p in lstm.named_parameters():
        found[name] = p.grad.numpy()
    nodes, seen, stack = [], set(), [out]
    while stack:  # the fused layer nodes behind the output
        tensor = stack.pop()
        node = tensor._ctx
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (LSTMLayer, GRULayer)):
            nodes.append(node)
        stack.extend(value for value in node.inputs if isinstance(value, cr.Tensor))
    found["ran_native"] = np.array([node.ran_loops for node in nodes])
    return found


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("states", [False, True])
def test_recurrent_loops_agree_with_the_numpy_form(
    native_switch, kind: str, bidirectional: bool, states: bool
) -> None:
    native.enable(True)
    loops = _recurrent_run(kind, bidirectional, states, seed=7)
    native.enable(False)
    numpy_form = _recurrent_run(kind, bidirectional, states, seed=7)
    assert loops.pop("ran_native").all() and loops["out"].size
    assert not numpy_form.pop("ran_native").any()
    for name, value in numpy_form.items():
        # A few units in the last place: the loops' rational tanh of the cell (candidate) state.
        np.testing.assert_allclose(loops[name], value, rtol=2e-5, atol=2e-6, err_msg=name)


@pytest.mark.parametrize("layer", [cr.nn.LSTM, cr.nn.GRU])
def test_recurrent_float64_runs_numpy(native_switch, layer: type) -> None:
    native.enable(True)
    module = layer(3, 4, dtype=cr.float64)
    out, _ = module(cr.randn(5, 2, 3, dtype=cr.float64))
    node = out._ctx
    while not isinstance(node, (LSTMLayer, GRULayer)):
        node = node.inputs[0]._ctx
    assert node.ran_loops is False


def test_enable_takes_a_bool_and_needs_numba(native_switch, monkeypatch) -> None:
    with pytest.raises(TypeError, match="flag must be a bool"):
        native.enable(1)
    native.enable(False)
    assert native.enabled() is False
    native.enable(True)
    assert native.enabled() is True
    monkeypatch.setattr(native, "available", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "chainrule\[numba\]"'):
        native.enable(True)
    native.enable(False)  # turning off never needs numba


def _fresh(code: str, **environment: str) -> dict:
    env = {**os.environ, **environment}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


_WHEN_NUMBA_LOADS = """
import json, sys
import numpy as np
import chainrule as cr
import chainrule.nn.functional as F
after_import = "numba" in sys.modules
small = cr.tensor(np.ones((128, 512), np.float32), requires_grad=True)
cr.relu(small).sum().backward()  # a perceptron's layer: too small for the loop
image = cr.tensor(np.ones((2, 3, 16, 16), np.float32), requires_grad=True)
F.conv2d(image, cr.ones(4, 3, 3, 3), padding=1).sum().backward()  # col2im: too small too
after_small = "numba" in sys.modules
images = np.ones((2, 3, 4, 4), np.float32)  # (N, C, H, W), batch-last in memory below
x = cr.tensor(np.ascontiguousarray(images.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2))
out = F.max_pool2d(x, 2)
print(json.dumps({"after_import": after_import, "after_small": after_small,
                  "after_pool": "numba" in sys.modules, "enabled": cr.native.enabled()}))
"""


def test_numba_loads_on_the_first_call_that_can_use_it() -> None:
    found = _fresh(_WHEN_NUMBA_LOADS)
    assert found == {
        "after_import": False,
        "after_small": False,
        "after_pool": True,
        "enabled": True,
    }


def test_the_environment_variable_keeps_everything_in_numpy() -> None:
    found = _fresh(_WHEN_NUMBA_LOADS, CHAINRULE_NATIVE="0")
    assert found == {
        "after_import": False,
        "after_small": False,
        "after_pool": False,
        "enabled": False,
    }


def test_a_cnn_step_is_the_same_with_and_without_the_loops(native_switch) -> None:
    results = []
    for enabled in (True, False):
        native.enable(enabled)
        cr.manual_seed(8)
        model = cr.nn.Sequential(
            cr.nn.Conv2d(1, 4, 3, padding=1),
            cr.nn.ReLU(),
            cr.nn.MaxPool2d(2),
            cr.nn.Conv2d(4, 8, 3, padding=1),
            cr.nn.ReLU(),
            cr.nn.MaxPool2d(2),
            cr.nn.Flatten(),
            cr.nn.Linear(8 * 4 * 4, 3),
        )
        optimizer = cr.optim.SGD(model.parameters(), lr=0.1)
        rng = np.random.default_rng(8)
        # 128 images: the first ReLU's 131,072 elements take the loop, the second's NumPy
        x = cr.tensor(rng.standard_normal((128, 1, 16, 16)).astype(np.float32))
        y = cr.tensor(rng.integers(0, 3, 128))
        losses = []
        for _ in range(3):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    (losses_native, params_native), (losses_numpy, params_numpy) = results
    assert losses_native == losses_numpy
    for native_value, numpy_value in zip(params_native, params_numpy):
        np.testing.assert_array_equal(native_value, numpy_value)


COL2IM_CASES = {
    "3x3, padding 1": ((3, 3), {"padding": 1}),
    "stride 2": ((3, 3), {"stride": 2, "padding": 1}),
    "dilation 2, groups 2": ((3, 3), {"padding": 2, "dilation": 2, "groups": 2}),
    "5x2, stride (2, 1), no padding": ((5, 2), {"stride": (2, 1)}),
}


def _counting_col2im_loop(monkeypatch) -> list:
    from chainrule.native import col2im

    calls = []
    original = col2im._loop
    monkeypatch.setattr(col2im, "_loop", lambda *args: calls.append(1) or original(*args))
    return calls


@pytest.mark.parametrize("case", list(COL2IM_CASES))
def test_col2im_loop_is_the_numpy_form_and_pytorchs(native_switch, monkeypatch, case: str) -> None:
    """The input gradient of a convolution through the loop: the NumPy form's bits (a zero's
    sign apart) and PyTorch's values."""
    calls = _counting_col2im_loop(monkeypatch)
    kernel, options = COL2IM_CASES[case]
    rng = np.random.default_rng(4)
    x = _laid_out(rng.standard_normal((128, 4, 17, 15)).astype(np.float32), "batch_last")
    weight = rng.standard_normal((6, 4 // options.get("groups", 1), *kernel)).astype(np.float32)
    grads = []
    for enabled in (True, False):
        native.enable(enabled)
        tx = cr.tensor(x, requires_grad=True)
        out = F.conv2d(tx, cr.tensor(weight), **options)
        seed = np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)
        out.backward(cr.tensor(seed))
        grads.append(tx.grad.numpy().copy())
        assert len(calls) == 1  # the loop ran with the switch on, and only then
    loops, numpy_form = grads
    nonzero = (loops != 0) | (numpy_form != 0)
    assert np.array_equal(bits(loops[nonzero]), bits(numpy_form[nonzero]))
    assert np.array_equal(loops, numpy_form)  # the zeros too, up to their sign
    tx = torch.tensor(x, requires_grad=True)
    out = torch.nn.functional.conv2d(tx, torch.tensor(weight), **options)
    out.backward(torch.tensor(seed))
    np.testing.assert_allclose(loops, tx.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_col2im_loop_in_a_transposed_convolution_and_its_reach(native_switch, monkeypatch) -> None:
    """conv_transpose2d's forward is a col2im: through the loop where the columns are large
    enough, with PyTorch's values; a small convolution, float16 columns and a 1-d convolution
    keep the NumPy form."""
    calls = _counting_col2im_loop(monkeypatch)
    native.enable(True)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 8, 12, 12)).astype(np.float32)
    weight = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    out = F.conv_transpose2d(cr.tensor(x), cr.tensor(weight), stride=2, padding=1)
    expected = torch.nn.functional.conv_transpose2d(
        torch.tensor(x), torch.tensor(weight), stride=2, padding=1
    )
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    assert len(calls) == 1
    small = cr.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    F.conv2d(small, cr.randn(4, 3, 3, 3)).sum().backward()
    half = cr.tensor(rng.standard_normal((64, 4, 16, 16)).astype(np.float16), requires_grad=True)
    F.conv2d(half, cr.randn(4, 4, 3, 3).to(cr.float16), padding=1).sum().backward()
    line = cr.tensor(rng.standard_normal((64, 8, 300)).astype(np.float32), requires_grad=True)
    F.conv1d(line, cr.randn(4, 8, 3)).sum().backward()
    assert len(calls) == 1
    assert small.grad is not None and half.grad is not None and line.grad is not None


ADAM_CASES = {
    "plain": {},
    "l2": {"weight_decay": 0.1},
    "decoupled": {"weight_decay": 0.1, "decoupled_weight_decay": True},
    "maximize": {"maximize": True},
    "amsgrad": {"amsgrad": True},
    "amsgrad-decoupled": {"amsgrad": True, "weight_decay": 0.1, "decoupled_weight_decay": True},
}


def _adam_run(options: dict, dtype: str, sizes: tuple, steps: int = 3) -> list[np.ndarray]:
    """Parameters and moments after ``steps`` Adam steps on fixed gradients."""
    rng = np.random.default_rng(9)
    params = [cr.nn.Parameter(cr.tensor(rng.standard_normal(n).astype(dtype))) for n in sizes]
    optimizer = cr.optim.Adam(params, lr=0.01, **options)
    for _ in range(steps):
        for p in params:
            p.grad = cr.tensor(rng.standard_normal(p.shape).astype(dtype))
        optimizer.step()
    found = [p.detach().numpy().copy() for p in params]
    for p in params:
        state = optimizer.state[p]
        found += [state["exp_avg"].copy(), state["exp_avg_sq"].copy()]
        if "max_exp_avg_sq" in state:
            found.append(state["max_exp_avg_sq"].copy())
    return found


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(ADAM_CASES))
def test_adam_loop_is_the_numpy_form_bit_for_bit_and_pytorchs(
    native_switch, monkeypatch, case: str, dtype: str
) -> None:
    from chainrule.native import updates

    calls = []
    original = updates.adam
    monkeypatch.setattr(updates, "adam", lambda *args: calls.append(1) or original(*args))
    options, sizes = ADAM_CASES[case], (70_000, 300)  # the second: once numba is loaded
    native.enable(True)
    loops = _adam_run(options, dtype, sizes)
    assert len(calls) == 3 * len(sizes)
    native.enable(False)
    numpy_form = _adam_run(options, dtype, sizes)
    assert len(calls) == 3 * len(sizes)
    for got, expected in zip(loops, numpy_form):
        assert np.array_equal(bits(got), bits(expected))
    rng = np.random.default_rng(9)
    params = [torch.tensor(rng.standard_normal(n).astype(dtype), requires_grad=True) for n in sizes]
    optimizer = torch.optim.Adam(params, lr=0.01, **options)
    for _ in range(3):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(p.shape).astype(dtype))
        optimizer.step()
    tolerance = 1e-6 if dtype == "float32" else 1e-14
    for got, p in zip(loops, params):
        np.testing.assert_allclose(got, p.detach().numpy(), rtol=tolerance, atol=tolerance)


def test_a_small_adam_keeps_numba_unloaded() -> None:
    code = """
import json, sys
import chainrule as cr
w = cr.nn.Parameter(cr.randn(64, 64))
optimizer = cr.optim.Adam([w])
for _ in range(2):
    w.grad = cr.randn(64, 64)
    optimizer.step()
small = "numba" in sys.modules
big = cr.nn.Parameter(cr.randn(256, 256))  # 65,536 elements
big.grad = cr.randn(256, 256)
cr.optim.Adam([big]).step()
print(json.dumps({"small": small, "big": "numba" in sys.modules}))
"""
    assert _fresh(code) == {"small": False, "big": True}


SGD_CASES = {
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.3},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "l2": {"weight_decay": 0.1},
    "l2-momentum-maximize": {"momentum": 0.5, "weight_decay": 0.1, "maximize": True},
    "maximize": {"maximize": True},
    "plain": {},  # the loop only from 65,536 elements, once numba is loaded (here it is)
}
RMSPROP_CASES = {
    "plain": {},
    "centered": {"centered": True},
    "momentum": {"momentum": 0.9},
    "centered-momentum-l2": {"centered": True, "momentum": 0.9, "weight_decay": 0.1},
    "maximize": {"maximize": True, "alpha": 0.9},
}


def _update_run(
    library: Any, name: str, options: dict, dtype: str, sizes: tuple, steps: int = 3
) -> list[np.ndarray]:
    """Parameters and every state array after ``steps`` steps of optimiser ``name`` of
    ``library`` (chainrule or torch) on the same fixed gradients."""
    rng = np.random.default_rng(11)
    params = [
        library.nn.Parameter(library.tensor(rng.standard_normal(n).astype(dtype))) for n in sizes
    ]
    optimizer = getattr(library.optim, name)(params, lr=0.01, **options)
    for _ in range(steps):
        for p in params:
            p.grad = library.tensor(rng.standard_normal(tuple(p.shape)).astype(dtype))
        optimizer.step()
    found = [p.detach().numpy().copy() for p in params]
    for p in params:
        state = optimizer.state[p]
        for key in ("momentum_buffer", "square_avg", "grad_avg"):
            if key in state and state[key] is not None:
                value = state[key]
                found.append(value.detach().numpy().copy() if library is torch else value.copy())
    return found


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("name", "case"),
    [("SGD", case) for case in SGD_CASES] + [("RMSprop", case) for case in RMSPROP_CASES],
)
def test_sgd_and_rmsprop_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(
    native_switch, monkeypatch, name: str, case: str, dtype: str
) -> None:
    from chainrule.native import updates

    loop_name = name.lower()
    calls = []
    original = getattr(updates, loop_name)
    monkeypatch.setattr(
        updates, loop_name, lambda *args: calls.append(args[0].size) or original(*args)
    )
    options = (SGD_CASES if name == "SGD" else RMSPROP_CASES)[case]
    sizes = (70_000, 300, 1)  # the first loads numba; the others take the loop because it is
    native.enable(True)
    loops = _update_run(cr, name, options, dtype, sizes)
    expected = [70_000] * 3 if name == "SGD" and case == "plain" else [70_000, 300, 1] * 3
    assert calls == expected
    native.enable(False)
    numpy_form = _update_run(cr, name, options, dtype, sizes)
    assert calls == expected
    assert len(loops) == len(numpy_form)
    for got, expected in zip(loops, numpy_form):
        assert np.array_equal(bits(got), bits(expected))
    torchs = _update_run(torch, name, options, dtype, sizes)
    assert len(loops) == len(torchs)
    # PyTorch fuses g/d into the buffer's update (addcdiv): a few units in float32's last place
    tolerance = 1e-5 if dtype == "float32" else 1e-13
    for got, expected in zip(loops, torchs):
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
        ("SGD", {"maximize": True}),
        ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
        ("RMSprop", {"maximize": True}),
        ("Adam", {"weight_decay": 0.1}),
        ("Adam", {"amsgrad": True}),
    ],
)
def test_update_loops_keep_special_values_bit_for_bit(
    native_switch, name: str, options: dict
) -> None:
    """±0, ±inf, nan, subnormals and huge values in the parameters and the gradients: the
    loops give the NumPy form's bits (nan's payload aside: any nan matches any nan)."""
    special = np.array(
        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3e38, -3e38, 1.0, -2.5],
        dtype=np.float32,
    )
    rng = np.random.default_rng(12)
    size = 70_000
    start = rng.standard_normal(size).astype(np.float32)
    grads = [rng.standard_normal(size).astype(np.float32) for _ in range(3)]
    start[: special.size * special.size] = np.repeat(special, special.size)
    for grad in grads:
        grad[: special.size * special.size] = np.tile(special, special.size)
    results = []
    for enabled in (True, False):
        native.enable(enabled)
        w = cr.nn.Parameter(cr.tensor(start.copy()))
        optimizer = getattr(cr.optim, name)([w], lr=0.01, **options)
        with np.errstate(all="ignore"):
            for grad in grads:
                w.grad = cr.tensor(grad)
                optimizer.step()
        results.append(w.detach().numpy().copy())
    loops, numpy_form = results
    nan = np.isnan(numpy_form)
    assert np.array_equal(np.isnan(loops), nan)
    assert np.array_equal(bits(loops[~nan]), bits(numpy_form[~nan]))
    assert nan.any()  # the special values did reach the result
    assert not np.array_equal(numpy_form[-1000:], start[-1000:])  # and the update ran


@pytest.mark.parametrize("unsuited", ["column-major gradient", "NumPy learning rate"])
def test_sgd_loop_leaves_what_it_does_not_suit_to_the_numpy_form(
    native_switch, monkeypatch, unsuited: str
) -> None:
    """A gradient laid out column-major, or a learning rate given as a NumPy number (as a
    schedule may compute it), goes through the NumPy form; the results are the same."""
    from chainrule.native import updates

    calls = []
    original = updates.sgd
    monkeypatch.setattr(updates, "sgd", lambda *args: calls.append(1) or original(*args))
    rng = np.random.default_rng(3)
    start = rng.standard_normal((300, 300)).astype(np.float32)
    grad = rng.standard_normal((300, 300)).astype(np.float32)
    lr: Any = 0.1
    if unsuited == "column-major gradient":
        grad = np.asfortranarray(grad)
    else:
        lr = np.float64(0.1)
    results = []
    for flag in (True, False):
        native.enable(flag)
        w = cr.nn.Parameter(cr.tensor(start.copy()))
        optimizer = cr.optim.SGD([w], lr=lr, momentum=0.9)
        for _ in range(2):
            w.grad = cr.tensor(grad)
            optimizer.step()
        results.append(w.detach().numpy().copy())
    assert calls == []
    assert np.array_equal(results[0], results[1])
    assert not np.array_equal(results[0], start)


def test_plain_sgd_keeps_numba_unloaded_and_momentum_loads_it() -> None:
    code = """
import json, sys
import chainrule as cr
big = cr.nn.Parameter(cr.randn(256, 256))  # 65,536 elements
plain = cr.optim.SGD([big], lr=0.1)
for _ in range(2):
    big.grad = cr.randn(256, 256)
    plain.step()
after_plain = "numba" in sys.modules
small = cr.nn.Parameter(cr.randn(64, 64))
small.grad = cr.randn(64, 64)
cr.optim.SGD([small], lr=0.1, momentum=0.9).step()
after_small = "numba" in sys.modules
cr.optim.SGD([big], lr=0.1, momentum=0.9).step()
print(json.dumps({"plain": after_plain, "small": after_small, "momentum": "numba" in sys.modules}))
"""
    assert _fresh(code) == {"plain": False, "small": False, "momentum": True}


def test_pooling_plain_nchw_keeps_numba_unloaded() -> None:
    code = """
import json, sys
import chainrule as cr
import chainrule.nn.functional as F
x = cr.randn(2, 3, 8, 8, requires_grad=True)  # C order: W is the fastest axis
F.max_pool2d(x, 2).sum().backward()
print(json.dumps({"loaded": "numba" in sys.modules}))
"""
    assert _fresh(code) == {"loaded": False}
