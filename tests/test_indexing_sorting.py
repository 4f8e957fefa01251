"""Indexing by index tensors, sorting and running totals: what the operation table
(tests/op_cases_indexing.py) cannot say.

- the results of sort, topk and kthvalue are named tuples, as PyTorch's return types;
- bad input is refused where PyTorch refuses it, with a message that names the operation and
  the argument: out-of-range dims, index shapes, out-of-range positions, index dtypes, masks;
- masked_select's output shape, NaN and tie ordering of sort, integer result dtypes;
- cumprod's gradient where the input holds zeros, against PyTorch and finite differences;
- scatter_ and scatter_add_ in place: the same tensor, a new version, the graph and its errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def both(array: Any, requires_grad: bool = False) -> tuple[cr.Tensor, torch.Tensor]:
    """The same float64 values as a chainrule and a PyTorch tensor."""
    array = np.asarray(array, dtype=np.float64)
    return cr.tensor(array, requires_grad=requires_grad), torch.tensor(
        array, requires_grad=requires_grad
    )


def same(actual: Any, expected: torch.Tensor) -> None:
    """Equal shape, dtype and values (NaN where PyTorch has NaN)."""
    expected = expected.detach().numpy()
    actual = np.asarray(actual.detach().numpy())
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)


# ---- named tuples ------------------------------------------------------------------------------

NAMED = {
    "sort": lambda m, x: m.sort(x, dim=1, descending=True),
    "topk": lambda m, x: m.topk(x, 2),
    "kthvalue": lambda m, x: m.kthvalue(x, 2, 0, keepdim=True),
    "sort_method": lambda m, x: x.sort(),
    "topk_method": lambda m, x: x.topk(3, dim=1, largest=False),
    "kthvalue_method": lambda m, x: x.kthvalue(1),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_results_are_named_tuples_of_values_and_indices(name: str) -> None:
    rng = np.random.default_rng(0)
    x, t = both(rng.permutation(12).reshape(3, 4), requires_grad=True)
    out, expected = NAMED[name](cr, x), NAMED[name](torch, t)
    assert isinstance(out, tuple) and len(out) == 2
    assert out._fields == ("values", "indices")
    values, indices = out  # unpacks as a tuple
    assert values is out.values and values is out[0]
    assert indices is out.indices and indices is out[1]
    same(values, expected.values)
    same(indices, expected.indices)
    assert values.requires_grad and not indices.requires_grad
    assert indices.dtype == cr.int64


def test_argsort_is_sort_indices() -> None:
    x, t = both([[3.0, 1.0, 2.0, 1.0], [0.0, -1.0, 5.0, 0.0]])
    same(cr.argsort(x, dim=1, descending=True), torch.argsort(t, dim=1, descending=True))
    same(x.argsort(0), t.argsort(0))
    assert cr.argsort(x).dtype == cr.int64


# ---- errors ------------------------------------------------------------------------------------


def _index(m: Any, values: Any, dtype: str = "int64") -> Any:
    return m.tensor(values, dtype=getattr(m, dtype))


# (operation, call): each is refused by PyTorch too (checked in the test).
BAD_DIM = [
    ("gather", lambda m, x: m.gather(x, 2, _index(m, [[0]]))),
    ("scatter", lambda m, x: x.scatter(-3, _index(m, [[0]]), 1.0)),
    ("scatter_add", lambda m, x: m.scatter_add(x, 2, _index(m, [[0]]), x)),
    ("index_select", lambda m, x: x.index_select(2, _index(m, [0]))),
    ("sort", lambda m, x: m.sort(x, dim=2)),
    ("argsort", lambda m, x: x.argsort(dim=-3)),
    ("topk", lambda m, x: x.topk(1, dim=2)),
    ("kthvalue", lambda m, x: m.kthvalue(x, 1, dim=-3)),
    ("cumsum", lambda m, x: x.cumsum(2)),
    ("cumprod", lambda m, x: m.cumprod(x, dim=-3)),
]


@pytest.mark.parametrize(("op", "call"), BAD_DIM, ids=[op for op, _ in BAD_DIM])
def test_out_of_range_dim_is_refused_naming_the_operation(op: str, call: Callable) -> None:
    x, t = both(np.ones((2, 3)))
    with pytest.raises((IndexError, ValueError)) as info:
        call(cr, x)
    message = str(info.value)
    assert re.search(rf"\b{op}\b", message) and "dim" in message, message
    with pytest.raises((IndexError, RuntimeError)):
        call(torch, t)


def test_a_0d_tensor_has_dims_0_and_minus_1_only() -> None:
    x, t = both(2.5)
    for m, v in ((cr, x), (torch, t)):
        assert v.cumsum(-1).shape == ()
        assert m.sort(v, 0).values.shape == ()
        with pytest.raises((IndexError, ValueError)):
            v.cumsum(1)


BAD_SHAPE = [
    # (operation, words the message must hold, call)
    ("gather", "dimensions", lambda m, x: x.gather(1, _index(m, [0, 1]))),
    ("gather", "larger", lambda m, x: x.gather(1, _index(m, [[0]] * 3))),
    ("gather", "larger", lambda m, x: m.gather(x, 0, _index(m, [[0, 0, 0, 0]]))),
    ("scatter", "src", lambda m, x: x.scatter(1, _index(m, [[0, 1]]), m.ones(1, 1).double())),
    ("scatter", "dimensions", lambda m, x: x.scatter(1, _index(m, [[0]]), m.ones(3).double())),
    ("scatter", "input", lambda m, x: x.scatter(1, _index(m, [[0]] * 3), 0.5)),
    (
        "scatter_add",
        "src",
        lambda m, x: x.scatter_add(0, _index(m, [[0, 0]]), m.ones(1, 1).double()),
    ),
    ("index_select", "vector", lambda m, x: x.index_select(0, _index(m, [[0]]))),
    ("masked_fill", "broadcast", lambda m, x: x.masked_fill(m.tensor([True, False]), 0.0)),
    ("masked_fill", "0-d", lambda m, x: x.masked_fill(m.tensor([True, False, True]), m.ones(1))),
    (
        "masked_select",
        "broadcast",
        lambda m, x: x.masked_select(m.tensor([[True], [False], [True]])),
    ),
]


@pytest.mark.parametrize(
    ("op", "words", "call"), BAD_SHAPE, ids=[f"{o}-{w}" for o, w, _ in BAD_SHAPE]
)
def test_mismatched_shapes_are_refused(op: str, words: str, call: Callable) -> None:
    x, t = both(np.ones((2, 3)))
    with pytest.raises(ValueError) as info:
        call(cr, x)
    message = str(info.value)
    assert message.startswith(f"{op}:") and words in message, message
    assert "(2, 3)" in message or "shape" in message, message
    with pytest.raises((RuntimeError, IndexError)):
        call(torch, t)


OUT_OF_RANGE = [
    ("gather", lambda m, x: x.gather(1, _index(m, [[0], [3]]))),
    ("gather", lambda m, x: x.gather(1, _index(m, [[0], [-1]]))),
    ("scatter", lambda m, x: x.scatter(0, _index(m, [[2, 0]]), 1.0)),
    ("scatter_add", lambda m, x: x.scatter_add(1, _index(m, [[-1, 0]]), x)),
    ("index_select", lambda m, x: x.index_select(1, _index(m, [0, 3]))),
    ("index_select", lambda m, x: m.index_select(x, 0, _index(m, [-1]))),
]


@pytest.mark.parametrize(("op", "call"), OUT_OF_RANGE, ids=[op for op, _ in OUT_OF_RANGE])
def test_positions_out_of_range_are_refused(op: str, call: Callable) -> None:
    """Every position must lie in [0, size): negative positions do not count from the end."""
    x, t = both(np.ones((2, 3)))
    with pytest.raises(IndexError, match=rf"^{op}: index -?\d+ is out of bounds for dimension"):
        call(cr, x)
    with pytest.raises((RuntimeError, IndexError)):
        call(torch, t)


INDEX_DTYPES = [
    ("gather", lambda m, x, i: x.gather(0, i.reshape(1, 2).expand(2, 2))),
    ("scatter", lambda m, x, i: x.scatter(0, i.reshape(1, 2), 0.5)),
    ("scatter_add", lambda m, x, i: m.scatter_add(x, 0, i.reshape(1, 2), x)),
    ("index_select", lambda m, x, i: x.index_select(1, i)),
]


@pytest.mark.parametrize(("op", "call"), INDEX_DTYPES, ids=[op for op, _ in INDEX_DTYPES])
@pytest.mark.parametrize("dtype", ["float32", "int16", "uint8", "bool"])
def test_index_must_be_int64_or_int32(op: str, call: Callable, dtype: str) -> None:
    x, t = both(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match=rf"^{op}: expected an index of dtype int64"):
        call(cr, x, _index(cr, [0, 1], dtype))
    with pytest.raises(RuntimeError, match="dtype"):
        call(torch, t, _index(torch, [0, 1], dtype))


@pytest.mark.parametrize(("op", "call"), INDEX_DTYPES, ids=[op for op, _ in INDEX_DTYPES])
@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_int64_and_int32_indices_give_the_same_result(op: str, call: Callable, dtype: str) -> None:
    """PyTorch 2.13 accepts int32 positions as well as int64, and so does chainrule."""
    x, t = both(np.arange(6.0).reshape(2, 3))
    same(call(cr, x, _index(cr, [1, 0], dtype)), call(torch, t, _index(torch, [1, 0], dtype)))


def test_index_must_be_a_tensor() -> None:
    x, t = both(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"^gather: index must be a tensor"):
        cr.gather(x, 0, [[0, 1, 0]])
    with pytest.raises(TypeError):
        torch.gather(t, 0, [[0, 1, 0]])


def test_scatter_src_must_have_the_input_dtype() -> None:
    x, t = both(np.ones((2, 3)))
    index = [[0, 1]]
    with pytest.raises(TypeError, match=r"^scatter: src has dtype float32, but input has float64"):
        x.scatter(1, _index(cr, index), cr.ones(1, 2))
    with pytest.raises(RuntimeError, match="dtype"):
        t.scatter(1, _index(torch, index), torch.ones(1, 2))


def test_masks_must_be_bool() -> None:
    x, t = both(np.ones((2, 3)))
    for op in ("masked_fill", "masked_select"):
        args = (0.5,) if op == "masked_fill" else ()
        with pytest.raises(TypeError, match=rf"^{op}: mask must be a bool tensor, got dtype int32"):
            getattr(x, op)(cr.tensor([1, 0, 1], dtype=cr.int32), *args)
        with pytest.raises(RuntimeError):
            getattr(t, op)(torch.tensor([1, 0, 1], dtype=torch.int32), *args)


@pytest.mark.parametrize(
    ("op", "call"),
    [
        ("topk", lambda m, x: x.topk(4)),
        ("topk", lambda m, x: m.topk(x, -1)),
        ("kthvalue", lambda m, x: x.kthvalue(0)),
        ("kthvalue", lambda m, x: m.kthvalue(x, 4, dim=1)),
        ("kthvalue", lambda m, x: x[:, :0].kthvalue(1)),
    ],
)
def test_k_out_of_range_is_refused(op: str, call: Callable) -> None:
    x, t = both(np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match=rf"^{op}: "):
        call(cr, x)
    with pytest.raises((RuntimeError, IndexError)):
        call(torch, t)


def test_k_must_be_an_int() -> None:
    x, t = both([1.0, 2.0, 3.0])
    for m, v in ((cr, x), (torch, t)):
        with pytest.raises(TypeError):
            m.topk(v, 2.0)
        with pytest.raises(TypeError):
            m.kthvalue(v, True)
    assert x.topk(np.int64(2)).values.tolist() == [3.0, 2.0]


def test_scatter_reduce_must_be_add_or_multiply() -> None:
    x, t = both(np.ones((2, 3)))
    index = [[0, 1]]
    with pytest.raises(ValueError, match=r"^scatter: reduce must be 'add' or 'multiply'"):
        x.scatter(1, _index(cr, index), 2.0, reduce="mean")
    with pytest.raises(RuntimeError):
        t.scatter(1, _index(torch, index), 2.0, reduce="mean")


def test_cumsum_to_an_integer_dtype_cannot_carry_a_gradient() -> None:
    x, t = both([1.5, 2.5], requires_grad=True)
    with pytest.raises(TypeError, match=r"^cumsum: dtype int64 cannot carry a gradient"):
        x.cumsum(0, dtype=cr.int64)
    with pytest.raises(RuntimeError):
        t.cumsum(0, dtype=torch.int64)
    same(x.detach().cumsum(0, dtype=cr.int64), t.detach().cumsum(0, dtype=torch.int64))


# ---- shapes, dtypes and orders -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "mask_shape"),
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (3, 4)), ((), ()), ((2, 0), (2, 1)), ((4,), ())],
)
def test_masked_select_gives_a_1d_tensor_of_the_selected_count(
    shape: tuple, mask_shape: tuple
) -> None:
    rng = np.random.default_rng(1)
    x, t = both(rng.standard_normal(shape), requires_grad=True)
    flags = rng.random(mask_shape) < 0.5
    out = cr.masked_select(x, cr.tensor(flags))
    expected = torch.masked_select(t, torch.tensor(flags))
    assert out.ndim == 1
    assert out.shape[0] == np.broadcast_to(flags, np.broadcast_shapes(shape, mask_shape)).sum()
    same(out, expected)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    same(x.grad, t.grad)


def test_masked_fill_keeps_the_input_dtype_and_broadcasts() -> None:
    mask = [[True], [False]]
    for value in (2.7, -3, True):
        out = cr.tensor([1, 2, 3]).masked_fill(cr.tensor(mask), value)
        expected = torch.tensor([1, 2, 3]).masked_fill(torch.tensor(mask), value)
        same(out, expected)
    x, t = both([1.0, 2.0])
    same(x.masked_fill(cr.tensor(True), cr.tensor(5)), t.masked_fill(torch.tensor(True), 5))


def test_masked_fill_value_tensor_gets_the_sum_of_the_filled_gradients() -> None:
    rng = np.random.default_rng(2)
    x, t = both(rng.standard_normal((3, 4)), requires_grad=True)
    v, tv = both(0.5, requires_grad=True)
    flags = rng.random((3, 4)) < 0.5
    out = x.masked_fill(cr.tensor(flags), v)
    expected = t.masked_fill(torch.tensor(flags), tv)
    upstream = rng.standard_normal((3, 4))
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    same(v.grad, tv.grad)
    same(x.grad, t.grad)
    assert cr.gradcheck(lambda a, b: a.masked_fill(cr.tensor(flags), b), [x, v])


def test_sort_puts_nan_last_ascending_and_first_descending() -> None:
    values = [np.nan, 1.0, np.nan, -np.inf, np.inf, 0.0, -0.0, 1.0]
    x, t = both(values)
    for descending in (False, True):
        out = x.sort(descending=descending)
        expected = t.sort(descending=descending, stable=True)
        same(out.values, expected.values)
        same(out.indices, expected.indices)
    same(x.topk(2).indices, t.topk(2).indices)
    # Which of two NaNs is the 7th or 8th smallest is not specified: either NaN position.
    for k in (7, 8):
        out, expected = x.kthvalue(k), t.kthvalue(k)
        same(out.values, expected.values)
        assert out.indices.item() in (0, 2) and expected.indices.item() in (0, 2)


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "uint8", "float32"])
def test_sort_and_topk_keep_the_dtype(dtype: str) -> None:
    rng = np.random.default_rng(3)
    array = rng.integers(0, 3, (4, 30)).astype(dtype)
    x, t = cr.tensor(array), torch.tensor(array)
    same(x.sort(descending=True).values, t.sort(descending=True).values)
    same(x.sort(dim=0, stable=True).indices, t.sort(dim=0, stable=True).indices)
    if dtype != "bool":  # PyTorch has no topk or kthvalue of bools on the CPU
        same(x.topk(5).values, t.topk(5).values)
        same(x.kthvalue(7, dim=1).values, t.kthvalue(7, dim=1).values)


def test_sort_with_ties_is_stable_in_both_directions() -> None:
    """PyTorch promises this order only with stable=True; chainrule gives it always."""
    rng = np.random.default_rng(4)
    x, t = both(rng.integers(-2, 3, (5, 64)))
    for descending in (False, True):
        expected = t.sort(dim=1, descending=descending, stable=True)
        same(x.sort(1, descending).indices, expected.indices)
        same(cr.argsort(x, 1, descending, stable=True), expected.indices)


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint8", "int64"])
def test_running_totals_of_integers_are_int64(op: str, dtype: str) -> None:
    array = np.array([[1, 2, 0], [1, 1, 3]]).astype(dtype)
    same(getattr(cr.tensor(array), op)(1), getattr(torch.tensor(array), op)(1))


def test_running_totals_take_a_dtype() -> None:
    x, t = both([[1.5, -2.0], [0.5, 3.0]])
    x, t = x.float(), t.float()
    for op in ("cumsum", "cumprod"):
        same(getattr(cr, op)(x, 0, dtype=cr.float64), getattr(torch, op)(t, 0, dtype=torch.float64))
        same(getattr(x, op)(1, dtype=cr.int64), getattr(t, op)(1, dtype=torch.int64))


def test_running_total_gradient_comes_back_in_the_input_dtype() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.cumprod(0, dtype=cr.float64).sum().backward()
    assert x.grad.dtype == cr.float32
    np.testing.assert_allclose(x.grad.numpy(), [1 + 2 + 6, 1 + 3, 2])  # Σ_j ∂out_j/∂x_k


# ---- cumprod with zeros ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [[0.0, 2.0, 3.0, 4.0]],
        [[2.0, 3.0, 0.0, 4.0, -1.5]],
        [[2.0, 0.0, 3.0, 0.0, 5.0]],
        [[1.5, -2.0, 3.0, 0.0]],
        [[0.0, 0.0, 0.0]],
        [[2.0, 0.0, 3.0], [1.5, -1.0, 2.0], [0.0, 4.0, 0.0]],
    ],
)
def test_cumprod_gradient_is_exact_at_zeros(values: list) -> None:
    """Rows with one zero, several, none, at either end: PyTorch's gradient and finite
    differences agree with chainrule's, where the quotient out/x would give nan."""
    rng = np.random.default_rng(5)
    x, t = both(values, requires_grad=True)
    upstream = rng.standard_normal(np.shape(values))
    x.cumprod(1).backward(upstream)
    t.cumprod(1).backward(torch.tensor(upstream))
    assert np.isfinite(x.grad.numpy()).all()
    same(x.grad, t.grad)
    assert cr.gradcheck(
        lambda a: a.cumprod(1), [cr.tensor(values, dtype=cr.float64, requires_grad=True)]
    )
    assert cr.gradcheck(
        lambda a: a.cumprod(0), [cr.tensor(values, dtype=cr.float64, requires_grad=True)]
    )


# ---- in place ----------------------------------------------------------------------------------


def test_scatter_in_place_changes_the_tensor_and_its_version() -> None:
    x = cr.zeros(2, 3)
    before = x._version
    out = x.scatter_(1, cr.tensor([[2], [0]]), 1.5)
    assert out is x
    assert x._version == before + 1
    assert x.tolist() == [[0.0, 0.0, 1.5], [1.5, 0.0, 0.0]]
    x.scatter_add_(0, cr.tensor([[1, 1, 1]]), cr.ones(1, 3))
    assert x._version == before + 2
    assert x.tolist() == [[0.0, 0.0, 1.5], [2.5, 1.0, 1.0]]


def test_scatter_in_place_in_a_graph_matches_torch() -> None:
    """The old values and src both get their gradient through scatter_ and scatter_add_."""
    rng = np.random.default_rng(6)
    x_values, src_values = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    results = []
    for m in (cr, torch):
        x = m.tensor(x_values, requires_grad=True)
        src = m.tensor(src_values, requires_grad=True)
        y = x * 2
        y.scatter_(1, m.tensor([[3, 0], [1, 2], [0, 3]]), src)
        y.scatter_add_(0, m.tensor([[2, 2, 0, 1]]), m.cat([src[:1], src[1:2]], 1))
        (y * y).sum().backward()
        results.append([v.detach().numpy().copy() for v in (y, x.grad, src.grad)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_scatter_in_place_through_a_view_changes_the_base() -> None:
    results = []
    for m in (cr, torch):
        x = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        base = x * 1
        row = base[1]
        row.scatter_(0, m.tensor([2, 0]), m.tensor([10.0, 20.0]))
        (base * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        results.append((base.detach().numpy().copy(), x.grad.numpy().copy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


def test_scatter_in_place_on_a_leaf_that_requires_grad_is_refused() -> None:
    x = cr.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scatter_: a leaf Variable that requires grad"):
        x.scatter_(0, cr.tensor([[0, 1, 0]]), 1.0)
    with torch.no_grad(), cr.no_grad():
        x.scatter_(0, cr.tensor([[0, 1, 0]]), 1.0)  # under no_grad, as for any in-place change
    assert x.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]


def test_scatter_in_place_of_a_saved_tensor_fails_at_backward_as_in_torch() -> None:
    for m in (cr, torch):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        z = y.sin()  # saves y
        y.scatter_(0, m.tensor([0]), 5.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_scatter_multiply_has_no_gradient_as_in_torch() -> None:
    rng = np.random.default_rng(7)
    x, t = both(rng.standard_normal((2, 3)), requires_grad=True)
    index = [[0, 2, 0], [1, 1, 1]]
    out = x.scatter(1, _index(cr, index), 2.0, reduce="multiply")
    expected = t.scatter(1, _index(torch, index), 2.0, reduce="multiply")
    same(out, expected)
    with pytest.raises(RuntimeError, match="not implemented"):
        out.sum().backward()
    with pytest.raises(RuntimeError, match="not implemented"):
        expected.sum().backward()


def test_sort_indices_changed_in_place_stop_the_backward_of_the_values() -> None:
    """The values' backward reads the indices, as PyTorch's does, so a change is caught."""
    for m in (cr, torch):
        x = m.tensor([3.0, 1.0, 2.0], requires_grad=True)
        values, indices = m.sort(x)
        indices.add_(0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            values.sum().backward()
