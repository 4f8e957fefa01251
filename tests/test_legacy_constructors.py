"""PyTorch's older spellings against PyTorch: ``Tensor(...)`` and the typed constructors
(``FloatTensor``...), ``isinstance`` with them, ``Tensor.type``, ``autograd.Variable``,
``Size``, and the dtypes behind them (aliases, ``half``, ``bfloat16`` through ml_dtypes)."""

from __future__ import annotations

import pickle
import sys
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import Variable

WITHOUT_GPU = pytest.mark.skipif(
    cr.cuda.is_available(),
    reason="CuPy sees a GPU here: the errors of a machine without one cannot be tested",
)

TYPED = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "BFloat16Tensor",
    "ByteTensor",
    "CharTensor",
    "ShortTensor",
    "IntTensor",
    "LongTensor",
    "BoolTensor",
]
DTYPES = ["float32", "float64", "float16", "bfloat16", "uint8", "int8", "int16", "int32", "int64"]
DTYPES += ["bool"]


def assert_like_torch(ours: Any, theirs: Any) -> None:
    """Same dtype, shape and values."""
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def raises_like_torch(call: Any) -> pytest.ExceptionInfo:
    """``call(cr)`` raises the class of exception that ``call(torch)`` raises."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(cr)
    return ours


# ---- Tensor(...) -------------------------------------------------------------------------------

LEGACY_CALLS = [
    lambda m: m.Tensor([0]),
    lambda m: m.Tensor([[1, 2], [3, 4]]),
    lambda m: m.Tensor([True, False]),
    lambda m: m.Tensor([1.5, -2.25]),
    lambda m: m.Tensor((2, 3)),  # a tuple is data
    lambda m: m.Tensor([]),
    lambda m: m.Tensor(),
    lambda m: m.Tensor(m.tensor([1, 2])),
    lambda m: m.Tensor(m.tensor([1.0, 2.0], dtype=m.float64)),
    lambda m: m.Tensor([m.tensor(1.0), m.tensor(2.0)]),
]


@pytest.mark.parametrize("call", LEGACY_CALLS)
def test_tensor_constructor_matches_torch(call: Any) -> None:
    assert_like_torch(call(cr), call(torch))


@pytest.mark.parametrize(
    "call",
    [lambda m: m.Tensor(2, 3), lambda m: m.Tensor(m.Size([2, 3])), lambda m: m.Tensor(4)],
)
def test_tensor_constructor_with_sizes_is_uninitialised_of_that_shape(call: Any) -> None:
    ours, theirs = call(cr), call(torch)
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == "float32"


def test_tensor_constructor_follows_the_default_dtype() -> None:
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.Tensor([1]).dtype == cr.float64 and cr.Tensor(2).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)


def test_tensor_constructor_of_a_tensor_shares_its_memory_as_torch() -> None:
    for m in (cr, torch):
        t = m.tensor([1.0, 2.0])
        alias = m.Tensor(t)
        alias[0] = 5.0
        assert t.tolist() == [5.0, 2.0]


def test_tensor_constructor_wraps_arrays_keeping_dtype_and_memory() -> None:
    # chainrule's own code wraps arrays with Tensor(array): unlike PyTorch, whose legacy
    # constructor converts them to the default float dtype, the array is kept as it is.
    array = np.arange(3, dtype=np.int64)
    wrapped = cr.Tensor(array)
    assert wrapped.dtype == cr.int64 and wrapped.array is array
    assert cr.Tensor(np.zeros(2), requires_grad=True).requires_grad


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.Tensor(3.5),
        lambda m: m.Tensor("a"),
        lambda m: m.Tensor(2, 3.0),
        lambda m: m.Tensor(-1),
        lambda m: m.FloatTensor(2.5),
        lambda m: m.FloatTensor(m.tensor([1, 2])),
        lambda m: m.LongTensor(2, -3),
    ],
)
def test_bad_legacy_calls_raise_what_torch_raises(call: Any) -> None:
    raises_like_torch(call)


# ---- typed constructors ------------------------------------------------------------------------


@pytest.mark.parametrize("name", TYPED)
@pytest.mark.parametrize(
    "args",
    [
        ([1, 0, 2],),
        ([[1.5, 2.7], [-0.5, 3.0]],),
        (np.array([1.5, 2.0]),),
        (np.array([3, 4], dtype=np.int32),),
        ((2, 3),),
        ([True, False],),
    ],
)
def test_typed_constructors_of_data_match_torch(name: str, args: tuple) -> None:
    ours, theirs = _both(lambda m: getattr(m, name)(*args))
    if isinstance(theirs, BaseException):
        assert isinstance(ours, type(theirs))
    else:
        assert_like_torch(ours, theirs)


def _both(call: Any) -> tuple[Any, Any]:
    """``call`` in each library: its result, or the exception it raised."""
    results = []
    for m in (cr, torch):
        try:
            results.append(call(m))
        except (TypeError, RuntimeError, ValueError) as error:
            results.append(error)
    return results[0], results[1]


@pytest.mark.parametrize("name", TYPED)
def test_typed_constructors_of_sizes_and_of_nothing_match_torch(name: str) -> None:
    for args in [(2, 3), (cr.Size([4]),), ()]:
        torch_args = (torch.Size(args[0]),) if args and isinstance(args[0], cr.Size) else args
        ours, theirs = getattr(cr, name)(*args), getattr(torch, name)(*torch_args)
        assert ours.shape == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert str(getattr(cr, name).dtype) == str(getattr(torch, name).dtype).removeprefix("torch.")


def test_typed_constructor_of_a_tensor_of_its_dtype_keeps_it() -> None:
    t = cr.tensor([1.0, 2.0])
    assert cr.FloatTensor(t).tolist() == torch.FloatTensor(torch.tensor([1.0, 2.0])).tolist()
    with pytest.raises(TypeError, match=r"FloatTensor\(\): expected a tensor of dtype float32"):
        cr.FloatTensor(cr.tensor([1, 2]))


@pytest.mark.parametrize("name", TYPED)
@pytest.mark.parametrize("dtype", DTYPES)
def test_isinstance_with_typed_constructors_matches_torch(name: str, dtype: str) -> None:
    ours = cr.zeros(2, dtype=getattr(cr, dtype))
    theirs = torch.zeros(2, dtype=getattr(torch, dtype))
    assert isinstance(ours, getattr(cr, name)) == isinstance(theirs, getattr(torch, name))
    assert isinstance(ours, cr.Tensor)


def test_typed_constructors_are_not_tensor_subclasses_as_in_torch() -> None:
    assert issubclass(cr.FloatTensor, cr.Tensor) == issubclass(torch.FloatTensor, torch.Tensor)
    assert not isinstance(3.0, cr.FloatTensor) and not isinstance([1.0], cr.FloatTensor)
    assert repr(cr.FloatTensor) == "<class 'chainrule.FloatTensor'>"
    assert cr.FloatTensor.is_cuda is torch.FloatTensor.is_cuda is False


# ---- Tensor.type -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_type_names_match_torch(dtype: str) -> None:
    ours = cr.zeros(1, dtype=getattr(cr, dtype)).type()
    assert ours == torch.zeros(1, dtype=getattr(torch, dtype)).type()


@pytest.mark.parametrize(
    "target",
    [
        lambda m: m.LongTensor,
        lambda m: m.DoubleTensor,
        lambda m: m.FloatTensor,
        lambda m: "torch.IntTensor",
        lambda m: "torch.HalfTensor",
        lambda m: m.int32,
        lambda m: m.float64,
        lambda m: m.bool,
    ],
)
def test_type_conversions_match_torch(target: Any) -> None:
    x, tx = cr.tensor([1.5, -2.0, 0.0]), torch.tensor([1.5, -2.0, 0.0])
    ours, theirs = x.type(target(cr)), tx.type(target(torch))
    assert_like_torch(ours, theirs)
    assert (ours is x) == (theirs is tx)
    assert x.type(dtype=target(cr)).dtype == ours.dtype


@WITHOUT_GPU
def test_type_takes_chainrule_names_and_refuses_what_torch_refuses() -> None:
    assert cr.ones(1).type("chainrule.LongTensor").dtype == cr.int64
    for bad in ["FloatTensor", "torch.float32", "float"]:
        raises_like_torch(lambda m, bad=bad: m.ones(1).type(bad))
    raises_like_torch(lambda m: m.ones(1).type(float))
    with pytest.raises(RuntimeError, match=r"CuPy, which is not installed"):
        cr.ones(1).type("torch.cuda.FloatTensor")


def test_type_keeps_the_graph() -> None:
    for m in (cr, torch):
        w = m.tensor([1.0, 2.0], requires_grad=True)
        (w.type(m.DoubleTensor) ** 2).sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])


# ---- Variable ----------------------------------------------------------------------------------


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("source", ["leaf", "leaf_requiring_grad", "result"])
def test_variable_is_a_detached_alias_as_in_torch(source: str, requires_grad: bool) -> None:
    facts = []
    for m in (cr, torch):
        x = m.tensor([1.0, 2.0], requires_grad=source != "leaf")
        data = x * 2 if source == "result" else x
        variable = (m.autograd.Variable if m is torch else Variable)(data, requires_grad)
        facts.append((variable.requires_grad, variable.is_leaf, variable.grad_fn is None))
        facts.append(x.requires_grad)
        with m.no_grad():
            variable[0] = 7.0
        facts.append(data.tolist())  # the same memory
    assert facts[:3] == facts[3:]


def test_variable_rejects_what_torch_rejects_and_matches_isinstance() -> None:
    raises_like_torch(lambda m: m.autograd.Variable([1.0]))
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        Variable([1.0])
    with pytest.raises(TypeError, match="floating"):
        Variable(cr.tensor([1]), requires_grad=True)
    assert isinstance(cr.ones(1), Variable) and not isinstance(1.0, Variable)
    assert isinstance(torch.ones(1), torch.autograd.Variable)
    assert Variable().shape == tuple(torch.autograd.Variable().shape)
    with pytest.warns(UserWarning, match="volatile"):
        Variable(cr.ones(1), volatile=True)
    assert cr.autograd.Variable is Variable


def test_a_variable_that_requires_grad_trains_as_in_torch() -> None:
    grads = []
    for m in (cr, torch):
        w = (m.autograd.Variable if m is torch else Variable)(m.ones(2), requires_grad=True)
        (w * m.tensor([3.0, 4.0])).sum().backward()
        grads.append(w.grad.tolist())
    assert grads[0] == grads[1] == [3.0, 4.0]


# ---- Size --------------------------------------------------------------------------------------


def test_shape_and_size_are_sizes_that_behave_as_torch_sizes() -> None:
    t, tt = cr.zeros(2, 3), torch.zeros(2, 3)
    for ours, theirs in [(t.shape, tt.shape), (t.size(), tt.size())]:
        assert isinstance(ours, cr.Size) and isinstance(ours, tuple)
        assert ours == theirs == (2, 3) and hash(ours) == hash(theirs) == hash((2, 3))
        assert repr(ours) == repr(theirs).replace("torch", "chainrule")
        assert ours.numel() == theirs.numel() == 6
        for derived in [
            lambda s: s[1:],
            lambda s: s[::-1],
            lambda s: s + (4,),
            lambda s: (4,) + s,
            lambda s: s * 2,
            lambda s: 2 * s,
        ]:
            assert type(derived(ours)) is cr.Size and derived(ours) == derived(theirs)
        assert ours[0] == 2 and type(ours[0]) is int
        assert ours != [2, 3] and theirs != [2, 3]
    assert t.size(1) == 3 and cr.Size().numel() == torch.Size().numel() == 1


def test_size_prints_as_a_tuple_so_messages_read_as_shapes() -> None:
    shape = cr.zeros(2, 3).shape
    assert str(shape) == "(2, 3)" and f"got {shape}" == "got (2, 3)"
    assert repr(shape) == "chainrule.Size([2, 3])"
    assert repr(cr.Size([])) == "chainrule.Size([])"


def test_size_construction_matches_torch() -> None:
    for sizes in [[2, 3], (4,), [], [np.int64(5)], [cr.tensor(3)], [-1], [True]]:
        torch_sizes = [torch.tensor(3)] if isinstance(sizes[:1] and sizes[0], cr.Tensor) else sizes
        assert cr.Size(sizes) == torch.Size(torch_sizes)
    raises_like_torch(lambda m: m.Size([2.0]))
    raises_like_torch(lambda m: m.Size(3))
    with pytest.raises(TypeError, match=r"chainrule.Size\(\) takes an iterable of 'int'"):
        cr.Size([2, 2.5])
    with pytest.raises(TypeError):
        cr.Size((2,)) + [1]  # type: ignore[operator]


def test_size_pickles_and_copies() -> None:
    shape = cr.Size([2, 3])
    again = pickle.loads(pickle.dumps(shape))
    assert type(again) is cr.Size and again == shape
    assert np.zeros(shape).shape == (2, 3)


# ---- dtypes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alias", ["float", "double", "half", "long", "int", "short", "bool", "float16", "uint8"]
)
def test_dtype_aliases_match_torch(alias: str) -> None:
    assert str(getattr(cr, alias)) == str(getattr(torch, alias)).removeprefix("torch.")
    ours = cr.tensor([1.7, 2.2, 0.0], dtype=getattr(cr, alias))
    assert_like_torch(ours, torch.tensor([1.7, 2.2, 0.0], dtype=getattr(torch, alias)))


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("uint8", [-0.5]),
        ("uint8", [256]),
        ("uint8", [-1]),  # wraps to 255 in both
        ("uint8", [-256]),
        ("int8", [127.9]),
        ("int8", [-128]),
        ("int8", [-129]),
        ("int64", [1e30]),
        ("int64", [float("nan")]),
        ("int32", [2**31]),
        ("bool", [5]),
        ("float16", [1e6]),
    ],
)
@pytest.mark.parametrize("make", ["tensor", "typed"])
def test_python_numbers_that_overflow_are_refused_as_in_torch(
    dtype: str, values: list, make: str
) -> None:
    typed = {"uint8": "ByteTensor", "int8": "CharTensor", "int64": "LongTensor"}
    typed |= {"int32": "IntTensor", "bool": "BoolTensor", "float16": "HalfTensor"}

    def call(m: Any) -> Any:
        if make == "tensor":
            return m.tensor(values, dtype=getattr(m, dtype))
        return getattr(m, typed[dtype])(values)

    ours, theirs = _both(call)
    if isinstance(theirs, BaseException):
        assert isinstance(ours, type(theirs)) and "without overflow" in str(ours)
    else:
        assert_like_torch(ours, theirs)


@pytest.mark.parametrize("python_type", [float, int, bool])
def test_python_types_as_dtypes_match_torch(python_type: type) -> None:
    assert_like_torch(cr.zeros(2, dtype=python_type), torch.zeros(2, dtype=python_type))
    assert_like_torch(
        cr.tensor([1.5, 0.0]).to(python_type), torch.tensor([1.5, 0.0]).to(python_type)
    )


VALUES = [1.1, 2.7, -3.3, 1000.1, 1e-3, 65504.0, 70000.0, -0.0]


@pytest.mark.parametrize("method", ["half", "bfloat16", "float", "double"])
def test_half_and_bfloat16_round_as_torch(method: str) -> None:
    ours = getattr(cr.tensor(VALUES), method)()
    theirs = getattr(torch.tensor(VALUES), method)()
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.double().numpy(), theirs.double().numpy())
    assert repr(ours).replace("chainrule", "torch") == repr(theirs)


def test_bfloat16_promotes_and_differentiates_as_torch() -> None:
    x = [1.25, -2.5, 3.0]
    pairs = [
        lambda m: m.tensor(x).bfloat16() * 2,
        lambda m: m.tensor(x).bfloat16() + m.tensor(x),
        lambda m: m.tensor(x).bfloat16() + m.tensor(x).half(),
        lambda m: m.tensor([1, 2, 3]) + m.tensor(x).bfloat16(),
        lambda m: m.tensor(x, dtype=m.bfloat16).sum(),
    ]
    for call in pairs:
        assert_like_torch(call(cr), call(torch))
    grads = []
    for m in (cr, torch):
        w = m.tensor([1.5, 2.0], dtype=m.bfloat16, requires_grad=True)
        (w * w).sum().backward()
        grads.append((str(w.grad.dtype).removeprefix("torch."), w.grad.float().tolist()))
    assert grads[0] == grads[1]
    assert cr.tensor([1.0]).bfloat16().is_floating_point()
    assert cr.tensor([1.0], dtype=cr.bfloat16).type() == "torch.BFloat16Tensor"
    net = cr.nn.Linear(2, 1).bfloat16()
    assert net.weight.dtype == cr.bfloat16


@WITHOUT_GPU
def test_bfloat16_without_ml_dtypes_says_how_to_install_it(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install ml_dtypes"):
        cr.ones(2).bfloat16()
    with pytest.raises(ImportError, match=r"pip install ml_dtypes"):
        cr.bfloat16  # noqa: B018
    with pytest.raises(ImportError, match=r"pip install ml_dtypes"):
        cr.zeros(2, dtype="bfloat16")
    with pytest.raises(ImportError, match=r"pip install ml_dtypes"):
        cr.BFloat16Tensor([1.0])
    assert cr.ones(2).half().dtype == cr.float16, "float16 needs nothing but NumPy"
