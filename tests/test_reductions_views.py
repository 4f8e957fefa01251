"""Behaviour of the views, reductions, searches and writes by position against PyTorch: named
results, dtypes, shared memory, in-place changes in a graph, and errors. Values and gradients
of the differentiable operations are checked from the operation table
(tests/op_cases_reductions.py); the top-level facts (is_tensor, strides, type promotion, print
options) in tests/test_tensor_facts.py.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

ERRORS = (ValueError, IndexError, RuntimeError, TypeError)


def both(values: Any, dtype: str = "float64", requires_grad: bool = False) -> tuple[Any, Any]:
    array = np.asarray(values, dtype=dtype)
    return cr.tensor(array, requires_grad=requires_grad), torch.tensor(
        array, requires_grad=requires_grad
    )


def same(actual: Any, expected: Any) -> None:
    """Equal values (NaN equal to NaN), shape and dtype name."""
    a = np.asarray(actual.detach().array)
    e = expected.detach().numpy()
    assert a.shape == e.shape, (a.shape, e.shape)
    assert a.dtype.name == str(expected.dtype).removeprefix("torch."), (a.dtype, expected.dtype)
    np.testing.assert_allclose(a, e, rtol=1e-12, equal_nan=True)


# ---- views share memory, and in-place changes through them are tracked -------------------------

VIEWS: dict[str, Callable[[Any, Any], Any]] = {
    "narrow": lambda m, x: x.narrow(1, 1, 2),
    "select": lambda m, x: x.select(0, 1),
    "unbind": lambda m, x: m.unbind(x, 1)[2],
    "diagonal": lambda m, x: x.diagonal(1),
    "diagonal_3d": lambda m, x: x.reshape(2, 3, 2).diagonal(0, 0, 2),
    "movedim": lambda m, x: m.movedim(x, 0, 1),
    "swapaxes": lambda m, x: x.swapaxes(0, 1),
    "unflatten": lambda m, x: x.unflatten(1, (2, 2)),
    "broadcast_to": lambda m, x: m.broadcast_to(x[:1], (2, 3, 4)),
    "broadcast_tensors": lambda m, x: m.broadcast_tensors(x, x[0])[1],
    "meshgrid": lambda m, x: m.meshgrid(x[0], x[1], indexing="ij")[1],
    "atleast_3d": lambda m, x: m.atleast_3d(x),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_memory_and_see_writes(name: str) -> None:
    x, t = both(np.arange(12.0).reshape(3, 4))
    view, expected = VIEWS[name](cr, x), VIEWS[name](torch, t)
    same(view, expected)
    assert np.shares_memory(view.array, x.array)
    x.array[...] += 100  # a write into the base shows through the view, as in PyTorch
    t.add_(100)
    same(view, expected)


WRITABLE = ["narrow", "select", "diagonal", "diagonal_3d", "movedim", "swapaxes", "unflatten"]


@pytest.mark.parametrize("name", WRITABLE)
def test_in_place_change_through_a_view_reaches_the_base_and_its_gradient(name: str) -> None:
    values = np.random.default_rng(0).standard_normal((3, 4))
    x, t = both(values, requires_grad=True)
    results = []
    for m, leaf in ((cr, x), (torch, t)):
        base = leaf * 1
        VIEWS[name](m, base).mul_(3)
        (base * base).sum().backward()
        results.append(base)
    same(results[0], results[1])
    same(x.grad, t.grad)


def test_unbind_pieces_may_not_change_in_place_in_a_graph() -> None:
    for m in (cr, torch):
        base = m.ones(2, 3, requires_grad=True) * 1
        piece = base.unbind(0)[0]
        with pytest.raises(RuntimeError):
            piece.mul_(2)


def test_in_place_writes_by_position_bump_the_version_and_refuse_leaves() -> None:
    x = cr.zeros(3, 4)
    start = x._version
    x.index_add_(1, cr.tensor([0]), cr.ones(3, 1))
    x.index_fill_(0, cr.tensor([1]), 2.0)
    x.fill_diagonal_(5.0).tril_()
    assert x._version == start + 4
    leaf = cr.zeros(3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.fill_diagonal_(1.0)


def test_index_fill_through_a_view_in_a_graph_matches_torch() -> None:
    x, t = both(np.arange(12.0).reshape(3, 4), requires_grad=True)
    outs = []
    for m, leaf in ((cr, x), (torch, t)):
        base = leaf * 2
        base[1:].index_fill_(1, m.tensor([0, 2]), -1.0)
        base.masked_scatter_(base > 20, m.arange(12.0, dtype=m.float64))
        (base * base).sum().backward()
        outs.append(base)
    same(outs[0], outs[1])
    same(x.grad, t.grad)


# ---- named results and dtypes ------------------------------------------------------------------

NAMED: dict[str, Callable[[Any, Any], Any]] = {
    "median": lambda m, x: m.median(x, 1),
    "median_keepdim": lambda m, x: x.median(0, keepdim=True),
    "nanmedian": lambda m, x: m.nanmedian(x, 1),
    "mode": lambda m, x: m.mode(x.round(), 0),
    "cummax": lambda m, x: m.cummax(x, 1),
    "cummin": lambda m, x: x.cummin(dim=0),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_value_index_pairs_are_named_like_torch(name: str) -> None:
    values = np.random.default_rng(1).permutation(20).reshape(4, 5) / 4.0
    values[1, 2] = np.nan
    x, t = both(values)
    out, expected = NAMED[name](cr, x), NAMED[name](torch, t)
    values_, indices = out
    assert out.values is values_ and out.indices is indices
    same(out.values, expected.values)
    same(out.indices, expected.indices)


def test_whole_median_is_the_lower_middle_and_nan_aware() -> None:
    for data in ([3.0, 1.0, 4.0, 2.0], [1.0, math.nan, 2.0], [], [5]):
        dtype = "int64" if data == [5] else "float32"
        x, t = both(data, dtype)
        same(cr.median(x), torch.median(t))
    x, t = both([1.0, math.nan, 3.0, math.nan, 2.0])
    same(x.nanmedian(), t.nanmedian())
    x, t = both([math.nan, math.nan])
    same(x.nanmedian(0).indices, t.nanmedian(0).indices)


DTYPES: dict[str, Callable[[Any], Any]] = {
    "prod_int": lambda m: m.tensor([[1, 2], [3, 4]]).prod(1),
    "prod_bool": lambda m: m.tensor([True, True]).prod(),
    "prod_int32": lambda m: m.tensor([1, 2], dtype=m.int32).prod(),
    "prod_dtype": lambda m: m.tensor([1, 2]).prod(dtype=m.float64),
    "amax_int": lambda m: m.tensor([[1, 5], [7, 2]]).amax(0),
    "amin_bool": lambda m: m.tensor([True, False]).amin(),
    "cummax_int": lambda m: m.tensor([1, 3, 2]).cummax(0).values,
    "median_int": lambda m: m.tensor([1, 5, 2]).median(),
    "count_nonzero": lambda m: m.count_nonzero(m.tensor([[0.0, 1.0], [2.0, 0.0]]), 0),
    "trace_int": lambda m: m.tensor([[1, 2], [3, 4]]).trace(),
    "kron_int_float": lambda m: m.kron(m.tensor([1, 2]), m.tensor([0.5, 1.0])),
    "diff_bool": lambda m: m.diff(m.tensor([True, False, False])),
    "diff_int_prepend_float": lambda m: m.diff(m.tensor([1, 4]), prepend=m.tensor([0.5])),
    "hstack_mixed": lambda m: m.hstack([m.tensor([1]), m.tensor([2.0])]),
    "bincount": lambda m: m.bincount(m.tensor([0, 1, 1, 3]), minlength=6),
    "bincount_float_weights": lambda m: m.bincount(m.tensor([0, 1, 1]), m.tensor([0.5, 1, 2])),
    "bincount_int_weights": lambda m: m.bincount(m.tensor([0, 2]), weights=m.tensor([1, 2])),
    "bincount_uint8": lambda m: m.bincount(m.tensor([1, 2], dtype=m.uint8)),
    "histc": lambda m: m.histc(m.tensor([1.0, 2, 1, 4]), bins=4),
    "histc_range": lambda m: m.histc(m.tensor([0.0, 1, 2, 3, 10, 11]), 3, min=0, max=10),
    "histc_point": lambda m: m.histc(m.tensor([1.0, 1.0], dtype=m.float64), bins=3),
    "histc_empty": lambda m: m.histc(m.ones(0), bins=2),
    "searchsorted_int32": lambda m: m.searchsorted(
        m.tensor([1, 3, 5]), m.tensor([[3, 6]]), out_int32=True
    ),
    "searchsorted_scalar": lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), 4),
    "searchsorted_sorter": lambda m: m.searchsorted(
        m.tensor([5, 1, 3]), m.tensor([3, 6]), sorter=m.tensor([1, 2, 0])
    ),
    "bucketize_scalar": lambda m: m.bucketize(3, m.tensor([1, 3, 5, 7])),
    "nonzero_0d": lambda m: m.nonzero(m.tensor(5.0)),
    "argwhere_0d_zero": lambda m: m.argwhere(m.tensor(0)),
    "take_int": lambda m: m.take(m.tensor([[1, 2], [3, 4]]), m.tensor([3, 0])),
    "logspace": lambda m: m.logspace(0, 2, 3),
    "logspace_base_dtype": lambda m: m.logspace(-1, 1, 5, base=2, dtype=m.float64),
    "logspace_int": lambda m: m.logspace(0, 2, 3, dtype=m.int64),
    "det_empty": lambda m: m.det(m.ones(0, 0)),
    "unique_bool": lambda m: m.unique(m.tensor([True, False, True])),
}


@pytest.mark.parametrize("name", list(DTYPES))
def test_results_and_dtypes_match_torch(name: str) -> None:
    same(DTYPES[name](cr), DTYPES[name](torch))


def test_nonzero_as_tuple_of_0d_and_empty() -> None:
    for value in (5.0, 0.0):
        (got,) = cr.nonzero(cr.tensor(value), as_tuple=True)
        (want,) = torch.nonzero(torch.tensor(value), as_tuple=True)
        same(got, want)


UNIQUE_INPUTS = [
    ([3, 1, 2, 3, 1], None),
    ([[3.0, 1.0], [1.0, math.nan]], None),
    ([math.nan, 1.0, math.nan], None),
    ([[1, 2], [1, 2], [0, 5]], 0),
    ([[1, 2], [1, 2], [0, 5]], 1),
    ([[1, 2, 1], [3, 4, 3]], -1),
    (7, None),
]


@pytest.mark.parametrize(("data", "dim"), UNIQUE_INPUTS)
def test_unique_values_inverse_and_counts_match_torch(data: Any, dim: Any) -> None:
    x, t = cr.tensor(data), torch.tensor(data)
    got = cr.unique(x, return_inverse=True, return_counts=True, dim=dim)
    want = torch.unique(t, return_inverse=True, return_counts=True, dim=dim)
    for a, b in zip(got, want):
        same(a, b)
    same(x.unique(sorted=False), t.unique(sorted=False))


def test_std_mean_and_var_mean_return_plain_pairs() -> None:
    x, t = both(np.arange(6.0).reshape(2, 3))
    for name in ("std_mean", "var_mean"):
        got, want = getattr(cr, name)(x, 1), getattr(torch, name)(t, 1)
        assert type(got) is tuple and len(got) == 2
        same(got[0], want[0])
        same(got[1], want[1])


def test_cross_without_dim_uses_the_first_dimension_of_length_3_and_warns() -> None:
    x, t = both(np.arange(12.0).reshape(4, 3))
    y, u = both(np.arange(12.0)[::-1].reshape(4, 3).copy())
    with pytest.warns(UserWarning):
        got = cr.cross(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(got, torch.cross(t, u))


def test_meshgrid_without_indexing_warns_and_uses_ij() -> None:
    with pytest.warns(UserWarning, match="indexing"):
        rows, cols = cr.meshgrid(cr.tensor([1, 2]), cr.tensor([3, 4, 5]))
    assert rows.shape == (2, 3) and cols.tolist() == [[3, 4, 5], [3, 4, 5]]


def test_det_gradient_at_a_singular_matrix_is_torchs_zero() -> None:
    x, t = both([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    cr.det(x).backward()
    torch.det(t).backward()
    same(x.grad, t.grad)


def test_atleast_and_broadcast_of_one_tensor_return_it_as_torch() -> None:
    x = cr.ones(3)
    assert cr.atleast_1d(x) is x and cr.atleast_2d(cr.ones(2, 2)).shape == (2, 2)
    assert cr.broadcast_tensors(x) == (x,)
    assert cr.atleast_1d(()) == ()
    pieces = cr.atleast_1d([cr.tensor(1.0), x])
    assert isinstance(pieces, tuple) and pieces[0].shape == (1,)
    assert cr.broadcast_shapes((3, 1), (4,)) == torch.broadcast_shapes((3, 1), (4,))
    assert cr.broadcast_shapes(2, (3, 1)) == torch.broadcast_shapes(2, (3, 1))


# ---- errors ------------------------------------------------------------------------------------

BAD: dict[str, Callable[[Any], Any]] = {
    "narrow_past_end": lambda m: m.narrow(m.ones(3, 4), 1, 3, 2),
    "narrow_start_out_of_range": lambda m: m.ones(3, 4).narrow(1, 5, 0),
    "narrow_negative_length": lambda m: m.ones(3, 4).narrow(1, 1, -1),
    "narrow_bad_dim": lambda m: m.ones(3, 4).narrow(2, 0, 1),
    "select_out_of_range": lambda m: m.ones(3, 4).select(0, 3),
    "select_0d": lambda m: m.select(m.tensor(1.0), 0, 0),
    "unbind_0d": lambda m: m.unbind(m.tensor(1.0)),
    "diagonal_same_dims": lambda m: m.diagonal(m.ones(3, 4), 0, 1, 1),
    "diagonal_vector": lambda m: m.diagonal(m.ones(3)),
    "movedim_repeated": lambda m: m.movedim(m.ones(3, 4), (0, 0), (1, 0)),
    "movedim_lengths": lambda m: m.movedim(m.ones(3, 4), (0,), (1, 0)),
    "unflatten_product": lambda m: m.unflatten(m.ones(2, 6), 1, (4, -1)),
    "unflatten_empty_sizes": lambda m: m.unflatten(m.ones(2, 6), 1, ()),
    "unflatten_two_inferred": lambda m: m.unflatten(m.ones(2, 6), 1, (-1, -1)),
    "broadcast_to_bad": lambda m: m.broadcast_to(m.ones(3, 2), (3, 4)),
    "broadcast_tensors_bad": lambda m: m.broadcast_tensors(m.ones(3), m.ones(2)),
    "meshgrid_indexing": lambda m: m.meshgrid(m.ones(2), indexing="yx"),
    "meshgrid_matrix": lambda m: m.meshgrid(m.ones(2, 2), m.ones(3), indexing="ij"),
    "meshgrid_dtypes": lambda m: m.meshgrid(m.ones(2), m.tensor([1]), indexing="ij"),
    "meshgrid_empty": lambda m: m.meshgrid([], indexing="ij"),
    "take_out_of_range": lambda m: m.take(m.ones(3, 4), m.tensor([12])),
    "take_float_index": lambda m: m.take(m.ones(3, 4), m.tensor([1.0])),
    "hstack_empty": lambda m: m.hstack([]),
    "hstack_tensor": lambda m: m.hstack(m.ones(3)),
    "vstack_mismatch": lambda m: m.vstack([m.ones(3), m.ones(4)]),
    "prod_tuple_dim": lambda m: m.ones(2, 3).prod((0, 1)),
    "amax_empty": lambda m: m.amax(m.ones(0, 3), 0),
    "median_empty_dim": lambda m: m.ones(0, 3).median(0),
    "mode_empty": lambda m: m.mode(m.ones(0)),
    "histc_bins": lambda m: m.histc(m.ones(2), bins=0),
    "histc_range": lambda m: m.histc(m.ones(2), bins=2, min=3, max=1),
    "histc_int": lambda m: m.histc(m.tensor([1, 2]), bins=2),
    "histc_nan": lambda m: m.histc(m.tensor([1.0, math.nan]), bins=2),
    "bincount_negative": lambda m: m.bincount(m.tensor([-1, 1])),
    "bincount_float": lambda m: m.bincount(m.tensor([1.0, 2.0])),
    "bincount_2d": lambda m: m.bincount(m.tensor([[1, 2]])),
    "bincount_weights_length": lambda m: m.bincount(m.tensor([1, 2]), m.ones(3)),
    "searchsorted_rows": lambda m: m.searchsorted(m.tensor([[1, 3], [2, 4]]), m.tensor([3])),
    "searchsorted_sides": lambda m: m.searchsorted(
        m.tensor([1, 3]), m.tensor([2]), side="left", right=True
    ),
    "bucketize_2d": lambda m: m.bucketize(m.tensor([1]), m.tensor([[1, 3]])),
    "diff_0d": lambda m: m.diff(m.tensor(1.0)),
    "diff_negative_n": lambda m: m.diff(m.ones(3), n=-1),
    "diff_append_rank": lambda m: m.diff(m.ones(2, 3), append=m.ones(2)),
    "trace_3d": lambda m: m.trace(m.ones(2, 2, 2)),
    "tensordot_mismatch": lambda m: m.tensordot(m.ones(3, 4), m.ones(5, 6), dims=1),
    "tensordot_negative": lambda m: m.tensordot(m.ones(3, 4), m.ones(4, 6), dims=-1),
    "tensordot_too_many": lambda m: m.tensordot(m.ones(3, 4), m.ones(4, 6), dims=3),
    "tensordot_lists": lambda m: m.tensordot(m.ones(3, 4), m.ones(4, 6), dims=([1], [0, 1])),
    "tensordot_dtypes": lambda m: m.tensordot(m.ones(3), m.ones(3, dtype=m.float64), dims=1),
    "cross_no_3": lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)),
    "cross_length": lambda m: m.linalg.cross(m.ones(3, 2), m.ones(3, 2)),
    "cross_ranks": lambda m: m.cross(m.ones(3, 3), m.ones(3), dim=0),
    "cdist_1d": lambda m: m.cdist(m.ones(4), m.ones(5, 4)),
    "cdist_columns": lambda m: m.cdist(m.ones(3, 4), m.ones(5, 3)),
    "cdist_negative_p": lambda m: m.cdist(m.ones(3, 4), m.ones(5, 4), p=-1),
    "cdist_int": lambda m: m.cdist(m.ones(3, 4, dtype=m.int64), m.ones(5, 4, dtype=m.int64)),
    "inv_singular": lambda m: m.linalg.inv(m.zeros(2, 2)),
    "inv_not_square": lambda m: m.inverse(m.ones(2, 3)),
    "inv_int": lambda m: m.inverse(m.eye(2, dtype=m.int64)),
    "det_vector": lambda m: m.det(m.ones(3)),
    "solve_shapes": lambda m: m.linalg.solve(m.eye(2), m.ones(3, 2)),
    "solve_right_shapes": lambda m: m.linalg.solve(m.eye(2), m.ones(2, 3), left=False),
    "solve_singular": lambda m: m.linalg.solve(m.zeros(2, 2), m.ones(2)),
    "solve_dtypes": lambda m: m.linalg.solve(m.eye(2), m.ones(2, dtype=m.float64)),
    "index_add_count": lambda m: m.zeros(3, 4).index_add(1, m.tensor([0]), m.ones(3, 2)),
    "index_add_dtype": lambda m: m.zeros(3, 4).index_add(
        1, m.tensor([0, 1]), m.ones(3, 2, dtype=m.float64)
    ),
    "index_add_out_of_range": lambda m: m.zeros(3, 4).index_add(1, m.tensor([0, 4]), m.ones(3, 2)),
    "index_add_negative": lambda m: m.zeros(3, 4).index_add(1, m.tensor([0, -1]), m.ones(3, 2)),
    "index_add_2d_index": lambda m: m.zeros(3, 4).index_add(1, m.tensor([[0, 1]]), m.ones(3, 2)),
    "index_add_float_index": lambda m: m.zeros(3).index_add(0, m.tensor([0.0]), m.ones(1)),
    "index_copy_negative": lambda m: m.zeros(3, 4).index_copy(1, m.tensor([-1]), m.ones(3, 1)),
    "index_fill_vector_value": lambda m: m.zeros(3, 4).index_fill(1, m.tensor([0]), m.ones(2)),
    "masked_scatter_short": lambda m: m.zeros(3, 4).masked_scatter(
        m.ones(3, 4, dtype=m.bool), m.ones(5)
    ),
    "masked_scatter_int_mask": lambda m: m.zeros(2).masked_scatter(m.tensor([1, 0]), m.ones(4)),
    "masked_scatter_dtype": lambda m: m.zeros(2).masked_scatter(
        m.tensor([True, False]), m.ones(4, dtype=m.float64)
    ),
    "masked_scatter_grows": lambda m: m.zeros(2).masked_scatter_(
        m.tensor([[True], [False]]), m.ones(4)
    ),
    "fill_diagonal_vector": lambda m: m.zeros(3).fill_diagonal_(1),
    "fill_diagonal_unequal": lambda m: m.zeros(2, 3, 2).fill_diagonal_(1),
    "triu_vector": lambda m: m.zeros(3).triu_(),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_arguments_raise_as_in_torch(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ERRORS):
            BAD[name](torch)
        with pytest.raises(ERRORS) as info:
            BAD[name](cr)
    assert len(str(info.value)) > 10


def test_diff_of_an_empty_dimension_is_the_input_itself_as_torch() -> None:
    """Found by the fuzzer: PyTorch returns the empty input itself (a leaf stays a leaf)."""
    for m in (torch, cr):
        leaf = m.zeros((0, 3), requires_grad=True)
        assert m.diff(leaf, 1, dim=0) is leaf
        assert tuple(m.diff(leaf, 1, dim=1).shape) == (0, 2)


def _inverse_reshaped_and_doubled(m: Any, op: str) -> tuple[list, float, float]:
    """inv and solve leave each matrix stored by columns, as LAPACK does in PyTorch, so that a
    reshape of the result copies; an in-place write to it then leaves the result alone (found
    by the gradient fuzzer, seed 1226: chainrule's reshape was a view and doubled it)."""
    rng = np.random.default_rng(0)
    a = m.tensor(rng.standard_normal((2, 3, 3)) + 3 * np.eye(3))
    leaf = m.tensor(0.5, dtype=m.float64, requires_grad=True)
    if op == "inv":
        result = m.linalg.inv(a * leaf + 1)
    else:
        result = m.linalg.solve(a * leaf + 1, m.tensor(rng.standard_normal((2, 3, 2))))
    flat = result.reshape(-1)
    flat.add_(flat)
    (flat.sum() + result.sum()).backward()
    return [tuple(result.stride()), tuple(flat.stride())], result.sum().item(), leaf.grad.item()


@pytest.mark.parametrize("op", ["inv", "solve"])
def test_inverse_and_solve_results_are_stored_by_columns_as_in_torch(op: str) -> None:
    strides, value, grad = _inverse_reshaped_and_doubled(cr, op)
    expected_strides, expected_value, expected_grad = _inverse_reshaped_and_doubled(torch, op)
    assert strides == expected_strides
    assert math.isclose(value, expected_value, rel_tol=1e-12)
    assert math.isclose(grad, expected_grad, rel_tol=1e-10)
