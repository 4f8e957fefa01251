"""Layer norm through chainrule.native.layer_norm's loops: the NumPy form's results bit for bit
(output and every gradient), PyTorch's within rounding, with and without γ and β; and the
inputs the loops do not cover (small, float16, a gradient in another layout) stay in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import native

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")

SHAPE = (16, 64, 128)  # 131,072 elements: the loops' size (native.MAP_SIZE)


@pytest.fixture
def mode():
    """Restores the switch after a test that sets it."""
    before = native.enabled()
    yield
    native.enable(before)


@pytest.fixture
def calls(monkeypatch) -> list:
    """The names of the loops called, in order."""
    from chainrule.native import layer_norm

    called: list = []
    for name in ("normalise", "input_grad"):
        original = getattr(layer_norm, name)

        def counted(*args, _name=name, _original=original):
            called.append(_name)
            return _original(*args)

        monkeypatch.setattr(layer_norm, name, counted)
    return called


def _bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).view(f"u{array.dtype.itemsize}")


def _run(m, values, grad, weight, bias, dtype) -> list:
    """Output and the gradients of x, γ and β (those that exist) in library ``m``."""
    x = m.tensor(values.astype(dtype), requires_grad=True)
    w = None if weight is None else m.tensor(weight.astype(dtype), requires_grad=True)
    b = None if bias is None else m.tensor(bias.astype(dtype), requires_grad=True)
    y = m.nn.functional.layer_norm(x, (values.shape[-1],), w, b, eps=1e-5)
    y.backward(m.tensor(grad.astype(dtype)))
    return [y.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in (w, b) if p is not None]


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(mode, calls, affine, dtype) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(SHAPE) * 3 + 5
    values[0, 0] = 7.0  # a constant row: x̂ = 0 there, σ = √ε
    grad = rng.standard_normal(SHAPE)
    weight = rng.uniform(0.5, 1.5, SHAPE[-1]) if affine in ("both", "weight") else None
    bias = rng.standard_normal(SHAPE[-1]) if affine in ("both", "bias") else None
    results = {}
    for enabled in (True, False):
        native.enable(enabled)
        results[enabled] = _run(cr, values, grad, weight, bias, dtype)
    assert calls == ["normalise", "input_grad"]
    for looped, plain in zip(results[True], results[False]):
        assert np.array_equal(_bits(looped), _bits(plain))
    expected = _run(torch, values, grad, weight, bias, dtype)
    tolerance = 2e-4 if dtype == np.float32 else 1e-10
    for ours, theirs in zip(results[True], expected):
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance)


def test_inputs_the_loops_do_not_cover_stay_in_numpy(mode, calls) -> None:
    native.enable(True)
    rng = np.random.default_rng(2)
    small = rng.standard_normal((4, 8, 32))
    _run(cr, small, small, np.ones(32), np.zeros(32), np.float32)
    half = rng.standard_normal(SHAPE)
    out = _run(cr, half, half, None, None, np.float16)
    assert calls == []
    assert all(np.isfinite(array).all() for array in out)
    # A gradient whose rows are not contiguous (a slice of wider rows): the forward's loop,
    # then NumPy's form for ∂C/∂x.
    values = rng.standard_normal(SHAPE).astype(np.float32)
    x = cr.tensor(values, requires_grad=True)
    wider = rng.standard_normal((*SHAPE[:-1], 2 * SHAPE[-1])).astype(np.float32)
    upstream = wider[..., : SHAPE[-1]]
    cr.nn.functional.layer_norm(x, (SHAPE[-1],)).backward(cr.from_numpy(upstream))
    x_torch = torch.tensor(values, requires_grad=True)
    torch.nn.functional.layer_norm(x_torch, (SHAPE[-1],)).backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad.numpy(), x_torch.grad.numpy(), rtol=2e-4, atol=2e-5)
    assert calls == ["normalise"]


def test_layer_norm_module_over_two_dimensions(mode) -> None:
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
