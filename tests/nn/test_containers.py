"""Sequential, ModuleList, ModuleDict, ParameterList and ParameterDict against PyTorch: the same
operations on both give the same entries, the same state_dict names and the same errors."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def layers(m: Any) -> list:
    """Five distinguishable modules of either library (the types tell them apart)."""
    return [m.Linear(2, 3), m.ReLU(), m.Linear(3, 4), m.Tanh(), m.Sigmoid()]


def summary(container: Any) -> list[tuple[str, str]]:
    """(key, type name) per registered submodule: the structure that both must share."""
    return [(name, type(module).__name__) for name, module in container._modules.items()]


def same(build: Any) -> tuple[Any, Any]:
    """build(m) with m = chainrule.nn and m = torch.nn; both results must have one structure."""
    ours, theirs = build(cr.nn), build(torch.nn)
    if isinstance(theirs, torch.nn.Module):
        assert summary(ours) == summary(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    return ours, theirs


# ---- Sequential ----------------------------------------------------------------------------------


def build_edited_sequential(m: Any) -> Any:
    s = m.Sequential(*layers(m))
    s[1] = m.ELU()
    del s[2]
    s.append(m.Linear(4, 1))
    s.insert(1, m.Softplus())
    s.insert(-1, m.Identity())
    s.extend([m.ReLU(), m.Tanh()])
    s.pop(0)
    return s


SEQUENTIAL_EDITS = {
    "indices": lambda m: m.Sequential(*layers(m)),
    "ordered_dict": lambda m: m.Sequential(OrderedDict(zip("abcde", layers(m)))),
    "slice_keeps_names": lambda m: m.Sequential(OrderedDict(zip("abcde", layers(m))))[1:4],
    "step_slice": lambda m: m.Sequential(*layers(m))[::2],
    "edited": build_edited_sequential,
    "delete_renumbers_names": lambda m: _deleted(
        m.Sequential(OrderedDict(zip("abcde", layers(m))))
    ),
    "delete_slice": lambda m: _deleted(m.Sequential(*layers(m)), slice(1, 4)),
    "add": lambda m: m.Sequential(*layers(m)[:2]) + m.Sequential(*layers(m)[2:]),
    "iadd": lambda m: _iadd(m.Sequential(*layers(m)[:2]), m.Sequential(*layers(m)[2:])),
    "mul": lambda m: m.Sequential(m.Linear(2, 2), m.ReLU()) * 3,
    "rmul": lambda m: 2 * m.Sequential(m.Linear(2, 2)),
    "imul": lambda m: _imul(m.Sequential(m.Linear(2, 2), m.Tanh()), 2),
}


def _deleted(container: Any, index: Any = 0) -> Any:
    del container[index]
    return container


def _iadd(container: Any, other: Any) -> Any:
    container += other
    return container


def _imul(container: Any, times: int) -> Any:
    container *= times
    return container


@pytest.mark.parametrize("name", list(SEQUENTIAL_EDITS))
def test_sequential_edits_match_torch(name: str) -> None:
    ours, theirs = same(SEQUENTIAL_EDITS[name])
    assert type(ours).__name__ == type(theirs).__name__ == "Sequential"
    assert len(ours) == len(theirs)
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]


def test_sequential_indexing_and_forward_match_torch() -> None:
    ours, theirs = same(lambda m: m.Sequential(*layers(m)))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(
        ours(cr.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6
    )
    assert type(ours[-1]).__name__ == type(theirs[-1]).__name__ == "Sigmoid"
    assert ours[0] is next(iter(ours)) and ours[-5] is ours[0]
    for container in (ours, theirs):
        with pytest.raises(IndexError, match="out of range"):
            container[5]
        with pytest.raises(IndexError, match="out of range"):
            container[-6]
        with pytest.raises(TypeError):
            container["a"]
        with pytest.raises(IndexError):
            container.insert(7, type(container[1])())
        with pytest.raises(ValueError, match=r"only a Sequential|supports only objects"):
            container + [container[1]]
        with pytest.raises(ValueError):
            container * 0
        with pytest.raises(TypeError):
            container.append(3)


# ---- ModuleList ---------------------------------------------------------------------------------


def build_edited_list(m: Any) -> Any:
    modules = m.ModuleList(layers(m))
    modules[0] = m.ELU()
    del modules[1]
    modules.append(m.Linear(1, 1))
    modules.insert(0, m.Softplus())
    modules.extend([m.ReLU()])
    modules += [m.Tanh()]
    modules.pop(2)
    return modules


LIST_EDITS = {
    "plain": lambda m: m.ModuleList(layers(m)),
    "empty": lambda m: m.ModuleList(),
    "generator": lambda m: m.ModuleList(module for module in layers(m)),
    "slice_renumbers": lambda m: m.ModuleList(layers(m))[1::2],
    "edited": build_edited_list,
    "delete_slice": lambda m: _deleted(m.ModuleList(layers(m)), slice(None, None, 2)),
    "add": lambda m: m.ModuleList(layers(m)[:2]) + m.ModuleList(layers(m)[2:]),
}


@pytest.mark.parametrize("name", list(LIST_EDITS))
def test_module_list_edits_match_torch(name: str) -> None:
    ours, theirs = same(LIST_EDITS[name])
    assert type(ours).__name__ == type(theirs).__name__ == "ModuleList"
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]


def test_module_list_repr_compresses_repeats_like_torch() -> None:
    def build(m: Any) -> Any:
        block = m.Sequential(m.Linear(2, 2), m.ReLU())
        return m.ModuleList([m.Linear(2, 2), m.Linear(2, 2), block, m.ReLU(), m.ReLU(), m.ReLU()])

    assert repr(build(cr.nn)) == repr(build(torch.nn))
    assert repr(cr.nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_module_list_errors_match_torch() -> None:
    for m in (cr.nn, torch.nn):
        modules = m.ModuleList([m.ReLU()])
        with pytest.raises(IndexError, match="out of range"):
            modules[1]
        with pytest.raises(
            TypeError, match=r"ModuleList\.extend should be called with an iterable"
        ):
            modules.extend(m.ReLU())
        with pytest.raises(TypeError):
            modules.append(3)


# ---- ModuleDict ---------------------------------------------------------------------------------


def build_edited_dict(m: Any) -> Any:
    modules = m.ModuleDict({"b": m.ReLU(), "a": m.Linear(2, 2)})
    modules["c"] = m.Tanh()
    modules.update([("d", m.Linear(1, 1)), ("b", m.ELU())])
    modules.update(OrderedDict(e=m.Sigmoid()))
    del modules["a"]
    modules.pop("c")
    return modules


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.ModuleDict({"b": m.ReLU(), "a": m.Linear(2, 2)}),  # insertion order kept
        lambda m: m.ModuleDict([("x", m.Linear(2, 3)), ("y", m.Tanh())]),
        build_edited_dict,
        lambda m: _cleared(m.ModuleDict({"x": m.ReLU()})),
    ],
)
def test_module_dict_matches_torch(build: Any) -> None:
    ours, theirs = same(build)
    assert list(ours.keys()) == list(theirs.keys()) == list(ours) == list(theirs)
    assert [type(v).__name__ for v in ours.values()] == [type(v).__name__ for v in theirs.values()]
    assert [k for k, _ in ours.items()] == list(theirs.keys())
    assert len(ours) == len(theirs)
    for key in theirs:
        assert key in ours


def _cleared(container: Any) -> Any:
    container.clear()
    return container


def test_module_dict_errors_match_torch() -> None:
    for m in (cr.nn, torch.nn):
        with pytest.raises(ValueError, match="has length 3; 2 is required"):
            m.ModuleDict([("x", m.ReLU(), 3)])
        with pytest.raises(TypeError):
            m.ModuleDict(3)
        with pytest.raises(KeyError):
            m.ModuleDict({"a.b": m.ReLU()})
        with pytest.raises(KeyError):
            m.ModuleDict()["missing"]


# ---- ParameterList and ParameterDict -------------------------------------------------------------


def values_of(m: Any) -> list:
    """A Parameter, a plain tensor (made a Parameter by the container) and another Parameter."""
    lib = cr if m is cr.nn else torch
    return [
        m.Parameter(lib.ones(2, 3)),
        lib.zeros(4),
        m.Parameter(lib.full((1,), 2.0)),
    ]


class Holder:
    """A model holding a ParameterList and a ParameterDict, built in either library."""

    @staticmethod
    def build(m: Any) -> Any:
        class Model(m.Module):
            def __init__(self) -> None:
                super().__init__()
                self.params = m.ParameterList(values_of(m))
                self.table = m.ParameterDict({"w": values_of(m)[0], "b": values_of(m)[1]})
                self.head = m.Linear(3, 1)

        return Model()


def test_parameter_containers_register_with_torch_names() -> None:
    ours, theirs = same(Holder.build)
    assert list(ours.state_dict()) == [
        "params.0",
        "params.1",
        "params.2",
        "table.b",  # a plain dict is added in sorted key order, as PyTorch does
        "table.w",
        "head.weight",
        "head.bias",
    ]
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 7
    assert all(isinstance(p, cr.nn.Parameter) and p.requires_grad for p in ours.params)
    # A state_dict saved by PyTorch loads into ours, names and shapes alike.
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.double()
    assert ours.params[1].dtype == cr.float64 and ours.table["w"].dtype == cr.float64


def test_parameter_list_operations_match_torch() -> None:
    def build(m: Any) -> Any:
        params = m.ParameterList(values_of(m))
        params.append(values_of(m)[0])
        params.extend(values_of(m)[1:])
        params += [values_of(m)[2]]
        params[0] = values_of(m)[1]
        params.append("not a tensor")
        return params

    ours, theirs = same(build)
    assert len(ours) == len(theirs) == 8
    assert [type(p).__name__ for p in ours] == [type(p).__name__ for p in theirs]
    assert [tuple(p.shape) for p in ours[:-1]] == [tuple(p.shape) for p in theirs[:-1]]
    assert ours[-1] == theirs[-1] == "not a tensor"
    sliced, sliced_theirs = ours[1:6:2], theirs[1:6:2]
    assert type(sliced).__name__ == "ParameterList" and len(sliced) == len(sliced_theirs) == 3
    assert sliced[0] is ours[1]
    assert repr(ours) == repr(theirs).replace("torch.", "")  # dtypes print as float32


def test_parameter_list_shares_memory_and_trains() -> None:
    """A tensor put in becomes a Parameter on the same memory; gradients reach it."""
    base = cr.zeros(3)
    params = cr.nn.ParameterList([base, cr.nn.Parameter(cr.ones(3))])
    params[0].array[0] = 5.0
    assert float(base[0]) == 5.0
    (params[0] * params[1]).sum().backward()
    np.testing.assert_array_equal(params[0].grad.numpy(), np.ones(3))
    np.testing.assert_array_equal(params[1].grad.numpy(), [5.0, 0.0, 0.0])


def test_parameter_list_errors_match_torch() -> None:
    for lib, m in ((cr, cr.nn), (torch, torch.nn)):
        params = m.ParameterList([lib.ones(2)])
        with pytest.raises(IndexError, match="out of range"):
            params[1]
        with pytest.raises(TypeError, match=r"ParameterList\.extend should be called"):
            params.extend(lib.ones(2))
        with pytest.raises(TypeError):
            params[0] = 3  # a registered parameter can only be replaced by a tensor
        with pytest.raises(RuntimeError, match="ParameterList should not be called"):
            params(1)


def test_parameter_dict_operations_match_torch() -> None:
    def build(m: Any) -> Any:
        table = m.ParameterDict([("z", values_of(m)[0]), ("y", values_of(m)[1])])
        table["x"] = values_of(m)[2]
        table.update(OrderedDict(q=values_of(m)[1], a=values_of(m)[0]))
        table.update({"n": values_of(m)[2], "m": values_of(m)[2]})  # sorted: m, n
        table.setdefault("s", values_of(m)[0])
        table.setdefault("z", values_of(m)[2])
        del table["y"]
        table.pop("q")
        return table

    ours, theirs = same(build)
    assert list(ours.keys()) == list(theirs.keys()) == ["z", "x", "a", "m", "n", "s"]
    assert list(reversed(ours)) == list(reversed(theirs))
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    assert ours.get("zz", 7) == theirs.get("zz", 7) == 7
    assert ("x" in ours) and ("zz" not in ours)
    key, value = ours.popitem()
    assert key == theirs.popitem()[0] == "s" and value.shape == (2, 3)
    merged, merged_theirs = (
        ours | cr.nn.ParameterDict({"k": cr.ones(1)}),
        theirs | (torch.nn.ParameterDict({"k": torch.ones(1)})),
    )
    assert list(merged.keys()) == list(merged_theirs.keys())
    fresh = ours.fromkeys(["p", "q"], cr.ones(2))
    assert list(fresh.keys()) == ["p", "q"] and isinstance(fresh["p"], cr.nn.Parameter)
    copied = ours.copy()
    assert copied["z"] is ours["z"]
    ours.clear()
    assert len(ours) == 0 and list(ours.parameters()) == []
    assert repr(theirs).count("\n") == repr(copied).count("\n")


def test_parameter_dict_errors() -> None:
    for lib, m in ((cr, cr.nn), (torch, torch.nn)):
        table = m.ParameterDict()
        with pytest.raises(TypeError):
            table[1] = lib.ones(1)
        with pytest.raises(KeyError):
            table["a.b"] = lib.ones(1)
        with pytest.raises(ValueError, match="has length 3; 2 is required"):
            m.ParameterDict([("x", lib.ones(1), 3)])
        with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
            table(1)
    with pytest.raises(KeyError, match="no key 'missing'"):
        cr.nn.ParameterDict()["missing"]  # PyTorch raises AttributeError here
    with pytest.raises(KeyError, match="would hide the attribute"):
        cr.nn.ParameterDict({"training": cr.ones(1)})
