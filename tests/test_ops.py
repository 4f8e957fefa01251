"""Every operation against finite differences and against PyTorch, driven by tests/op_cases.py.

1. gradcheck in float64 for every smooth differentiable case;
2. forward and backward (with a random upstream gradient) against PyTorch in float32 and
   float64, values and dtypes, for every differentiable case;
3. indices (argmax, max(dim).indices...) and comparisons against PyTorch, values and dtypes;
4. PyTorch's type promotion over a grid of dtypes, zero-dim tensors and Python scalars;
5. clear errors for mismatched shapes, out-of-range dims and integer tensors requiring grad;
6. a property-based test: random broadcastable shape pairs, gradients against PyTorch.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr
from op_cases import CASES, Case

SMOOTH = [c for c in CASES if c.differentiable and c.smooth]
DIFFERENTIABLE = [c for c in CASES if c.differentiable]
NOT_DIFFERENTIABLE = [c for c in CASES if not c.differentiable]
FLOATS = ["float32", "float64"]

# (rtol, atol) per dtype; atol is scaled by the magnitude of the expected values.
TOLERANCE = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}


def rng_for(*keys: Any) -> np.random.Generator:
    """A generator seeded from the test's name: reproducible, independent between tests."""
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def dtype_name(dtype: Any) -> str:
    """``torch.float32`` and ``numpy.dtype('float32')`` both give ``'float32'``."""
    if isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    return np.dtype(dtype).name


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(
            force=True
        )  # force: PyTorch's second derivatives may be ZeroTensors
    return np.asarray(t.detach().data)


def join(m: Any, out: Any) -> Any:
    """One tensor from an operation's result: the pieces of split/chunk are flattened and
    concatenated (with the same code in both libraries)."""
    if isinstance(out, (tuple, list)):
        return m.cat([piece.reshape(-1) for piece in out])
    return out


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    """Same shape, same dtype name, values within the dtype's tolerance."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert dtype_name(actual.dtype) == dtype_name(expected.dtype), (
        f"{what}: dtype {dtype_name(actual.dtype)}, PyTorch gives {dtype_name(expected.dtype)}"
    )
    rtol, atol = TOLERANCE[dtype]
    finite = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol * scale, err_msg=what)


def both(arrays: list[np.ndarray], requires_grad: bool) -> tuple[list, list]:
    """The same values as chainrule and as PyTorch leaf tensors."""
    xs = [cr.tensor(a, requires_grad=requires_grad) for a in arrays]
    ts = [torch.tensor(a, requires_grad=requires_grad) for a in arrays]
    return xs, ts


# ---- 1. gradcheck ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", SMOOTH, ids=lambda c: c.id)
def test_gradcheck(case: Case) -> None:
    arrays = case.inputs(rng_for("gradcheck", case.id))
    inputs = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    fn = lambda *xs: join(cr, case.cr(*xs))  # noqa: E731
    assert cr.gradcheck(fn, inputs, **case.gradcheck_kw) is True


def test_gradcheck_catches_a_wrong_derivative() -> None:
    """The check above can fail: a deliberately wrong backward is rejected."""

    class WrongExp(cr.Function):
        def forward(self, x: Any) -> Any:
            return np.exp(x)

        def backward(self, grad: Any) -> tuple:
            return (grad,)  # should be grad * exp(x)

    x = cr.tensor([0.5, 1.0], dtype=cr.float64, requires_grad=True)
    with pytest.raises(cr.GradcheckError, match="autodiff gives"):
        cr.gradcheck(WrongExp.apply, [x])


# ---- 2. forward and backward against PyTorch ---------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda c: c.id)
def test_forward_backward_match_torch(case: Case, dtype: str) -> None:
    rng = rng_for("torch", case.id, dtype)
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    xs, ts = both(arrays, requires_grad=True)
    out = join(cr, case.cr(*xs))
    expected = join(torch, case.th(*ts))
    assert_close(out, expected, dtype, f"{case.id}: forward")
    assert out.requires_grad and expected.requires_grad

    upstream = rng.standard_normal(expected.shape).astype(dtype_name(expected.dtype))
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream.copy()))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert t.grad is not None, f"{case.id}: PyTorch has no gradient for input {i}"
        assert x.grad is not None, f"{case.id}: no gradient for input {i}"
        assert_close(x.grad, t.grad, dtype, f"{case.id}: gradient of input {i}")


# ---- 3. indices and comparisons against PyTorch ------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", NOT_DIFFERENTIABLE, ids=lambda c: c.id)
def test_indices_and_comparisons_match_torch(case: Case, dtype: str) -> None:
    arrays = [a.astype(dtype) for a in case.inputs(rng_for("nograd", case.id, dtype))]
    xs, ts = both(arrays, requires_grad=True)
    out, expected = case.cr(*xs), case.th(*ts)
    assert dtype_name(expected.dtype) in ("int64", "bool"), "the table's case is mislabelled"
    assert dtype_name(out.dtype) == dtype_name(expected.dtype)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))
    assert not out.requires_grad and not expected.requires_grad


# ---- 4. type promotion -------------------------------------------------------------------------

_VALUES = {"bool": [True, True, True], "int32": [1, 2, 3], "int64": [4, 5, 6]}
_VALUES |= {"float32": [0.5, 1.5, 2.5], "float64": [1.25, 2.0, 3.5]}
# name -> how to make the operand with module m
OPERANDS: dict[str, Callable[[Any], Any]] = {}
for _dtype, _values in _VALUES.items():
    OPERANDS[f"{_dtype}[3]"] = lambda m, d=_dtype, v=_values: m.tensor(np.array(v, dtype=d))
    OPERANDS[f"{_dtype}[]"] = lambda m, d=_dtype, v=_values: m.tensor(np.array(v[1], dtype=d))
OPERANDS |= {"py_bool": lambda m: True, "py_int": lambda m: 3, "py_float": lambda m: 2.5}

BINARY: dict[str, Callable[[Any, Any, Any], Any]] = {
    "add": lambda m, a, b: a + b,
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / b,
    "eq": lambda m, a, b: a == b,
    "lt": lambda m, a, b: a < b,
    "ge_fn": lambda m, a, b: m.ge(a, b),
    "pow": lambda m, a, b: a**b,
    "maximum": lambda m, a, b: m.maximum(a, b),
    "where": lambda m, a, b: m.where(m.tensor([True, False, True]), a, b),
    "cat": lambda m, a, b: m.cat([a.reshape(-1), b.reshape(-1)]),
    "stack": lambda m, a, b: m.stack([a, b]),
}
# Operand pairs that PyTorch rejects (maximum with a Python scalar, ge(scalar, tensor), stack of
# different shapes) are left out; pow with a bool base is left out because chainrule gives int8
# for bool ** Python bool where PyTorch gives bool (a known difference).
TENSORS_ONLY = {"maximum", "cat", "stack"}


def _promotion_pairs(op: str, left: str) -> list[str]:
    rights = []
    for right in OPERANDS:
        if left.startswith("py_") and right.startswith("py_"):
            continue  # two Python scalars: no tensor involved
        if op in TENSORS_ONLY and "py_" in left + right:
            continue
        if op == "stack" and left[-2:] != right[-2:]:
            continue
        if (op == "pow" and "bool" in left) or (op == "ge_fn" and left.startswith("py_")):
            continue
        rights.append(right)
    return rights


PROMOTION_GRID = [(op, left) for op in BINARY for left in OPERANDS if _promotion_pairs(op, left)]


@pytest.mark.parametrize(("op", "left"), PROMOTION_GRID)
def test_binary_type_promotion_matches_torch(op: str, left: str) -> None:
    fn = BINARY[op]
    mismatches = []
    for right in _promotion_pairs(op, left):
        expected = fn(torch, OPERANDS[left](torch), OPERANDS[right](torch))
        out = fn(cr, OPERANDS[left](cr), OPERANDS[right](cr))
        got, want = dtype_name(out.dtype), dtype_name(expected.dtype)
        if got != want or not np.allclose(to_numpy(out), to_numpy(expected), rtol=1e-6):
            mismatches.append(f"{left} {op} {right}: {got} {to_numpy(out)}, torch {want}")
    assert not mismatches, "\n".join(mismatches)


UNARY: dict[str, Callable[[Any, Any], Any]] = {
    "exp": lambda m, x: m.exp(x),
    "log": lambda m, x: m.log(x),
    "sqrt": lambda m, x: x.sqrt(),
    "sin": lambda m, x: m.sin(x),
    "cos": lambda m, x: x.cos(),
    "tanh": lambda m, x: m.tanh(x),
    "sigmoid": lambda m, x: m.sigmoid(x),
    "sigmoid_method": lambda m, x: x.sigmoid(),
    "reciprocal": lambda m, x: 1 / x,
    "div_int_scalar": lambda m, x: x / 2,
    "mul_float_scalar": lambda m, x: x * 0.5,
    "pow_float_scalar": lambda m, x: x**0.5,
    "add_0d_float": lambda m, x: x + m.tensor(0.5),
    "relu": lambda m, x: m.relu(x),
    "clamp": lambda m, x: x.clamp(min=2),
    "clamp_float_bound": lambda m, x: x.clamp(min=2.5),
    "clamp_mixed_bounds": lambda m, x: x.clamp(0, 2.5),
    "logsumexp": lambda m, x: m.logsumexp(x, 0),
    "max_dim": lambda m, x: x.max(dim=0).values,
    "sum": lambda m, x: x.sum(),
    "sum_dim": lambda m, x: x.sum(dim=-1),
    "max": lambda m, x: x.max(),
    "reshape": lambda m, x: x.reshape(-1),
    "where": lambda m, x: m.where(x > 1, x, x),
}
INT_OPERANDS = [name for name in OPERANDS if name.startswith(("int", "bool"))]


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_dtypes_on_integer_tensors_match_torch(op: str) -> None:
    mismatches = []
    for operand in INT_OPERANDS:
        if op in ("relu", "clamp", "pow_float_scalar", "max_dim") and operand.startswith("bool"):
            continue  # PyTorch has no kernel for these on bool
        expected = UNARY[op](torch, OPERANDS[operand](torch))
        out = UNARY[op](cr, OPERANDS[operand](cr))
        got, want = dtype_name(out.dtype), dtype_name(expected.dtype)
        if got != want or not np.allclose(to_numpy(out), to_numpy(expected), rtol=1e-6):
            mismatches.append(f"{op}({operand}): {got} {to_numpy(out)}, torch {want}")
    assert not mismatches, "\n".join(mismatches)


DEFAULT_DTYPE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "float list": lambda m: m.tensor([0.5, 1.5]),
    "int / int": lambda m: m.tensor([1, 2]) / m.tensor([2, 4]),
    "int * float": lambda m: m.tensor([1, 2]) * 0.5,
    "bool + float": lambda m: m.tensor([True, False]) + 0.5,
    "int + float 0-d": lambda m: m.tensor([1, 2]) + m.tensor(0.5),
    "exp(int)": lambda m: m.tensor([1, 2]).exp(),
    "sigmoid(bool)": lambda m: m.tensor([True, False]).sigmoid(),
    "clamp(int, float)": lambda m: m.tensor([1, 2]).clamp(max=1.5),
    "logsumexp(int)": lambda m: m.tensor([1, 2]).logsumexp(0),
    "float32 + float": lambda m: m.tensor(np.float32([1.0, 2.0])) + 0.5,
}


def test_promotion_follows_the_default_dtype() -> None:
    """With float64 as the default, the same expressions give float64 (float32 stays)."""
    previous_torch, previous_cr = torch.get_default_dtype(), cr.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    cr.set_default_dtype(cr.float64)
    try:
        results = {
            name: (dtype_name(fn(cr).dtype), dtype_name(fn(torch).dtype))
            for name, fn in DEFAULT_DTYPE_CHECKS.items()
        }
    finally:
        torch.set_default_dtype(previous_torch)
        cr.set_default_dtype(previous_cr)
    mismatches = {name: got for name, got in results.items() if got[0] != got[1]}
    assert not mismatches, mismatches
    assert results["int / int"] == ("float64", "float64")
    assert results["float32 + float"] == ("float32", "float32")


# ---- 5. clear errors ---------------------------------------------------------------------------


def _names_op_and_shapes(error: Exception, op: str, *shapes: tuple) -> None:
    message = str(error)
    assert op in message, message
    for shape in shapes:
        assert str(shape) in message, f"{shape} not in: {message}"


SHAPE_ERRORS = [
    ("add", lambda m, x, y: x + y, (2, 3), (4,)),
    ("add", lambda m, x, y: m.add(x, y), (2, 3), (3, 2)),
    ("mul", lambda m, x, y: x * y, (2, 3, 4), (3, 3)),
    ("matmul", lambda m, x, y: x @ y, (2, 3), (4, 5)),
    ("matmul", lambda m, x, y: x @ y, (3,), (4,)),
    ("matmul", lambda m, x, y: m.matmul(x, y), (2, 3, 4), (3, 4, 2)),
    ("cat", lambda m, x, y: m.cat([x, y], dim=0), (2, 3), (2, 4)),
    ("cat", lambda m, x, y: m.cat([x, y], dim=1), (2, 3), (2, 3, 1)),
    ("stack", lambda m, x, y: m.stack([x, y]), (2, 3), (3, 2)),
    ("reshape", lambda m, x, y: x.reshape(y.shape), (2, 3), (4, 2)),
    ("reshape", lambda m, x, y: x.view(y.shape), (2, 3), (5,)),
    ("expand", lambda m, x, y: x.expand(y.shape), (2, 3), (4, 3)),
    ("expand", lambda m, x, y: x.expand(y.shape), (2, 3), (3,)),
]


@pytest.mark.parametrize(("op", "fn", "shape_a", "shape_b"), SHAPE_ERRORS)
def test_shape_mismatch_raises_value_error_naming_op_and_shapes(
    op: str, fn: Callable, shape_a: tuple, shape_b: tuple
) -> None:
    x = cr.ones(shape_a, requires_grad=True)
    y = cr.ones(shape_b)
    with pytest.raises(ValueError) as info:
        fn(cr, x, y)
    _names_op_and_shapes(info.value, op, shape_a, shape_b)
    with pytest.raises(RuntimeError):  # PyTorch rejects the same shapes
        fn(torch, torch.ones(shape_a), torch.ones(shape_b))


DIM_ERRORS = [
    ("sum", lambda m, x: x.sum(dim=2)),
    ("mean", lambda m, x: x.mean(-3)),
    ("var", lambda m, x: x.var(dim=(0, 5))),
    ("logsumexp", lambda m, x: x.logsumexp(2)),
    ("max", lambda m, x: x.max(dim=2)),
    ("argmin", lambda m, x: x.argmin(dim=-3)),
    ("softmax", lambda m, x: x.softmax(dim=2)),
    ("log_softmax", lambda m, x: m.log_softmax(x, -3)),
    ("transpose", lambda m, x: x.transpose(0, 2)),
    ("permute", lambda m, x: x.permute(0, 2)),
    ("squeeze", lambda m, x: x.squeeze(2)),
    ("unsqueeze", lambda m, x: x.unsqueeze(4)),
    ("flatten", lambda m, x: x.flatten(0, 2)),
    ("cat", lambda m, x: m.cat([x, x], dim=2)),
    ("stack", lambda m, x: m.stack([x, x], dim=-4)),
    ("split", lambda m, x: x.split(1, dim=2)),
    ("chunk", lambda m, x: x.chunk(2, dim=-3)),
]


@pytest.mark.parametrize(("op", "fn"), DIM_ERRORS, ids=[op for op, _ in DIM_ERRORS])
def test_out_of_range_dim_raises_a_clear_error(op: str, fn: Callable) -> None:
    x = cr.ones((2, 3), requires_grad=True)
    with pytest.raises((IndexError, ValueError)) as info:
        fn(cr, x)
    message = str(info.value)
    # The message may spell the operation as its Function class does (LogSoftmax: logsoftmax).
    assert re.search(rf"\b{op.replace('_', '_?')}\b", message), message
    assert re.search(r"\b(dim|axis|dimension)\b", message), message
    with pytest.raises((IndexError, RuntimeError)):  # PyTorch rejects it too
        fn(torch, torch.ones((2, 3)))


@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.tensor([1, 2, 3], requires_grad=True),
        lambda: cr.tensor([True, False], requires_grad=True),
        lambda: cr.zeros(2, 3, dtype=cr.int64, requires_grad=True),
        lambda: cr.ones(3, dtype=cr.int32, requires_grad=True),
        lambda: cr.arange(5, requires_grad=True),
        lambda: cr.tensor([1, 2]).requires_grad_(),
        lambda: setattr(cr.tensor([1, 2]), "requires_grad", True),
    ],
    ids=["tensor_int", "tensor_bool", "zeros_int64", "ones_int32", "arange", "method", "attr"],
)
def test_integer_tensor_cannot_require_grad(make: Callable) -> None:
    with pytest.raises(TypeError, match="requires_grad"):
        make()


# ---- 6. property-based: broadcasting -----------------------------------------------------------

BROADCAST_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: a.maximum(b),
    "masked": lambda a, b: (a > 0).double() * a + b,
}


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    op=st.sampled_from(sorted(BROADCAST_OPS)),
)
def test_broadcasting_gradients_match_torch(shapes: Any, op: str) -> None:
    (shape_a, shape_b), result_shape = shapes
    rng = rng_for("broadcast", op, shape_a, shape_b)
    a = rng.standard_normal(shape_a)
    b = rng.uniform(0.5, 2.0, shape_b)
    xs, ts = both([np.asarray(a), np.asarray(b)], requires_grad=True)
    out, expected = BROADCAST_OPS[op](*xs), BROADCAST_OPS[op](*ts)
    assert out.shape == tuple(result_shape)
    assert_close(out, expected, "float64", f"{op} {shape_a} {shape_b}: forward")
    upstream = rng.standard_normal(result_shape)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream.copy()))
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert_close(x.grad, t.grad, "float64", f"{op} {shape_a} {shape_b}: gradient {i}")
