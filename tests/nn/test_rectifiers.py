"""The rectifiers (functional and modules): ReLU, leaky ReLU, PReLU, hardtanh, ReLU6, ELU, SELU,
CELU, hard sigmoid and hard swish against PyTorch (values and gradients, at their kinks too)
and finite differences."""

from __future__ import annotations

import re
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TF = torch.nn.functional
TOLERANCE = {"float32": (1e-6, 1e-6), "float64": (1e-13, 1e-14)}


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


# name -> fn(module, F, x): the same call in both libraries.
RECTIFIERS: dict[str, Any] = {
    "relu": lambda m, f, x: f.relu(x),
    "leaky_relu": lambda m, f, x: f.leaky_relu(x),
    "leaky_relu-0.2": lambda m, f, x: f.leaky_relu(x, 0.2),
    "leaky_relu-negative": lambda m, f, x: f.leaky_relu(x, -0.3),
    "relu6": lambda m, f, x: f.relu6(x),
    "hardtanh": lambda m, f, x: f.hardtanh(x),
    "hardtanh-bounds": lambda m, f, x: f.hardtanh(x, -2.0, 3.0),
    "elu": lambda m, f, x: f.elu(x),
    "elu-alpha": lambda m, f, x: f.elu(x, 0.5),
    "selu": lambda m, f, x: f.selu(x),
    "selu-top-level": lambda m, f, x: m.selu(x),
    "celu": lambda m, f, x: f.celu(x),
    "celu-alpha": lambda m, f, x: f.celu(x, 0.5),
    "elu-negative-alpha": lambda m, f, x: f.elu(x, -0.5),
    "hardsigmoid": lambda m, f, x: f.hardsigmoid(x),
    "hardswish": lambda m, f, x: f.hardswish(x),
    "prelu": lambda m, f, x: f.prelu(x, m.tensor([0.3], dtype=x.dtype)),
}


def rectifier_inputs(dtype: str, key: str) -> np.ndarray:
    """Ordinary values, every kink exactly (0, ±1, ±3, 6, −2) where PyTorch picks one side, and
    far tails."""
    rng = rng_for(key, dtype)
    kinks = [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, -2.0, 2.9999, -2.9999]
    tails = [-700.0, -40.0, 40.0, 800.0, 1e-8, -1e-8]
    return np.concatenate([rng.standard_normal(50) * 4, kinks, tails]).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(RECTIFIERS))
def test_rectifier_matches_torch_at_kinks_and_tails(name: str, dtype: str) -> None:
    fn = RECTIFIERS[name]
    x = rectifier_inputs(dtype, name)
    upstream = rng_for(name, dtype, "upstream").standard_normal(x.shape).astype(dtype)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings in the tails
        out = fn(cr, F, xc)
        out.backward(cr.tensor(upstream))
    expected = fn(torch, TF, xt)
    expected.backward(torch.tensor(upstream))
    rtol, atol = TOLERANCE[dtype]
    assert out.dtype == np.dtype(dtype) and xc.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=rtol, atol=atol)
    np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(RECTIFIERS))
def test_rectifier_gradcheck(name: str) -> None:
    fn = RECTIFIERS[name]
    # Away from every kink, where the derivative jumps.
    x = cr.tensor(np.array([-4.1, -2.6, -1.4, -0.4, 0.3, 1.7, 2.2, 4.4, 7.5]), requires_grad=True)
    assert cr.gradcheck(lambda t: fn(cr, F, t), [x])


def test_rectifiers_keep_nan_as_torch_does() -> None:
    for name, fn in RECTIFIERS.items():
        xc = cr.tensor([np.nan, 1.0], requires_grad=True)
        xt = torch.tensor([np.nan, 1.0], requires_grad=True)
        fn(cr, F, xc).sum().backward()
        fn(torch, TF, xt).sum().backward()
        np.testing.assert_array_equal(to_numpy(xc.grad), to_numpy(xt.grad), err_msg=name)


# ---- PReLU ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_shape", "weight_shape"),
    [((5,), (1,)), ((2, 3), (3,)), ((2, 3, 4), (3,)), ((2, 3, 2, 2), (1,)), ((), (1,)), ((3,), ())],
)
def test_prelu_weight_gradient_matches_torch(input_shape: tuple, weight_shape: tuple) -> None:
    rng = rng_for("prelu", input_shape, weight_shape)
    x, w = rng.standard_normal(input_shape), rng.uniform(0.05, 0.5, weight_shape)
    upstream = rng.standard_normal(input_shape)
    xc, wc = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    out, expected = F.prelu(xc, wc), TF.prelu(xt, wt)
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    for ours, theirs in ((out, expected), (xc.grad, xt.grad), (wc.grad, wt.grad)):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), rtol=1e-13, atol=1e-14)
    assert cr.gradcheck(F.prelu, [xc, wc])


def test_prelu_module_matches_torch() -> None:
    ours, theirs = cr.nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert repr(ours) == repr(theirs) == "PReLU(num_parameters=3)"
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    assert ours.weight.dtype == np.float32
    np.testing.assert_array_equal(to_numpy(ours.weight), to_numpy(theirs.weight))
    x = rng_for("prelu module").standard_normal((4, 3, 2)).astype(np.float32)
    ours(cr.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(to_numpy(ours.weight.grad), to_numpy(theirs.weight.grad), rtol=1e-6)
    assert repr(cr.nn.PReLU()) == repr(torch.nn.PReLU())
    assert cr.nn.PReLU(dtype=cr.float64).weight.dtype == np.float64


def test_prelu_refuses_what_torch_refuses() -> None:
    x = cr.randn(2, 3)
    with pytest.raises(ValueError, match=re.escape("parameter numbers = 2 and channel size = 3")):
        F.prelu(x, cr.ones(2))
    with pytest.raises(ValueError, match=re.escape("parameter numbers = 5 and channel size = 1")):
        F.prelu(cr.randn(5), cr.ones(5))
    with pytest.raises(ValueError, match="scalar or 1D tensor, but got: ndim = 2"):
        F.prelu(x, cr.ones(1, 3))
    with pytest.raises(TypeError, match="Type promoting not supported"):
        F.prelu(x.double(), cr.ones(3))
    with pytest.raises(ValueError, match="num_parameters"):
        cr.nn.PReLU(0)


# ---- modules -------------------------------------------------------------------------------------

MODULES = {
    "ReLU": ((), {}),
    "ReLU-inplace": ((True,), {}),
    "LeakyReLU": ((), {}),
    "LeakyReLU-options": ((0.2, True), {}),
    "ReLU6": ((), {}),
    "ReLU6-inplace": ((), {"inplace": True}),
    "Hardtanh": ((), {}),
    "Hardtanh-options": ((-2.0, 3.0, True), {}),
    "ELU": ((), {}),
    "ELU-options": ((0.3,), {"inplace": True}),
    "SELU": ((), {}),
    "SELU-inplace": ((True,), {}),
    "CELU": ((), {}),
    "CELU-options": ((0.5, True), {}),
    "Hardsigmoid": ((), {}),
    "Hardsigmoid-inplace": ((True,), {}),
    "Hardswish": ((), {}),
    "Hardswish-inplace": ((), {"inplace": True}),
}


@pytest.mark.parametrize("case", list(MODULES))
def test_modules_match_torch(case: str) -> None:
    name = case.split("-")[0]
    args, kwargs = MODULES[case]
    module, reference = (
        getattr(cr.nn, name)(*args, **kwargs),
        getattr(torch.nn, name)(*args, **kwargs),
    )
    assert repr(module) == repr(reference)
    assert module.inplace == reference.inplace
    x = rng_for(case).standard_normal((4, 5)) * 4
    xc, xt = cr.tensor(x), torch.tensor(x)
    out, expected = module(xc), reference(xt)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-13)
    # In place, the input is the output; otherwise it is left alone.
    assert (out is xc) == (expected is xt) == bool(module.inplace)
    np.testing.assert_allclose(to_numpy(xc), to_numpy(xt), rtol=1e-13)


def test_hardtanh_module_options_as_torch() -> None:
    with pytest.warns(FutureWarning, match="min_value"):
        module = cr.nn.Hardtanh(min_value=-2.0)
    assert module.min_val == -2.0 and repr(module) == "Hardtanh(min_val=-2.0, max_val=1.0)"
    with pytest.raises(ValueError, match=re.escape("max_val (1.0) must be greater than min_val")):
        cr.nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(cr.ones(2), 2.0, 1.0)
    with pytest.raises(RuntimeError, match="alpha cannot be 0 for CELU"):
        F.celu(cr.ones(2), 0.0)


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "hardsigmoid"])
def test_a_nan_or_infinite_incoming_gradient_is_zeroed_where_torch_zeroes_it(name: str) -> None:
    """Where these layers are flat the gradient is 0 even when the incoming one is nan or
    infinite (PyTorch selects, it does not multiply by a mask); a nan input lets it through."""
    x = [-4.0, -1.0, 0.0, 1.0, 2.0, 5.0, 6.0, float("nan")]
    g = [float("nan"), float("inf"), float("nan"), -float("inf"), 2.0, float("nan"), 3.0, 1.0]
    grads = []
    for lib in (torch, cr):
        inputs = lib.tensor(x, requires_grad=True)
        getattr(lib.nn.functional, name)(inputs).backward(lib.tensor(g))
        grads.append(np.asarray(inputs.grad.detach().numpy()))
    np.testing.assert_array_equal(grads[1], grads[0])


# NumPy's warnings for s·z at ±inf and the largest float (inf·0, overflow), as other forwards give
@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered in multiply:RuntimeWarning")
@pytest.mark.parametrize("slope", [0.01, 0.5, 1.0, 0.0, 1.5, -0.3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_leaky_relu_is_torch_bit_for_bit_on_special_values(slope: float, dtype: str) -> None:
    """0 < slope ≤ 1 takes max(z, s·z) forward and grad·max(z > 0, s) backward; every slope
    gives PyTorch's values, the sign of zero and nan's place included."""
    info = np.finfo(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, info.tiny / 4, -info.tiny / 4, info.max]
    x = np.array([*special, -info.max, 1.0, -1.0, 2.5, -7.0] * 2, dtype=dtype)
    g = np.array([1.0] * 13 + [np.nan, np.inf, -np.inf, -0.0, 0.0, 3.0] + [-2.0] * 7, dtype=dtype)
    results = []
    for lib in (torch, cr):
        inputs = lib.tensor(x, requires_grad=True)
        out = lib.nn.functional.leaky_relu(inputs, slope)
        out.backward(lib.tensor(g))
        results.append([np.asarray(t.detach().numpy()) for t in (out, inputs.grad)])
    for theirs, ours in zip(*results):
        assert ours.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(ours, theirs)
        assert np.array_equal(np.signbit(ours), np.signbit(theirs))
