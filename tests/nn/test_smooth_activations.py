"""The smooth activations (functional and modules): GELU, SiLU, Mish, Softplus, Softsign and
Tanhshrink against PyTorch, mpmath and finite differences."""

from __future__ import annotations

import warnings
import zlib
from typing import Any

import mpmath
import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TOLERANCE = {"float32": (1e-5, 1e-6), "float64": (1e-12, 1e-13)}


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def ulps(actual: np.ndarray, exact: np.ndarray) -> np.ndarray:
    return np.abs(actual - exact) / np.spacing(np.abs(exact))


# ---- activations against torch ------------------------------------------------------------------

ACTIVATIONS = {
    "gelu": (lambda x: F.gelu(x), lambda x: torch.nn.functional.gelu(x)),
    "gelu-tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    ),
    "silu": (F.silu, torch.nn.functional.silu),
    "softplus": (F.softplus, torch.nn.functional.softplus),
    "softplus-beta": (
        lambda x: F.softplus(x, beta=2.0, threshold=5.0),
        lambda x: torch.nn.functional.softplus(x, beta=2.0, threshold=5.0),
    ),
    "mish": (F.mish, torch.nn.functional.mish),
    "softsign": (F.softsign, torch.nn.functional.softsign),
    "tanhshrink": (F.tanhshrink, torch.nn.functional.tanhshrink),
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "tanh": (F.tanh, torch.tanh),
}


def activation_inputs(dtype: str, key: str) -> np.ndarray:
    rng = rng_for(key, dtype)
    # Ordinary values, the branch points (0, and βx = threshold), and far tails.
    special = [0.0, -0.0, 2.5, 2.5000001, 20.0, 20.00001, -700.0, -40.0, 40.0, 800.0, 1e-8]
    return np.concatenate([rng.standard_normal(60) * 4, special]).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(name: str, dtype: str) -> None:
    ours, theirs = ACTIVATIONS[name]
    x = activation_inputs(dtype, name)
    upstream = rng_for(name, dtype, "upstream").standard_normal(x.shape).astype(dtype)
    xc = cr.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings in the tails
        out = ours(xc)
        out.backward(cr.tensor(upstream))
    assert out.dtype == np.dtype(dtype) and xc.grad.dtype == np.dtype(dtype)
    # float32 results are held to float32 precision against torch in float64 (the exact value
    # for these inputs), and more loosely against torch's own float32 results, which lose
    # digits where ours do not (GELU-tanh's 1 + tanh u for x < −4).
    references = {"float64": (TOLERANCE["float64"], np.float64)}
    if dtype == "float32":
        references = {
            "float64": (TOLERANCE["float32"], np.float64),
            "float32": ((1e-4, 1e-5), None),
        }
    for reference_dtype, ((rtol, atol), cast) in references.items():
        xt = torch.tensor(x.astype(reference_dtype), requires_grad=True)
        expected = theirs(xt)
        expected.backward(torch.tensor(upstream.astype(reference_dtype)))
        what = f"{name} {dtype} against torch {reference_dtype}"
        for actual, wanted in ((out, expected), (xc.grad, xt.grad)):
            np.testing.assert_allclose(
                to_numpy(actual).astype(cast or dtype),
                to_numpy(wanted),
                rtol=rtol,
                atol=atol,
                err_msg=what,
            )


def test_gelu_is_accurate_to_1e_12_against_torch_on_a_wide_grid() -> None:
    x = np.linspace(-12, 12, 200_001)
    for approximate in ("none", "tanh"):
        xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = F.gelu(xc, approximate=approximate)
        expected = torch.nn.functional.gelu(xt, approximate=approximate)
        out.sum().backward()
        expected.sum().backward()
        assert np.abs(to_numpy(out) - to_numpy(expected)).max() < 1e-12
        assert np.abs(to_numpy(xc.grad) - to_numpy(xt.grad)).max() < 1e-12
    # In the far left tail x Φ(x) keeps its relative accuracy (torch's 1 + erf rounds to 0).
    tail = to_numpy(F.gelu(cr.tensor(np.array([-10.0]))))[0]
    mpmath.mp.dps = 30
    exact = float(-10 * mpmath.ncdf(-10))
    assert abs(tail - exact) <= 1e-14 * abs(exact)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradcheck(name: str) -> None:
    ours, _ = ACTIVATIONS[name]
    # Away from softplus's threshold, where its derivative jumps.
    x = cr.tensor(np.array([-3.1, -1.2, -0.4, 0.3, 1.7, 2.2, 4.4]), requires_grad=True)
    assert cr.gradcheck(ours, [x])


MODULES = {
    "GELU": ((), {}),
    "GELU-tanh": ((), {"approximate": "tanh"}),
    "SiLU": ((), {}),
    "SiLU-inplace": ((), {"inplace": True}),
    "Mish": ((), {}),
    "Mish-inplace": ((True,), {}),
    "Softsign": ((), {}),
    "Tanhshrink": ((), {}),
    "Sigmoid": ((), {}),
    "Tanh": ((), {}),
    "Softplus": ((), {}),
    "Softplus-options": ((), {"beta": 3.0, "threshold": 4.0}),
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
    x = np.random.default_rng(3).standard_normal((4, 5))
    np.testing.assert_allclose(
        to_numpy(module(cr.tensor(x))), to_numpy(reference(torch.tensor(x))), rtol=1e-12
    )


def test_bad_gelu_approximation_is_an_error() -> None:
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(cr.ones(2), approximate="sigmoid")
    with pytest.raises(ValueError, match="GELU"):
        cr.nn.GELU("fast")
