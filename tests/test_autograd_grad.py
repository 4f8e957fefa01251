"""``autograd.grad``, ``backward(create_graph=True)`` and derivatives of any order, against
PyTorch in float64: the semantics of the arguments, the errors, and the graph-recording walk."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def pair(values: Any, requires_grad: bool = True) -> tuple[cr.Tensor, torch.Tensor]:
    array = np.asarray(values, dtype=np.float64)
    return (
        cr.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


def close(ours: Any, theirs: Any) -> None:
    a = np.asarray(ours.detach().numpy() if hasattr(ours, "detach") else ours)
    b = theirs.detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_grad_returns_gradients_without_touching_dot_grad() -> None:
    x, xt = pair([0.5, -1.0, 2.0])
    y, yt = pair([1.5, 0.25, -0.5])
    (gx, gy) = cr.autograd.grad((x * y.exp()).sum(), [x, y])
    (tx, ty) = torch.autograd.grad((xt * yt.exp()).sum(), [xt, yt])
    close(gx, tx)
    close(gy, ty)
    assert x.grad is None and y.grad is None
    assert not gx.requires_grad and gx.grad_fn is None


def test_derivatives_of_any_order() -> None:
    """d⁴/dx⁴ of sin(x)·x² by four nested grads, each with create_graph."""
    x, xt = pair([0.3, 1.7, -2.2])
    ours, theirs = (x.sin() * x * x).sum(), (xt.sin() * xt * xt).sum()
    for order in range(1, 5):
        keep = order < 4
        (ours,) = cr.autograd.grad(ours, x, create_graph=keep)
        (theirs,) = torch.autograd.grad(theirs, xt, create_graph=keep)
        close(ours, theirs)
        assert ours.requires_grad == keep
        ours, theirs = ours.sum(), theirs.sum()


def test_power_series_fourth_derivative_is_exact() -> None:
    x = cr.tensor([2.0], dtype=cr.float64, requires_grad=True)
    y = x**4
    for _ in range(4):
        (y,) = cr.autograd.grad(y.sum(), x, create_graph=True)
    assert y.item() == 24.0  # d⁴x⁴/dx⁴ = 4! whatever x is


def test_grad_outputs_weights_and_multiple_outputs() -> None:
    x, xt = pair([[0.5, -1.0], [2.0, 0.1]])
    v = np.array([[1.0, 2.0], [-3.0, 0.5]])
    ours = cr.autograd.grad(
        [x.tanh(), (x * x).sum()], [x], [cr.tensor(v), cr.tensor(2.0, dtype=cr.float64)]
    )
    theirs = torch.autograd.grad(
        [xt.tanh(), (xt * xt).sum()],
        [xt],
        [torch.tensor(v), torch.tensor(2.0, dtype=torch.float64)],
    )
    close(ours[0], theirs[0])


def test_grad_with_respect_to_an_intermediate_tensor() -> None:
    x, xt = pair([0.5, -1.0, 2.0])
    h, ht = x.sigmoid(), xt.sigmoid()
    out, outt = (h * h * x).sum(), (ht * ht * xt).sum()
    gh, gx = cr.autograd.grad(out, [h, x], retain_graph=True)
    th, tx = torch.autograd.grad(outt, [ht, xt], retain_graph=True)
    close(gh, th)
    close(gx, tx)  # the total derivative: through h and directly


def test_unused_inputs_raise_or_give_none_or_zeros() -> None:
    x, _ = pair([1.0, 2.0])
    unused, _ = pair([3.0])
    with pytest.raises(RuntimeError, match=r"input 1 .* was not used"):
        cr.autograd.grad((x * 2).sum(), [x, unused], retain_graph=True)
    gx, gu = cr.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True, retain_graph=True)
    assert gu is None
    np.testing.assert_array_equal(gx.numpy(), [2.0, 2.0])
    _, gu = cr.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(gu.numpy(), [0.0])


def test_bad_arguments_get_clear_errors() -> None:
    x, _ = pair([1.0, 2.0])
    constant = cr.tensor([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.autograd.grad((x * 2).sum(), constant)
    with pytest.raises(ValueError, match="grad_outputs has shape"):
        cr.autograd.grad(
            x * 2, x, cr.tensor([1.0, 2.0, 3.0], requires_grad=True), create_graph=True
        )
    with pytest.raises(RuntimeError, match="single-element"):
        cr.autograd.grad(x * 2, x)
    with pytest.raises(TypeError, match="must be a Tensor"):
        cr.autograd.grad((x * 2).sum(), [np.ones(2)])
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        cr.autograd.grad(x * 2, x, [cr.ones(2), cr.ones(2)])


def test_retain_graph_defaults_to_create_graph() -> None:
    x, _ = pair([1.0, 2.0])
    y = (x.exp()).sum()
    cr.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):
        cr.autograd.grad(y, x)
    z = (x.exp()).sum()
    cr.autograd.grad(z, x, create_graph=True)
    (again,) = cr.autograd.grad(z, x)  # the graph was kept
    np.testing.assert_allclose(again.numpy(), np.exp([1.0, 2.0]))


def test_backward_with_create_graph_leaves_a_differentiable_grad() -> None:
    x, xt = pair([0.5, -1.0, 2.0])
    (x.tanh() ** 3).sum().backward(create_graph=True)
    (xt.tanh() ** 3).sum().backward(create_graph=True)
    close(x.grad, xt.grad)
    assert x.grad.grad_fn is not None
    (hx,) = cr.autograd.grad(x.grad.sum(), x)
    (ht,) = torch.autograd.grad(xt.grad.sum(), xt)
    close(hx, ht)


def test_backward_inputs_fills_only_those() -> None:
    x, xt = pair([0.5, -1.0])
    y, yt = pair([2.0, 3.0])
    (x * y).sum().backward(inputs=[x])
    (xt * yt).sum().backward(inputs=[xt])
    close(x.grad, xt.grad)
    assert y.grad is None and yt.grad is None


def test_gradient_penalty_trains_against_torch() -> None:
    """A WGAN-GP style penalty: the norm of ∂D/∂x enters the loss, whose gradient with respect
    to D's weights needs the second derivative."""
    rng = np.random.default_rng(0)
    w1, b1, w2 = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 1))
    data = rng.standard_normal((5, 3))

    def run(m: Any) -> list:
        params = [m.tensor(a, dtype=m.float64, requires_grad=True) for a in (w1, b1, w2)]
        x = m.tensor(data, dtype=m.float64, requires_grad=True)
        d = ((x @ params[0] + params[1]).tanh() @ params[2]).sum()
        (gx,) = m.autograd.grad(d, x, create_graph=True)
        penalty = ((gx * gx).sum(dim=1).sqrt() - 1) ** 2
        penalty.mean().backward()
        return [p.grad for p in params]

    for ours, theirs in zip(run(cr), run(torch)):
        close(ours, theirs)


def test_hooks_see_the_graph_gradients() -> None:
    x, xt = pair([0.5, -1.0])
    h, ht = x * 3, xt * 3
    h.register_hook(lambda g: g * 2)
    ht.register_hook(lambda g: g * 2)
    (gx,) = cr.autograd.grad((h * h).sum(), x, create_graph=True)
    (tx,) = torch.autograd.grad((ht * ht).sum(), xt, create_graph=True)
    close(gx, tx)
    close(cr.autograd.grad(gx.sum(), x)[0], torch.autograd.grad(tx.sum(), xt)[0])


def test_custom_function_backward_is_differentiated_again() -> None:
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

    x = cr.tensor([0.5, 2.0], dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * np.array([0.5, 2.0]))


def test_an_op_without_a_differentiable_backward_refuses_loudly() -> None:
    """A backward that saves a float array of its own cannot be differentiated silently as if
    that array were a constant: create_graph raises naming the operation."""

    class Opaque(cr.Function):
        def forward(self, x: Any) -> Any:
            self.saved = (np.cos(x),)
            return np.sin(x)

        def backward(self, grad: Any) -> tuple:
            (slope,) = self.saved
            return (grad * slope,)

    x = cr.tensor([0.5, 2.0], dtype=cr.float64, requires_grad=True)
    y = Opaque.apply(x).sum()
    with pytest.raises(RuntimeError, match="backward of Opaque uses an array"):
        cr.autograd.grad(y, x, create_graph=True)


def test_a_backward_that_detaches_through_numpy_refuses_loudly() -> None:
    class Detaching(cr.Function):
        def forward(self, x: Any) -> Any:
            self.saved = (x,)
            return x * x

        def backward(self, grad: Any) -> tuple:
            (x,) = self.saved
            return (np.multiply(np.asarray(grad), 2) * x,)

    x = cr.tensor([0.5, 2.0], dtype=cr.float64, requires_grad=True)
    v = cr.tensor([1.0, 1.0], dtype=cr.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward of Detaching turned a tensor"):
        cr.autograd.grad(Detaching.apply(x), x, v, create_graph=True)


def test_first_order_grad_matches_backward_in_float32() -> None:
    rng = np.random.default_rng(1)
    w = cr.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    x = cr.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    loss = ((x @ w).relu() ** 2).mean()
    (g,) = cr.autograd.grad(loss, w, retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(g.numpy(), w.grad.numpy())
    assert g.dtype == cr.float32


def test_the_checks_are_functions_under_autograd_as_in_pytorch() -> None:
    """``torch.autograd.gradcheck`` is the function; the submodule of the same name must not
    stand in its place."""
    assert cr.autograd.gradcheck is cr.gradcheck
    assert callable(cr.autograd.gradgradcheck)
    x = cr.tensor([0.5, -1.0], dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(lambda t: t.tanh(), [x]) is True
    assert cr.autograd.gradgradcheck(lambda t: t.tanh(), [x]) is True


def test_an_activation_is_freed_during_the_walk_once_no_node_still_needs_it() -> None:
    # As in backward (tests/test_engine.py): the walk lets go of each tensor once it has run,
    # so the later layers' activations are gone when the first layers' gradients are made.
    x = cr.randn(50, 50, requires_grad=True)
    first = x * 2.0
    later = first.exp()  # exp keeps its output for its backward, so the graph holds it
    later_ref = weakref.ref(later)
    seen_when_first_was_reached = []
    first.register_hook(lambda grad: seen_when_first_was_reached.append(later_ref()))
    loss = (later * 3.0).sum()
    del later
    assert later_ref() is not None
    (grad,) = cr.autograd.grad(loss, [x])
    assert seen_when_first_was_reached == [None]
    np.testing.assert_allclose(grad.numpy(), 6.0 * np.exp(2.0 * x.detach().numpy()), rtol=1e-6)
