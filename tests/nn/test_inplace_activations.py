"""Activations with ``inplace=True`` (and their ``relu_``-style twins) against PyTorch: the same
tensor comes back with the new values and a new version, the gradient is PyTorch's, and what
PyTorch refuses (a leaf that requires grad, a graph whose saved values were overwritten) is
refused too."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F  # noqa: N812 - PyTorch's convention

TF = torch.nn.functional

# name -> fn(F, x) that changes x in place; the same call in both libraries.
INPLACE: dict[str, Any] = {
    "relu": lambda f, x: f.relu(x, inplace=True),
    "relu_": lambda f, x: f.relu_(x),
    "leaky_relu": lambda f, x: f.leaky_relu(x, 0.2, inplace=True),
    "leaky_relu_": lambda f, x: f.leaky_relu_(x, 0.1),
    "elu": lambda f, x: f.elu(x, 0.7, inplace=True),
    "elu_": lambda f, x: f.elu_(x),
    "selu": lambda f, x: f.selu(x, inplace=True),
    "selu_": lambda f, x: f.selu_(x),
    "celu": lambda f, x: f.celu(x, 0.5, inplace=True),
    "celu_": lambda f, x: f.celu_(x, 2.0),
    "relu6": lambda f, x: f.relu6(x * 4, inplace=True),
    "hardtanh": lambda f, x: f.hardtanh(x, -0.5, 0.5, inplace=True),
    "hardtanh_": lambda f, x: f.hardtanh_(x),
    "hardsigmoid": lambda f, x: f.hardsigmoid(x * 4, inplace=True),
    "hardswish": lambda f, x: f.hardswish(x * 4, inplace=True),
    "silu": lambda f, x: f.silu(x, inplace=True),
    "mish": lambda f, x: f.mish(x, inplace=True),
}


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_activation_matches_torch(name: str) -> None:
    fn = INPLACE[name]
    rng = rng_for(name)
    # Away from the kinks (0, ±0.5, ±3, 6 after the scaling by 4), where finite differences work.
    x = rng.choice([-1, 1], (3, 4)) * rng.uniform(0.05, 0.4, (3, 4)) * 1.1
    upstream = rng.standard_normal((3, 4))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    hidden_c, hidden_t = xc * 1.5, xt * 1.5  # not a leaf: it may change in place
    version = hidden_c._version
    out_c, out_t = fn(F, hidden_c), fn(TF, hidden_t)
    # Functions that scale first (relu6(x * 4)) change the temporary, as in PyTorch.
    assert (out_c is hidden_c) == (out_t is hidden_t)
    if out_c is hidden_c:
        assert hidden_c._version == version + 1
    np.testing.assert_allclose(to_numpy(out_c), to_numpy(out_t), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(to_numpy(hidden_c), to_numpy(hidden_t), rtol=1e-13, atol=1e-15)
    out_c.backward(cr.tensor(upstream))
    out_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-12, atol=1e-14)
    # ... and the gradient is the derivative: finite differences through the in-place graph.
    probe = cr.tensor(x, requires_grad=True)
    assert cr.gradcheck(lambda t: fn(F, t * 1.5), [probe])


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_activation_outside_a_graph_writes_the_input(name: str) -> None:
    fn = INPLACE[name]
    x = rng_for(name, "no graph").standard_normal(5) * 3
    xc, xt = cr.tensor(x), torch.tensor(x)
    out_c, out_t = fn(F, xc), fn(TF, xt)
    assert (out_c is xc) == (out_t is xt)
    np.testing.assert_allclose(to_numpy(xc), to_numpy(xt), rtol=1e-13)
    leaf = cr.tensor(x, requires_grad=True)
    with cr.no_grad():
        fn(F, leaf)  # parameters may change in place under no_grad, as in PyTorch


@pytest.mark.parametrize(
    "name", [n for n in INPLACE if n not in ("relu6", "hardsigmoid", "hardswish")]
)
def test_inplace_activation_of_a_leaf_that_requires_grad_is_refused(name: str) -> None:
    fn = INPLACE[name]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        fn(TF, torch.ones(3, requires_grad=True))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        fn(F, cr.ones(3, requires_grad=True))


@pytest.mark.parametrize("name", ["relu", "elu", "hardtanh_", "silu", "mish"])
def test_overwriting_a_value_another_operation_saved_fails_at_backward(name: str) -> None:
    """x * w saves x for ∂/∂w; changing x in place afterwards makes that backward wrong, so
    both libraries refuse to run it."""
    fn = INPLACE[name]
    for m, f in ((cr, F), (torch, TF)):
        w = m.ones(3, requires_grad=True)
        x = m.tensor([0.5, -1.0, 2.0]) * m.ones(3, requires_grad=True)
        product = x * w
        fn(f, x)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            product.sum().backward()


def test_overwriting_the_output_of_its_own_maker_keeps_an_exact_gradient() -> None:
    """sigmoid saves its output; relu_ of that output is refused by PyTorch at backward, while
    chainrule keeps a copy for sigmoid (ops/inplace.py) and gives the exact gradient: that of
    the out-of-place composition."""
    x = np.array([-1.5, -0.2, 0.3, 2.0])
    xc = cr.tensor(x, requires_grad=True)
    F.relu(F.sigmoid(xc) - 0.5, inplace=True).sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    TF.relu(torch.sigmoid(xt) - 0.5).sum().backward()
    np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-14)
    xc.grad = None
    y = F.sigmoid(xc)
    F.silu(y, inplace=True).sum().backward()
    xt.grad = None
    TF.silu(torch.sigmoid(xt)).sum().backward()
    np.testing.assert_allclose(to_numpy(xc.grad), to_numpy(xt.grad), rtol=1e-14)


def test_inplace_activation_through_a_view_changes_the_base() -> None:
    x = rng_for("view").standard_normal((3, 4))
    results = []
    for m, f in ((cr, F), (torch, TF)):
        leaf = m.tensor(x, requires_grad=True)
        base = leaf * 2
        f.elu(base[1:], inplace=True)
        (base * m.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
        results.append((to_numpy(base), to_numpy(leaf.grad)))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-13)


def test_inplace_relu_module_in_a_network_matches_torch() -> None:
    cr.manual_seed(0)
    ours = cr.nn.Sequential(cr.nn.Linear(4, 5), cr.nn.ReLU(inplace=True), cr.nn.Linear(5, 2))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 5), torch.nn.ReLU(inplace=True), torch.nn.Linear(5, 2)
    )
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.tensor(to_numpy(p)))
    x = rng_for("network").standard_normal((6, 4)).astype(np.float32)
    (ours(cr.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(to_numpy(p.grad), to_numpy(q.grad), rtol=1e-5, atol=1e-6)
