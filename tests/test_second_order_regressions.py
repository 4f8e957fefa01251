"""Second-order cases that the second-order gradient fuzzer found, each checked against PyTorch in
float64 (tests/test_gradient_fuzz_second_order.py draws the programs)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import chainrule as cr


def _numpy(value: Any) -> np.ndarray:
    return np.array(value.detach().numpy(), dtype=np.float64)


def _retained_grad_then_first_order(m: Any) -> list[np.ndarray]:
    """backward(create_graph=True) where a retained .grad and a leaf's .grad are one gradient
    (scatter_add passes it to ``x`` unchanged), then a plain backward that adds to both."""
    x = m.tensor([[0.5, -1.0]], dtype=m.float64, requires_grad=True)
    y = x.scatter_add(0, m.tensor([[0]]), m.tensor([[0.25]], dtype=m.float64))
    y.retain_grad()
    out = ((y + 1) ** 2).sum()
    out.backward(create_graph=True)
    out.backward()
    return [_numpy(x.grad), _numpy(y.grad)]


def test_retained_grad_of_create_graph_backward_is_a_tensor_of_its_own() -> None:
    expected = _retained_grad_then_first_order(torch)
    actual = _retained_grad_then_first_order(cr)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12)


def _grad_then_second_order(m: Any) -> tuple[np.ndarray, np.ndarray]:
    """autograd.grad(create_graph=True) returns x's gradient, which is also the retained .grad
    of y; the second grad then adds to y.grad and must leave the returned gradient alone."""
    x = m.tensor([[0.5, -1.0]], dtype=m.float64, requires_grad=True)
    y = x.scatter_add(0, m.tensor([[0]]), m.tensor([[0.25]], dtype=m.float64))
    y.retain_grad()
    v = m.tensor([[1.5, -2.0]], dtype=m.float64, requires_grad=True)
    (g,) = m.autograd.grad((y + 1) ** 2, [x], v, create_graph=True)
    (h,) = m.autograd.grad((g * g).sum(), [x])
    return _numpy(g), _numpy(h)


def test_gradient_returned_by_grad_survives_a_second_grad() -> None:
    expected = _grad_then_second_order(torch)
    actual = _grad_then_second_order(cr)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12)


def _ignored_sample_under_an_infinite_gradient(m: Any, logits: bool) -> np.ndarray:
    """√ of a per-sample loss that is 0 for the ignored sample: ∂√y/∂y = ∞ there, and PyTorch
    gives that sample (and, for nll_loss, every entry but the targets) a gradient of 0."""
    x = m.tensor([[0.5, -1.0], [0.2, -0.1]], dtype=m.float64, requires_grad=True)
    loss = m.nn.functional.cross_entropy if logits else m.nn.functional.nll_loss
    y = loss(x, m.tensor([0, 1]), reduction="none", ignore_index=0)
    (y.abs().sqrt().sum()).backward()
    return _numpy(x.grad)


def test_loss_of_an_ignored_sample_passes_no_infinite_gradient() -> None:
    for logits in (False, True):
        expected = _ignored_sample_under_an_infinite_gradient(torch, logits)
        actual = _ignored_sample_under_an_infinite_gradient(cr, logits)
        np.testing.assert_allclose(actual, expected, rtol=1e-12)


def _norm_of_ignored_losses(m: Any) -> list[np.ndarray]:
    """The fuzzer's program: the 2-norm of an ignored sample's loss is at 0, where its second
    derivative is nan; nll_loss's backward must give the ignored sample 0, not 0·nan."""
    x = m.tensor([[0.5, -0.25]], dtype=m.float64, requires_grad=True)
    log_p = m.nn.functional.log_softmax(x * 2.0, dim=1)
    y = m.nn.functional.nll_loss(log_p, m.tensor([0]), reduction="none", ignore_index=0)
    v = m.tensor(1.25, dtype=m.float64, requires_grad=True)
    (g,) = m.autograd.grad(m.linalg.vector_norm(y * 16.0), [x], v, create_graph=True)
    s = (g * m.tensor([[0.75, -1.5]], dtype=m.float64)).sum()
    return [_numpy(h) for h in m.autograd.grad(s, [x, v])] + [_numpy(g)]


def test_second_derivative_through_an_ignored_sample_is_zero() -> None:
    expected = _norm_of_ignored_losses(torch)
    actual = _norm_of_ignored_losses(cr)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-12)


def _prelu_of_no_channels(m: Any) -> list[np.ndarray]:
    x = m.zeros((2, 0, 3), dtype=m.float64, requires_grad=True)
    w = m.zeros((0,), dtype=m.float64, requires_grad=True)
    m.nn.functional.prelu(x, w).sum().backward()
    return [_numpy(x.grad), _numpy(w.grad)]


def test_prelu_of_no_channels_has_empty_gradients() -> None:
    for a, e in zip(_prelu_of_no_channels(cr), _prelu_of_no_channels(torch)):
        assert a.shape == e.shape


def test_prelu_second_derivatives_at_zero_follow_pytorch() -> None:
    """At z = 0 PyTorch's first derivative of prelu is w·v, but its double backward varies that
    gradient as v alone (∂g/∂v = 1, nothing through w): a convention at the kink, which
    chainrule follows so that second derivatives through prelu match PyTorch's, also where v
    itself depends on z (the fuzzer found (2·prelu(z))² at z = 0)."""
    z = np.array([0.0, -1.0, 2.0, 0.0])

    def seconds(m: Any) -> list:
        x = m.tensor(z, dtype=m.float64, requires_grad=True)
        w = m.tensor([0.25], dtype=m.float64, requires_grad=True)
        v = m.tensor([1.5, -2.0, 0.5, 1.0], dtype=m.float64, requires_grad=True)
        out = m.nn.functional.prelu(x, w)
        gx, gw = m.autograd.grad(((out * 2) ** 2 * v).sum(), [x, w], create_graph=True)
        total = (gx * m.tensor([1.0, 2.0, 3.0, 4.0], dtype=m.float64)).sum() + 3 * gw.sum()
        return [_numpy(h) for h in m.autograd.grad(total, [x, w, v])]

    for ours, theirs in zip(seconds(cr), seconds(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def _xlogy_at_zero_times_a_leaf(m: Any) -> list[np.ndarray]:
    """v6 · xlogy(x, x² + 0.5) at x = 0, v6 = 0: ∂/∂x of the first derivative's ∂C/∂x part is
    v6 · ln 0.5-free, but ∂/∂v6 of ∂C/∂x is ln 0.5 (the derivative of xlogy(g, y) in g), which
    a constant branch at g = 0 used to drop (found by the fuzzer, seed 1222)."""
    x = m.tensor(0.0, dtype=m.float64, requires_grad=True)
    v6 = m.tensor(0.0, dtype=m.float64, requires_grad=True)
    out = m.kron(m.xlogy(x, x * x + 0.5).clone(), v6.clone()).sum()
    grad_x, grad_v6 = m.autograd.grad(out, (x, v6), create_graph=True)
    second = m.autograd.grad(0.3 * grad_x + 0.7 * grad_v6, (x, v6))
    return [_numpy(value) for value in second]


def test_xlogy_second_derivative_where_x_is_zero_follows_pytorch() -> None:
    ours, theirs = _xlogy_at_zero_times_a_leaf(cr), _xlogy_at_zero_times_a_leaf(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(theirs[1], 0.3 * np.log(0.5), rtol=1e-12)  # the exact value


def test_xlogy_values_at_zero_and_special_points_are_pytorchs() -> None:
    x = np.array([0.0, -0.0, 0.0, 0.0, 0.0, -1.0, 2.0, 0.0, 1.0])
    y = np.array([0.5, 0.5, 0.0, -1.0, np.inf, 1.0, 0.0, np.nan, -1.0])
    ours = cr.xlogy(cr.tensor(x), cr.tensor(y)).numpy()
    theirs = torch.xlogy(torch.tensor(x), torch.tensor(y)).numpy()
    np.testing.assert_array_equal(ours, theirs)
    numbers = ~np.isnan(theirs)  # a nan's sign bit means nothing
    # +0 at x = ±0, −0 at x = −1, y = 1
    assert np.array_equal(np.signbit(ours[numbers]), np.signbit(theirs[numbers]))


def _through_flat_hardswish(m: Any, outer: str) -> list[np.ndarray]:
    """First and second derivatives of ``outer`` after hardswish where it is flat (z ≤ −3),
    and at its other pieces: where the outer function's derivative is infinite or nan at 0 (√,
    x/‖x‖, the cosine similarity of a zero vector), PyTorch's selection keeps an exact 0."""
    x = m.tensor([-0.75, -1.0, -0.2, 0.4, 1.5], dtype=m.float64, requires_grad=True)
    y = m.nn.functional.hardswish(4 * x)
    if outer == "sqrt":
        out = m.sqrt(y[:2]).sum() + m.sqrt(y[2:] + 1).sum()
    elif outer == "unit":
        out = (y / m.linalg.vector_norm(y)).sum() + (y[:2] / m.linalg.vector_norm(y[:2])).sum()
    else:
        out = m.nn.functional.cosine_similarity(y[:2], y[:2], dim=-1) + y.sum()
    (g,) = m.autograd.grad(out, x, create_graph=True)
    (h,) = m.autograd.grad(g.sum(), x)
    return [_numpy(g), _numpy(h)]


def test_second_derivative_through_flat_hardswish_is_pytorchs() -> None:
    # Found by the second-order fuzzer: (hardswish at −3) into a cosine similarity of a zero
    # vector gave nan where PyTorch gives 0.
    for outer in ("sqrt", "unit", "cosine"):
        expected = _through_flat_hardswish(torch, outer)
        actual = _through_flat_hardswish(cr, outer)
        for a, e in zip(actual, expected):
            assert np.array_equal(np.isnan(a), np.isnan(e)), (outer, a, e)
            np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-15, err_msg=outer)


def _whole_extreme_under_nan(m: Any, name: str, create_graph: bool) -> np.ndarray:
    """The gradient of a whole-tensor max, min or median for a nan (or negative) incoming
    gradient: PyTorch on the CPU writes the shares into zeros, so the other elements get +0."""
    x = m.tensor([1.0, 3.0, -2.0, 3.0, 0.5], dtype=m.float64, requires_grad=True)
    out = getattr(x, name)()
    grad = m.tensor(float("nan") if not create_graph else -2.0, dtype=m.float64)
    (g,) = m.autograd.grad(out, x, grad, create_graph=create_graph)
    return _numpy(g)


def test_whole_tensor_extremes_give_others_an_exact_zero() -> None:
    for name in ("max", "min", "median", "nanmedian"):
        for create_graph in (False, True):
            expected = _whole_extreme_under_nan(torch, name, create_graph)
            actual = _whole_extreme_under_nan(cr, name, create_graph)
            assert np.array_equal(np.isnan(actual), np.isnan(expected)), (name, actual)
            assert np.array_equal(np.signbit(actual), np.signbit(expected)), (name, actual)
            np.testing.assert_array_equal(np.nan_to_num(actual), np.nan_to_num(expected))


def _cumprod_hessian_product(m: Any, values: np.ndarray) -> np.ndarray:
    """H·w of Σ u ⊙ cumprod(x, 0), from the first derivative recorded as a graph."""
    rng = np.random.default_rng(30)
    u, w = rng.standard_normal(values.shape), rng.standard_normal(values.shape)
    x = m.tensor(values, dtype=m.float64, requires_grad=True)
    (g,) = m.autograd.grad((x.cumprod(0) * m.tensor(u)).sum(), x, create_graph=True)
    (h,) = m.autograd.grad((g * m.tensor(w)).sum(), x)
    return _numpy(h)


def test_second_derivative_of_cumprod_at_tiny_values_and_zeros_is_pytorchs() -> None:
    # Found by the second-order fuzzer (seed 1230): instance_norm left 1.4e-17 where its
    # exact value is 0, and cumprod's backward divided by it; the derivative of that quotient
    # is a difference of two terms of order 1e17 (H·w: 0 where PyTorch gives −0.0761).
    for values in (
        [[1.3877787807814457e-17, 0.48, -0.48], [0.0, 0.0, 0.0]],
        [[1e-300, 2.0, 0.0], [3.0, 1e-17, 0.0], [0.5, 0.0, 0.0], [2.0, 4.0, 0.0]],
        [[0.7], [-1.2], [0.5]],
    ):
        array = np.array(values)
        expected = _cumprod_hessian_product(torch, array)
        actual = _cumprod_hessian_product(cr, array)
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12, err_msg=str(values))
