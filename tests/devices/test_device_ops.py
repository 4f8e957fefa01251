"""Every case of the op table (tests/op_cases.py) run on "cuda" against the same case on the CPU.

The CPU results are proven against PyTorch and finite differences in tests/test_ops.py; here
the forward values, dtypes and the gradients computed on the device must equal them, the
results must stay on the device, and no NumPy array may leak into device code (the emulator
raises where CuPy would).
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from op_cases import CASES, Case

DIFFERENTIABLE = [c for c in CASES if c.differentiable]
NOT_DIFFERENTIABLE = [c for c in CASES if not c.differentiable]


def _rng(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def _join(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return cr.cat([piece.reshape(-1) for piece in out])
    return out


def _host(t: cr.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _run(case: Case, arrays: list, upstream: Any, grad: bool) -> tuple:
    xs = [cr.tensor(a, requires_grad=grad) for a in arrays]
    out = _join(case.cr(*xs))
    grads = []
    if grad:
        out.backward(cr.tensor(upstream))
        grads = [x.grad for x in xs]
    return out, grads, xs


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_forward_backward_on_cuda_equal_the_cpu(case: Case, on_cuda: None) -> None:
    rng = _rng("device", case.id)
    arrays = case.inputs(rng)
    cr.set_default_device("cpu")
    expected, expected_grads, _ = _run(case, arrays, None, grad=False)
    upstream = rng.standard_normal(expected.shape).astype(np.float64)
    expected, expected_grads, _ = _run(case, arrays, upstream, grad=True)
    cr.set_default_device("cuda")
    out, grads, _xs = _run(case, arrays, upstream, grad=True)
    assert out.device == "cuda:0", f"{case.id}: the result is on {out.device}"
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(_host(out), _host(expected), rtol=1e-12, atol=1e-12)
    for i, (g, e) in enumerate(zip(grads, expected_grads)):
        assert (g is None) == (e is None), f"{case.id}: gradient {i}"
        if g is not None:
            assert g.device == "cuda:0", f"{case.id}: gradient {i} is on {g.device}"
            np.testing.assert_allclose(_host(g), _host(e), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", NOT_DIFFERENTIABLE, ids=lambda c: c.id)
def test_indices_and_comparisons_on_cuda_equal_the_cpu(case: Case, on_cuda: None) -> None:
    arrays = case.inputs(_rng("device-nograd", case.id))
    cr.set_default_device("cpu")
    expected = case.cr(*[cr.tensor(a) for a in arrays])
    cr.set_default_device("cuda")
    out = case.cr(*[cr.tensor(a) for a in arrays])
    assert out.device == "cuda:0"
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(_host(out), _host(expected))
