"""What every optimiser shares with PyTorch's: the constructor's arguments and defaults,
parameters that do not require grad or have no gradient, non-leaf tensors, named parameters,
param groups added later, zero_grad, and PyTorch's choices of implementation (foreach, fused,
capturable, differentiable)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

from .trajectories import advance, start, to_numpy

NAMES = [
    "SGD",
    "Adam",
    "AdamW",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adamax",
    "NAdam",
    "RAdam",
    "ASGD",
]
ALL = [*NAMES, "LBFGS"]


@pytest.mark.parametrize("name", ALL)
def test_the_constructor_takes_torchs_arguments_with_torchs_defaults(name: str) -> None:
    ours = inspect.signature(getattr(cr.optim, name).__init__).parameters
    theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
    assert list(ours) == list(theirs)
    for argument, expected in theirs.items():
        assert ours[argument].kind == expected.kind, argument
        assert ours[argument].default == expected.default, argument


@pytest.mark.parametrize("name", NAMES)
def test_the_group_options_are_torchs(name: str) -> None:
    ours = getattr(cr.optim, name)([cr.nn.Parameter(cr.zeros(2))])
    theirs = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))])
    assert ours.defaults == theirs.defaults
    group, expected = ours.param_groups[0], theirs.param_groups[0]
    assert set(group) == set(expected)
    assert {k: v for k, v in group.items() if k != "params"} == {
        k: v for k, v in expected.items() if k != "params"
    }


# ---- which tensors are optimised -----------------------------------------------------------


def tensors(library: Any) -> list:
    """A parameter, a leaf that does not require grad, and a parameter left without a grad."""
    arrays = start()
    return [
        library.nn.Parameter(library.tensor(arrays[0].copy())),
        library.tensor(arrays[1].copy()),
        library.nn.Parameter(library.tensor(arrays[2].copy())),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_tensors_without_requires_grad_or_without_grad_are_handled_as_in_torch(name: str) -> None:
    """The leaf without requires_grad is accepted and, given a .grad by hand, updated like any
    other; the parameter whose .grad stays None is skipped (and gets no state, except
    Adagrad's, which exists from construction)."""
    results = []
    for library in (cr, torch):
        params = tensors(library)
        optimizer = getattr(library.optim, name)(params, lr=0.05)
        for step in range(5):
            optimizer.zero_grad()
            for p in params[:2]:
                p.grad = library.tensor(np.sin(to_numpy(p)) + step)
            optimizer.step()
        has_state = [sorted(optimizer.state.get(p, {})) for p in params]
        results.append(([to_numpy(p).copy() for p in params], has_state))
    (ours, our_state), (theirs, their_state) = results
    assert our_state == their_state
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(ours[2], start()[2])


@pytest.mark.parametrize("name", ALL)
def test_a_non_leaf_tensor_is_refused_as_in_torch(name: str) -> None:
    w = cr.nn.Parameter(cr.ones(2))
    with pytest.raises(ValueError, match=f"{name}: can't optimize a non-leaf Tensor"):
        getattr(cr.optim, name)([w * 2])
    kept = w * 2
    kept.retain_grad()  # PyTorch takes a non-leaf whose .grad backward keeps
    getattr(cr.optim, name)([kept])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2)) * 2])


def test_bad_parameter_collections_are_errors_as_in_torch() -> None:
    p = cr.nn.Parameter(cr.zeros(2))
    with pytest.raises(TypeError, match="ordered collection"):
        cr.optim.Adam([{"params": {p}}])
    with pytest.raises(TypeError, match="must be a dict"):
        cr.optim.Adam([p]).add_param_group([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        cr.optim.Adam([p]).add_param_group({"params": [p]})
    with pytest.warns(UserWarning, match="same parameter twice"):
        cr.optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="either every parameter has a name or none"):
        cr.optim.Adam([("w", p), cr.nn.Parameter(cr.zeros(2))])


def test_named_parameters_keep_their_names_as_in_torch() -> None:
    saved = []
    for library in (cr, torch):
        library.manual_seed(0)
        model = library.nn.Linear(3, 2)
        optimizer = library.optim.Adam(model.named_parameters(), lr=0.1)
        assert optimizer.param_groups[0]["param_names"] == ["weight", "bias"]
        model(library.ones(4, 3)).sum().backward()
        optimizer.step()
        saved.append(optimizer.state_dict())
        with pytest.raises(ValueError, match="names"):
            optimizer.add_param_group({"params": [library.nn.Parameter(library.zeros(1))]})
    ours, theirs = saved
    assert ours["param_groups"][0]["param_names"] == theirs["param_groups"][0]["param_names"]
    assert ours["param_groups"][0]["params"] == theirs["param_groups"][0]["params"] == [0, 1]


@pytest.mark.parametrize("name", NAMES)
def test_a_group_added_later_takes_its_options_as_in_torch(name: str) -> None:
    """Train one parameter for 5 steps, then add the others in a group with its own lr."""
    results = []
    for library in (cr, torch):
        params = [library.nn.Parameter(library.tensor(a.copy())) for a in start()]
        optimizer = getattr(library.optim, name)(params[:1], lr=0.01)
        advance(library, optimizer, params[:1], range(5))
        optimizer.add_param_group({"params": params[1:], "lr": 0.1, "weight_decay": 0.01})
        assert optimizer.param_groups[1]["lr"] == 0.1
        advance(library, optimizer, params, range(5, 10))
        results.append([to_numpy(p).copy() for p in params])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ALL)
def test_zero_grad(name: str) -> None:
    w = cr.nn.Parameter(cr.ones(3))
    optimizer = getattr(cr.optim, name)([w])
    (w * w).sum().backward()
    grad = w.grad
    optimizer.zero_grad(set_to_none=False)
    assert w.grad is grad
    np.testing.assert_array_equal(to_numpy(w.grad), np.zeros(3))
    optimizer.zero_grad()
    assert w.grad is None


def test_the_state_of_a_parameter_not_yet_stepped_reads_empty_as_in_torch() -> None:
    w = cr.nn.Parameter(cr.ones(3))
    assert cr.optim.Adam([w]).state[w] == {}


# ---- foreach, fused, capturable, differentiable --------------------------------------------


def flags(name: str) -> set[str]:
    return set(inspect.signature(getattr(torch.optim, name).__init__).parameters) & {
        "foreach",
        "fused",
        "capturable",
        "differentiable",
    }


@pytest.mark.parametrize("name", NAMES)
def test_foreach_and_fused_give_the_same_steps(name: str) -> None:
    plain = []
    for options in ({}, {"foreach": True}, {"foreach": False}, {"fused": True}):
        if "fused" in options and "fused" not in flags(name):
            continue
        params = [cr.nn.Parameter(cr.tensor(a.copy())) for a in start()]
        optimizer = getattr(cr.optim, name)(params, lr=0.05, **options)
        advance(cr, optimizer, params, range(5))
        plain.append([to_numpy(p).copy() for p in params])
    for result in plain[1:]:
        for a, b in zip(result, plain[0]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_capturable_and_differentiable_are_refused_clearly(name: str) -> None:
    w = cr.nn.Parameter(cr.ones(2))
    for flag in sorted(flags(name) & {"capturable", "differentiable"}):
        with pytest.raises(NotImplementedError, match=f"{name}: {flag}=True"):
            getattr(cr.optim, name)([w], **{flag: True})
        with pytest.raises(NotImplementedError, match=flag):
            getattr(cr.optim, name)([{"params": [w], flag: True}])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_fused_and_foreach_together_are_an_error_as_in_torch(name: str) -> None:
    with pytest.raises(RuntimeError, match="fused and foreach cannot be True together"):
        getattr(cr.optim, name)([cr.nn.Parameter(cr.ones(2))], foreach=True, fused=True)
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], foreach=True, fused=True)
