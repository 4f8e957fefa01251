"""chainrule.nn.utils against torch.nn.utils: gradient clipping by norm and by value, and
flattening parameters into a vector and back."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.utils
from chainrule.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def twins(scale: float, dtype: str, seed: int) -> tuple[list, list]:
    """Parameters with gradients in both libraries (the same values); one without a gradient."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (4,), (), (2, 2, 2)]
    ours, theirs = [], []
    for shape in shapes:
        value, grad = rng.standard_normal(shape), rng.standard_normal(shape) * scale
        p = cr.nn.Parameter(cr.tensor(value.astype(dtype)))
        q = torch.nn.Parameter(torch.tensor(value.astype(dtype)))
        p.grad, q.grad = cr.tensor(grad.astype(dtype)), torch.tensor(grad.astype(dtype))
        ours.append(p)
        theirs.append(q)
    ours.append(cr.nn.Parameter(cr.ones(2, dtype=dtype)))  # no gradient: skipped by both
    theirs.append(torch.nn.Parameter(torch.ones(2, dtype=getattr(torch, dtype))))
    return ours, theirs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, "inf"])
@pytest.mark.parametrize("scale", [0.01, 10.0], ids=["below-max", "above-max"])
def test_clip_grad_norm_matches_torch(scale: float, norm_type: Any, dtype: str) -> None:
    ours, theirs = twins(scale, dtype, seed=int(scale * 100))
    max_norm = 1.5
    total = clip_grad_norm_(iter(ours), max_norm, norm_type)  # a generator, as from .parameters()
    expected = torch.nn.utils.clip_grad_norm_(iter(theirs), max_norm, norm_type)
    assert isinstance(total, cr.Tensor) and total.shape == () and total.dtype == np.dtype(dtype)
    rtol = 1e-6 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(to_numpy(total), to_numpy(expected), rtol=rtol)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(to_numpy(p.grad), to_numpy(q.grad), rtol=rtol, atol=1e-7)
    grads = [to_numpy(p.grad) for p in ours if p.grad is not None]
    order = float(norm_type)
    if scale > 1:  # clipped: the new joint norm is max_norm (up to the 1e-6 in the divisor)
        flat = np.concatenate([g.reshape(-1) for g in grads]).astype(np.float64)
        assert abs(np.linalg.norm(flat, order) - max_norm) < 1e-5 * max_norm


def test_clip_grad_norm_edge_cases() -> None:
    p = cr.nn.Parameter(cr.tensor([3.0, 4.0]))
    p.grad = cr.tensor([3.0, 4.0])
    grad = p.grad
    total = clip_grad_norm_(p, 1.0)  # a single tensor
    assert float(total) == 5.0
    assert p.grad is grad  # scaled in place
    np.testing.assert_allclose(to_numpy(p.grad), [0.6, 0.8], rtol=1e-6)
    assert float(clip_grad_norm_([cr.nn.Parameter(cr.ones(2))], 1.0)) == 0.0  # no gradients
    p.grad = cr.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="error_if_nonfinite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(p, 1.0, norm_type=-1)


def test_clip_grad_norm_after_a_real_backward_matches_torch() -> None:
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))
    model.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32) * 5
    (model(cr.tensor(x)) ** 2).sum().backward()
    (reference(torch.tensor(x)) ** 2).sum().backward()
    total = clip_grad_norm_(model.parameters(), 0.5)
    expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-5)
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(to_numpy(p.grad), to_numpy(q.grad), rtol=1e-5, atol=1e-7)


def test_clip_grad_value_matches_torch() -> None:
    ours, theirs = twins(2.0, "float64", seed=3)
    assert clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(to_numpy(p.grad), to_numpy(q.grad))
    assert max(np.abs(to_numpy(p.grad)).max() for p in ours if p.grad is not None) == 0.7


def test_parameters_to_vector_and_back_match_torch() -> None:
    torch.manual_seed(1)
    reference = torch.nn.Linear(3, 2)
    layer = cr.nn.Linear(3, 2)
    layer.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})
    vec = parameters_to_vector(layer.parameters())
    expected = torch.nn.utils.parameters_to_vector(reference.parameters())
    np.testing.assert_array_equal(to_numpy(vec), to_numpy(expected))
    (vec * cr.arange(8.0)).sum().backward()  # differentiable, as torch's
    np.testing.assert_array_equal(to_numpy(layer.weight.grad), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(to_numpy(layer.bias.grad), [6.0, 7.0])

    new = cr.tensor(np.arange(10.0, 18.0, dtype=np.float32))
    vector_to_parameters(new, layer.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(10.0, 18.0), reference.parameters())
    for p, q in zip(layer.parameters(), reference.parameters()):
        np.testing.assert_array_equal(to_numpy(p), to_numpy(q))
    new.data[0] = -1.0  # the parameters view the vector, as in torch
    assert to_numpy(layer.weight)[0, 0] == -1.0


def test_vector_to_parameters_errors_and_module_import() -> None:
    layer = cr.nn.Linear(3, 2)
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.zeros(8), layer.parameters())
    with pytest.raises(ValueError, match="8 elements"):
        vector_to_parameters(cr.zeros(7), layer.parameters())
    assert chainrule.nn.utils.clip_grad_norm_ is clip_grad_norm_
    assert cr.nn.utils is chainrule.nn.utils
