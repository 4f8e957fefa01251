"""Batch norm and layer norm through chainrule.native's loops (native/batch_norm.py,
native/layer_norm.py): the NumPy forms' results bit for bit (statistics, outputs, every
gradient, running statistics), PyTorch's within rounding, in every memory layout and with and
without γ and β, BatchNorm1d's (N, C) too; and the inputs the loops do not cover (small,
float16, a layer-norm gradient whose rows are not contiguous) stay in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from bit_patterns import bits
from chainrule import native
from loop_calls import count_calls

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")

SHAPE = (8, 4, 64, 64)  # 131,072 elements: the loops' size (native.MAP_SIZE)
ROWS = (16, 64, 128)  # layer norm's input of that size


@pytest.fixture
def calls(monkeypatch) -> list:
    """Batch norm's loops called."""
    names = ("squared_deviations", "scale_shift", "times_normalised", "input_grad")
    return count_calls(monkeypatch, "batch_norm", names)


@pytest.fixture
def ln_calls(monkeypatch) -> list:
    """Layer norm's loops called (its own, and the centring by the row means)."""
    called = count_calls(monkeypatch, "layer_norm", ("normalise", "input_grad"))
    return count_calls(monkeypatch, "rows", ("minus_column",), into=called)


def _laid_out(values: np.ndarray, layout: str) -> np.ndarray:
    if layout == "batch_last":  # as chainrule's convolutions leave a feature map
        return np.ascontiguousarray(values.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    if layout == "channels_last":
        return np.ascontiguousarray(values.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    return values.copy()


def _batch_norm_run(values, grad, layout, training=True, affine=True, dtype=np.float32) -> list:
    """Output, input gradient, γ and β gradients and running statistics of BatchNorm2d."""
    layer = cr.nn.BatchNorm2d(values.shape[1], affine=affine, dtype=getattr(cr, dtype.__name__))
    if affine:
        rng = np.random.default_rng(9)
        layer.weight.data.copy_(cr.tensor(rng.uniform(0.5, 1.5, values.shape[1]).astype(dtype)))
        layer.bias.data.copy_(cr.tensor(rng.standard_normal(values.shape[1]).astype(dtype)))
    layer.train(training)
    x = cr.tensor(_laid_out(values.astype(dtype), layout), requires_grad=True)
    y = layer(x)
    y.backward(cr.tensor(_laid_out(grad.astype(dtype), layout)))
    found = [
        y.detach().numpy(),
        x.grad.numpy(),
        layer.running_mean.numpy(),
        layer.running_var.numpy(),
    ]
    if affine:
        found += [layer.weight.grad.numpy(), layer.bias.grad.numpy()]
    return found


@pytest.mark.parametrize("layout", ["batch_last", "channels_last", "nchw"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(
    native_switch, calls, layout, dtype
) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(SHAPE) * 3 + 2
    values[0, 0, 0, :3] = [0.0, -0.0, 1e30]
    grad = rng.standard_normal(SHAPE)
    results = {}
    for enabled in (True, False):
        native.enable(enabled)
        results[enabled] = _batch_norm_run(values, grad, layout, dtype=dtype)
    # channels_last: C is the fastest axis, seen as rows (N·H·W, C) with the channels innermost
    assert calls == ["squared_deviations", "scale_shift", "times_normalised", "input_grad"]
    for looped, plain in zip(results[True], results[False]):
        assert np.array_equal(bits(looped), bits(plain))
    layer = torch.nn.BatchNorm2d(SHAPE[1], dtype=getattr(torch, dtype.__name__))
    weights = np.random.default_rng(9)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weights.uniform(0.5, 1.5, SHAPE[1])))
        layer.bias.copy_(torch.tensor(weights.standard_normal(SHAPE[1])))
    x = torch.tensor(values.astype(dtype), requires_grad=True)
    y = layer(x)
    y.backward(torch.tensor(grad.astype(dtype)))
    expected = [y, x.grad, layer.running_mean, layer.running_var, layer.weight.grad]
    expected.append(layer.bias.grad)
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    for ours, theirs in zip(results[True], expected):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_of_vectors_through_the_loops(native_switch, calls, dtype) -> None:
    """BatchNorm1d on (N, C): rows with the channels innermost, the NumPy form's bits."""
    rng = np.random.default_rng(4)
    values = (rng.standard_normal((128, 512)) * 3 + 1).astype(dtype)
    values[0, :3] = [0.0, -0.0, 1e30]
    grad = rng.standard_normal(values.shape).astype(dtype)
    weight, bias = rng.uniform(0.5, 1.5, 512).astype(dtype), rng.standard_normal(512).astype(dtype)

    def run(lib, x_values):
        layer = lib.nn.BatchNorm1d(512, dtype=getattr(lib, dtype.__name__))
        with lib.no_grad():
            layer.weight.copy_(lib.tensor(weight))
            layer.bias.copy_(lib.tensor(bias))
        x = lib.tensor(x_values, requires_grad=True)
        y = layer(x)
        y.backward(lib.tensor(grad))
        found = [y, x.grad, layer.running_mean, layer.running_var, layer.weight.grad]
        return [t.detach().numpy() for t in [*found, layer.bias.grad]]

    results = {}
    for enabled in (True, False):
        native.enable(enabled)
        results[enabled] = run(cr, values)
    assert calls == ["squared_deviations", "scale_shift", "times_normalised", "input_grad"]
    for looped, plain in zip(results[True], results[False], strict=True):
        assert np.array_equal(bits(looped), bits(plain))
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    for ours, theirs in zip(results[True], run(torch, values), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)


def test_batch_norm_without_affine_parameters_and_in_eval_mode(native_switch, calls) -> None:
    native.enable(True)
    rng = np.random.default_rng(2)
    values, grad = rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)
    plain = _batch_norm_run(values, grad, "batch_last", affine=False)
    assert calls == ["squared_deviations", "scale_shift", "times_normalised", "input_grad"]
    calls.clear()
    fixed = _batch_norm_run(values, grad, "batch_last", training=False)
    assert calls == ["scale_shift"]  # running statistics: the backward is g·s, one product
    native.enable(False)
    plain_numpy = _batch_norm_run(values, grad, "batch_last", affine=False)
    fixed_numpy = _batch_norm_run(values, grad, "batch_last", training=False)
    for looped, numpy_form in zip(plain + fixed, plain_numpy + fixed_numpy):
        assert np.array_equal(bits(looped), bits(numpy_form))


def test_batch_norm_inputs_the_loops_do_not_cover_stay_in_numpy(native_switch, calls) -> None:
    native.enable(True)
    rng = np.random.default_rng(3)
    small = rng.standard_normal((2, 2, 8, 8))  # 256 elements: below native.FEWEST
    _batch_norm_run(small, small, "batch_last")
    half = cr.tensor(rng.standard_normal(SHAPE).astype(np.float16), requires_grad=True)
    cr.nn.functional.batch_norm(half, None, None, training=True).sum().backward()
    assert calls == []
    assert np.isfinite(half.grad.numpy()).all()


def test_batch_norm_second_order_through_the_loops(native_switch) -> None:
    """create_graph takes the composite form: the loops' first derivative, differentiated."""
    native.enable(True)
    rng = np.random.default_rng(4)
    x = cr.tensor(rng.standard_normal(SHAPE), requires_grad=True)
    w = cr.tensor(rng.standard_normal(SHAPE))
    (grad,) = cr.autograd.grad(
        (cr.nn.functional.batch_norm(x, None, None, training=True) * w).sum(), x, create_graph=True
    )
    x_torch = torch.tensor(x.detach().numpy(), requires_grad=True)
    out = (
        torch.nn.functional.batch_norm(x_torch, None, None, training=True) * torch.tensor(w.numpy())
    ).sum()
    (grad_torch,) = torch.autograd.grad(out, x_torch, create_graph=True)
    np.testing.assert_allclose(grad.detach().numpy(), grad_torch.detach().numpy(), atol=1e-10)
    (grad * grad).sum().backward()
    (grad_torch * grad_torch).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=1e-7, atol=1e-9)


def _layer_norm_run(m, values, grad, weight, bias, dtype) -> list:
    """Output and the gradients of x, γ and β (those that exist) in library ``m``."""
    x = m.tensor(values.astype(dtype), requires_grad=True)
    w = None if weight is None else m.tensor(weight.astype(dtype), requires_grad=True)
    b = None if bias is None else m.tensor(bias.astype(dtype), requires_grad=True)
    y = m.nn.functional.layer_norm(x, (values.shape[-1],), w, b, eps=1e-5)
    y.backward(m.tensor(grad.astype(dtype)))
    return [y.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in (w, b) if p is not None]


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(
    native_switch, ln_calls, affine, dtype
) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(ROWS) * 3 + 5
    values[0, 0] = 7.0  # a constant row: x̂ = 0 there, σ = √ε
    grad = rng.standard_normal(ROWS)
    weight = rng.uniform(0.5, 1.5, ROWS[-1]) if affine in ("both", "weight") else None
    bias = rng.standard_normal(ROWS[-1]) if affine in ("both", "bias") else None
    results = {}
    for enabled in (True, False):
        native.enable(enabled)
        results[enabled] = _layer_norm_run(cr, values, grad, weight, bias, dtype)
    assert ln_calls == ["minus_column", "normalise", "input_grad"]
    for looped, plain in zip(results[True], results[False]):
        assert np.array_equal(bits(looped), bits(plain))
    expected = _layer_norm_run(torch, values, grad, weight, bias, dtype)
    tolerance = 2e-4 if dtype == np.float32 else 1e-10
    for ours, theirs in zip(results[True], expected):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)


def test_layer_norm_inputs_the_loops_do_not_cover_stay_in_numpy(native_switch, ln_calls) -> None:
    native.enable(True)
    rng = np.random.default_rng(2)
    small = rng.standard_normal((4, 8, 32))
    _layer_norm_run(cr, small, small, np.ones(32), np.zeros(32), np.float32)
    half = rng.standard_normal(ROWS)
    out = _layer_norm_run(cr, half, half, None, None, np.float16)
    assert ln_calls == []
    assert all(np.isfinite(array).all() for array in out)
    # A gradient whose rows are not contiguous (a slice of wider rows): the forward's loop,
    # then NumPy's form for ∂C/∂x.
    values = rng.standard_normal(ROWS).astype(np.float32)
    x = cr.tensor(values, requires_grad=True)
    wider = rng.standard_normal((*ROWS[:-1], 2 * ROWS[-1])).astype(np.float32)
    upstream = wider[..., : ROWS[-1]]
    cr.nn.functional.layer_norm(x, (ROWS[-1],)).backward(cr.from_numpy(upstream))
    x_torch = torch.tensor(values, requires_grad=True)
    torch.nn.functional.layer_norm(x_torch, (ROWS[-1],)).backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=2e-4, atol=2e-5)
    assert ln_calls == ["minus_column", "normalise"]


def test_layer_norm_module_over_two_dimensions(native_switch) -> None:
    """normalized_shape of two axes: the rows are their product, 32·64 wide."""
    native.enable(True)
    rng = np.random.default_rng(3)
    values = rng.standard_normal((64, 32, 64)).astype(np.float32)
    ours, theirs = cr.nn.LayerNorm((32, 64)), torch.nn.LayerNorm((32, 64))
    x, x_torch = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    (ours(x) ** 2).sum().backward()
    (theirs(x_torch) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-3)
