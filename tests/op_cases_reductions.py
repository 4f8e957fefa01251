"""Cases of the operation table (tests/op_cases.py): views and rearrangements (narrow, select,
unbind, movedim, diagonal, unflatten, broadcasting, the stacks, meshgrid, take), reductions and
statistics (prod, amax/amin, median, mode, cummax/cummin, var_mean/std_mean, diff), products
(trace, tensordot, kron, cross, cdist), square matrices (inv, det, solve), writes by position
(index_add/copy/fill, masked_scatter, fill_diagonal_, tril_/triu_), and the positions they find
(nonzero, argwhere, count_nonzero, searchsorted, bucketize)."""

from __future__ import annotations

import numpy as np

from op_cases import NOGRAD, ONE, X3, A, case, distinct, normal, ties

INF = float("inf")


def with_zeros(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Normal values where row 0 has no zero, row 1 one zero and row 2 two zeros (a product's
    derivative has three regimes)."""
    x = np.asarray(rng.standard_normal(shape))
    x[1, 1] = 0.0
    x[2, 0] = x[2, 2] = 0.0
    return x


def well_conditioned(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Square matrices (in the last two dimensions) near 3·I: far from singular."""
    return np.asarray(rng.standard_normal(shape) * 0.5 + 3 * np.eye(shape[-1]))


def repeated_rows(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """Normal values whose last row repeats the first: a cdist at zero distance."""
    x = np.asarray(rng.standard_normal(shape))
    x[..., -1, :] = x[..., 0, :]
    return x


# ---- parts of a tensor (views) ------------------------------------------------------------------

case("narrow", lambda m, x: m.narrow(x, 1, 1, 2), A)
case("narrow_negative_start", lambda m, x: x.narrow(0, -2, 2), A)
case("narrow_tensor_start", lambda m, x: x.narrow(-1, m.tensor(1), 3), X3)
case("narrow_empty", lambda m, x: x.narrow(1, 4, 0), A)
case("select", lambda m, x: m.select(x, 0, 2), A)
case("select_negative", lambda m, x: x.select(-1, -3), X3)
case("select_vector", lambda m, x: x.select(0, 1), (3,))
case("unbind", lambda m, x: m.unbind(x), A)
case("unbind_dim", lambda m, x: x.unbind(-1), X3)
case("diagonal", lambda m, x: m.diagonal(x), A)
case("diagonal_above", lambda m, x: x.diagonal(1), A)
case("diagonal_below_dims", lambda m, x: m.diagonal(x, -1, 0, 2), X3)
case("diagonal_dims_reversed", lambda m, x: x.diagonal(offset=1, dim1=-1, dim2=0), X3)
case("diagonal_outside", lambda m, x: m.diagonal(x, 5), A)
case("diagonal_used_twice", lambda m, x: x.diagonal() * x.diagonal(-1)[:2].sum(), A)
case("take", lambda m, x: m.take(x, m.tensor([[0, -1], [5, 5]])), A)
case("take_method_0d_index", lambda m, x: x.take(m.tensor(3)), X3)

# ---- moved, split and added axes (views) --------------------------------------------------------

case("movedim", lambda m, x: m.movedim(x, 0, -1), X3)
case("movedim_tuples", lambda m, x: x.movedim((0, 1), (2, 0)), X3)
case("moveaxis", lambda m, x: m.moveaxis(x, -1, 1), X3)
case("swapaxes", lambda m, x: m.swapaxes(x, 0, 2), X3)
case("swapdims_method", lambda m, x: x.swapdims(0, 1), A)
case("unflatten", lambda m, x: x.unflatten(1, (2, -1)), A)
case("unflatten_fn_list", lambda m, x: m.unflatten(x, -1, [2, 1, 2]), X3)
case("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), (3, 1))
case("broadcast_to_keep", lambda m, x: x.broadcast_to((-1, 4)), (3, 1))
case("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), (3, 1), (4,))
case(
    "broadcast_tensors_three",
    lambda m, x, y, z: m.broadcast_tensors(x, y, z),
    (2, 1, 1),
    (3, 1),
    (),
)
case("atleast_1d", lambda m, x: m.atleast_1d(x), ())
case("atleast_2d", lambda m, x: m.atleast_2d(x), (3,))
case("atleast_3d_vector", lambda m, x: m.atleast_3d(x), (3,))
case("atleast_3d_matrix", lambda m, x: m.atleast_3d(x), A)
case("atleast_2d_several", lambda m, x, y: m.atleast_2d(x, y), (), X3)
case("meshgrid_ij", lambda m, x, y: m.meshgrid(x, y, indexing="ij"), (2,), (3,))
case("meshgrid_xy", lambda m, x, y: m.meshgrid(x, y, indexing="xy"), (2,), (3,))
case("meshgrid_xy_three", lambda m, x, y, z: m.meshgrid([x, y, z], indexing="xy"), (2,), (3,), ())
case("meshgrid_same_twice", lambda m, x: m.meshgrid(x, x, indexing="ij"), (3,))
case("transpose_property", lambda m, x: x.T, A)
case("matrix_transpose_property", lambda m, x: x.mT, X3)
case("reshape_as", lambda m, x, y: x.reshape_as(y) * y, A, (2, 6))

# ---- joining ------------------------------------------------------------------------------------

case("hstack_vectors", lambda m, x, y: m.hstack([x, y]), (3,), (2,))
case("hstack_0d", lambda m, x, y: m.hstack((x, y)), (), (2,))
case("hstack_matrices", lambda m, x, y: m.hstack([x, y]), A, (3, 2))
case("vstack", lambda m, x, y: m.vstack([x, y]), (4,), A)
case("row_stack", lambda m, x, y: m.row_stack([x, y]), (4,), (4,))
case("dstack", lambda m, x, y: m.dstack([x, y]), A, X3[1:])
case("dstack_vectors", lambda m, x, y: m.dstack([x, y]), (3,), (3,))
case("column_stack", lambda m, x, y: m.column_stack([x, y]), (3,), (3, 2))
case("column_stack_0d", lambda m, x, y: m.column_stack([x, y]), (), ())

# ---- products along a dimension -----------------------------------------------------------------

case("prod_all", lambda m, x: x.prod(), A)
case("prod_dim", lambda m, x: m.prod(x, 1), A)
case("prod_dim_keepdim", lambda m, x: x.prod(0, keepdim=True), X3)
case("prod_zeros", lambda m, x: x.prod(1), (3, 4), domain=with_zeros)
case("prod_zeros_all", lambda m, x: x[1].prod(), (3, 4), domain=with_zeros)
case("prod_zeros_columns", lambda m, x: x.prod(dim=0), (3, 4), domain=with_zeros)
case("prod_dtype", lambda m, x: x.prod(1, dtype=m.float64), A)
case("prod_0d", lambda m, x: m.prod(x, 0), ())
case("prod_empty", lambda m, x: x.prod(1), (2, 0))

# ---- extremes -----------------------------------------------------------------------------------

case("amax", lambda m, x: m.amax(x), A, domain=distinct)
case("amax_dim", lambda m, x: x.amax(1), A, domain=distinct)
case("amax_dims_keepdim", lambda m, x: m.amax(x, (0, 2), keepdim=True), X3, domain=distinct)
case("amin_dim", lambda m, x: x.amin(-1), X3, domain=distinct)
case("amin_all", lambda m, x: x.amin(), A, domain=distinct)
case("amax_ties", lambda m, x: x.amax(1), A, domain=ties, **ONE)
case("amin_ties_all", lambda m, x: m.amin(x), A, domain=ties, **ONE)
case("amax_ties_dims", lambda m, x: x.amax((0, 1)), X3, domain=ties, **ONE)
case("cummax", lambda m, x: m.cummax(x, 1).values, A, domain=distinct)
case("cummin_method", lambda m, x: x.cummin(0)[0], X3, domain=distinct)
case("cummax_ties", lambda m, x: x.cummax(-1).values, A, domain=ties, **ONE)
case("cummin_ties", lambda m, x: m.cummin(x, 0).values, A, domain=ties, **ONE)
case("cummax_0d", lambda m, x: m.cummax(x, 0).values, ())
case("cummax_indices", lambda m, x: m.cummax(x, 1).indices, A, domain=ties, **NOGRAD)
case("cummin_indices", lambda m, x: x.cummin(0).indices, X3, domain=ties, **NOGRAD)

# ---- statistics ---------------------------------------------------------------------------------

case("median_all", lambda m, x: x.median(), A, domain=distinct)
case("median_all_odd", lambda m, x: m.median(x), (5,), domain=distinct)
case("median_dim", lambda m, x: m.median(x, 1).values, A, domain=distinct)
case("median_dim_keepdim", lambda m, x: x.median(0, keepdim=True)[0], X3, domain=distinct)
case("median_ties_all", lambda m, x: x.median(), A, domain=ties, **ONE)
case("median_indices", lambda m, x: x.median(-1).indices, X3, domain=distinct, **NOGRAD)
case("nanmedian_dim", lambda m, x: x.nanmedian(1).values, A, domain=distinct)
case("nanmedian_all", lambda m, x: m.nanmedian(x), X3, domain=distinct)
case("mode", lambda m, x: x.mode().values, A, domain=ties, **ONE)
case("mode_dim_keepdim", lambda m, x: m.mode(x, 0, True).values, A, domain=ties, **ONE)
case("mode_indices", lambda m, x: x.mode(1).indices, (3, 7), domain=ties, **NOGRAD)
case("var_mean", lambda m, x: m.var_mean(x, 1), A)
case("var_mean_all", lambda m, x: m.var_mean(x), X3)
case("var_mean_unbiased", lambda m, x: m.var_mean(x, 0, False), A)
case("var_mean_correction", lambda m, x: m.var_mean(x, (0, 2), correction=0, keepdim=True), X3)
case("std_mean", lambda m, x: m.std_mean(x, -1), A)
case("std_mean_all_keepdim", lambda m, x: m.std_mean(x, None, keepdim=True, correction=2), A)
case("diff", lambda m, x: m.diff(x), A)
case("diff_twice_dim0", lambda m, x: x.diff(2, 0), X3)
case("diff_prepend_append", lambda m, x, p, a: m.diff(x, 1, 1, p, a), A, (3, 2), (3, 1))
case("diff_prepend_dim0", lambda m, x, p: x.diff(dim=0, prepend=p), A, (1, 4))
case("diff_too_far", lambda m, x: m.diff(x, 5), A)

# ---- products and distances ---------------------------------------------------------------------

case("trace", lambda m, x: m.trace(x), A)
case("trace_method_square", lambda m, x: x.trace(), (3, 3))
case("tensordot", lambda m, x, y: m.tensordot(x, y), X3, (3, 4, 2))
case("tensordot_one", lambda m, x, y: m.tensordot(x, y, 1), X3, (4, 5))
case("tensordot_zero", lambda m, x, y: m.tensordot(x, y, dims=0), (2, 3), (2,))
case("tensordot_lists", lambda m, x, y: m.tensordot(x, y, ([0, 2], [2, 0])), X3, (4, 3, 2))
case("kron", lambda m, x, y: m.kron(x, y), (2, 3), (2, 2))
case("kron_vectors", lambda m, x, y: x.kron(y), (3,), (2,))
case("kron_ranks_differ", lambda m, x, y: m.kron(x, y), (2,), (2, 3))
case("kron_same_input", lambda m, x: m.kron(x, x), (2, 2))
case("cross", lambda m, x, y: m.cross(x, y, dim=1), (4, 3), (4, 3))
case("cross_method_dim0", lambda m, x, y: x.cross(y, 0), (3, 2), (3, 2))
case("linalg_cross", lambda m, x, y: m.linalg.cross(x, y), (2, 3), (1, 3))
case("linalg_cross_dim", lambda m, x, y: m.linalg.cross(x, y, dim=0), (3, 2), (3, 2))
case("cdist", lambda m, x, y: m.cdist(x, y), (3, 4), (5, 4))
case("cdist_batched", lambda m, x, y: m.cdist(x, y), (2, 3, 2), (2, 4, 2))
case("cdist_batch_broadcast", lambda m, x, y: m.cdist(x, y), (2, 1, 3, 2), (4, 2))
for _p in [1.0, 3.0, 0.5, INF]:
    case(f"cdist_p{_p}", lambda m, x, y, p=_p: m.cdist(x, y, p=p), (3, 2), (2, 2), domain=distinct)
case("cdist_zero_distance", lambda m, x: m.cdist(x, x[:2]), (3, 3), domain=repeated_rows, **ONE)
case("cdist_p1_zero_distance", lambda m, x: m.cdist(x, x, 1.0), (2, 3), **ONE)
case("cosine_similarity_top_level", lambda m, x, y: m.cosine_similarity(x, y), A, A)

# ---- square matrices ----------------------------------------------------------------------------

case("inverse", lambda m, x: m.inverse(x), (3, 3), domain=well_conditioned)
case("inverse_method_batched", lambda m, x: x.inverse(), (2, 3, 3), domain=well_conditioned)
case("linalg_inv", lambda m, x: m.linalg.inv(x), (4, 4), domain=well_conditioned)
case("det", lambda m, x: m.det(x), (3, 3))
case("det_batched_method", lambda m, x: x.det(), (2, 2, 2))
case("linalg_det", lambda m, x: m.linalg.det(x), (4, 4), domain=well_conditioned)
case(
    "linalg_solve",
    lambda m, a, b: m.linalg.solve(a, b),
    (3, 3),
    (3, 2),
    domain=(well_conditioned, normal),
)
case(
    "linalg_solve_vector",
    lambda m, a, b: m.linalg.solve(a, b),
    (3, 3),
    (3,),
    domain=(well_conditioned, normal),
)
case(
    "linalg_solve_batched_vectors",
    lambda m, a, b: m.linalg.solve(a, b),
    (2, 3, 3),
    (2, 3),
    domain=(well_conditioned, normal),
)
case(
    "linalg_solve_broadcast",
    lambda m, a, b: m.linalg.solve(a, b),
    (3, 3),
    (2, 3, 4),
    domain=(well_conditioned, normal),
)
case(
    "linalg_solve_right",
    lambda m, a, b: m.linalg.solve(a, b, left=False),
    (3, 3),
    (2, 3),
    domain=(well_conditioned, normal),
)

# ---- writing by position ------------------------------------------------------------------------

case("index_add", lambda m, x, s: m.index_add(x, 1, m.tensor([3, 1, 3]), s), A, (3, 3))
case("index_add_alpha", lambda m, x, s: x.index_add(0, m.tensor([2, 0]), s, alpha=-2), A, (2, 4))
case("index_add_", lambda m, x, s: (x * 1).index_add_(0, m.tensor([1]), s), A, (1, 4))
case("index_copy", lambda m, x, s: m.index_copy(x, 1, m.tensor([3, 0]), s), A, (3, 2))
case("index_copy_", lambda m, x, s: (x + 0).index_copy_(0, m.tensor([2, 0]), s), A, (2, 4))
case("index_fill", lambda m, x: m.index_fill(x, 1, m.tensor([0, -1]), 2.5), A)
case("index_fill_tensor_value", lambda m, x, v: x.index_fill(0, m.tensor([1, 1]), v), A, ())
case("index_fill_", lambda m, x, v: (x * 1).index_fill_(1, m.tensor([2]), v), X3, ())
MASK = [[True, False, True, False], [False, False, True, True], [True, True, False, False]]
case("masked_scatter", lambda m, x, s: m.masked_scatter(x, m.tensor(MASK), s), A, (8,))
case(
    "masked_scatter_broadcast",
    lambda m, x, s: x.masked_scatter(m.tensor([True, False, True, False]), s),
    A,
    (2, 5),
)
case("masked_scatter_", lambda m, x, s: (x * 1).masked_scatter_(m.tensor(MASK), s), A, (3, 3))
case("fill_diagonal_", lambda m, x: (x * 1).fill_diagonal_(2.0), A)
case("fill_diagonal_wrap", lambda m, x: (x * 1).fill_diagonal_(-1.0, wrap=True), (7, 3))
case("fill_diagonal_cube", lambda m, x: (x * 1).fill_diagonal_(0.5), (2, 2, 2))
case("tril_", lambda m, x: (x * 1).tril_(), A)
case("triu_", lambda m, x: (x * 1).triu_(-1), X3)
case("clone_contiguous_format", lambda m, x: x.clone(memory_format=m.contiguous_format), A)
case("clone_channels_last", lambda m, x: m.clone(x, memory_format=m.channels_last), (2, 3, 2, 2))
case("contiguous_of_transpose", lambda m, x: x.t().contiguous() * x.t(), A)

# ---- positions and counts -----------------------------------------------------------------------

case("nonzero", lambda m, x: m.nonzero(x), A, domain=ties, **NOGRAD)
case("nonzero_as_tuple", lambda m, x: m.stack(x.nonzero(as_tuple=True)), X3, domain=ties, **NOGRAD)
case("nonzero_0d", lambda m, x: m.nonzero(x + 1), (), **NOGRAD)
case("argwhere", lambda m, x: m.argwhere(x), X3, domain=ties, **NOGRAD)
case("count_nonzero", lambda m, x: m.count_nonzero(x), A, domain=ties, **NOGRAD)
case("count_nonzero_dims", lambda m, x: x.count_nonzero((0, 2)), X3, domain=ties, **NOGRAD)
BOUNDS = [-1.0, -0.25, 0.0, 0.5, 1.0]
case("searchsorted", lambda m, x: m.searchsorted(m.tensor(BOUNDS), x), A, **NOGRAD)
case(
    "searchsorted_right",
    lambda m, x: m.searchsorted(m.tensor(BOUNDS), x, right=True),
    A,
    domain=ties,
    **NOGRAD,
)
case(
    "searchsorted_side",
    lambda m, x: m.searchsorted(m.tensor(BOUNDS), x, side="right"),
    (5,),
    **NOGRAD,
)
case(
    "searchsorted_rows",
    lambda m, x: m.searchsorted(
        m.tensor([[-1.0, 0.0, 1.0], [0.0, 0.5, 2.0], [-2.0, -1.0, 0.0]]), x
    ),
    A,
    **NOGRAD,
)
case("bucketize", lambda m, x: m.bucketize(x, m.tensor(BOUNDS)), X3, domain=ties, **NOGRAD)
case(
    "bucketize_right",
    lambda m, x: m.bucketize(x, m.tensor(BOUNDS), right=True),
    A,
    domain=ties,
    **NOGRAD,
)

# ---- nan-skipping sums, aminmax, quantiles, logcumsumexp, covariance, distances, integrals ------

NAN_AT = np.array([[1.0, np.nan, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [np.nan, 1.0, 1.0, np.nan]])


def _holed(m, x):
    """x with nan at fixed places (the same in both libraries)."""
    keep = m.tensor(np.nan_to_num(NAN_AT, nan=0.0), dtype=x.dtype)
    holes = m.tensor(np.where(np.isnan(NAN_AT), np.nan, 0.0), dtype=x.dtype)
    return x * keep + holes


case("nansum", lambda m, x: m.nansum(_holed(m, x)), A)
case("nansum_dim_keepdim_method", lambda m, x: _holed(m, x).nansum(1, keepdim=True), A)
case("nanmean", lambda m, x: m.nanmean(_holed(m, x), dim=0), A)
case("nanmean_method", lambda m, x: _holed(m, x).nanmean(), A)
case("aminmax", lambda m, x: tuple(m.aminmax(x)), A, domain=distinct)
case("aminmax_dim_method", lambda m, x: tuple(x.aminmax(dim=1, keepdim=True)), X3, domain=distinct)
case("aminmax_ties", lambda m, x: tuple(m.aminmax(x, dim=0)), A, domain=ties, **ONE)
case("quantile", lambda m, x: m.quantile(x, 0.3), A, domain=distinct)
case(
    "quantile_q_dim",
    lambda m, x: m.quantile(x, m.tensor([0.1, 0.5, 1.0], dtype=x.dtype), dim=1),
    A,
    domain=distinct,
)
case(
    "quantile_keepdim_method",
    lambda m, x: x.quantile(0.75, dim=0, keepdim=True),
    X3,
    domain=distinct,
)
for mode in ("lower", "higher", "midpoint", "nearest"):
    case(
        f"quantile_{mode}",
        lambda m, x, mode=mode: m.quantile(x, 0.4, dim=-1, interpolation=mode),
        X3,
        domain=distinct,
    )
case("nanquantile", lambda m, x: m.nanquantile(_holed(m, x), 0.5, dim=1), A, domain=distinct)
case("nanquantile_method", lambda m, x: _holed(m, x).nanquantile(0.25), A, domain=distinct)
case("logcumsumexp", lambda m, x: m.logcumsumexp(x * 3, 1), A)
case("logcumsumexp_method", lambda m, x: x.logcumsumexp(0), X3)
case("logcumsumexp_0d", lambda m, x: m.logcumsumexp(x, 0), ())
case("cov", lambda m, x: m.cov(x), A)
case("cov_correction_method", lambda m, x: x.cov(correction=0), A)
case("cov_vector", lambda m, x: m.cov(x), (5,))
case(
    "cov_weights",
    lambda m, x: m.cov(
        x, fweights=m.tensor([1, 2, 1, 3]), aweights=m.tensor([0.5, 1.0, 2.0, 1.0], dtype=x.dtype)
    ),
    A,
)
case("corrcoef", lambda m, x: m.corrcoef(x), A)
case("corrcoef_method", lambda m, x: x.corrcoef(), (2, 6))
case("dist", lambda m, x, y: m.dist(x, y), A, A)
case("dist_p3_method", lambda m, x, y: x.dist(y, 3), A, (4,))
case("dist_inf", lambda m, x, y: m.dist(x, y, float("inf")), A, A, domain=distinct)
case("trapezoid", lambda m, y: m.trapezoid(y), A)
case("trapezoid_dx_dim", lambda m, y: m.trapezoid(y, dx=0.5, dim=0), A)
case("trapezoid_x", lambda m, y, x: m.trapezoid(y, x), A, (4,))
case("trapz", lambda m, y, x: m.trapz(y, x, dim=0), A, A)
case("cumulative_trapezoid", lambda m, y: m.cumulative_trapezoid(y), A)
case("cumulative_trapezoid_x", lambda m, y, x: m.cumulative_trapezoid(y, x, dim=0), A, (3,))
case("msort", lambda m, x: m.msort(x), A, domain=distinct)
case("msort_method", lambda m, x: x.msort(), X3, domain=distinct)
