"""The matrix and rearranging operations beyond the operation table (tests/op_cases_linalg.py,
tests/op_cases_shape.py): errors for bad shapes and bad einsum equations, result dtypes,
copies rather than views, and the norms' behaviour at their edges, each against PyTorch."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def _pair(shape: tuple, dtype: str = "float32", seed: int = 0) -> tuple[cr.Tensor, torch.Tensor]:
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return cr.tensor(values), torch.tensor(values)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.") if isinstance(dtype, torch.dtype) else dtype.name


def _same(out: cr.Tensor, expected: torch.Tensor) -> None:
    assert _dtype_name(out.dtype) == _dtype_name(expected.dtype)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(
        out.detach().numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-6
    )


# ---- errors for bad shapes: the operation, the argument and the shapes named --------------------

SHAPE_ERRORS: list[tuple[str, Callable, list[tuple]]] = [
    ("tril", lambda m, x: m.tril(x), [(3,)]),
    ("triu", lambda m, x: x.triu(), [()]),
    ("diag", lambda m, x: m.diag(x), [(2, 2, 2)]),
    ("diag", lambda m, x: m.diag(x), [()]),
    ("outer", lambda m, x, y: m.outer(x, y), [(3, 1), (2,)]),
    ("bmm", lambda m, x, y: m.bmm(x, y), [(3, 4), (4, 5)]),
    ("bmm", lambda m, x, y: m.bmm(x, y), [(2, 3, 4), (2, 3, 5)]),
    ("bmm", lambda m, x, y: m.bmm(x, y), [(2, 3, 4), (1, 4, 5)]),
    ("addmm", lambda m, c, a, b: m.addmm(c, a, b), [(3, 5), (3, 4), (5, 5)]),
    ("addmm", lambda m, c, a, b: m.addmm(c, a, b), [(3, 5), (3, 4, 1), (4, 5)]),
    ("addmm", lambda m, c, a, b: m.addmm(c, a, b), [(4,), (3, 4), (4, 5)]),
    ("addmm", lambda m, c, a, b: m.addmm(c, a, b), [(2, 3, 5), (3, 4), (4, 5)]),
    ("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b), [(3, 3, 5), (2, 3, 4), (2, 4, 5)]),
    ("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 3, 5), (2, 3, 4), (1, 4, 5)]),
    ("repeat", lambda m, x: x.repeat(2), [(2, 3)]),
    ("repeat", lambda m, x: x.repeat(-1, 2), [(2, 3)]),
    ("tile", lambda m, x: x.tile(-1), [(2, 3)]),
    ("roll", lambda m, x: m.roll(x, (1, 2), 1), [(2, 3)]),
    ("roll", lambda m, x: m.roll(x, 1, (0, 1)), [(2, 3)]),
    ("roll", lambda m, x: m.roll(x, (1, 2)), [(2, 3)]),
    ("fliplr", lambda m, x: m.fliplr(x), [(3,)]),
    ("flipud", lambda m, x: m.flipud(x), [()]),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(m.tensor([1, 2, 3]), 0), [(2, 3)]),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(m.tensor([1, -1]), 0), [(2, 3)]),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(-1, 0), [(2, 3)]),
    ("repeat_interleave", lambda m, x: x.repeat_interleave(2, 0, output_size=5), [(2, 3)]),
    ("split", lambda m, x: x.split([4, -1]), [(3, 2)]),
    ("split", lambda m, x: x.split(0), [(3, 2)]),
    ("split", lambda m, x: x.split(-1), [(3, 2)]),
    ("split", lambda m, x: x.split([1, 1]), [(3, 2)]),
    ("chunk", lambda m, x: x.chunk(0), [(3, 2)]),
]


@pytest.mark.parametrize(("op", "fn", "shapes"), SHAPE_ERRORS, ids=[e[0] for e in SHAPE_ERRORS])
def test_bad_shapes_raise_errors_naming_the_operation(op: str, fn: Callable, shapes: list) -> None:
    with pytest.raises((RuntimeError, TypeError, IndexError)):  # PyTorch rejects them too
        fn(torch, *[torch.ones(s) for s in shapes])
    with pytest.raises(ValueError) as info:
        fn(cr, *[cr.ones(s, requires_grad=True) for s in shapes])
    message = str(info.value)
    assert message.startswith(f"{op}:"), message
    if op in ("bmm", "addmm", "baddbmm", "outer", "tril", "triu", "diag"):
        assert any(str(s) in message for s in shapes), message


@pytest.mark.parametrize(
    ("fn", "axis"),
    [
        (lambda m, x: m.roll(x, 1, 2), 2),
        (lambda m, x: m.flip(x, (0, 0)), 0),
        (lambda m, x: x.flip(-3), -3),
        (lambda m, x: x.repeat_interleave(2, dim=2), 2),
    ],
)
def test_bad_dims_raise_errors(fn: Callable, axis: int) -> None:
    with pytest.raises((RuntimeError, IndexError)):
        fn(torch, torch.ones(2, 3))
    with pytest.raises((ValueError, IndexError), match=f"dim.*{axis}"):
        fn(cr, cr.ones(2, 3))


# ---- einsum's equations --------------------------------------------------------------------------

EINSUM_ERRORS = [
    ("ij,jk->ik", [(2, 3)], "names 2 operands"),
    ("ij", [(2, 3), (3, 4)], "names 1 operands"),
    ("ijk", [(2, 3)], "name 3 dimensions"),
    ("i", [()], "name 1 dimensions"),
    ("i.j", [(2, 3)], "invalid subscript '.'"),
    ("i1", [(2, 3)], "invalid subscript '1'"),
    ("i...j...", [(2, 3)], "more than one ellipsis"),
    ("ij->ii", [(2, 3)], "output subscript i appears more than once"),
    ("ij->k", [(2, 3)], "output subscript k does not appear"),
    ("ij->i,j", [(2, 3)], "invalid subscript ','"),
    ("ij->j->", [(2, 3)], "more than one '->'"),
    ("ii->i", [(3, 4)], "subscript i is repeated in operand 0"),
    ("ij,jk->ik", [(2, 3), (2, 4)], "subscript j has size 2 in operand 1"),
]


@pytest.mark.parametrize(("equation", "shapes", "message"), EINSUM_ERRORS)
def test_einsum_rejects_bad_equations(equation: str, shapes: list, message: str) -> None:
    with pytest.raises(RuntimeError):
        torch.einsum(equation, *[torch.ones(s) for s in shapes])
    with pytest.raises(ValueError, match=r"^einsum: ") as info:
        cr.einsum(equation, *[cr.ones(s) for s in shapes])
    assert message in str(info.value)


def test_einsum_error_names_the_operand_shapes() -> None:
    with pytest.raises(ValueError) as info:
        cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(2, 4))
    assert "(2, 4)" in str(info.value)


def test_einsum_rejects_mixed_dtypes_and_non_tensors() -> None:
    with pytest.raises(RuntimeError):
        torch.einsum("ij,jk", torch.ones(2, 3), torch.ones(3, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"einsum: .*float32, float64"):
        cr.einsum("ij,jk", cr.ones(2, 3), cr.ones(3, 2, dtype=cr.float64))
    with pytest.raises(TypeError, match="operand 1 must be a tensor"):
        cr.einsum("i,i", cr.ones(2), np.ones(2))


@pytest.mark.parametrize(
    ("equation", "shapes"),
    [("ij->j", [(2, 3)]), ("ij->", [(2, 3)]), ("ij", [(2, 3)]), ("ij,jk", [(2, 3), (3, 2)])],
)
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_einsum_integer_dtypes_match_torch(equation: str, shapes: list, dtype: str) -> None:
    pairs = [_pair(s) for s in shapes]
    crs = [c.to(getattr(cr, dtype)) * 3 for c, _ in pairs]
    ths = [t.to(getattr(torch, dtype)) * 3 for _, t in pairs]
    _same(cr.einsum(equation, *crs), torch.einsum(equation, *ths))


def test_einsum_bool_without_a_sum_stays_bool() -> None:
    mask = np.array([[True, False, True], [False, False, True]])
    _same(cr.einsum("ij->ji", cr.tensor(mask)), torch.einsum("ij->ji", torch.tensor(mask)))
    _same(cr.einsum("ij->j", cr.tensor(mask)), torch.einsum("ij->j", torch.tensor(mask)))


@pytest.mark.parametrize("equation", ["ij->ji", "ij", "ii->i", "ij->j", "ii", "ij,jk"])
def test_einsum_result_is_a_view_exactly_where_torch_gives_one(equation: str) -> None:
    """A transpose or a diagonal of one operand is a view of it; anything else is new."""
    x, t = _pair((3, 3), "float64")
    x, t = x.requires_grad_() * 1, t.requires_grad_() * 1
    operands = 2 if "," in equation else 1
    out, expected = cr.einsum(equation, *[x] * operands), torch.einsum(equation, *[t] * operands)
    out.mul_(2.0)
    expected.mul_(2.0)
    _same(x, t)
    _same(out, expected)


def test_einsum_gradient_of_a_diagonal_reaches_only_the_diagonal() -> None:
    x, t = _pair((3, 3), "float64")
    x.requires_grad_()
    t.requires_grad_()
    upstream = np.array([1.0, -2.0, 0.5])
    cr.einsum("ii->i", x).backward(cr.tensor(upstream))
    torch.einsum("ii->i", t).backward(torch.tensor(upstream))
    np.testing.assert_array_equal(x.grad.numpy(), np.diag(upstream))
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


# ---- dtypes of the other operations --------------------------------------------------------------

DTYPE_CASES: dict[str, Callable] = {
    "tril_int": lambda m, x: m.tril(x.long()),
    "triu_bool": lambda m, x: m.triu(x > 0, 1),
    "diag_int": lambda m, x: m.diag(x.int()),
    "diag_vector_bool": lambda m, x: m.diag(x[0] > 0),
    "outer_int_float": lambda m, x: m.outer(x[0].long(), x[1]),
    "outer_float_double": lambda m, x: m.outer(x[0], x[1].double()),
    "bmm_int": lambda m, x: m.bmm(x.long().reshape(1, 2, 3), x.long().reshape(1, 3, 2)),
    "addmm_int": lambda m, x: m.addmm(x[:, :2].long(), x.long(), x.long().T, alpha=2, beta=3),
    "addmm_int_fractional_alpha": lambda m, x: m.addmm(
        x[:, :2].long(), x.long(), x.long().T, alpha=0.5
    ),
    "repeat_bool": lambda m, x: (x > 0).repeat(2, 1),
    "tile_int": lambda m, x: x.int().tile(2),
    "repeat_interleave_int": lambda m, x: x.long().repeat_interleave(2, dim=1),
    "repeat_interleave_indices": lambda m, x: m.repeat_interleave(m.tensor([2, 0, 1])),
    "roll_int": lambda m, x: m.roll(x.long(), 1, 0),
    "flip_bool": lambda m, x: m.flip(x > 0, (1,)),
    "norm_double": lambda m, x: m.norm(x.double()),
    "vector_norm_0": lambda m, x: m.linalg.vector_norm(x * (x > 0), 0, dim=1),
}


@pytest.mark.parametrize("name", list(DTYPE_CASES))
def test_result_dtypes_match_torch(name: str) -> None:
    x, t = _pair((2, 3))
    x, t = x * 3, t * 3
    _same(DTYPE_CASES[name](cr, x), DTYPE_CASES[name](torch, t))


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.bmm(x.reshape(1, 2, 3), x.double().reshape(1, 3, 2)),
        lambda m, x: m.addmm(x[:, :2].double(), x, x.T),
        lambda m, x: m.addmm(x[:, :2], x, x.double().T),
        lambda m, x: m.baddbmm(x[None, :, :2], x[None], x.double().T[None]),
        lambda m, x: m.linalg.vector_norm(x.long()),
        lambda m, x: m.linalg.matrix_norm(x.int()),
        lambda m, x: m.norm(x.long()),
        lambda m, x: m.linalg.vector_norm(x.double(), dtype=m.float32),
        lambda m, x: m.linalg.vector_norm(x, "fro"),
        lambda m, x: m.repeat_interleave(x, m.tensor([1.0, 2.0]), dim=0),
    ],
)
def test_dtype_errors_match_torch(fn: Callable) -> None:
    x, t = _pair((2, 3))
    with pytest.raises((RuntimeError, TypeError, NotImplementedError)):
        fn(torch, t)
    with pytest.raises(TypeError):
        fn(cr, x)


# ---- copies, not views ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: m.flip(x, (0,)),
        lambda m, x: m.flip(x, ()),
        lambda m, x: x.fliplr(),
        lambda m, x: x.repeat(1, 1),
        lambda m, x: m.tile(x, (1,)),
        lambda m, x: m.roll(x, 0, 0),
        lambda m, x: m.diag(x),
        lambda m, x: m.tril(x, 5),
        lambda m, x: x.repeat_interleave(1, dim=0),
    ],
)
def test_results_are_new_tensors(fn: Callable) -> None:
    """Writing into the result leaves the input alone, in both libraries."""
    x, t = _pair((3, 3))
    out, expected = fn(cr, x), fn(torch, t)
    out.add_(1.0)
    expected.add_(1.0)
    _same(x, t)
    _same(out, expected)


# ---- addmm's β = 0 ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["addmm", "baddbmm"])
def test_beta_zero_ignores_nan_and_inf_in_the_input(name: str) -> None:
    batch = (2,) if name == "baddbmm" else ()
    a, ta = _pair((*batch, 3, 4), "float64", seed=1)
    b, tb = _pair((*batch, 4, 2), "float64", seed=2)
    values = np.array([[math.nan, math.inf], [1.0, -math.inf], [0.0, 2.0]])
    c, tc = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    out = getattr(cr, name)(c, a, b, beta=0, alpha=1.5)
    expected = getattr(torch, name)(tc, ta, tb, beta=0, alpha=1.5)
    assert np.isfinite(out.detach().numpy()).all()
    _same(out, expected)
    out.sum().backward()
    expected.sum().backward()
    _same(c.grad, tc.grad)


# ---- norms at their edges ------------------------------------------------------------------------


def test_two_norm_gradient_at_the_zero_vector_is_zero_not_nan() -> None:
    for make in (cr.linalg.vector_norm, cr.linalg.norm, cr.norm, lambda x: x.norm()):
        x = cr.zeros(4, dtype=cr.float64, requires_grad=True)
        make(x).backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(4))


def test_zero_norm_counts_and_has_no_gradient_as_in_torch() -> None:
    values = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    x, t = cr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    out, expected = cr.linalg.vector_norm(x, 0, dim=1), torch.linalg.vector_norm(t, 0, dim=1)
    _same(out, expected)
    (out * 2).sum().backward()
    (expected * 2).sum().backward()
    assert t.grad is None and x.grad is None


@pytest.mark.parametrize(
    ("fn", "shape"),
    [
        (lambda m, x: m.linalg.vector_norm(x, math.inf), (0,)),
        (lambda m, x: m.linalg.vector_norm(x, -math.inf, dim=0), (0, 3)),
        (lambda m, x: m.linalg.matrix_norm(x, -math.inf), (0, 3)),
        (lambda m, x: m.linalg.matrix_norm(x, -1), (3, 0)),
        (lambda m, x: m.linalg.matrix_norm(x, -2), (3, 0)),
    ],
)
def test_min_and_max_norms_of_nothing_are_errors(fn: Callable, shape: tuple) -> None:
    with pytest.raises((RuntimeError, IndexError)):
        fn(torch, torch.ones(shape))
    with pytest.raises(ValueError, match="empty"):
        fn(cr, cr.ones(shape))


@pytest.mark.parametrize(("ord", "shape"), [(math.inf, (0, 3)), (1, (3, 0)), (2, (2, 0, 3))])
def test_largest_norm_of_an_empty_matrix_is_a_constant_zero(ord: float, shape: tuple) -> None:  # noqa: A002
    x, t = cr.ones(shape, requires_grad=True), torch.ones(shape, requires_grad=True)
    out, expected = cr.linalg.matrix_norm(x, ord), torch.linalg.matrix_norm(t, ord)
    _same(out, expected)
    assert out.requires_grad == expected.requires_grad


MATRIX_NORM_ERRORS = [
    lambda m, x: m.linalg.matrix_norm(x, 3),
    lambda m, x: m.linalg.matrix_norm(x, "abc"),
    lambda m, x: m.linalg.matrix_norm(x[0, 0]),
    lambda m, x: m.linalg.matrix_norm(x, dim=(0, 0)),
    lambda m, x: m.linalg.matrix_norm(x, dim=(0, 1, 2)),
    lambda m, x: m.linalg.norm(x, 2),
    lambda m, x: m.linalg.norm(x, dim=(0, 1, 2)),
    lambda m, x: m.linalg.norm(x, "fro", dim=1),
    lambda m, x: m.linalg.norm(x[0, 0], "fro"),
    lambda m, x: m.linalg.vector_norm(x, 2, dim=(1, 1)),
    lambda m, x: m.norm(x, "nuc"),
    lambda m, x: m.norm(x, "fro", dim=(0, 1, 2)),
    lambda m, x: m.norm(x, "abc"),
]


@pytest.mark.parametrize("fn", MATRIX_NORM_ERRORS)
def test_norm_argument_errors_match_torch(fn: Callable) -> None:
    with pytest.raises((RuntimeError, TypeError)):
        fn(torch, torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"^linalg\.(matrix_norm|norm|vector_norm): "):
        fn(cr, cr.ones(2, 3, 4))


def test_the_linalg_namespace() -> None:
    assert cr.linalg.matmul is cr.matmul
    for name in ("norm", "vector_norm", "matrix_norm", "svdvals", "matmul"):
        assert hasattr(torch.linalg, name)
        assert name in cr.linalg.__all__


def test_repeat_interleave_one_argument_form_is_a_constant() -> None:
    out = cr.repeat_interleave(cr.tensor([2, 0, 3]))
    _same(out, torch.repeat_interleave(torch.tensor([2, 0, 3])))
    assert not out.requires_grad


@pytest.mark.parametrize(
    "product",
    [
        lambda m, a, b: a @ b,
        lambda m, a, b: m.mm(a, b),
        lambda m, a, b: m.ones(3, 4, 5, dtype=a.dtype) @ b,
        lambda m, a, b: m.nn.functional.linear(m.ones(2, 3, 5, dtype=a.dtype), b.T),
    ],
    ids=["matmul", "mm", "batched", "linear-3d"],
)
def test_bfloat16_products_stay_bfloat16_as_in_pytorch(product) -> None:
    rng = np.random.default_rng(5)
    a32, b32 = rng.standard_normal((4, 5)), rng.standard_normal((5, 6))
    ours = product(cr, cr.tensor(a32).to(cr.bfloat16), cr.tensor(b32).to(cr.bfloat16))
    theirs = product(
        torch, torch.tensor(a32).to(torch.bfloat16), torch.tensor(b32).to(torch.bfloat16)
    )
    assert ours.dtype == cr.bfloat16 and theirs.dtype == torch.bfloat16
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=2e-2, atol=2e-2)
