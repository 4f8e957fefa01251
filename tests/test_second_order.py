"""Second derivatives of every smooth operation in tests/op_cases.py.

For each case, in float64: the first derivative is taken with ``create_graph=True`` and with a
random upstream gradient v that itself requires grad; a random weighting of it is then
differentiated again, with respect to the inputs and to v. The results must match PyTorch's
double backward on the same values, and gradgradcheck (central finite differences of the first
derivative) must pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from op_cases import CASES, Case
from op_cases_pooling_bags import TORCH_DOUBLE_BACKWARD
from test_ops import join, rng_for, to_numpy

SMOOTH = [c for c in CASES if c.differentiable and c.smooth]


def _cdist_by_norms(x: torch.Tensor, y: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    return torch.linalg.vector_norm(x[..., :, None, :] - y[..., None, :, :], ord=p, dim=-1)


def torch_reference(case: Case) -> Any:
    """PyTorch's function for ``case``, or, where PyTorch has no double backward (cdist and
    hardsigmoid: their backward is not differentiable there), the same function composed of
    operations that have one."""
    if case.id == "hardsigmoid":
        # the case's hardsigmoid(x * 4), with the slope PyTorch's backward uses: 1/6 in float32
        slope = float(np.float32(1 / 6))
        return lambda x: (x * 4 * slope + 0.5).clamp(0, 1)
    if case.id in TORCH_DOUBLE_BACKWARD:
        return TORCH_DOUBLE_BACKWARD[case.id]
    if case.id.startswith("cdist"):
        p = float(case.id.removeprefix("cdist_p")) if case.id.startswith("cdist_p") else 2.0
        return lambda x, y: _cdist_by_norms(x, y, p)
    return case.th


def second_derivatives(m: Any, fn: Any, arrays: list, rng_seed: int) -> list:
    """∂/∂(inputs, v) of Σᵢ ⟨wᵢ, ∂⟨fn(inputs), v⟩/∂inputᵢ⟩, as NumPy arrays (zeros for None)."""
    rng = np.random.default_rng(rng_seed)
    xs = [m.tensor(a, dtype=m.float64, requires_grad=True) for a in arrays]
    out = join(m, fn(*xs))
    v = m.tensor(rng.standard_normal(tuple(out.shape)), dtype=m.float64, requires_grad=True)
    grads = m.autograd.grad(out, xs, v, create_graph=True, allow_unused=True)
    total = None
    for g in grads:
        if g is None:
            continue
        w = m.tensor(rng.standard_normal(tuple(g.shape)), dtype=m.float64)
        term = (g * w).sum()
        total = term if total is None else total + term
    wrt = [*xs, v]
    if total is None or not total.requires_grad:
        return [np.zeros(a.shape) for a in [*arrays, to_numpy(v)]]
    seconds = m.autograd.grad(total, wrt, allow_unused=True)
    return [np.zeros(tuple(x.shape)) if s is None else to_numpy(s) for s, x in zip(seconds, wrt)]


@pytest.mark.parametrize("case", SMOOTH, ids=lambda c: c.id)
def test_second_derivatives_match_torch(case: Case) -> None:
    arrays = case.inputs(rng_for("second", case.id))
    ours = second_derivatives(cr, case.cr, arrays, 7)
    theirs = second_derivatives(torch, torch_reference(case), arrays, 7)
    assert len(ours) == len(theirs)
    for i, (a, e) in enumerate(zip(ours, theirs)):
        scale = max(1.0, float(np.abs(e).max())) if e.size else 1.0
        np.testing.assert_allclose(
            a, e, rtol=1e-8, atol=1e-10 * scale, err_msg=f"{case.id}: second derivative {i}"
        )


@pytest.mark.parametrize("case", SMOOTH, ids=lambda c: c.id)
def test_gradgradcheck(case: Case) -> None:
    arrays = case.inputs(rng_for("gradgradcheck", case.id))
    inputs = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    fn = lambda *xs: join(cr, case.cr(*xs))  # noqa: E731
    assert cr.autograd.gradgradcheck(fn, inputs, **case.gradcheck_kw) is True
