"""Softmax, log-softmax and cross-entropy against class indices through chainrule.native's row
loops (native/rows.py): the NumPy forms' outputs and gradients bit for bit, at special
values too, PyTorch's within rounding; the loops really run where they apply (the last axis of
a C-contiguous float array), and other inputs stay in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from bit_patterns import bits
from chainrule import native
from chainrule.nn import functional
from loop_calls import assert_same_bits, count_calls, output_and_gradient

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")

LOOPS = ("minus_column", "subtract_column", "multiply_column", "softmax_grad", "log_softmax_grad")


@pytest.fixture
def calls(monkeypatch) -> list:
    """The names of the row loops called, in order."""
    return count_calls(monkeypatch, "rows", LOOPS)


def _special_rows(dtype: type) -> np.ndarray:
    """Rows with nan, ±inf, a row of −inf (a fully masked row: nan), signed zeros, huge values
    and a single finite entry among −inf, then ordinary rows (native.FEWEST elements in all)."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((128, 9)).astype(dtype)
    z[0, 2] = np.nan
    z[1] = -np.inf
    z[2, 3] = np.inf
    z[3, 0], z[3, 1:] = -0.0, 0.0
    z[4] = np.finfo(dtype).max / 2
    z[5] = -np.inf
    z[5, 4] = -0.0
    z[6, ::2] = -np.inf
    return z


def _run(function, values: np.ndarray, grad: np.ndarray, loops: bool) -> list:
    return output_and_gradient(lambda x: function(x, dim=-1), values, grad, loops)


CASES = [
    ((1600, 128), np.float32),  # 204,800 elements: past native.MAP_SIZE
    ((4, 50, 128), np.float64),
    ((64, 33), np.float32),  # small: the loops run once numba is loaded, as here
    ((17, 1000), np.float32),
    ((2048, 1), np.float64),
]


@pytest.mark.parametrize("function", [cr.softmax, cr.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize(("shape", "dtype"), CASES, ids=[f"{s}-{d.__name__}" for s, d in CASES])
def test_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(
    native_switch, calls, function, shape, dtype
) -> None:
    rng = np.random.default_rng(sum(shape))
    values = (rng.standard_normal(shape) * 4).astype(dtype)
    grad = rng.standard_normal(shape).astype(dtype)
    looped = _run(function, values, grad, True)
    assert calls, "the row loops did not run"
    assert calls.count("minus_column") == 1
    assert ("softmax_grad" if function is cr.softmax else "log_softmax_grad") in calls
    calls.clear()
    numpy_form = _run(function, values, grad, False)
    assert not calls
    assert_same_bits(looped, numpy_form)
    x = torch.tensor(values, requires_grad=True)
    y = getattr(torch, function.__name__)(x, dim=-1)
    y.backward(torch.tensor(grad))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(looped[0], y.detach().numpy(), rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(looped[1], x.grad.numpy(), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("function", [cr.softmax, cr.log_softmax], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_give_the_numpy_forms_bits(native_switch, calls, function, dtype) -> None:
    values = _special_rows(dtype)
    grad = np.random.default_rng(5).standard_normal(values.shape).astype(dtype)
    with np.errstate(all="ignore"):
        looped = _run(function, values, grad, True)
        assert calls
        numpy_form = _run(function, values, grad, False)
    assert_same_bits(looped, numpy_form)
    assert np.isnan(looped[0][1]).all()  # a fully masked row is nan, as in PyTorch
    x = torch.tensor(values)
    expected = getattr(torch, function.__name__)(x, dim=-1).numpy()
    np.testing.assert_allclose(looped[0], expected, rtol=1e-6, atol=0, equal_nan=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("shape", "dtype"), [((256, 1000), np.float32), ((128, 10), np.float64)])
def test_cross_entropy_of_class_indices_through_the_loops(
    native_switch, calls, reduction, shape, dtype
) -> None:
    rng = np.random.default_rng(6)
    values = (rng.standard_normal(shape) * 3).astype(dtype)
    values[0, 0] = -np.inf
    target = rng.integers(0, shape[1], shape[0])
    found = {}
    for enabled in (True, False):
        native.enable(enabled)
        x = cr.tensor(values, requires_grad=True)
        loss = functional.cross_entropy(x, cr.tensor(target), reduction=reduction)
        loss.sum().backward()
        found[enabled] = [loss.detach().numpy(), x.grad.numpy()]
        if enabled:
            assert calls[:2] == ["minus_column", "subtract_column"]
    for a, b in zip(found[True], found[False], strict=True):
        np.testing.assert_array_equal(bits(a), bits(b))
    x = torch.tensor(values, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(x, torch.tensor(target), reduction=reduction)
    loss.sum().backward()
    np.testing.assert_allclose(found[True][0], loss.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(found[True][1], x.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_inputs_the_loops_do_not_cover_stay_in_numpy(native_switch, calls) -> None:
    native.enable(True)
    rng = np.random.default_rng(7)
    values = rng.standard_normal((64, 128)).astype(np.float32)
    # another axis, a transposed (not C-contiguous) input, float16, an empty last axis
    cr.softmax(cr.tensor(values), dim=0)
    cr.softmax(cr.tensor(values).t(), dim=-1)
    cr.log_softmax(cr.tensor(values.astype(np.float16)), dim=-1)
    assert cr.softmax(cr.tensor(np.zeros((3, 0), np.float32)), dim=-1).shape == (3, 0)
    # under native.FEWEST elements: a call into numba would cost what it saves
    small = values[:7]
    assert small.size < native.FEWEST
    np.testing.assert_allclose(
        cr.softmax(cr.tensor(small), dim=-1).numpy(),
        torch.softmax(torch.tensor(small), dim=-1).numpy(),
        rtol=1e-6,
    )
    functional.cross_entropy(cr.tensor(small[:, :10]), cr.tensor(np.arange(7)))
    assert not calls
    # a gradient laid out otherwise than the output: the forward's loops, the NumPy backward
    x = cr.tensor(values, requires_grad=True)
    y = cr.softmax(x, dim=-1)
    grad = np.asfortranarray(rng.standard_normal((64, 128)).astype(np.float32))
    y.backward(cr.tensor(grad))
    assert calls == ["minus_column", "multiply_column"]
    expected = torch.softmax(torch.tensor(values), dim=-1)
    s = expected.numpy()
    np.testing.assert_allclose(
        x.grad.numpy(), s * (grad - (grad * s).sum(-1, keepdims=True)), rtol=1e-5, atol=1e-7
    )


def test_second_derivative_keeps_the_graph_form(native_switch) -> None:
    """A backward that records a graph passes tensors: the loops stay out of it."""
    native.enable(True)
    values = np.random.default_rng(8).standard_normal((4, 6))
    x = cr.tensor(values, requires_grad=True)
    (g,) = cr.autograd.grad(cr.softmax(x, dim=-1)[:, 0].sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    t = torch.tensor(values, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.softmax(t, dim=-1)[:, 0].sum(), t, create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), t)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-10, atol=1e-12)
