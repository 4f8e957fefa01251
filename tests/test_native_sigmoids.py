"""Sigmoid, SiLU and tanh through chainrule.native's loops (native/sigmoids.py): the NumPy
forms' outputs and gradients bit for bit, in float32 and float64, at ±0, ±inf, nan, the cap
where eᶻ would overflow and in both tails; PyTorch's within rounding; the loops really run,
and inputs they do not take stay in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import native
from loop_calls import assert_same_bits, count_calls, output_and_gradient

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")

LOOPS = ("capped", "sigmoid_from_exp", "silu_from_exp", "sigmoid_backward", "silu_backward",
         "tanh_backward")  # fmt: skip
LAYERS = {"sigmoid": cr.nn.Sigmoid, "silu": cr.nn.SiLU, "tanh": cr.nn.Tanh}
EXPECTED_CALLS = {
    "sigmoid": ["capped", "sigmoid_from_exp", "sigmoid_backward"],
    "silu": ["capped", "silu_from_exp", "silu_backward"],
    "tanh": ["tanh_backward"],
}


@pytest.fixture
def calls(monkeypatch) -> list:
    """The sigmoid-family loops called, in order."""
    return count_calls(monkeypatch, "sigmoids", LOOPS)


def _values(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    z = (rng.standard_normal(8192) * 6).astype(dtype)
    limit = np.log(np.finfo(dtype).max)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 88.0, 89.0, limit, -limit, 1e-30, -1e-30,
               40.0, -40.0, 720.0, -750.0, np.finfo(dtype).max, -np.finfo(dtype).max]  # fmt: skip
    z[: len(special)] = np.array(special).astype(dtype)
    grad = rng.standard_normal(z.size).astype(dtype)
    grad[len(special) : len(special) + 4] = [np.nan, np.inf, -np.inf, -0.0]
    return z.reshape(64, 128), grad.reshape(64, 128)


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(
    native_switch, calls, name, dtype
) -> None:
    z, grad = _values(dtype)
    layer = LAYERS[name]()
    with np.errstate(all="ignore"):
        found = {loops: output_and_gradient(layer, z, grad, loops) for loops in (True, False)}
    assert calls == EXPECTED_CALLS[name]
    assert_same_bits(found[True], found[False])
    # Against PyTorch in float64 (PyTorch's float32 σ' = σ(1 − σ) loses the left tail, which
    # chainrule's σ/(1 + eᶻ) keeps): within a few roundings of values of order 1 (SiLU's slope
    # 1 + x(1 − σ) cancels near x = −1.28, where only the absolute error is small).
    x = torch.tensor(z.astype(np.float64), requires_grad=True)
    y = getattr(torch.nn.functional, name)(x)
    y.backward(torch.tensor(grad.astype(np.float64)))
    rtol, atol = (1e-5, 4 * np.finfo(dtype).eps) if dtype == np.float32 else (1e-12, 2e-15)
    for value, reference in zip(found[True], [y.detach().numpy(), x.grad.numpy()], strict=True):
        finite = np.isfinite(reference) & (np.abs(reference) < np.finfo(dtype).max)
        np.testing.assert_allclose(value[finite], reference[finite], rtol=rtol, atol=atol)
        np.testing.assert_array_equal(np.isnan(value), np.isnan(reference))


def test_inputs_the_loops_do_not_take_stay_in_numpy(native_switch, calls) -> None:
    native.enable(True)
    z = np.linspace(-5, 5, 4096, dtype=np.float32).reshape(64, 64)
    small = z[:8, :8].copy()
    assert small.size < native.FEWEST  # a call into numba would cost what it saves
    for layer in LAYERS.values():
        layer()(cr.tensor(z).t())  # not C-contiguous
        layer()(cr.tensor(z.astype(np.float16)))
        layer()(cr.tensor(small))
    assert not calls
    x = cr.tensor(z, requires_grad=True)
    cr.sigmoid(x).backward(cr.tensor(np.asfortranarray(np.ones((64, 64), np.float32))))
    assert calls == ["capped", "sigmoid_from_exp"]  # the backward's gradient is not C-ordered
    t = torch.tensor(z, requires_grad=True)
    torch.sigmoid(t).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_second_derivative_keeps_the_graph_form(native_switch) -> None:
    native.enable(True)
    values = np.random.default_rng(13).standard_normal(20)
    for name in LAYERS:
        x = cr.tensor(values, requires_grad=True)
        (g,) = cr.autograd.grad(LAYERS[name]()(x).sum(), x, create_graph=True)
        (h,) = cr.autograd.grad(g.sum(), x)
        t = torch.tensor(values, requires_grad=True)
        y = getattr(torch.nn.functional, name)(t)
        (tg,) = torch.autograd.grad(y.sum(), t, create_graph=True)
        (th,) = torch.autograd.grad(tg.sum(), t)
        np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-10, atol=1e-12)
