"""Cases of the operation table (tests/op_cases.py): einsum, bmm, baddbmm, addmm, outer, diag,
tril/triu, and the norms of torch.norm and torch.linalg."""

from __future__ import annotations

import math

import numpy as np

from op_cases import ONE, X3, A, case, nonzero, ties

INF = math.inf


def zeros(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
    """All zeros: the point where a norm has no derivative and PyTorch picks 0."""
    return np.zeros(shape)


# ---- triangles, diagonals, outer products -------------------------------------------------------

case("tril", lambda m, x: m.tril(x), A)
case("tril_above", lambda m, x: x.tril(1), A)
case("tril_batched_below", lambda m, x: m.tril(x, -1), X3)
case("triu", lambda m, x: m.triu(x), A)
case("triu_keyword", lambda m, x: x.triu(diagonal=2), A)
case("triu_batched_below", lambda m, x: m.triu(x, -1), X3)
case("diag_of_vector", lambda m, x: m.diag(x), (4,))
case("diag_of_vector_above", lambda m, x: m.diag(x, 2), (3,))
case("diag_of_vector_below", lambda m, x: x.diag(-1), (3,))
case("diag_of_matrix", lambda m, x: m.diag(x), A)
case("diag_of_matrix_above", lambda m, x: m.diag(x, 1), A)
case("diag_of_matrix_below", lambda m, x: x.diag(-2), A)
case("diag_of_tall_matrix", lambda m, x: m.diag(x, -1), (4, 2))
case("diag_outside_matrix", lambda m, x: m.diag(x, 5), A)
case("outer", lambda m, x, y: m.outer(x, y), (3,), (4,))
case("outer_method", lambda m, x, y: x.outer(y), (2,), (5,))
case("outer_with_itself", lambda m, x: m.outer(x, x), (3,))

# ---- batched and scaled products ----------------------------------------------------------------

case("bmm", lambda m, x, y: m.bmm(x, y), (2, 3, 4), (2, 4, 5))
case("bmm_method", lambda m, x, y: x.bmm(y), (3, 1, 2), (3, 2, 2))
case("bmm_same_input", lambda m, x: m.bmm(x, x), (2, 3, 3))
case("addmm", lambda m, c, a, b: m.addmm(c, a, b), (3, 5), (3, 4), (4, 5))
case(
    "addmm_scaled",
    lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2.0),
    (3, 5),
    (3, 4),
    (4, 5),
)
case("addmm_bcast_row", lambda m, c, a, b: m.addmm(c, a, b, alpha=-1), (5,), (3, 4), (4, 5))
case("addmm_bcast_column", lambda m, c, a, b: m.addmm(c, a, b), (3, 1), (3, 4), (4, 5))
case("addmm_0d_input", lambda m, c, a, b: m.addmm(c, a, b, beta=3), (), (2, 4), (4, 2))
case("addmm_beta_zero", lambda m, c, a, b: m.addmm(c, a, b, beta=0), (3, 5), (3, 4), (4, 5))
case("addmm_method", lambda m, c, a, b: c.addmm(a, b, alpha=0.5), (2, 2), (2, 3), (3, 2))
case("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b), (2, 3, 5), (2, 3, 4), (2, 4, 5))
case(
    "baddbmm_scaled_bcast",
    lambda m, c, a, b: m.baddbmm(c, a, b, beta=2, alpha=0.5),
    (3, 1),
    (2, 3, 4),
    (2, 4, 5),
)
case("baddbmm_method", lambda m, c, a, b: c.baddbmm(a, b), (1, 3, 5), (2, 3, 4), (2, 4, 5))

# ---- einsum -------------------------------------------------------------------------------------

case("einsum_matmul", lambda m, x, y: m.einsum("ij,jk->ik", x, y), (2, 3), (3, 4))
case("einsum_implicit", lambda m, x, y: m.einsum("ij,jk", x, y), (2, 3), (3, 4))
case("einsum_operand_list", lambda m, x, y: m.einsum("ij,kj", [x, y]), (2, 3), (4, 3))
case("einsum_spaces", lambda m, x, y: m.einsum("i j , j k -> k i", x, y), (2, 3), (3, 4))
case("einsum_uppercase", lambda m, x, y: m.einsum("Ab,bC->CA", x, y), (2, 3), (3, 4))
case("einsum_transpose", lambda m, x: m.einsum("ij->ji", x), A)
case("einsum_implicit_order", lambda m, x: m.einsum("ba", x), A)
case("einsum_sum_all", lambda m, x: m.einsum("ijk->", x), X3)
case("einsum_sum_one_axis", lambda m, x: m.einsum("ijk->ik", x), X3)
case("einsum_trace", lambda m, x: m.einsum("ii", x), (3, 3))
case("einsum_diagonal", lambda m, x: m.einsum("ii->i", x), (3, 3))
case("einsum_diagonal_batched", lambda m, x: m.einsum("...ii->...i", x), (2, 3, 3))
case("einsum_label_thrice", lambda m, x: m.einsum("iii->i", x), (2, 2, 2))
case("einsum_diagonal_summed_rows", lambda m, x: m.einsum("iij->j", x), (3, 3, 2))
case("einsum_diagonal_times", lambda m, x, y: m.einsum("ii,i->i", x, y), (3, 3), (3,))
case("einsum_batched_matmul", lambda m, x, y: m.einsum("bij,bjk->bik", x, y), X3, (2, 4, 2))
case(
    "einsum_ellipsis_bcast",
    lambda m, x, y: m.einsum("...ij,...jk->...ik", x, y),
    (2, 1, 2, 3),
    (3, 3, 4),
)
case("einsum_ellipsis_implicit", lambda m, x, y: m.einsum("...ij,...jk", x, y), (3, 2, 3), (3, 4))
case("einsum_ellipsis_summed", lambda m, x: m.einsum("i...->i", x), X3)
case("einsum_ellipsis_middle", lambda m, x: m.einsum("i...j->ji...", x), (2, 3, 2, 2))
case("einsum_size_one_bcast", lambda m, x, y: m.einsum("ij,jk->ik", x, y), (2, 3), (1, 4))
case("einsum_bcast_both", lambda m, x, y: m.einsum("ij,ij->ij", x, y), (2, 1), (1, 3))
case(
    "einsum_three_operands",
    lambda m, x, y, z: m.einsum("ij,jk,kl->il", x, y, z),
    (2, 3),
    (3, 4),
    (4, 2),
)
case(
    "einsum_bilinear",
    lambda m, x, w, y: m.einsum("bn,anm,bm->ba", x, w, y),
    (2, 3),
    (4, 3, 5),
    (2, 5),
)
case("einsum_outer", lambda m, x, y: m.einsum("i,j->ij", x, y), (3,), (4,))
case("einsum_dot", lambda m, x, y: m.einsum("i,i->", x, y), (4,), (4,))
case("einsum_same_operand_twice", lambda m, x: m.einsum("ij,ij->", x, x), A)
case("einsum_label_only_in_one", lambda m, x, y: m.einsum("ij,k->ik", x, y), A, (2,))
case("einsum_0d", lambda m, x: m.einsum("", x), ())
case("einsum_0d_times_vector", lambda m, x, y: m.einsum(",i->i", x, y), (), (3,))
case("einsum_empty_inner", lambda m, x, y: m.einsum("ij,jk->ik", x, y), (2, 0), (0, 3))
case("einsum_sublists", lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [2, 0]), A, (4, 2))
case(
    "einsum_sublists_ellipsis",
    lambda m, x, y: m.einsum(x, [..., 0, 1], y, [1, 2]),
    (2, 3, 4),
    (4, 2),
)

# ---- vector norms -------------------------------------------------------------------------------

for _ord in [2, 1, 3, 1.5, 0.5, -1, -2.5, INF, -INF]:
    case(
        f"vector_norm_{_ord}",
        lambda m, x, p=_ord: m.linalg.vector_norm(x, p),
        A,
        domain=nonzero,
    )
    case(
        f"vector_norm_{_ord}_dim_keepdim",
        lambda m, x, p=_ord: m.linalg.vector_norm(x, ord=p, dim=(0, 2), keepdim=True),
        X3,
        domain=nonzero,
    )
case("vector_norm_default_dim", lambda m, x: m.linalg.vector_norm(x, dim=-1), X3)
case("vector_norm_0d", lambda m, x: m.linalg.vector_norm(x), (), domain=nonzero)
case("vector_norm_empty_dims_means_all", lambda m, x: m.linalg.vector_norm(x, 2, ()), A)
case("vector_norm_dtype", lambda m, x: m.linalg.vector_norm(x, 3, 1, dtype=m.float64), A)
case("vector_norm_empty", lambda m, x: m.linalg.vector_norm(x, dim=1), (2, 0))
# At the kinks: PyTorch's convention is compared (ONE), not finite differences.
for _ord in [2, 1, 3, 1.5, 0.5, -1, INF, -INF]:
    case(
        f"vector_norm_{_ord}_at_zero",
        lambda m, x, p=_ord: m.linalg.vector_norm(x, p, dim=1),
        A,
        domain=zeros,
        **ONE,
    )
    case(
        f"vector_norm_{_ord}_one_zero_row",
        lambda m, x, p=_ord: m.linalg.vector_norm(x * m.tensor([[1.0], [0.0], [1.0]]), p, 1),
        A,
        **ONE,
    )
case("vector_norm_inf_ties", lambda m, x: m.linalg.vector_norm(x, INF, 1), A, domain=ties, **ONE)
case("vector_norm_neg_inf_ties", lambda m, x: m.linalg.vector_norm(x, -INF), A, domain=ties, **ONE)

# ---- matrix norms, linalg.norm, torch.norm ------------------------------------------------------

for _ord in ["fro", "nuc", 2, -2, 1, -1, INF, -INF]:
    case(
        f"matrix_norm_{_ord}",
        lambda m, x, p=_ord: m.linalg.matrix_norm(x, p),
        A,
        domain=nonzero,
    )
    case(
        f"matrix_norm_{_ord}_dims_keepdim",
        lambda m, x, p=_ord: m.linalg.matrix_norm(x, p, dim=(2, 0), keepdim=True),
        X3,
        domain=nonzero,
    )
case("matrix_norm_dtype", lambda m, x: m.linalg.matrix_norm(x, 1, dtype=m.float64), A)
case("matrix_norm_empty_fro", lambda m, x: m.linalg.matrix_norm(x), (2, 0, 3))
case("matrix_norm_empty_nuc", lambda m, x: m.linalg.matrix_norm(x, "nuc"), (0, 3))
case("matrix_norm_empty_inf", lambda m, x: m.linalg.matrix_norm(x, INF), (3, 0))
case("matrix_norm_empty_neg_one", lambda m, x: m.linalg.matrix_norm(x, -1), (0, 3))
case("matrix_norm_1_ties", lambda m, x: m.linalg.matrix_norm(x, 1), A, domain=ties, **ONE)
case("svdvals", lambda m, x: m.linalg.svdvals(x), A)
case("svdvals_batched_tall", lambda m, x: m.linalg.svdvals(x), (2, 3, 2))
case("linalg_norm_default", lambda m, x: m.linalg.norm(x), X3)
case("linalg_norm_matrix_ord", lambda m, x: m.linalg.norm(x, 2), A)
case("linalg_norm_matrix_ord_inf", lambda m, x: m.linalg.norm(x, -INF), A, domain=nonzero)
case("linalg_norm_vector_ord", lambda m, x: m.linalg.norm(x, 3), (5,))
case("linalg_norm_vector_ord_inf", lambda m, x: m.linalg.norm(x, INF), (5,), domain=nonzero)
case("linalg_norm_dim", lambda m, x: m.linalg.norm(x, -1, dim=1), X3, domain=nonzero)
case("linalg_norm_dims", lambda m, x: m.linalg.norm(x, "fro", (0, 1), keepdim=True), X3)
case("linalg_norm_dims_default_ord", lambda m, x: m.linalg.norm(x, dim=(2, 1)), X3)
case("linalg_norm_dtype", lambda m, x: m.linalg.norm(x, dtype=m.float64), A)
case("norm_default", lambda m, x: m.norm(x), X3)
case("norm_method", lambda m, x: x.norm(), A)
case("norm_method_dim_keepdim", lambda m, x: x.norm(dim=1, keepdim=True), A)
case("norm_p", lambda m, x: x.norm(1), A, domain=nonzero)
case("norm_p_none", lambda m, x: m.norm(x, None, 0), A)
case("norm_p_inf_dim", lambda m, x: m.norm(x, INF, dim=0), A, domain=nonzero)
case("norm_p_over_two_dims", lambda m, x: m.norm(x, 3, dim=(0, 1)), X3)
case("norm_fro_dims", lambda m, x: m.norm(x, "fro", dim=(0, 2)), X3)
case("norm_fro_dim", lambda m, x: x.norm("fro", 1), X3)
case("norm_nuc", lambda m, x: m.norm(x, "nuc"), A)
case("norm_nuc_dims_keepdim", lambda m, x: x.norm("nuc", dim=(0, 2), keepdim=True), X3)
case("norm_dtype", lambda m, x: m.norm(x, 2, dim=1, dtype=m.float64), A)
case("norm_at_zero", lambda m, x: x.norm(dim=0), A, domain=zeros, **ONE)

# ---- products with vectors (ops/vector_products.py) ----------------------------------------------

case("mv", lambda m, a, v: m.mv(a, v), A, (4,))
case("mv_method", lambda m, a, v: a.mv(v), (2, 3), (3,))
case("inner", lambda m, x, y: m.inner(x, y), A, (2, 4))
case("inner_3d_method", lambda m, x, y: x.inner(y), X3, (4,))
case("inner_scalar", lambda m, x, y: m.inner(x, y), (), A)
case("vdot", lambda m, x, y: m.vdot(x, y), (4,), (4,))
case("ger", lambda m, x, y: m.ger(x, y), (3,), (2,))
case("addmv", lambda m, i, a, v: m.addmv(i, a, v, beta=0.5, alpha=2.0), (3,), A, (4,))
case("addmv_method_bcast", lambda m, i, a, v: i.addmv(a, v), (1,), A, (4,))
case("addmv_beta0", lambda m, i, a, v: m.addmv(i, a, v, beta=0), (3,), A, (4,))
case("addr", lambda m, i, x, y: m.addr(i, x, y, alpha=3.0), A, (3,), (4,))
case("addr_method_bcast", lambda m, i, x, y: i.addr(x, y, beta=2.0), (4,), (3,), (4,))
case("chain_matmul", lambda m, a, b, c: m.chain_matmul(a, b, c), (2, 3), A, (4, 2))
