"""Second derivatives on "cuda" equal those on the CPU.

``autograd.grad(..., create_graph=True)`` runs every backward on tensors with the arithmetic
namespace of :mod:`chainrule.autograd.graph_numpy`; on the device its constants and plain-array
fallbacks must come from the device's module, and the nodes it records must run their own
backward on the device again. For every smooth case of the op table (tests/op_cases.py), an
MLP's Hessian-vector product and ``func.grad(func.grad(f))``, the second derivatives computed
on "cuda" must equal the CPU's (which tests/test_second_order.py proves against PyTorch's
double backward) and stay on the device.
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

SMOOTH = [c for c in CASES if c.differentiable and c.smooth]
# Every other smooth case, chosen by a hash of its id: about half, the same in every run.
SAMPLE = SMOOTH


def _rng(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def _join(out: Any) -> cr.Tensor:
    if isinstance(out, (tuple, list)):
        return cr.cat([piece.reshape(-1) for piece in out])
    return out


def _host(t: cr.Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu().tolist(), dtype=np.float64)


def _second_derivatives(fn: Any, arrays: list, seed: int, device: str) -> list:
    """∂/∂(inputs, v) of Σᵢ ⟨wᵢ, ∂⟨fn(inputs), v⟩/∂inputᵢ⟩ with every tensor made on
    ``device`` (the constants that ``fn`` makes too); None where the result does not depend
    on that argument."""
    cr.set_default_device(device)
    rng = np.random.default_rng(seed)
    xs = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    out = _join(fn(*xs))
    v = cr.tensor(rng.standard_normal(tuple(out.shape)), requires_grad=True)
    grads = cr.autograd.grad(out, xs, v, create_graph=True, allow_unused=True)
    total = None
    for g in grads:
        if g is None:
            continue
        assert g.device.type == device
        w = cr.tensor(rng.standard_normal(tuple(g.shape)))
        term = (g * w).sum()
        total = term if total is None else total + term
    wrt = [*xs, v]
    if total is None or not total.requires_grad:
        return [None] * len(wrt)
    return list(cr.autograd.grad(total, wrt, allow_unused=True))


@pytest.mark.parametrize("case", SMOOTH, ids=lambda c: c.id)
def test_second_derivatives_on_cuda_equal_the_cpu(case: Case, on_cuda: None) -> None:
    arrays = case.inputs(_rng("device-second", case.id))
    expected = _second_derivatives(case.cr, arrays, 7, "cpu")
    found = _second_derivatives(case.cr, arrays, 7, "cuda")
    assert len(found) == len(expected)
    for i, (f, e) in enumerate(zip(found, expected)):
        assert (f is None) == (e is None), f"{case.id}: second derivative {i}"
        if f is not None:
            assert f.device == "cuda:0", f"{case.id}: second derivative {i} is on {f.device}"
            np.testing.assert_allclose(_host(f), _host(e), rtol=1e-10, atol=1e-12)


# ---- a network's curvature ----------------------------------------------------------------------


def _mlp_and_batch(device: str) -> tuple:
    cr.manual_seed(3)  # the same weights on both devices: drawn on the CPU, then moved
    model = cr.nn.Sequential(
        cr.nn.Linear(5, 8), cr.nn.Tanh(), cr.nn.Linear(8, 8), cr.nn.GELU(), cr.nn.Linear(8, 3)
    ).double()
    model.to(device)
    rng = _rng("mlp-batch")
    x = cr.tensor(rng.standard_normal((6, 5)), device=device)
    target = cr.tensor(rng.integers(0, 3, 6), device=device)
    vector = [
        cr.tensor(rng.standard_normal(tuple(p.shape)), device=device) for p in model.parameters()
    ]
    return model, x, target, vector


def _hessian_vector_product(device: str, through_backward: bool) -> list:
    """H v for the cross-entropy of a small MLP over its parameters: ∂⟨∇L, v⟩/∂θ, by
    ``autograd.grad`` twice, or by ``grad(create_graph=True)`` and then ``backward()``."""
    model, x, target, vector = _mlp_and_batch(device)
    params = list(model.parameters())
    loss = cr.nn.functional.cross_entropy(model(x), target)
    grads = cr.autograd.grad(loss, params, create_graph=True)
    assert all(g.requires_grad and g.device.type == device for g in grads)
    dot = sum((g * v).sum() for g, v in zip(grads, vector))
    if through_backward:
        for p in params:
            p.grad = None
        dot.backward()  # the engine's walk over the nodes the recorded backward made
        return [p.grad for p in params]
    return list(cr.autograd.grad(dot, params))


@pytest.mark.parametrize("through_backward", [False, True], ids=["grad", "backward"])
def test_mlp_hessian_vector_product_on_cuda_equals_the_cpu(
    through_backward: bool, cuda_device: str
) -> None:
    expected = _hessian_vector_product("cpu", through_backward)
    found = _hessian_vector_product("cuda", through_backward)
    for i, (f, e) in enumerate(zip(found, expected)):
        assert f.device == "cuda:0", f"H v, parameter {i}, is on {f.device}"
        np.testing.assert_allclose(_host(f), _host(e), rtol=1e-10, atol=1e-12)
    # Not zero: the product would be 0 everywhere if the second walk lost the recorded terms.
    assert max(float(abs(_host(e)).max()) for e in expected) > 1e-3


def test_func_grad_of_grad_on_cuda_equals_the_cpu(cuda_device: str) -> None:
    """f(x) = Σ sin(x)·x³ + logsumexp(x): grad(grad(Σ ...)) is f's Hessian diagonal summed
    into a gradient, d/dx of Σⱼ ∂f/∂xⱼ."""

    def f(x: cr.Tensor) -> cr.Tensor:
        return (x.sin() * x**3).sum() + x.logsumexp(0)

    def outer(x: cr.Tensor) -> cr.Tensor:
        return cr.func.grad(f)(x).sum()

    values = _rng("func-grad").standard_normal(7)
    expected = cr.func.grad(outer)(cr.tensor(values))
    found = cr.func.grad(outer)(cr.tensor(values, device="cuda"))
    assert found.device == "cuda:0"
    np.testing.assert_allclose(_host(found), _host(expected), rtol=1e-12, atol=1e-12)
    # And the derivative written out: the sin·x³ terms are separate, so their part is the
    # second derivative of each; logsumexp's part, Σⱼ ∂²lse/∂xⱼ∂xᵢ = pᵢ − pᵢ Σⱼ pⱼ, is 0.
    x = values
    second = -np.sin(x) * x**3 + 6 * np.cos(x) * x**2 + 6 * np.sin(x) * x
    np.testing.assert_allclose(_host(found), second, rtol=1e-10, atol=1e-10)
