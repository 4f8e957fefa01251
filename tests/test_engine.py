"""The reverse walk: accumulation, freeing, retain_graph, grad modes, graph shapes, errors."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import chainrule as cr


def test_gradients_accumulate_across_backward_calls_until_reset() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0, 9.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_zeroed_gradient_tensor_is_reused_in_place() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    grad = x.grad
    grad.zero_()
    (x * 5).sum().backward()
    assert x.grad is grad
    np.testing.assert_allclose(grad.numpy(), [5.0, 5.0])


def test_second_backward_through_freed_graph_is_a_clear_error() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        loss.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, -8.0])


def test_backward_frees_intermediate_activations_even_while_loss_is_held() -> None:
    x = cr.randn(50, 50, requires_grad=True)
    hidden = (x @ x).tanh()
    hidden_ref = weakref.ref(hidden)
    loss = (hidden * hidden).sum()
    del hidden
    gc.collect()
    assert hidden_ref() is not None  # the graph keeps it alive until backward
    loss.backward()
    gc.collect()
    assert hidden_ref() is None
    assert loss.grad_fn is not None  # the loss itself survives


def test_an_activation_is_freed_during_backward_once_no_node_still_needs_it() -> None:
    # The peak of a training step's memory is in its backward pass, when the gradients of the
    # first layers are made: the activations of the later layers must be gone by then.
    x = cr.randn(50, 50, requires_grad=True)
    first = x * 2.0
    later = first.exp()  # exp keeps its output for its backward, so the graph holds it
    later_ref = weakref.ref(later)
    seen_when_first_was_reached = []
    first.register_hook(lambda grad: seen_when_first_was_reached.append(later_ref()))
    loss = (later * 3.0).sum()
    del later
    gc.collect()
    assert later_ref() is not None
    loss.backward()
    # No cycle collection in between: reference counts alone free it, as in a training loop.
    assert seen_when_first_was_reached == [None]
    np.testing.assert_allclose(x.grad.numpy(), 6.0 * np.exp(2.0 * x.detach().numpy()), rtol=1e-6)


def test_no_grad_records_nothing_and_restores_the_mode() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_decorator_and_restored_after_an_exception() -> None:
    @cr.no_grad()
    def double(t: cr.Tensor) -> cr.Tensor:
        return t * 2

    x = cr.tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        1 / 0  # noqa: B018
    assert cr.is_grad_enabled()


def test_diamond_graph_sums_both_paths_like_torch() -> None:
    data = np.array([0.5, -1.5, 2.0], dtype=np.float64)
    x = cr.tensor(data, requires_grad=True)
    shared = x.sin()
    (shared * shared.exp() + shared.cos() * x).sum().backward()

    tx = torch.tensor(data, requires_grad=True)
    tshared = tx.sin()
    (tshared * tshared.exp() + tshared.cos() * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_tensor_used_twice_in_one_operation() -> None:
    x = cr.tensor([3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.item() == pytest.approx(6.0)


def test_deep_chain_of_ten_thousand_operations_has_no_recursion_limit() -> None:
    x = cr.tensor(1.0, dtype=cr.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)
    del y
    gc.collect()  # tearing down the long chain must not overflow the C stack either


def test_leaf_gradients_never_share_memory() -> None:
    a = cr.randn(3, requires_grad=True)
    b = cr.randn(3, requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    before = b.grad.numpy().copy()
    a.grad.mul_(10)
    np.testing.assert_array_equal(b.grad.numpy(), before)


def test_user_gradient_is_not_aliased_into_a_leaf() -> None:
    x = cr.randn(2, 2, requires_grad=True)
    seed = cr.ones(2, 2)
    (x + 0).backward(seed)
    x.grad.mul_(3)
    np.testing.assert_array_equal(seed.numpy(), np.ones((2, 2), np.float32))


def test_backward_on_a_leaf_with_gradient() -> None:
    x = cr.randn(3, requires_grad=True)
    x.backward(cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_retain_grad_keeps_the_gradient_of_an_intermediate() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    hidden.retain_grad()
    (hidden * hidden).sum().backward()
    np.testing.assert_allclose(hidden.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 36.0])


def test_gradient_dtype_follows_each_leaf() -> None:
    a = cr.randn(3, requires_grad=True)  # float32
    b = cr.randn(3, dtype=cr.float64, requires_grad=True)
    out = a * b
    assert out.dtype == cr.float64
    out.sum().backward()
    assert a.grad.dtype == cr.float32 and b.grad.dtype == cr.float64


def test_only_leaves_that_require_grad_receive_gradients() -> None:
    w = cr.randn(2, 2, requires_grad=True)
    x = cr.randn(2, 2)
    (x @ w).sum().backward()
    assert w.grad is not None and x.grad is None


def test_backward_of_non_scalar_needs_a_gradient() -> None:
    x = cr.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"single-element.*shape \(3,\)"):
        (x * 2).backward()


def test_backward_gradient_of_wrong_shape() -> None:
    x = cr.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\).*\(3,\)"):
        (x * 2).backward(cr.ones(2))


def test_backward_of_a_tensor_without_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(3).sum().backward()


def test_integer_tensor_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match=r"floating-point.*int64"):
        cr.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        cr.arange(3).requires_grad_()


def test_in_place_update_of_a_parameter_needs_no_grad() -> None:
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    with pytest.raises(RuntimeError, match="no_grad"):
        p -= 0.1 * p.grad
    same = p
    with cr.no_grad():
        p -= 0.1 * p.grad
        p.array[0] = 5.0
    assert p is same and p.requires_grad and p.is_leaf
    np.testing.assert_allclose(p.detach().numpy(), [5.0, 1.6], rtol=1e-6)


def test_in_place_update_with_a_wrong_shape_names_both_shapes() -> None:
    p = cr.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(4,\)"):  # as PyTorch's error
        p += cr.ones(4)


def test_sgd_loop_matches_torch() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 3))
    y = rng.standard_normal((8, 1))
    w0 = rng.standard_normal((3, 1))
    w = cr.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    for _ in range(20):
        loss = ((cr.tensor(x) @ w - cr.tensor(y)) ** 2).mean()
        loss.backward()
        tloss = ((torch.tensor(x) @ tw - torch.tensor(y)) ** 2).mean()
        tloss.backward()
        with cr.no_grad():
            w -= 0.1 * w.grad
            w.grad = None
        with torch.no_grad():
            tw -= 0.1 * tw.grad
            tw.grad = None
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12)


class _WrongSquare(cr.Function):
    """A user-defined operation with a deliberately wrong derivative (x instead of 2x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.saved = (x,)
        return x * x

    def backward(self, grad: np.ndarray) -> tuple:
        (x,) = self.saved
        return (grad * x,)


class _Cube(cr.Function):
    """d/dx x³ = 3x²"""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.saved = (x,)
        return x**3

    def backward(self, grad: np.ndarray) -> tuple:
        (x,) = self.saved
        return (grad * 3 * x * x,)


def test_a_new_operation_is_one_class_and_gradcheck_proves_it() -> None:
    x = cr.randn(4, dtype=cr.float64, requires_grad=True)
    assert cr.gradcheck(_Cube.apply, (x,))
    y = _Cube.apply(x)
    assert repr(y.grad_fn) == "<_CubeBackward>"


def test_gradcheck_names_input_and_element_of_a_wrong_gradient() -> None:
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64, requires_grad=True)
    with pytest.raises(cr.GradcheckError, match=r"input 0, element \(0, 0\).*autodiff gives 1"):
        cr.gradcheck(_WrongSquare.apply, (x,))


def test_gradcheck_checks_float32_inputs_in_float64() -> None:
    x = cr.randn(3, 2, requires_grad=True)
    assert cr.gradcheck(lambda t: (t * t).sum(1), (x,))
    assert x.dtype == cr.float32


def test_gradcheck_needs_an_input_that_requires_grad() -> None:
    with pytest.raises(ValueError, match="requires grad"):
        cr.gradcheck(lambda t: t * 2, (cr.ones(2),))


def test_buggy_backward_shape_is_reported_by_the_engine() -> None:
    class BadShape(cr.Function):
        def forward(self, x: np.ndarray) -> np.ndarray:
            return x * 2

        def backward(self, grad: np.ndarray) -> tuple:
            return (grad.sum(axis=0),)

    x = cr.randn(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.*\(2,\).*\(3, 2\)"):
        BadShape.apply(x).sum().backward()


def test_gradient_of_a_zero_dimensional_leaf_is_a_writable_tensor() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    (x * 3).backward()
    grad = x.grad
    assert isinstance(grad.array, np.ndarray) and grad.shape == ()
    grad += 1
    assert x.grad.item() == 4.0
    grad.zero_()
    assert x.grad.item() == 0.0


def test_array_library_errors_that_need_special_constructors_still_get_context() -> None:
    from chainrule.autograd.function import _with_context

    dates = np.array(["2020-01-01"], dtype="datetime64[D]")
    with pytest.raises(TypeError) as caught:
        np.add(np.array([1.0]), dates)
    wrapped = _with_context(_Cube, (cr.ones(1),), caught.value)
    assert isinstance(wrapped, TypeError)
    assert str(wrapped).startswith("_cube: ufunc 'add'") and "(1,)" in str(wrapped)


def test_an_error_that_names_its_operation_is_not_named_twice() -> None:
    with pytest.raises(TypeError) as caught:
        cr.where(cr.tensor([1.0]), cr.tensor([1.0]), cr.tensor([2.0]))  # a float condition
    message = str(caught.value)
    assert message.startswith("where: condition must be a bool tensor, got float32")
    assert message.count("where:") == 1 and "(inputs: (1,), (1,), (1,))" in message


def test_backward_passes_in_several_threads_do_not_interfere() -> None:
    """Each thread's backward has its own queue of end-of-pass callbacks (as PyTorch's engine
    runs a backward per thread): callbacks queued by hooks run once, in their own pass."""
    import threading

    from chainrule.autograd.engine import queue_callback

    def build(seed: int) -> tuple:
        # Made in the main thread: the default generator is shared by all threads.
        cr.manual_seed(seed)
        model = cr.nn.Sequential(cr.nn.Linear(3, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1)).double()
        return model, cr.randn(16, 3, dtype=cr.float64)

    def run(seed: int, out: dict, model: cr.nn.Module, x: cr.Tensor) -> None:
        calls = []
        for _ in range(60):
            model.zero_grad()
            y = model(x)
            y.register_hook(lambda g: queue_callback(lambda: calls.append(1)) and None)
            y.pow(2).mean().backward()
        out[seed] = ([p.grad.numpy().copy() for p in model.parameters()], len(calls))

    alone: dict = {}
    for seed in range(4):
        run(seed, alone, *build(seed))
    together: dict = {}
    threads = [
        threading.Thread(target=run, args=(seed, together, *build(seed))) for seed in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in range(4):
        grads, calls = together[seed]
        assert calls == 60, "one callback per pass, in the pass that queued it"
        for got, expected in zip(grads, alone[seed][0]):
            np.testing.assert_array_equal(got, expected)
