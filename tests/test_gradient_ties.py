"""Second derivatives through operations whose derivative is piecewise constant (ReLU, |x|,
max pooling...): the gradient recorded with ``create_graph=True`` depends on the input with a
zero derivative, so differentiating it again gives zeros where PyTorch gives zeros, and still
raises where PyTorch raises (chainrule.autograd.ties). Each case runs in both libraries in
float64 on the same values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def _functional(m: Any) -> Any:
    return m.nn.functional


def _values() -> np.ndarray:
    values = np.random.default_rng(7).normal(size=(2, 4))
    values[np.abs(values) < 0.05] = 0.3  # away from the kinks
    return values


TIED: dict[str, Callable[[Any, Any], Any]] = {
    "relu": lambda m, x: m.relu(x),
    "relu_in_place": lambda m, x: (x * 1).relu_(),
    "nn.ReLU": lambda m, x: m.nn.ReLU()(x),
    "relu6": lambda m, x: _functional(m).relu6(x),
    "hardtanh": lambda m, x: _functional(m).hardtanh(x, -0.5, 0.5),
    "leaky_relu": lambda m, x: _functional(m).leaky_relu(x, 0.1),
    "leaky_relu_negative_slope": lambda m, x: _functional(m).leaky_relu(x, -0.5),
    "leaky_relu_steep": lambda m, x: _functional(m).leaky_relu(x, 2.0),
    "prelu_input": lambda m, x: _functional(m).prelu(x, m.tensor([0.25], dtype=m.float64)),
    "prelu_weight": lambda m, x: _functional(m).prelu(
        m.tensor([[1.0, -2.0], [-3.0, 0.5]], dtype=m.float64), x[0, :1]
    ),
    "abs": lambda m, x: m.abs(x),
    "abs_in_place": lambda m, x: (x * 1).abs_(),
    "l1_loss_input": lambda m, x: _functional(m).l1_loss(x, m.zeros_like(x)),
    "l1_loss_target": lambda m, x: _functional(m).l1_loss(m.zeros_like(x), x, reduction="sum"),
    "vector_norm_1": lambda m, x: m.linalg.vector_norm(x, 1),
    "vector_norm_inf": lambda m, x: m.linalg.vector_norm(x, float("inf"), dim=1),
    "max_pool1d": lambda m, x: _functional(m).max_pool1d(x[None], 2),
    "max_pool2d": lambda m, x: _functional(m).max_pool2d(x[None, None], 2, 1),
    "threshold": lambda m, x: _functional(m).threshold(x, 0.1, -2.0),
    "hardshrink": lambda m, x: _functional(m).hardshrink(x, 0.2),
    "softshrink": lambda m, x: _functional(m).softshrink(x, 0.2),
    "rrelu_eval": lambda m, x: _functional(m).rrelu(x),
}

# PyTorch's formulas for these read the input only through a mask: the gradient depends on
# the incoming gradient alone, and a second derivative with respect to x raises.
UNTIED: dict[str, Callable[[Any, Any], Any]] = {
    "clamp": lambda m, x: m.clamp(x, -0.5, 0.5),
    "times_two": lambda m, x: x * 2,
    "amax": lambda m, x: m.amax(x, 1),
    "where": lambda m, x: m.where(x > 0, x, 2 * x),
}


def _first_and_second(m: Any, f: Callable, values: np.ndarray) -> tuple:
    """∂Σf/∂x recorded as a graph, and (whether it requires grad, ∂Σ(∂Σf/∂x)/∂x or None)."""
    x = m.tensor(values.copy(), requires_grad=True)
    (g,) = m.autograd.grad(f(m, x).sum(), x, create_graph=True)
    first = np.asarray(g.detach().tolist())
    if not g.requires_grad:
        return first, False, None
    (h,) = m.autograd.grad((g * g).sum(), x)
    if m is torch and h._is_zerotensor():  # PyTorch's zeros without storage
        return first, True, np.zeros(tuple(h.shape))
    return first, True, np.asarray(h.detach().tolist())


@pytest.mark.parametrize("name", sorted(TIED))
def test_second_derivative_through_a_piecewise_linear_op_is_zeros_as_in_pytorch(name: str) -> None:
    values = _values()
    first, tied, second = _first_and_second(cr, TIED[name], values)
    first_t, tied_t, second_t = _first_and_second(torch, TIED[name], values)
    np.testing.assert_allclose(first, first_t, rtol=1e-12)
    assert tied and tied_t
    np.testing.assert_array_equal(second, second_t)
    assert not second.any()


@pytest.mark.parametrize("name", sorted(UNTIED))
def test_gradient_that_depends_on_the_incoming_gradient_alone_stays_untied(name: str) -> None:
    values = _values()
    first, tied, _ = _first_and_second(cr, UNTIED[name], values)
    first_t, tied_t, _ = _first_and_second(torch, UNTIED[name], values)
    np.testing.assert_allclose(first, first_t, rtol=1e-12)
    assert not tied and not tied_t


def _relu_cnn(m: Any) -> Any:
    return m.nn.Sequential(
        m.nn.Conv2d(1, 2, 3),
        m.nn.ReLU(),
        m.nn.MaxPool2d(2),
        m.nn.Flatten(),
        m.nn.Linear(18, 4),
        m.nn.LeakyReLU(0.1),
        m.nn.Linear(4, 1),
    ).double()


def _input_hessian_and_penalty_grads(m: Any, net: Any, values: np.ndarray) -> list:
    """The input gradient of a ReLU network, its own input gradient (zeros: the network is
    piecewise linear in x) and the parameters' gradients of the penalty ‖∂y/∂x‖²."""
    x = m.tensor(values.copy(), requires_grad=True)
    (g,) = m.autograd.grad(net(x).sum(), x, create_graph=True)
    (h,) = m.autograd.grad(g.sum(), x, retain_graph=True)
    penalty = m.autograd.grad((g * g).sum(), list(net.parameters()), allow_unused=True)
    return [g, h, *penalty]


def test_relu_network_input_hessian_and_gradient_penalty_match_pytorch() -> None:
    torch.manual_seed(0)
    expected_net = _relu_cnn(torch)
    net = _relu_cnn(cr)
    for parameter, source in zip(net.parameters(), expected_net.parameters()):
        parameter.data = cr.tensor(source.detach().numpy().copy())
    values = np.random.default_rng(3).normal(size=(2, 1, 8, 8))
    actual = _input_hessian_and_penalty_grads(cr, net, values)
    expected = _input_hessian_and_penalty_grads(torch, expected_net, values)
    assert len(actual) == len(expected) == 8
    for a, e in zip(actual, expected):
        if e is None:  # the last bias: no path from it to ∂y/∂x, in either library
            assert a is None
            continue
        np.testing.assert_allclose(
            np.asarray(a.detach().tolist()), e.detach().numpy(), rtol=1e-10, atol=1e-12
        )
    assert not np.asarray(actual[1].tolist()).any()  # the input Hessian's row sums: zeros


def test_third_derivative_through_a_tie_is_zeros() -> None:
    x = cr.tensor(_values(), requires_grad=True)
    (g,) = cr.autograd.grad(cr.relu(x).pow(3).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x, create_graph=True)
    (k,) = cr.autograd.grad(h.sum(), x)
    xt = torch.tensor(_values(), requires_grad=True)
    (gt,) = torch.autograd.grad(torch.relu(xt).pow(3).sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt, create_graph=True)
    (kt,) = torch.autograd.grad(ht.sum(), xt)
    for a, e in ((g, gt), (h, ht), (k, kt)):
        np.testing.assert_allclose(np.asarray(a.detach().tolist()), e.detach().numpy(), rtol=1e-12)


def test_first_order_backward_records_no_tie() -> None:
    x = cr.tensor(_values(), requires_grad=True)
    cr.relu(x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad
