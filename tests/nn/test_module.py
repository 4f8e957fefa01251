"""Module: registration, traversal, state_dict / load_state_dict against PyTorch, modes,
gradients, dtype conversion, apply and repr.

Equivalent models are built with the same code in both libraries (``m`` is ``chainrule`` or
``torch``), so names, orders and printed forms can be compared literally.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().data)


def mlp(m: Any) -> Any:
    """Sequential(Linear(4, 8), ReLU, Linear(8, 3)) in either library."""
    return m.nn.Sequential(m.nn.Linear(4, 8), m.nn.ReLU(), m.nn.Linear(8, 3))


def nested(m: Any) -> Any:
    """A custom module holding a Sequential, a Linear head and a bare Parameter."""

    class Net(m.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = m.nn.Parameter(m.ones(3, dtype=m.float64))
            self.body = m.nn.Sequential(m.nn.Linear(4, 6), m.nn.Tanh(), m.nn.Linear(6, 5))
            self.head = m.nn.Linear(5, 3, bias=False)

        def forward(self, x: Any) -> Any:
            return self.head(self.body(x)) * self.scale

    return Net()


def tied(m: Any) -> Any:
    """A module registered under two names, and a weight shared between two layers."""

    class Tied(m.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = m.nn.Linear(2, 2)
            self.b = self.a
            self.c = m.nn.Linear(2, 2)
            self.c.weight = self.a.weight

        def forward(self, x: Any) -> Any:
            return self.c(self.b(x))

    return Tied()


def torch_and_chainrule(build: Any) -> tuple[Any, Any]:
    """The model in PyTorch (float64) and in chainrule (float64) with PyTorch's weights."""
    torch.manual_seed(0)
    reference = build(torch).double()
    model = build(cr).double()
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    return reference, model


# ---- registration -------------------------------------------------------------------------------


class Holder(cr.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = cr.nn.Parameter(cr.randn(3, 2))
        self.register_buffer("running", cr.zeros(3))
        self.register_buffer("scratch", cr.ones(2), persistent=False)
        self.register_buffer("steps", cr.tensor(0))
        self.child = cr.nn.Linear(2, 2)
        self.plain = cr.randn(2)  # a bare tensor is not registered
        self.count = 5


def test_attribute_assignment_registers_parameters_buffers_and_submodules() -> None:
    holder = Holder()
    assert [name for name, _ in holder.named_parameters()] == [
        "weight",
        "child.weight",
        "child.bias",
    ]
    assert [name for name, _ in holder.named_buffers()] == ["running", "scratch", "steps"]
    assert [name for name, _ in holder.named_children()] == ["child"]
    assert list(holder.state_dict()) == [
        "weight",
        "running",
        "steps",
        "child.weight",
        "child.bias",
    ], "a non-persistent buffer is not saved"
    assert holder.weight is holder._parameters["weight"]
    assert all(p.requires_grad for p in holder.parameters())
    assert not holder.running.requires_grad
    assert [name for name, _ in holder.named_parameters(recurse=False)] == ["weight"]

    # A new tensor for a registered buffer stays a buffer; deleting forgets it.
    holder.running = cr.ones(3)
    assert "running" in holder.state_dict()
    np.testing.assert_array_equal(holder.state_dict()["running"].numpy(), np.ones(3))
    del holder.running
    assert "running" not in holder.state_dict()
    del holder.child
    assert list(holder.children()) == []
    assert [name for name, _ in holder.named_parameters()] == ["weight"]


def test_state_dict_shares_memory_with_the_parameters() -> None:
    layer = cr.nn.Linear(2, 3)
    state = layer.state_dict()
    assert not state["weight"].requires_grad
    with cr.no_grad():
        layer.weight.add_(1.0)
    np.testing.assert_array_equal(state["weight"].numpy(), layer.weight.detach().numpy())


def test_assigning_a_plain_tensor_to_a_parameter_name_raises_type_error() -> None:
    layer = cr.nn.Linear(2, 3)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = cr.randn(3, 2)
    with pytest.raises(TypeError, match="weight"):
        layer.weight = np.zeros((3, 2))
    with pytest.raises(TypeError, match="Parameter"):
        layer.register_parameter("extra", cr.randn(2))
    layer.bias = None  # None declares an absent parameter, as in PyTorch
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    layer.bias = cr.nn.Parameter(cr.zeros(3))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_assigning_a_non_tensor_to_a_buffer_name_raises_type_error() -> None:
    holder = Holder()
    with pytest.raises(TypeError, match="running"):
        holder.running = np.zeros(3)
    assert "running" in holder.state_dict(), "a failed assignment must not forget the buffer"
    with pytest.raises(TypeError, match="Tensor"):
        holder.register_buffer("other", [1.0, 2.0])


def test_assigning_a_non_module_to_a_submodule_name_raises_type_error() -> None:
    holder = Holder()
    with pytest.raises(TypeError, match="child"):
        holder.child = 3
    assert [name for name, _ in holder.named_children()] == ["child"]
    holder.child = None
    assert list(holder.children()) == []


def test_reassignment_keeps_the_registration_order_like_torch() -> None:
    """Replacing a parameter or a submodule (fine-tuning a new head) keeps its place."""
    names = {}
    for m in (torch, cr):
        model = nested(m)
        model.body[0].weight = m.nn.Parameter(m.zeros(6, 4))
        model.body = m.nn.Sequential(m.nn.Linear(4, 5))
        names[m.__name__] = list(model.state_dict())
    assert names["chainrule"] == names["torch"]
    assert names["chainrule"][:2] == ["scale", "body.0.weight"]


def test_missing_super_init_is_a_clear_error() -> None:
    class Broken(cr.nn.Module):
        def __init__(self) -> None:
            self.layer = cr.nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


# ---- names against PyTorch ---------------------------------------------------------------------


@pytest.mark.parametrize("build", [mlp, nested, tied], ids=["mlp", "nested", "tied"])
def test_names_match_torch(build: Any) -> None:
    reference, model = build(torch), build(cr)
    expected = [(n, tuple(p.shape)) for n, p in reference.named_parameters()]
    assert [(n, p.shape) for n, p in model.named_parameters()] == expected
    assert [n for n, _ in model.named_modules()] == [n for n, _ in reference.named_modules()]
    assert [n for n, _ in model.named_children()] == [n for n, _ in reference.named_children()]
    assert list(model.state_dict()) == list(reference.state_dict())
    assert [v.shape for v in model.state_dict().values()] == [
        tuple(v.shape) for v in reference.state_dict().values()
    ]


def test_state_dict_keys_of_sequential_match_torch() -> None:
    assert list(mlp(cr).state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(mlp(cr).state_dict()) == list(mlp(torch).state_dict())


def test_shared_parameters_are_listed_once() -> None:
    model = tied(cr)
    params = list(model.parameters())
    assert len(params) == 3  # a.weight (shared with c), a.bias, c.bias
    assert len({id(p) for p in params}) == 3
    assert model.c.weight is model.a.weight
    assert len(list(model.modules())) == 3  # the module under two names counts once
    # A tied model saved by PyTorch loads strictly and computes the same.
    reference, model = torch_and_chainrule(tied)
    x = np.random.default_rng(1).standard_normal((5, 2))
    np.testing.assert_allclose(
        to_numpy(model(cr.tensor(x))), to_numpy(reference(torch.tensor(x))), rtol=1e-12
    )


def test_containers_register_like_torch() -> None:
    for build in (
        lambda m: m.nn.ModuleList([m.nn.Linear(2, 3), m.nn.ReLU(), m.nn.Linear(3, 1)]),
        lambda m: m.nn.ModuleDict({"enc": m.nn.Linear(2, 3), "dec": m.nn.Linear(3, 2)}),
        lambda m: m.nn.Sequential(OrderedDict(inp=m.nn.Linear(2, 3), act=m.nn.Tanh())),
    ):
        assert list(build(cr).state_dict()) == list(build(torch).state_dict())

    layers = cr.nn.ModuleList([cr.nn.Linear(2, 2)])
    layers.append(cr.nn.Linear(2, 3)).extend([cr.nn.ReLU()])
    assert len(layers) == 3 and isinstance(layers[1], cr.nn.Linear)
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert len(layers[:2]) == 2

    seq = mlp(cr)
    assert len(seq) == 3 and isinstance(seq[-1], cr.nn.Linear)
    assert [type(layer).__name__ for layer in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[1:]
    assert isinstance(head, cr.nn.Sequential) and head[1] is seq[2]

    table = cr.nn.ModuleDict({"a": cr.nn.Linear(1, 1)})
    table["b"] = cr.nn.ReLU()
    assert list(table) == ["a", "b"] and "b" in table and len(table) == 2
    for container in (cr.nn.Sequential, cr.nn.ModuleList):
        with pytest.raises(TypeError, match="Module"):
            container([3]) if container is cr.nn.ModuleList else container(3)


# ---- loading from PyTorch ------------------------------------------------------------------------


@pytest.mark.parametrize("as_tensors", [False, True], ids=["numpy", "chainrule"])
@pytest.mark.parametrize("build", [mlp, nested], ids=["mlp", "nested"])
def test_load_state_dict_from_torch_gives_identical_outputs_and_gradients(
    build: Any, as_tensors: bool
) -> None:
    torch.manual_seed(1)
    reference = build(torch).double()
    model = build(cr).double()
    before = {name: id(p) for name, p in model.named_parameters()}
    state = {k: v.detach().numpy().copy() for k, v in reference.state_dict().items()}
    if as_tensors:
        state = {k: cr.tensor(v) for k, v in state.items()}
    result = model.load_state_dict(state)
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    assert {name: id(p) for name, p in model.named_parameters()} == before, "copied in place"

    # The model holds copies: changing the source afterwards changes nothing.
    first = next(iter(state))
    (state[first].data if as_tensors else state[first])[...] = 123.0
    assert not np.any(to_numpy(model.state_dict()[first]) == 123.0)

    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 4))
    out = model(cr.tensor(x, requires_grad=True))
    expected = reference(torch.tensor(x))
    assert out.dtype == cr.float64
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), rtol=1e-12, atol=1e-14)

    upstream = rng.standard_normal(tuple(expected.shape))
    out.backward(cr.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    grads = dict(model.named_parameters())
    for name, param in reference.named_parameters():
        assert grads[name].grad is not None, name
        np.testing.assert_allclose(
            to_numpy(grads[name].grad), to_numpy(param.grad), rtol=1e-12, atol=1e-14, err_msg=name
        )


def test_load_state_dict_strict_errors() -> None:
    model = mlp(cr)
    state = {k: v.numpy() for k, v in mlp(torch).state_dict().items()}

    missing = {k: v for k, v in state.items() if k != "2.bias"}
    with pytest.raises(KeyError, match=re.escape("missing keys ['2.bias']")):
        model.load_state_dict(missing)

    unexpected = {**state, "3.weight": np.zeros((2, 2))}
    with pytest.raises(KeyError, match=re.escape("unexpected keys ['3.weight']")):
        model.load_state_dict(unexpected)

    wrong = {**state, "0.weight": np.zeros((8, 5))}
    with pytest.raises(ValueError, match=re.escape("'0.weight' has shape (8, 5)")) as info:
        model.load_state_dict(wrong)
    assert "(8, 4)" in str(info.value), "the model's shape is named too"
    # A wrong shape is an error even when not strict.
    with pytest.raises(ValueError, match=re.escape("0.weight")):
        model.load_state_dict(wrong, strict=False)


def test_load_state_dict_non_strict_returns_missing_and_unexpected_keys() -> None:
    model = mlp(cr).double()
    reference = mlp(torch).double()
    state = {k: v.numpy() for k, v in reference.state_dict().items() if k != "2.bias"}
    state["extra.weight"] = np.ones(3)
    old_bias = model[2].bias.detach().numpy().copy()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["2.bias"] and unexpected == ["extra.weight"]
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), reference[0].weight.detach())
    np.testing.assert_array_equal(model[2].bias.detach().numpy(), old_bias)


def test_load_state_dict_round_trip_between_chainrule_models() -> None:
    source, target = nested(cr), nested(cr)
    target.load_state_dict(source.state_dict())
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
        assert a.data is not b.data


# ---- modes, gradients, conversions -----------------------------------------------------------


def test_train_and_eval_recurse() -> None:
    model = nested(cr)
    assert all(module.training for module in model.modules())
    assert model.eval() is model
    assert not any(module.training for module in model.modules())
    model.body.train()
    assert model.body[1].training and not model.training and not model.head.training
    model.train()
    assert all(module.training for module in model.modules())
    model.train(False)
    assert not any(module.training for module in model.modules())


def test_zero_grad_to_none_and_to_zeros() -> None:
    model = mlp(cr)
    model(cr.randn(5, 4)).sum().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads.values())

    model.zero_grad(set_to_none=False)
    for name, p in model.named_parameters():
        assert p.grad is grads[name], "zeroed in place, not replaced"
        np.testing.assert_array_equal(p.grad.numpy(), np.zeros(p.shape))

    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.zero_grad(set_to_none=False)  # no gradients: nothing to zero, no error
    assert all(p.grad is None for p in model.parameters())


def test_gradients_accumulate_until_zeroed() -> None:
    model = mlp(cr).double()
    x = cr.randn(3, 4, dtype=cr.float64)
    model(x).sum().backward()
    once = model[0].weight.grad.numpy().copy()
    model(x).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 2 * once, rtol=1e-12)


def test_requires_grad_switches_every_parameter() -> None:
    model = mlp(cr)
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    assert not model(cr.randn(2, 4)).requires_grad
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_to_double_and_float_convert_floating_state_in_place() -> None:
    holder = Holder()
    params = list(holder.parameters())
    holder.weight.grad = cr.ones(3, 2)
    assert holder.weight.dtype == cr.float32

    assert holder.to(cr.float64) is holder
    assert all(p.dtype == cr.float64 for p in holder.parameters())
    assert holder.running.dtype == cr.float64 and holder.scratch.dtype == cr.float64
    assert holder.steps.dtype == cr.int64, "integer buffers keep their dtype"
    assert list(holder.parameters()) == params, "the same Parameter objects"
    assert all(p.requires_grad for p in params)

    assert holder.float() is holder
    assert all(p.dtype == cr.float32 for p in holder.parameters())
    assert holder.double() is holder
    assert all(p.dtype == cr.float64 for p in holder.parameters())
    assert holder.to(dtype=cr.float32).weight.dtype == cr.float32
    assert holder.to("cpu") is holder and holder.weight.dtype == cr.float32
    assert holder.to("cpu", cr.float64).weight.dtype == cr.float64
    with pytest.raises(RuntimeError, match="cuda"):
        holder.to("cuda")

    model = mlp(cr).double()
    out = model(cr.randn(2, 4, dtype=cr.float64))
    assert out.dtype == cr.float64


def test_apply_visits_children_first_like_torch() -> None:
    orders = {}
    for m in (torch, cr):
        seen: list[str] = []
        model = nested(m)
        assert model.apply(lambda module, seen=seen: seen.append(type(module).__name__)) is model
        orders[m.__name__] = seen
    assert orders["chainrule"] == orders["torch"]
    assert orders["chainrule"] == ["Linear", "Tanh", "Linear", "Sequential", "Linear", "Net"]

    # A module registered twice is visited once, as in PyTorch.
    counts = {}
    for m in (torch, cr):
        seen = []
        tied(m).apply(seen.append)
        counts[m.__name__] = len(seen)
    assert counts["chainrule"] == counts["torch"] == 3

    # apply is how initialisation is usually done.
    def init(module: Any) -> None:
        if isinstance(module, cr.nn.Linear):
            cr.nn.init.constant_(module.weight, 0.5)

    model = mlp(cr).apply(init)
    assert np.all(to_numpy(model[0].weight) == 0.5) and np.all(to_numpy(model[2].weight) == 0.5)


def test_repr_matches_torch() -> None:
    assert repr(mlp(cr)) == repr(mlp(torch))
    assert "Linear(in_features=4, out_features=8, bias=True)" in repr(mlp(cr))
    assert "(1): ReLU()" in repr(mlp(cr))
    assert repr(nested(cr)) == repr(nested(torch))
    for build in (
        lambda m: m.nn.Sequential(m.nn.Flatten(), m.nn.LeakyReLU(0.2), m.nn.Softmax(dim=1)),
        lambda m: m.nn.Linear(3, 2, bias=False),
        lambda m: m.nn.Identity(),
    ):
        assert repr(build(cr)) == repr(build(torch))


def test_forward_must_be_defined() -> None:
    with pytest.raises(NotImplementedError, match="forward"):
        cr.nn.Module()(cr.zeros(1))
