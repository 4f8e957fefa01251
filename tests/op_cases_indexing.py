"""Cases of the operation table (tests/op_cases.py): gather, scatter, index_select,
masked_fill/select, sort, topk, kthvalue, cumsum, cumprod."""

from __future__ import annotations

import numpy as np

from op_cases import NOGRAD, ONE, X3, A, case, distinct, ties

# Constant index tensors, shared by both libraries (built per call with m.tensor).
ROWS_2x4 = [[0, 2, 1, 0], [2, 2, 0, 1]]  # positions along dim 0 of a (3, 4) input
COLS_3x2 = [[3, 0], [1, 1], [0, 2]]  # along dim 1 of a (3, 4) input, repeats included
COLS_2x3 = [[3, 0, 1], [2, 2, 0]]  # along dim 1, smaller than the input along dim 0
PERM_ROWS = [[1, 2, 0, 1], [0, 0, 2, 2], [2, 1, 1, 0]]  # no place twice along dim 0
NEW_COLS = [[3, 0], [1, 2], [0, 3]]  # distinct within each row: scatter without repeats
MASK_ROW = np.array([True, False, True, True])
MASK_COL = np.array([[True], [False], [True]])
MASK_3x4 = np.array(
    [[True, False, False, True], [False, True, True, True], [False, False, True, False]]
)


def zero_every_third(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Normal values with every third one exactly 0 (several zeros in one cumprod slice)."""
    x = np.asarray(rng.standard_normal(shape)).reshape(-1)
    x[::3] = 0.0
    return x.reshape(shape)


def one_zero(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Values in ±[0.5, 1.5] with a single exact 0 in the middle of the flattened tensor."""
    x = np.asarray(rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)).reshape(-1)
    x[x.size // 2] = 0.0
    return x.reshape(shape)


# ---- gather and index_select -------------------------------------------------------------------

case("gather_dim0", lambda m, x: m.gather(x, 0, m.tensor(ROWS_2x4)), A)
case("gather_dim1_repeats", lambda m, x: x.gather(1, m.tensor(COLS_3x2)), A)
case("gather_dim_negative", lambda m, x: x.gather(-1, m.tensor(COLS_2x3)), A)
case("gather_3d", lambda m, x: x.gather(1, m.tensor([[[2, 0, 0, 1]], [[1, 1, 2, 0]]])), X3)
case("gather_int32_index", lambda m, x: x.gather(1, m.tensor(COLS_3x2, dtype=m.int32)), A)
case("gather_0d", lambda m, x: m.gather(x, 0, m.tensor(0)), ())
case("gather_0d_index", lambda m, x: m.gather(x, 0, m.tensor(3)), (5,))
case("gather_empty_index", lambda m, x: x.gather(1, m.zeros(3, 0, dtype=m.int64)), A)
case("index_select_dim0", lambda m, x: m.index_select(x, 0, m.tensor([2, 0, 2, 2])), A)
case("index_select_dim1", lambda m, x: x.index_select(1, m.tensor([2, 1, 2])), X3)
case("index_select_negative_dim", lambda m, x: x.index_select(-1, m.tensor([0, 0])), X3)
case("index_select_0d_index", lambda m, x: x.index_select(0, m.tensor(1)), A)
case("index_select_int32", lambda m, x: x.index_select(0, m.tensor([1], dtype=m.int32)), A)
case("index_select_0d_input", lambda m, x: x.index_select(0, m.tensor([0])), ())
case("index_select_empty", lambda m, x: x.index_select(1, m.tensor([], dtype=m.int64)), A)

# ---- scatter and scatter_add -------------------------------------------------------------------

case("scatter_src_dim0", lambda m, x, s: m.scatter(x, 0, m.tensor(PERM_ROWS), s), A, A)
case("scatter_src_dim1", lambda m, x, s: x.scatter(1, m.tensor(NEW_COLS), s), A, (3, 2))
# src larger than index: its unused elements get a zero gradient. (PyTorch 2.13's own backward
# fails here, shape [2, 2] for src [3, 4]; its gradient is that of the used corner, padded.)
case(
    "scatter_src_larger_than_index",
    lambda m, x, s: m.scatter(x, 1, m.tensor([[1, 0], [3, 2]]), s),
    A,
    A,
    th_fn=lambda m, x, s: (
        m.scatter(x, 1, m.tensor([[1, 0], [3, 2]]), s[:2, :2].contiguous()) + 0 * s
    ),
)
case("scatter_value", lambda m, x: x.scatter(1, m.tensor(COLS_3x2), 2.5), A)
case("scatter_value_keyword", lambda m, x: m.scatter(x, 0, m.tensor(ROWS_2x4), value=-1.0), A)
case("scatter_3d", lambda m, x, s: x.scatter(2, m.tensor([[[3, 1]], [[0, 2]]]), s), X3, (2, 1, 2))
case("scatter_add_dim0", lambda m, x, s: m.scatter_add(x, 0, m.tensor(ROWS_2x4), s), A, (2, 4))
case("scatter_add_repeats", lambda m, x, s: x.scatter_add(1, m.tensor(COLS_3x2), s), A, (3, 2))
case(
    "scatter_add_src_larger",
    lambda m, x, s: x.scatter_add(0, m.tensor([[1, 1]]), s),
    A,
    A,
    th_fn=lambda m, x, s: x.scatter_add(0, m.tensor([[1, 1]]), s[:1, :2].contiguous()) + 0 * s,
)
case(
    "scatter_reduce_add",
    lambda m, x, s: x.scatter(1, m.tensor(COLS_3x2), s, reduce="add"),
    A,
    (3, 2),
    th_fn=lambda m, x, s: x.scatter_add(1, m.tensor(COLS_3x2), s),
)
case("scatter_add_0d", lambda m, x, s: x.scatter_add(0, m.tensor(0), s), (), ())
# In place, on a tensor made in the graph: the gradient reaches both the old values and src.
case("scatter_inplace", lambda m, x, s: (x * 1).scatter_(1, m.tensor(NEW_COLS), s), A, (3, 2))
case("scatter_inplace_value", lambda m, x: (x + 0).scatter_(0, m.tensor(PERM_ROWS), 0.5), A)
case(
    "scatter_add_inplace", lambda m, x, s: (2 * x).scatter_add_(1, m.tensor(COLS_3x2), s), A, (3, 2)
)

# ---- masked_fill and masked_select -------------------------------------------------------------

case("masked_fill", lambda m, x: m.masked_fill(x, m.tensor(MASK_3x4), 0.5), A)
case("masked_fill_method_bcast", lambda m, x: x.masked_fill(m.tensor(MASK_ROW), -2.0), X3)
case("masked_fill_mask_grows", lambda m, x: x.masked_fill(m.tensor(MASK_3x4), 1.0), (1, 4))
case("masked_fill_from_values", lambda m, x: x.masked_fill(x > 0.5, 0.0), A)
case("masked_fill_int_value", lambda m, x: x.masked_fill(m.tensor(MASK_COL), 3), A)
case("masked_fill_tensor_value", lambda m, x, v: x.masked_fill(m.tensor(MASK_3x4), v), A, ())
case(
    "masked_fill_tensor_value_bcast",
    lambda m, x, v: m.masked_fill(x, m.tensor(MASK_COL), v),
    (4,),
    (),
)
case("masked_select", lambda m, x: m.masked_select(x, m.tensor(MASK_3x4)), A)
case("masked_select_bcast_mask", lambda m, x: x.masked_select(m.tensor(MASK_ROW)), X3)
case("masked_select_bcast_input", lambda m, x: x.masked_select(m.tensor(MASK_3x4)), (3, 1))
case("masked_select_from_values", lambda m, x: x.masked_select(x < 0), A)
case("masked_select_0d", lambda m, x: x.masked_select(m.tensor(True)), ())

# ---- sorting -----------------------------------------------------------------------------------

case("sort_values", lambda m, x: x.sort().values, A, domain=distinct)
case("sort_dim0_descending", lambda m, x: m.sort(x, 0, descending=True).values, X3, domain=distinct)
case("sort_positional", lambda m, x: x.sort(1, True)[0], X3, domain=distinct)
case("sort_stable", lambda m, x: m.sort(x, dim=-1, stable=True).values, A, domain=distinct)
case("sort_0d", lambda m, x: x.sort().values, ())
case("sort_empty", lambda m, x: x.sort(0).values, (0, 3))
# Ties: the gradient of each value goes to the element its index names. PyTorch orders ties
# as chainrule does (lowest index first) only when asked for a stable sort.
case("sort_ties_values", lambda m, x: x.sort(dim=1, stable=True).values, A, domain=ties, **ONE)
case(
    "sort_ties_descending_values",
    lambda m, x: x.sort(dim=0, descending=True, stable=True).values,
    A,
    domain=ties,
    **ONE,
)
case(
    "sort_ties_long_rows",
    lambda m, x: m.sort(x, dim=-1, descending=True, stable=True).values,
    (2, 40),
    domain=ties,
    **ONE,
)
case("topk", lambda m, x: x.topk(2).values, A, domain=distinct)
case(
    "topk_smallest_dim0",
    lambda m, x: m.topk(x, 2, dim=0, largest=False).values,
    X3,
    domain=distinct,
)
case("topk_all", lambda m, x: x.topk(4, -1)[0], A, domain=distinct)
case("topk_k0", lambda m, x: x.topk(0, dim=1).values, X3, domain=distinct)
case("topk_0d", lambda m, x: x.topk(1).values, ())
# sorted=False: PyTorch's order is unspecified, so both are put in order before comparing.
case("topk_unsorted", lambda m, x: x.topk(3, sorted=False).values.sort().values, A, domain=distinct)
case("kthvalue", lambda m, x: x.kthvalue(2).values, A, domain=distinct)
case("kthvalue_dim0_keepdim", lambda m, x: m.kthvalue(x, 1, 0, True).values, X3, domain=distinct)
case("kthvalue_last", lambda m, x: x.kthvalue(4, dim=-1)[0], A, domain=distinct)
case("kthvalue_0d", lambda m, x: x.kthvalue(1).values, ())
case("sort_indices", lambda m, x: x.sort().indices, A, domain=distinct, **NOGRAD)
case("sort_ties_indices", lambda m, x: x.sort(dim=1, stable=True).indices, A, domain=ties, **NOGRAD)
case(
    "sort_ties_descending_indices",
    lambda m, x: m.sort(x, dim=0, descending=True, stable=True)[1],
    A,
    domain=ties,
    **NOGRAD,
)
case("argsort", lambda m, x: m.argsort(x), X3, domain=distinct, **NOGRAD)
case("argsort_descending_dim0", lambda m, x: x.argsort(0, True), X3, domain=distinct, **NOGRAD)
case("argsort_stable_ties", lambda m, x: x.argsort(dim=1, stable=True), A, domain=ties, **NOGRAD)
case(
    "argsort_stable_ties_long_rows",
    lambda m, x: m.argsort(x, dim=-1, descending=True, stable=True),
    (3, 50),
    domain=ties,
    **NOGRAD,
)
case("topk_indices", lambda m, x: x.topk(3, dim=1).indices, X3, domain=distinct, **NOGRAD)
case(
    "topk_smallest_indices",
    lambda m, x: m.topk(x, 2, largest=False)[1],
    A,
    domain=distinct,
    **NOGRAD,
)
case("kthvalue_indices", lambda m, x: x.kthvalue(3, 1).indices, X3, domain=distinct, **NOGRAD)
case(
    "kthvalue_keepdim_indices",
    lambda m, x: x.kthvalue(2, 0, keepdim=True)[1],
    A,
    domain=distinct,
    **NOGRAD,
)

# ---- running totals ----------------------------------------------------------------------------

case("cumsum_dim0", lambda m, x: m.cumsum(x, 0), A)
case("cumsum_dim_negative", lambda m, x: x.cumsum(-1), X3)
case("cumsum_keyword", lambda m, x: x.cumsum(dim=1), X3)
case("cumsum_dtype", lambda m, x: m.cumsum(x, 1, dtype=m.float64), A)
case("cumsum_0d", lambda m, x: x.cumsum(0), ())
case("cumsum_empty", lambda m, x: x.cumsum(1), (0, 3))
case("cumprod_dim1", lambda m, x: m.cumprod(x, 1), A)
case("cumprod_dim0_3d", lambda m, x: x.cumprod(0), X3)
case("cumprod_dtype", lambda m, x: x.cumprod(-1, dtype=m.float64), A)
case("cumprod_0d", lambda m, x: x.cumprod(-1), ())
case("cumprod_one_zero", lambda m, x: x.cumprod(0), (7,), domain=one_zero)
case("cumprod_one_zero_2d", lambda m, x: x.cumprod(1), (3, 5), domain=one_zero)
case("cumprod_zeros", lambda m, x: m.cumprod(x, -1), (3, 7), domain=zero_every_third)
case("cumprod_zeros_dim0", lambda m, x: x.cumprod(0), (6, 2), domain=zero_every_third)
case("cumprod_first_zero", lambda m, x: (x - x[0]).cumprod(0), (5,))
case("cumprod_last_zero", lambda m, x: (x - x[-1]).cumprod(0), (5,))
case("cumsum_int", lambda m, x: (x > 0).int().cumsum(1), A, **NOGRAD)
case("cumsum_bool", lambda m, x: (x > 0).cumsum(0), X3, **NOGRAD)
case("cumprod_int", lambda m, x: (x > 0).long().cumprod(-1), A, **NOGRAD)
