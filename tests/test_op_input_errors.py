"""Operations refuse what PyTorch refuses, with one clear line.

A string, None, an arbitrary object, a list of mixed things or a NumPy array given where a
tensor goes (or a string or a float where a dimension or a size goes) must raise the same
exception type as PyTorch's, in one line that names the operation, the argument and what was
given, not an AttributeError from deep inside. Each call below runs on PyTorch and on chainrule
with the same arguments: PyTorch must raise (the table is honest), and chainrule must raise
the same type. Operators keep Python's own message, as PyTorch's do.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

# Where a tensor goes.
TENSOR_BAD = {
    "str": "a",
    "None": None,
    "object": object(),
    "mixed list": [1, "a"],
    "ndarray": np.ones(3, dtype=np.float32),
}
# Where a dimension (an int, or a tuple of ints for reductions) goes. None is a valid dim of the
# reductions, and so is left out here.
DIM_BAD = {
    "str": "a",
    "object": object(),
    "float": 1.5,
    "ndarray": np.ones(3, dtype=np.float32),
}
# Where a shape goes.
SHAPE_BAD = {"str": "a", "None": None, "object": object(), "float": 3.0, "mixed": (3, "a")}

TYPE_NAMES = {
    "str": "str",
    "None": "NoneType",
    "object": "object",
    "mixed list": "list",
    "ndarray": "numpy.ndarray",
    "float": "float",
}

Call = Callable[[Any, Any], Any]


def t(m: Any) -> Any:
    return m.ones(3)


def t2(m: Any) -> Any:
    return m.ones(3, 3)


# (name, call of (module, bad value), the operation named in the message, the argument named)
TENSOR_CASES: list[tuple[str, Call, str, str]] = [
    ("exp", lambda m, bad: m.exp(bad), "exp", "input"),
    ("log", lambda m, bad: m.log(bad), "log", "input"),
    ("sqrt", lambda m, bad: m.sqrt(bad), "sqrt", "input"),
    ("abs", lambda m, bad: m.abs(bad), "abs", "input"),
    ("neg", lambda m, bad: m.neg(bad), "neg", "input"),
    ("sin", lambda m, bad: m.sin(bad), "sin", "input"),
    ("cos", lambda m, bad: m.cos(bad), "cos", "input"),
    ("add(input)", lambda m, bad: m.add(bad, t(m)), "add", "input"),
    ("add(other)", lambda m, bad: m.add(t(m), bad), "add", "other"),
    ("sub(other)", lambda m, bad: m.sub(t(m), bad), "sub", "other"),
    ("mul(other)", lambda m, bad: m.mul(t(m), bad), "mul", "other"),
    ("div(other)", lambda m, bad: m.div(t(m), bad), "div", "other"),
    ("pow(exponent)", lambda m, bad: m.pow(t(m), bad), "pow", "exponent"),
    ("maximum(other)", lambda m, bad: m.maximum(t(m), bad), "maximum", "other"),
    ("minimum(input)", lambda m, bad: m.minimum(bad, t(m)), "minimum", "input"),
    ("where(condition)", lambda m, bad: m.where(bad, t(m), t(m)), "where", "condition"),
    ("where(other)", lambda m, bad: m.where(t(m) > 0, t(m), bad), "where", "other"),
    ("clamp(input)", lambda m, bad: m.clamp(bad, 0.0), "clamp", "input"),
    ("matmul(input)", lambda m, bad: m.matmul(bad, t(m)), "matmul", "input"),
    ("matmul(other)", lambda m, bad: m.matmul(t(m), bad), "matmul", "other"),
    ("mm(mat2)", lambda m, bad: m.mm(t2(m), bad), "mm", "mat2"),
    ("dot(tensor)", lambda m, bad: m.dot(t(m), bad), "dot", "tensor"),
    ("sum", lambda m, bad: m.sum(bad), "sum", "input"),
    ("mean", lambda m, bad: m.mean(bad), "mean", "input"),
    ("var", lambda m, bad: m.var(bad), "var", "input"),
    ("std", lambda m, bad: m.std(bad), "std", "input"),
    ("logsumexp", lambda m, bad: m.logsumexp(bad, 0), "logsumexp", "input"),
    ("max", lambda m, bad: m.max(bad), "max", "input"),
    ("min", lambda m, bad: m.min(bad), "min", "input"),
    ("argmax", lambda m, bad: m.argmax(bad), "argmax", "input"),
    ("argmin", lambda m, bad: m.argmin(bad), "argmin", "input"),
    ("reshape", lambda m, bad: m.reshape(bad, (3,)), "reshape", "input"),
    ("flatten", lambda m, bad: m.flatten(bad), "flatten", "input"),
    ("squeeze", lambda m, bad: m.squeeze(bad), "squeeze", "input"),
    ("unsqueeze", lambda m, bad: m.unsqueeze(bad, 0), "unsqueeze", "input"),
    ("permute", lambda m, bad: m.permute(bad, (0,)), "permute", "input"),
    ("transpose", lambda m, bad: m.transpose(bad, 0, 0), "transpose", "input"),
    ("split", lambda m, bad: m.split(bad, 1), "split", "tensor"),
    ("chunk", lambda m, bad: m.chunk(bad, 1), "chunk", "input"),
    ("zeros_like", lambda m, bad: m.zeros_like(bad), "zeros_like", "input"),
    ("full_like", lambda m, bad: m.full_like(bad, 1.0), "full_like", "input"),
    ("randn_like", lambda m, bad: m.randn_like(bad), "randn_like", "input"),
    ("t.add", lambda m, bad: t(m).add(bad), "add", "other"),
    ("t.mul", lambda m, bad: t(m).mul(bad), "mul", "other"),
    ("t.matmul", lambda m, bad: t(m).matmul(bad), "matmul", "other"),
    ("t.maximum", lambda m, bad: t(m).maximum(bad), "maximum", "other"),
]

# Operations of other modules, refused on the failure path of Function.apply (a NumPy array
# is a valid array there, so only the other bad values are listed).
FAILURE_PATH_CASES: list[tuple[str, Call, str, str]] = [
    ("sigmoid", lambda m, bad: m.sigmoid(bad), "sigmoid", "input"),
    ("tanh", lambda m, bad: m.tanh(bad), "tanh", "input"),
    ("relu", lambda m, bad: m.relu(bad), "relu", "input"),
    ("F.relu", lambda m, bad: m.nn.functional.relu(bad), "relu", "input"),
    ("clamp(min)", lambda m, bad: m.clamp(t(m), bad), "clamp", "min"),
]

SEQUENCE_CASES: list[tuple[str, Call, str]] = [
    ("cat", lambda m, bad: m.cat([t(m), bad]), "cat"),
    ("stack", lambda m, bad: m.stack([t(m), bad]), "stack"),
]

DIM_CASES: list[tuple[str, Call, str, str]] = [
    ("sum(dim)", lambda m, bad: m.sum(t2(m), dim=bad), "sum", "dim"),
    ("t.mean(dim)", lambda m, bad: t2(m).mean(bad), "mean", "dim"),
    ("t.max(dim)", lambda m, bad: t2(m).max(bad), "max", "dim"),
    ("t.argmax(dim)", lambda m, bad: t2(m).argmax(bad), "argmax", "dim"),
    ("t.logsumexp(dim)", lambda m, bad: t2(m).logsumexp(bad), "logsumexp", "dim"),
    ("t.var(dim)", lambda m, bad: t2(m).var(bad), "var", "dim"),
    ("t.squeeze(dim)", lambda m, bad: t2(m).squeeze(bad), "squeeze", "dim"),
    ("t.unsqueeze(dim)", lambda m, bad: t2(m).unsqueeze(bad), "unsqueeze", "dim"),
    ("t.transpose(dim0)", lambda m, bad: t2(m).transpose(bad, 0), "transpose", "dim0"),
    ("t.transpose(dim1)", lambda m, bad: t2(m).transpose(0, bad), "transpose", "dim1"),
    ("t.flatten(start_dim)", lambda m, bad: t2(m).flatten(bad), "flatten", "start_dim"),
    ("t.softmax(dim)", lambda m, bad: t2(m).softmax(bad), "softmax", "dim"),
    ("cat(dim)", lambda m, bad: m.cat([t(m), t(m)], bad), "cat", "dim"),
    ("t.chunk(chunks)", lambda m, bad: t(m).chunk(bad), "chunk", "chunks"),
    ("t.split(size)", lambda m, bad: t(m).split(bad), "split", "split_size_or_sections"),
]

SHAPE_CASES: list[tuple[str, Call, str, str]] = [
    ("reshape(shape)", lambda m, bad: m.reshape(t(m), bad), "reshape", "shape"),
    ("t.reshape", lambda m, bad: t(m).reshape(bad), "reshape", "shape"),
    ("t.view", lambda m, bad: t(m).view(bad), "reshape", "shape"),
    ("t.expand", lambda m, bad: t(m).expand(bad), "expand", "size"),
    ("t.permute", lambda m, bad: t(m).permute(bad), "permute", "dims"),
]

NUMBER_CASES: list[tuple[str, Call, str, str]] = [
    ("full(fill_value)", lambda m, bad: m.full((2,), bad), "full", "fill_value"),
    ("full_like(fill_value)", lambda m, bad: m.full_like(t(m), bad), "full_like", "fill_value"),
    ("arange(end)", lambda m, bad: m.arange(bad), "arange", "end"),
    ("arange(step)", lambda m, bad: m.arange(0, 3, bad), "arange", "step"),
    ("linspace(steps)", lambda m, bad: m.linspace(0, 1, bad), "linspace", "steps"),
    ("randint(high)", lambda m, bad: m.randint(0, bad, (2,)), "randint", "high"),
]
NUMBER_BAD = {"str": "a", "float": 2.5, "object": object()}
# A float is a valid number for these.
FLOAT_TAKEN = frozenset(
    (name, "float") for name in ("full(fill_value)", "full_like(fill_value)", "arange(end)")
) | {("arange(step)", "float")}


def outcomes(call: Call, bad: Any) -> tuple[BaseException, BaseException | None]:
    """PyTorch's exception (the table must list only calls PyTorch refuses) and chainrule's."""
    with pytest.raises(Exception) as theirs:  # any type: compared below
        call(torch, bad)
    try:
        call(cr, bad)
    except Exception as error:  # compared below
        return theirs.value, error
    return theirs.value, None


def assert_clear(ours: BaseException | None, theirs: BaseException, op: str, argument: str) -> str:
    """The same exception type as PyTorch's, one line naming the operation and the argument,
    not chained to an error from deep inside."""
    assert ours is not None, f"PyTorch raises {theirs!r}; chainrule does not"
    # PyTorch's functions written in Python (torch.split) fail with an AttributeError on the
    # missing method: the accident that this module removes. Its C++ functions raise TypeError.
    expected = TypeError if isinstance(theirs, AttributeError) else type(theirs)
    assert isinstance(ours, expected), f"PyTorch: {theirs!r}; chainrule: {ours!r}"
    assert not isinstance(ours, AttributeError), repr(ours)
    message = str(ours)
    assert "\n" not in message, message
    assert message.startswith(f"{op}: "), message
    assert f"'{argument}'" in message, message
    # Tracebacks show no "During handling of the above exception" from inside the library.
    assert ours.__cause__ is None, repr(ours.__cause__)
    assert ours.__context__ is None or ours.__suppress_context__, repr(ours.__context__)
    return message


def product(cases: list, bad_values: dict[str, Any], leave_out: frozenset = frozenset()) -> list:
    """Each case with each bad value, but for the (case, kind) pairs in ``leave_out``."""
    return [
        pytest.param(case, kind, bad, id=f"{case[0]}-{kind}")
        for case in cases
        for kind, bad in bad_values.items()
        if (case[0], kind) not in leave_out
    ]


@pytest.mark.parametrize(("case", "kind", "bad"), product(TENSOR_CASES, TENSOR_BAD))
def test_tensor_arguments_refused_as_torch(case: tuple, kind: str, bad: Any) -> None:
    _, call, op, argument = case
    theirs, ours = outcomes(call, bad)
    message = assert_clear(ours, theirs, op, argument)
    assert f"not {TYPE_NAMES[kind]}" in message
    if kind == "ndarray":
        assert "chainrule.from_numpy" in message


FAILURE_PATH_BAD = {k: v for k, v in TENSOR_BAD.items() if k != "ndarray"}
# clamp(t, None) is a missing bound, not a bad type: see the test of messages kept below.
FAILURE_PATH_PARAMS = product(
    FAILURE_PATH_CASES, FAILURE_PATH_BAD, frozenset({("clamp(min)", "None")})
)


@pytest.mark.parametrize(("case", "kind", "bad"), FAILURE_PATH_PARAMS)
def test_failed_forward_names_the_argument(case: tuple, kind: str, bad: Any) -> None:
    _, call, op, argument = case
    theirs, ours = outcomes(call, bad)
    message = assert_clear(ours, theirs, op, argument)
    assert f"not {TYPE_NAMES[kind]}" in message


@pytest.mark.parametrize(("case", "kind", "bad"), product(SEQUENCE_CASES, TENSOR_BAD))
def test_sequence_elements_refused_as_torch(case: tuple, kind: str, bad: Any) -> None:
    _, call, op = case
    theirs, ours = outcomes(call, bad)
    message = assert_clear(ours, theirs, op, "tensors")
    assert f"element 1 of argument 'tensors', but got {TYPE_NAMES[kind]}" in message


@pytest.mark.parametrize("bad", [cr.ones(3), "ab", None, np.ones(3)], ids=repr)
@pytest.mark.parametrize("op", ["cat", "stack"])
def test_sequence_argument_refused_as_torch(op: str, bad: Any) -> None:
    theirs_bad = torch.ones(3) if isinstance(bad, cr.Tensor) else bad
    with pytest.raises(TypeError):
        getattr(torch, op)(theirs_bad)
    with pytest.raises(TypeError, match=rf"^{op}: argument 'tensors' must be tuple of Tensors"):
        getattr(cr, op)(bad)


@pytest.mark.parametrize(("case", "kind", "bad"), product(DIM_CASES, DIM_BAD))
def test_dimension_arguments_refused_as_torch(case: tuple, kind: str, bad: Any) -> None:
    _, call, op, argument = case
    theirs, ours = outcomes(call, bad)
    message = assert_clear(ours, theirs, op, argument)
    assert f"not {TYPE_NAMES[kind]}" in message


@pytest.mark.parametrize("dims", [(0, "a"), [1, 1.5], (np.float64(0),)], ids=repr)
@pytest.mark.parametrize("op", ["sum", "mean", "logsumexp"])
def test_tuples_of_dimensions_refused_as_torch(op: str, dims: Any) -> None:
    # The bad entry is found before the first entry's range is checked, as PyTorch does.
    theirs, ours = outcomes(lambda m, bad: getattr(m.ones(2, 2), op)(dim=bad), dims)
    assert_clear(ours, theirs, op, "dim")


@pytest.mark.parametrize(("case", "kind", "bad"), product(SHAPE_CASES, SHAPE_BAD))
def test_shape_arguments_refused_as_torch(case: tuple, kind: str, bad: Any) -> None:
    _, call, op, argument = case
    theirs, ours = outcomes(call, bad)
    message = assert_clear(ours, theirs, op, argument)
    assert "tuple of ints" in message


@pytest.mark.parametrize(("case", "kind", "bad"), product(NUMBER_CASES, NUMBER_BAD, FLOAT_TAKEN))
def test_number_arguments_of_creation_refused_as_torch(case: tuple, kind: str, bad: Any) -> None:
    _, call, op, argument = case
    theirs, ours = outcomes(call, bad)
    assert_clear(ours, theirs, op, argument)


@pytest.mark.parametrize("op", ["full", "arange"])
def test_none_is_not_a_number_as_torch(op: str) -> None:
    call = {"full": lambda m: m.full((2,), None), "arange": lambda m: m.arange(None)}[op]
    with pytest.raises(TypeError):
        call(torch)
    with pytest.raises(TypeError, match=f"^{op}: argument '.*' must be Number, not NoneType$"):
        call(cr)


# ---- operators: Python's own message, as for PyTorch's tensors ----------------------------------

OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "/": operator.truediv,
    "**": operator.pow,
    "@": operator.matmul,
    "<": operator.lt,
    ">=": operator.ge,
}
OPERAND_BAD = {"str": "a", "None": None, "object": object(), "mixed list": [1, "a"]}


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("kind", list(OPERAND_BAD))
@pytest.mark.parametrize("symbol", list(OPERATORS))
def test_operators_refuse_with_pythons_message(symbol: str, kind: str, side: str) -> None:
    bad, fn = OPERAND_BAD[kind], OPERATORS[symbol]
    messages = []
    for m in (torch, cr):
        operands = (t(m), bad) if side == "left" else (bad, t(m))
        with pytest.raises(TypeError) as caught:
            fn(*operands)
        assert not isinstance(caught.value, AttributeError)
        messages.append(str(caught.value))
    assert messages[1] == messages[0]


@pytest.mark.parametrize("kind", list(OPERAND_BAD))
def test_multiplication_by_a_non_number_is_a_type_error(kind: str) -> None:
    # Python tries the other operand's sequence repetition, which asks the tensor for an int.
    for m in (torch, cr):
        with pytest.raises(TypeError):
            t(m) * OPERAND_BAD[kind]


@pytest.mark.parametrize("kind", list(OPERAND_BAD))
def test_equality_with_a_non_tensor_is_false_as_torch(kind: str) -> None:
    bad = OPERAND_BAD[kind]
    assert (t(torch) == bad) is False and (t(cr) == bad) is False
    assert (t(torch) != bad) is True and (t(cr) != bad) is True


# ---- NumPy arrays in expressions: what PyTorch takes, chainrule takes -------------------------


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # PyTorch's, in NumPy 2
@pytest.mark.parametrize("symbol", ["+", "-", "*", "/", "**", "@"])
def test_tensor_op_array_gives_a_tensor_as_torch(symbol: str) -> None:
    fn = {"*": operator.mul, **OPERATORS}[symbol]
    array = np.array([0.5, 1.5, 2.0], dtype=np.float32)
    ours = fn(cr.tensor([1.0, 2.0, 3.0], requires_grad=True), array)
    theirs = fn(torch.tensor([1.0, 2.0, 3.0]), array)
    assert isinstance(ours, cr.Tensor) and str(ours.dtype) == "float32"
    np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=1e-6)


def test_comparisons_with_arrays_as_torch() -> None:
    array = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    ours, theirs = t(cr) == array, t(torch) == array
    assert ours.tolist() == theirs.tolist()
    for m in (torch, cr):
        with pytest.raises(TypeError, match="'<' not supported"):
            t(m) < array  # noqa: B015 - the comparison is what raises


def test_numbers_and_index_like_values_still_accepted_as_torch() -> None:
    for m in (torch, cr):
        x = m.arange(6.0).reshape(np.int64(2), 3)
        assert m.add(x, 2).tolist() == m.add(2, x).tolist() == (x + 2).tolist()
        assert x.sum(np.int64(1)).tolist() == [3.0, 12.0]
        assert x.sum(dim=(0, np.int64(1))).item() == 15.0
        assert x.unsqueeze(np.int64(0)).shape == (1, 2, 3)
        assert m.where(x > 2, x, 0.0).tolist() == [[0.0, 0.0, 0.0], [3.0, 4.0, 5.0]]
        assert m.clamp(x, np.float64(1.0), 4).tolist() == [[1.0, 1.0, 2.0], [3.0, 4.0, 4.0]]
        assert m.full((2,), np.float32(1.5)).tolist() == [1.5, 1.5]
        assert [p.shape[0] for p in x.split([1, 2], dim=1)] == [2, 2]


def test_a_failure_that_is_not_about_types_keeps_its_own_message() -> None:
    with pytest.raises(ValueError, match=r"^clamp: at least one of min and max must be given$"):
        cr.clamp(t(cr))
    with pytest.raises(ValueError, match="matmul: shapes"):
        cr.ones(2, 3) @ cr.ones(2, 3)
    # A left-out optional tensor (a bias) is not mistaken for the culprit.
    out = cr.nn.functional.linear(cr.ones(2, 3), cr.ones(4, 3), None)
    assert out.shape == (2, 4)


def test_a_tensor_input_that_requires_grad_is_still_refused_cleanly() -> None:
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"^add: argument 'other' must be Tensor, not str$"):
        cr.add(x, "a")
    with pytest.raises(TypeError, match=r"^unsupported operand type\(s\) for \*\*"):
        x ** "a"
