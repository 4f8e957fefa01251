"""Tensor hooks and module hooks, against PyTorch on the same small networks.

Every scenario is written once with ``m`` standing for ``chainrule`` or ``torch``; the test
runs it in both and compares what the hooks saw and the gradients that came out.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

LIBRARIES = (cr, torch)


def to_numpy(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        return [to_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, cr.Tensor):
        return np.array(value.detach().data)
    return value


def assert_same(ours: Any, theirs: Any, path: str = "") -> None:
    """Nested lists/tuples/dicts of arrays (or None) equal to float32 rounding."""
    if isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), path
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{path}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), f"{path}: {len(ours)} != {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{path}[{i}]")
    elif theirs is None or isinstance(theirs, str):
        assert ours == theirs, path
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=path)


def both(scenario: Callable[[Any], Any]) -> None:
    """Run ``scenario(m)`` with chainrule and with torch and compare the results."""
    assert_same(to_numpy_tree(scenario(cr)), to_numpy_tree(scenario(torch)))


def to_numpy_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: to_numpy_tree(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_numpy_tree(v) for v in value]
    return to_numpy(value)


RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 3)).astype(np.float32)
W1 = RNG.standard_normal((3, 4)).astype(np.float32)
B1 = RNG.standard_normal(4).astype(np.float32)
W2 = RNG.standard_normal((4, 2)).astype(np.float32)
UPSTREAM = RNG.standard_normal((5, 2)).astype(np.float32)


def params(m: Any) -> list:
    return [m.tensor(a, requires_grad=True) for a in (W1, B1, W2)]


def two_layer(m: Any, w1: Any, b1: Any, w2: Any) -> tuple:
    """A 3-4-2 network in tensor code; returns the hidden pre-activation and the output."""
    z = m.tensor(X) @ w1 + b1
    out = z.tanh() @ w2
    return z, out


def backward_with_upstream(m: Any, out: Any) -> None:
    out.backward(m.tensor(UPSTREAM))


# ---- tensor hooks --------------------------------------------------------------------------------


def test_hooks_see_the_gradients_of_leaves_and_intermediates() -> None:
    def scenario(m: Any) -> dict:
        w1, b1, w2 = params(m)
        z, out = two_layer(m, w1, b1, w2)
        seen: dict = {}
        for name, t in (("w1", w1), ("b1", b1), ("w2", w2), ("z", z), ("out", out)):
            t.register_hook(lambda grad, name=name: seen.__setitem__(name, to_numpy(grad)))
        backward_with_upstream(m, out)
        return {"seen": seen, "grads": [w1.grad, b1.grad, w2.grad]}

    both(scenario)


def test_hooks_run_in_the_order_backward_completes_each_gradient() -> None:
    def scenario(m: Any) -> list:
        w1, b1, w2 = params(m)
        z, out = two_layer(m, w1, b1, w2)
        order: list = []
        for name, t in (("w1", w1), ("z", z), ("w2", w2), ("b1", b1), ("out", out)):
            t.register_hook(lambda grad, name=name: order.append(name))
        backward_with_upstream(m, out)
        return order

    # Compared as names: w2's gradient is complete before z's, and the leaves of layer one last.
    assert scenario(cr) == scenario(torch)


def test_returned_gradients_replace_it_for_leaves_and_intermediates() -> None:
    def scenario(m: Any) -> list:
        w1, b1, w2 = params(m)
        z, out = two_layer(m, w1, b1, w2)
        z.register_hook(lambda grad: grad * 3)
        w2.register_hook(lambda grad: grad.clamp(-0.5, 0.5))
        b1.register_hook(lambda grad: grad + 1)
        backward_with_upstream(m, out)
        return [w1.grad, b1.grad, w2.grad]

    both(scenario)


def test_several_hooks_run_in_registration_order_each_on_the_last_ones_result() -> None:
    def scenario(m: Any) -> list:
        x = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
        seen = []
        x.register_hook(lambda grad: grad + 1)
        x.register_hook(lambda grad: seen.append(to_numpy(grad)))
        x.register_hook(lambda grad: grad * 10)
        (x * x).sum().backward()
        return [seen, x.grad]

    both(scenario)


def test_a_leaf_used_twice_is_hooked_once_with_the_total() -> None:
    def scenario(m: Any) -> list:
        x = m.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        x.register_hook(lambda grad: seen.append(to_numpy(grad)))
        (x * 3 + x.exp() * x).sum().backward()
        return [seen, x.grad]

    both(scenario)


def test_removed_hooks_no_longer_run() -> None:
    def scenario(m: Any) -> list:
        w1, b1, w2 = params(m)
        calls = []
        doubling = w2.register_hook(lambda grad: grad * 2)
        counting = w1.register_hook(lambda grad: calls.append(1))
        _, out = two_layer(m, w1, b1, w2)
        backward_with_upstream(m, out)
        first = to_numpy(w2.grad)
        doubling.remove()
        counting.remove()
        doubling.remove()  # a second remove is harmless
        w1.grad = w2.grad = None
        _, out = two_layer(m, w1, b1, w2)
        backward_with_upstream(m, out)
        return [first, w2.grad, len(calls)]

    both(scenario)


def test_retained_gradient_is_the_one_after_the_hooks() -> None:
    def scenario(m: Any) -> list:
        w1, b1, w2 = params(m)
        z, out = two_layer(m, w1, b1, w2)
        z.retain_grad()
        z.register_hook(lambda grad: grad * 0.5)
        backward_with_upstream(m, out)
        return [z.grad, w1.grad, z.retains_grad]

    both(scenario)


def test_hooks_on_the_tensor_backward_starts_from() -> None:
    def scenario(m: Any) -> list:
        leaf = m.tensor([0.0, 1.0, 2.0], requires_grad=True)
        leaf.register_hook(lambda grad: grad * 2)
        leaf.backward(m.tensor([1.0, 2.0, 3.0]))
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        y.register_hook(lambda grad: grad + 1)
        y.backward(m.tensor([1.0, 1.0]))
        return [leaf.grad, x.grad]

    both(scenario)


def test_a_gradient_kept_by_a_hook_is_not_changed_by_later_accumulation() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    kept = []
    x.register_hook(kept.append)
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    np.testing.assert_allclose(kept[0].numpy(), [2.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])


def test_a_replacement_gradient_is_not_aliased_by_grad() -> None:
    replacement = cr.tensor([1.0, 1.0])
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda grad: replacement)
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(replacement.numpy(), [1.0, 1.0])


def test_hooks_run_outside_the_graph() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    modes = []
    w.register_hook(lambda grad: modes.append(cr.is_grad_enabled()))
    (w * 2).sum().backward()
    assert modes == [False]
    assert cr.is_grad_enabled()


def test_register_hook_on_a_tensor_without_grad_is_an_error_like_pytorch() -> None:
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(2).register_hook(lambda grad: grad)
    with pytest.raises(RuntimeError, match="register_hook") as ours:
        cr.zeros(2).register_hook(lambda grad: grad)
    assert str(theirs.value) in str(ours.value)


@pytest.mark.parametrize(
    ("replacement", "message"),
    [
        (lambda grad: cr.zeros(3), r"shape from \(2,\) to \(3,\)"),
        (lambda grad: grad.double(), "dtype from float32 to float64"),
        (lambda grad: 1.0, "must return a Tensor"),
    ],
)
def test_a_bad_replacement_gradient_is_an_error_naming_the_hook(
    replacement: Any, message: str
) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(replacement)
    with pytest.raises((RuntimeError, TypeError), match=message) as error:
        (x * 2).sum().backward()
    assert "<lambda>" in str(error.value)
    # The failed walk leaves nothing behind: without the hook, backward works again.
    x._hooks = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hook_handles_work_as_context_managers() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with x.register_hook(lambda grad: grad * 100):
        (x * 1).sum().backward()
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [101.0])


def test_a_deep_chain_with_hooks_runs_them_all() -> None:
    x = cr.tensor([0.5], requires_grad=True)
    y = x
    count = []
    for _ in range(3000):
        y = y * 1.0
        y.register_hook(lambda grad: count.append(1))
    y.sum().backward()
    assert len(count) == 3000


# ---- module forward hooks ------------------------------------------------------------------------


def linear(m: Any, fan_in: int, fan_out: int, seed: int) -> Any:
    layer = m.nn.Linear(fan_in, fan_out)
    rng = np.random.default_rng(seed)
    state = {
        "weight": rng.standard_normal((fan_out, fan_in)).astype(np.float32),
        "bias": rng.standard_normal(fan_out).astype(np.float32),
    }
    layer.load_state_dict({k: m.tensor(v) for k, v in state.items()})
    return layer


def test_forward_pre_hooks_replace_the_arguments() -> None:
    def scenario(m: Any) -> list:
        layer = linear(m, 3, 2, seed=1)
        seen = []
        layer.register_forward_pre_hook(lambda mod, args: seen.append(to_numpy(args[0])))
        layer.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # a bare value
        replaced = layer(m.tensor(X))
        handle = layer.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
        both_hooks = layer(m.tensor(X))
        handle.remove()
        return [seen, replaced, both_hooks, layer(m.tensor(X))]

    both(scenario)


def test_forward_hooks_see_args_and_output_and_replace_the_output() -> None:
    def scenario(m: Any) -> list:
        layer = linear(m, 3, 2, seed=2)
        seen = []

        def record(mod: Any, args: Any, output: Any) -> None:
            seen.append([type(mod).__name__, to_numpy(args[0]), to_numpy(output)])

        layer.register_forward_hook(record)
        layer.register_forward_hook(lambda mod, args, output: output.relu())
        out = layer(m.tensor(X))
        return [seen, out]

    both(scenario)


def test_hooks_with_kwargs_and_prepend() -> None:
    def scenario(m: Any) -> list:
        class Scale(m.nn.Module):
            def forward(self, x: Any, factor: float = 1.0) -> Any:
                return x * factor

        module = Scale()
        order = []
        module.register_forward_hook(lambda mod, args, out: order.append("second"))
        module.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
        module.register_forward_pre_hook(
            lambda mod, args, kwargs: (args, {"factor": kwargs["factor"] * 10}), with_kwargs=True
        )
        module.register_forward_hook(
            lambda mod, args, kwargs, out: out + kwargs["factor"], with_kwargs=True
        )
        out = module(m.tensor([1.0, 2.0]), factor=2.0)
        return [order, out]

    both(scenario)


# ---- module backward hooks -----------------------------------------------------------------------


def recorder(log: list, name: str) -> Callable:
    def hook(module: Any, grad_input: tuple, grad_output: tuple) -> None:
        log.append([name, to_numpy(list(grad_input)), to_numpy(list(grad_output))])

    return hook


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")  # torch warns: inputs frozen
@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_full_backward_hook_of_linear(input_requires_grad: bool) -> None:
    def scenario(m: Any) -> list:
        layer = linear(m, 3, 2, seed=3)
        log: list = []
        layer.register_full_backward_hook(recorder(log, "linear"))
        x = m.tensor(X, requires_grad=input_requires_grad)
        backward_with_upstream(m, layer(x))
        return [log, layer.weight.grad, x.grad]

    both(scenario)


def test_full_backward_hooks_in_a_sequential_and_its_layers() -> None:
    def scenario(m: Any) -> list:
        net = m.nn.Sequential(linear(m, 3, 4, seed=4), m.nn.Sigmoid(), linear(m, 4, 2, seed=5))
        log: list = []
        net.register_full_backward_hook(recorder(log, "net"))
        for name, layer in net.named_children():
            layer.register_full_backward_hook(recorder(log, name))
        x = m.tensor(X, requires_grad=True)
        backward_with_upstream(m, net(x))
        return [log, x.grad]

    both(scenario)


def test_full_backward_hook_of_a_module_with_two_inputs_and_two_outputs() -> None:
    def scenario(m: Any) -> list:
        class Pair(m.nn.Module):
            def forward(self, a: Any, b: Any, c: Any) -> tuple:
                return a * b, a.sin()

        module = Pair()
        log: list = []
        module.register_full_backward_hook(recorder(log, "pair"))
        a = m.tensor([0.5, -1.0], requires_grad=True)
        b = m.tensor([2.0, 3.0], requires_grad=True)
        frozen = m.tensor([4.0, 5.0])
        product, sine = module(a, b, frozen)  # c: a tensor that does not require grad
        product.sum().backward()  # only the first output gets a gradient
        product, sine = module(a, frozen, 7.0)  # b frozen, c not a tensor
        (product.sum() + 2 * sine.sum()).backward()
        return [log, a.grad, b.grad]

    both(scenario)


def test_hooks_of_a_module_used_twice_run_once_per_call() -> None:
    def scenario(m: Any) -> list:
        layer = linear(m, 2, 2, seed=6)
        log: list = []
        layer.register_full_backward_hook(recorder(log, "shared"))
        calls = []
        layer.register_forward_hook(lambda mod, args, out: calls.append(to_numpy(out)))
        x = m.tensor(X[:, :2], requires_grad=True)
        out = layer(layer(x).tanh())
        out.backward(m.tensor(UPSTREAM))
        return [log, calls, layer.weight.grad, x.grad]

    both(scenario)


def test_full_backward_hook_replaces_grad_input() -> None:
    def scenario(m: Any) -> list:
        first, second = linear(m, 3, 4, seed=7), linear(m, 4, 2, seed=8)
        second.register_full_backward_hook(lambda mod, gi, go: (gi[0] * -2,))
        x = m.tensor(X, requires_grad=True)
        backward_with_upstream(m, second(first(x).relu()))
        return [first.weight.grad, second.weight.grad, x.grad]

    both(scenario)


def test_full_backward_pre_hook_sees_and_replaces_grad_output() -> None:
    def scenario(m: Any) -> list:
        layer = linear(m, 3, 2, seed=9)
        seen = []

        def pre_hook(module: Any, grad_output: tuple) -> tuple:
            seen.append(to_numpy(list(grad_output)))
            return (grad_output[0] * 3,)

        layer.register_full_backward_pre_hook(pre_hook)
        log: list = []
        layer.register_full_backward_hook(recorder(log, "after"))
        x = m.tensor(X, requires_grad=True)
        backward_with_upstream(m, layer(x))
        return [seen, log, layer.weight.grad, x.grad]

    both(scenario)


def test_removed_module_hooks_no_longer_run_and_no_grad_calls_skip_backward_hooks() -> None:
    layer = linear(cr, 3, 2, seed=10)
    log: list = []
    handles = [
        layer.register_full_backward_hook(recorder(log, "backward")),
        layer.register_forward_hook(lambda mod, args, out: log.append("forward")),
        layer.register_forward_pre_hook(lambda mod, args: log.append("pre")),
    ]
    with cr.no_grad():
        out = layer(cr.tensor(X))
    assert log == ["pre", "forward"] and out.grad_fn is None
    for handle in handles:
        handle.remove()
    log.clear()
    layer(cr.tensor(X, requires_grad=True)).sum().backward()
    assert log == []


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_bad_backward_hook_results_are_errors_naming_the_module() -> None:
    layer = linear(cr, 3, 2, seed=11)
    layer.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match=r"Linear.*grad_input; expected None or a tuple of 1"):
        layer(cr.tensor(X, requires_grad=True)).sum().backward()
    frozen_input = linear(cr, 3, 2, seed=12)
    frozen_input.register_full_backward_hook(lambda mod, gi, go: (go[0],))
    with pytest.raises(RuntimeError, match="no input of this call requires grad"):
        frozen_input(cr.tensor(X)).sum().backward()


def test_hooks_fire_on_every_backward_through_a_retained_graph() -> None:
    def scenario(m: Any) -> list:
        layer = linear(m, 3, 2, seed=13)
        log: list = []
        layer.register_full_backward_hook(recorder(log, "layer"))
        x = m.tensor(X, requires_grad=True)
        seen = []
        handle = x.register_hook(lambda grad: seen.append(to_numpy(grad)))
        out = layer(x)
        out.backward(m.tensor(UPSTREAM), retain_graph=True)
        handle.remove()
        out.backward(m.tensor(UPSTREAM * 2))
        return [log, seen, x.grad]

    both(scenario)


def test_a_backward_cut_short_by_a_hook_leaves_the_next_one_correct() -> None:
    def scenario(m: Any) -> list:
        x = m.tensor([1.0, 2.0], requires_grad=True)
        calls = []

        def fails_once(grad: Any) -> None:
            calls.append(to_numpy(grad))
            if len(calls) == 1:
                raise ValueError("first call fails")

        x.register_hook(fails_once)
        with pytest.raises(ValueError, match="first call fails"):
            (x * x).sum().backward()
        (x * 3 + x).sum().backward()
        return [calls, x.grad]

    both(scenario)


def test_a_hooked_call_frees_its_graph_without_waiting_for_the_garbage_collector() -> None:
    layer = linear(cr, 3, 2, seed=14)
    layer.register_full_backward_hook(lambda mod, gi, go: None)
    layer.register_full_backward_pre_hook(lambda mod, go: None)
    gc.disable()
    try:
        out = layer(cr.tensor(X, requires_grad=True))
        nodes = [weakref.ref(out.grad_fn), weakref.ref(out.grad_fn.inputs[0].grad_fn)]
        del out
        assert [ref() for ref in nodes] == [None, None]  # freed by reference counting alone
    finally:
        gc.enable()
