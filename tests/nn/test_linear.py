"""Linear (and F.linear, its fused operation), Flatten and Identity against PyTorch and finite
differences."""

from __future__ import annotations

import math
import re
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TOLERANCE = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-13)}


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * max(1.0, np.abs(e).max()), err_msg=what)


# ---- initialisation ------------------------------------------------------------------------------


def test_default_init_is_uniform_within_one_over_sqrt_in_features() -> None:
    layer = cr.nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)
    weight, bias = to_numpy(layer.weight), to_numpy(layer.bias)
    assert weight.shape == (400, 50) and bias.shape == (400,)
    assert weight.dtype == np.float32 and bias.dtype == np.float32
    assert np.abs(weight).max() <= bound and np.abs(bias).max() <= bound
    # Uniform over the whole interval, not a narrower one: the extremes come close to the bound
    # and the standard deviation is bound/√3 (20 000 draws: the estimate is good to ~1%).
    assert np.abs(weight).max() > 0.999 * bound and np.abs(bias).max() > 0.98 * bound
    assert abs(weight.std() / (bound / math.sqrt(3)) - 1) < 0.02
    assert abs(weight.mean()) < 0.01 * bound
    assert layer.weight.requires_grad and layer.bias.requires_grad


def test_default_init_is_reproducible_under_manual_seed() -> None:
    cr.manual_seed(7)
    first = cr.nn.Linear(5, 3)
    cr.manual_seed(7)
    second = cr.nn.Linear(5, 3)
    third = cr.nn.Linear(5, 3)
    for name in ("weight", "bias"):
        a, b = to_numpy(getattr(first, name)), to_numpy(getattr(second, name))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, to_numpy(getattr(third, name)))


def test_options_dtype_and_validation() -> None:
    layer = cr.nn.Linear(3, 2, bias=False, dtype=cr.float64)
    assert layer.bias is None and layer.weight.dtype == cr.float64
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == list(torch.nn.Linear(3, 2, bias=False).state_dict())
    assert repr(layer) == repr(torch.nn.Linear(3, 2, bias=False))
    for bad in (-1, 2.0, "3"):
        with pytest.raises(ValueError, match="in_features"):
            cr.nn.Linear(bad, 2)
        with pytest.raises(ValueError, match="out_features"):
            cr.nn.Linear(2, bad)


def test_zero_sized_layers_work_like_torch() -> None:
    empty_in = cr.nn.Linear(0, 3)  # PyTorch allows this (it warns that init is a no-op)
    out = empty_in(cr.zeros(4, 0))
    assert out.shape == (4, 3)
    np.testing.assert_allclose(to_numpy(out), np.broadcast_to(to_numpy(empty_in.bias), (4, 3)))
    assert cr.nn.Linear(3, 0)(cr.ones(2, 3)).shape == (2, 0)


# ---- forward and backward against PyTorch ------------------------------------------------------

SHAPES = {"vector": (5,), "batch": (4, 5), "sequence": (2, 3, 5)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_forward_backward_match_torch(shape: tuple, bias: bool, dtype: str) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{shape}{bias}{dtype}".encode()))
    torch.manual_seed(0)
    reference = torch.nn.Linear(5, 3, bias=bias, dtype=getattr(torch, dtype))
    layer = cr.nn.Linear(5, 3, bias=bias, dtype=dtype)
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = rng.standard_normal(shape).astype(dtype)
    xc = cr.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, expected = layer(xc), reference(xt)
    assert out.shape == (*shape[:-1], 3)
    assert_close(out, expected, dtype, "forward")

    upstream = rng.standard_normal(out.shape).astype(dtype)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    assert_close(xc.grad, xt.grad, dtype, "input gradient")
    assert_close(layer.weight.grad, reference.weight.grad, dtype, "weight gradient")
    if bias:
        assert_close(layer.bias.grad, reference.bias.grad, dtype, "bias gradient")
    else:
        assert layer.bias is None


def test_functional_linear_matches_torch_without_a_module() -> None:
    rng = np.random.default_rng(3)
    x, w, b = (rng.standard_normal(s) for s in ((6, 4), (2, 4), (2,)))
    args = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    targs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out, expected = F.linear(*args), torch.nn.functional.linear(*targs)
    assert_close(out, expected, "float64", "forward")
    (out * out).sum().backward()
    (expected * expected).sum().backward()
    for i, (a, t) in enumerate(zip(args, targs)):
        assert_close(a.grad, t.grad, "float64", f"gradient of argument {i}")
    # Only the arguments that require grad get one.
    x_only = cr.tensor(x, requires_grad=True)
    F.linear(x_only, cr.tensor(w), cr.tensor(b)).sum().backward()
    assert x_only.grad is not None


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_gradcheck(shape: tuple, bias: bool) -> None:
    rng = np.random.default_rng(len(shape) + 10 * bias)
    x = cr.tensor(rng.standard_normal((*shape[:-1], 4)), requires_grad=True)
    w = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    inputs = [x, w]
    if bias:
        inputs.append(cr.tensor(rng.standard_normal(3), requires_grad=True))
    assert cr.gradcheck(F.linear, inputs) is True


def test_wrong_last_dimension_names_linear_and_both_shapes() -> None:
    layer = cr.nn.Linear(3, 2)
    with pytest.raises(ValueError, match=re.escape("Linear(in_features=3, out_features=2)")) as e:
        layer(cr.randn(4, 5))
    assert "(*, 3)" in str(e.value) and "(4, 5)" in str(e.value)
    with pytest.raises(ValueError, match="Linear"):
        layer(cr.tensor(1.0))
    with pytest.raises(ValueError, match=re.escape("(4, 5)")) as e:
        F.linear(cr.randn(4, 5), cr.randn(2, 3))
    assert "(2, 3)" in str(e.value) and "linear" in str(e.value)
    with pytest.raises(ValueError, match="bias"):
        F.linear(cr.randn(4, 3), cr.randn(2, 3), cr.randn(3))


def test_training_a_linear_layer_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(5)
    true_w, true_b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    x = rng.standard_normal((64, 3))
    y = x @ true_w.T + true_b
    layer = cr.nn.Linear(3, 2).double()
    xs, ys = cr.tensor(x), cr.tensor(y)
    for _ in range(200):
        layer.zero_grad()
        ((layer(xs) - ys) ** 2).mean().backward()
        with cr.no_grad():
            for p in layer.parameters():
                p -= 0.2 * p.grad
    np.testing.assert_allclose(to_numpy(layer.weight), true_w, atol=1e-6)
    np.testing.assert_allclose(to_numpy(layer.bias), true_b, atol=1e-6)


# ---- Flatten and Identity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dims", [{}, {"start_dim": 0}, {"start_dim": 1, "end_dim": 2}, {"start_dim": -2}]
)
def test_flatten_matches_torch(dims: dict) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = cr.nn.Flatten(**dims)(xc), torch.nn.Flatten(**dims)(xt)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
    upstream = np.arange(out.numel(), dtype=np.float64).reshape(out.shape)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(to_numpy(xc.grad), to_numpy(xt.grad))
    assert repr(cr.nn.Flatten(**dims)) == repr(torch.nn.Flatten(**dims))


def test_identity_returns_its_input() -> None:
    x = cr.randn(3, 2, requires_grad=True)
    layer = cr.nn.Identity(54, unused="argument")  # PyTorch accepts and ignores arguments
    assert layer(x) is x
    assert list(layer.parameters()) == [] and list(layer.state_dict()) == []
    model = cr.nn.Sequential(cr.nn.Flatten(), cr.nn.Identity(), cr.nn.Linear(6, 1))
    assert model(cr.randn(4, 2, 3)).shape == (4, 1)
