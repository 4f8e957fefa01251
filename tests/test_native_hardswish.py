"""Hardswish through chainrule.native's loops (native/rectifiers.py): the NumPy form's output and
gradient bit for bit, at the kinks (±3), at ±0, ±inf and nan (with nan and infinite gradients
too), in float32 and float64; PyTorch's values; the loops really run, and inputs they do not
take stay in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import native
from chainrule.nn.functional import hardswish
from loop_calls import assert_same_bits, count_calls, output_and_gradient

pytest.importorskip("numba", reason="the loops need numba: pip install 'chainrule[numba]'")


@pytest.fixture
def calls(monkeypatch) -> list:
    """Hardswish's loops called, in order."""
    return count_calls(monkeypatch, "rectifiers", ("_hardswish_loop", "_hardswish_backward_loop"))


def _values(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    z = (rng.standard_normal(4096) * 4).astype(dtype)
    special = [-3, 3, -0.0, 0.0, np.inf, -np.inf, np.nan, -2.9999, 2.9999, -1e-40, 1e30, -1e30]
    for point in (-3, 3):
        special += [np.nextafter(dtype(point), dtype(-9)), np.nextafter(dtype(point), dtype(9))]
    z[: len(special)] = special
    grad = rng.standard_normal(z.size).astype(dtype)
    grad[len(special) : len(special) + 6] = [np.nan, np.inf, -np.inf, np.nan, -0.0, 0.0]
    z[len(special) : len(special) + 6] = [-5, -5, -5, 1, 1, -4]  # nan/inf gradient where +0
    return z.reshape(64, 64), grad.reshape(64, 64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loops_are_the_numpy_form_bit_for_bit_and_pytorchs(native_switch, calls, dtype) -> None:
    z, grad = _values(dtype)
    with np.errstate(all="ignore"):
        found = {loops: output_and_gradient(hardswish, z, grad, loops) for loops in (True, False)}
    assert calls == ["_hardswish_loop", "_hardswish_backward_loop"]
    assert_same_bits(found[True], found[False])
    x = torch.tensor(z, requires_grad=True)
    y = torch.nn.functional.hardswish(x)
    y.backward(torch.tensor(grad))
    np.testing.assert_allclose(found[True][0], y.detach().numpy(), rtol=1e-6, equal_nan=True)
    # At a nan input chainrule's gradient is g, as PyTorch's scalar loop gives it (arrays of a
    # few elements); PyTorch's vectorised loop, which runs here, gives nan.
    known = ~np.isnan(z)
    np.testing.assert_allclose(
        found[True][1][known], x.grad.numpy()[known], rtol=1e-6, equal_nan=True
    )


def test_inputs_the_loops_do_not_take_stay_in_numpy(native_switch, calls) -> None:
    native.enable(True)
    z = np.linspace(-5, 5, 4096, dtype=np.float32).reshape(64, 64)
    transposed = cr.tensor(z).t()  # not C-contiguous
    out = cr.nn.functional.hardswish(transposed)
    half = cr.nn.functional.hardswish(cr.tensor(z.astype(np.float16)))
    assert not calls
    expected = torch.nn.functional.hardswish(torch.tensor(z).t()).numpy()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert half.dtype == cr.float16
