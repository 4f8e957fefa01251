"""Cases of the operation table (tests/op_cases.py): the factorisations and matrix functions of
torch.linalg (cholesky, solve_triangular, slogdet, eigh, svd, qr, pinv, matrix_power,
matrix_exp, multi_dot, vecdot, lstsq, cond, inv_ex).

The inputs are free matrices drawn from the normal domain; each case builds what its operation
needs from them (x·xᵀ + n·I for a positive-definite matrix, x + xᵀ for a symmetric one, a
shifted diagonal for a well-conditioned triangle), so the gradient through that construction
is tested too. Factors that are unique only up to sign (eigenvectors, singular vectors, Q and
R of QR) are compared through functions that do not see the signs: their squares, or products
that rebuild a matrix.
"""

from __future__ import annotations

import math
from typing import Any

from chainrule.ops import determinants
from op_cases import X3, case


def spd(m: Any, x: Any) -> Any:
    """x·xᵀ + n·I: symmetric positive-definite, with eigenvalues at least n."""
    n = x.shape[-1]
    return x @ x.mT + n * m.eye(n, dtype=x.dtype)


def sym(m: Any, x: Any) -> Any:
    """x + xᵀ: symmetric, with (almost surely) distinct eigenvalues."""
    return x + x.mT


def shifted(m: Any, x: Any, by: float = 4.0) -> Any:
    """x + by·I: its triangles are well-conditioned (diagonal near ``by``)."""
    return x + by * m.eye(x.shape[-1], dtype=x.dtype)


def logdet(m: Any, x: Any) -> Any:
    """logdet at the top level (chainrule's until it is exported there)."""
    return m.logdet(x) if m.__name__ == "torch" else determinants.logdet(x)


def rebuild(u: Any, s: Any, vh: Any) -> Any:
    """U·diag(s²)·Vᵀ: sign-free, and depends on U, V and the singular values."""
    return (u * (s * s)[..., None, :]) @ vh


S3, S4, B3 = (3, 3), (4, 4), (2, 3, 3)
INF = math.inf

# ---- cholesky -----------------------------------------------------------------------------------

case("cholesky", lambda m, x: m.linalg.cholesky(spd(m, x)), S3)
case("cholesky_batched", lambda m, x: m.linalg.cholesky(spd(m, x)), (2, 4, 4))
case("cholesky_upper", lambda m, x: m.linalg.cholesky(spd(m, x), upper=True), S4)
case("cholesky_ex", lambda m, x: m.linalg.cholesky_ex(spd(m, x)).L, B3)
case("cholesky_ex_upper", lambda m, x: m.linalg.cholesky_ex(spd(m, x), upper=True)[0], S3)
case("cholesky_loglikelihood", lambda m, x: m.linalg.cholesky(spd(m, x)).diagonal().log(), S4)

# ---- solve_triangular ---------------------------------------------------------------------------

case(
    "solve_triangular_upper",
    lambda m, a, b: m.linalg.solve_triangular(shifted(m, a), b, upper=True),
    S3,
    (3, 2),
)
case(
    "solve_triangular_lower_batched",
    lambda m, a, b: m.linalg.solve_triangular(shifted(m, a), b, upper=False),
    B3,
    (2, 3, 4),
)
case(
    "solve_triangular_right",
    lambda m, a, b: m.linalg.solve_triangular(shifted(m, a), b, upper=True, left=False),
    S3,
    (2, 3),
)
case(
    "solve_triangular_right_lower_bcast",
    lambda m, a, b: m.linalg.solve_triangular(shifted(m, a), b, upper=False, left=False),
    S3,
    (2, 4, 3),
)
case(
    "solve_triangular_unit",
    lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
    S4,
    (4, 2),
)
case(
    "solve_triangular_unit_upper_right_bcast",
    lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True, left=False, unitriangular=True),
    (2, 1, 3, 3),
    (4, 2, 3),
)
case(
    "solve_triangular_cholesky_factor",
    lambda m, a, b: m.linalg.solve_triangular(m.linalg.cholesky(spd(m, a)), b, upper=False),
    S3,
    (3, 2),
)

# ---- determinants -------------------------------------------------------------------------------

case("slogdet_logabsdet", lambda m, x: m.linalg.slogdet(x).logabsdet, S3)
case("slogdet_batched", lambda m, x: m.linalg.slogdet(shifted(m, x, 1.0))[1], (2, 4, 4))
case("slogdet_times_sign", lambda m, x: (lambda s: s[0] * s[1])(m.linalg.slogdet(x)), B3)
case("logdet_spd", lambda m, x: logdet(m, spd(m, x)), B3)

# ---- eigh and eigvalsh --------------------------------------------------------------------------

case("eigh_eigenvalues", lambda m, x: m.linalg.eigh(sym(m, x)).eigenvalues, S4)
case("eigh_eigenvectors_squared", lambda m, x: m.linalg.eigh(sym(m, x))[1] ** 2, S3)
case(
    "eigh_rebuild_batched",
    lambda m, x: (lambda e: (e[1] * e[0][..., None, :] ** 3) @ e[1].mT)(m.linalg.eigh(sym(m, x))),
    (2, 4, 4),
)
case("eigh_upper", lambda m, x: m.linalg.eigh(sym(m, x), UPLO="U")[1] ** 2, S3)
case("eigvalsh", lambda m, x: m.linalg.eigvalsh(sym(m, x)), B3)
case("eigvalsh_upper", lambda m, x: m.linalg.eigvalsh(spd(m, x), UPLO="U"), S4)

# ---- svd ----------------------------------------------------------------------------------------

for _shape, _name in [((3, 3), "square"), ((4, 3), "tall"), ((3, 5), "wide"), (X3, "batched")]:
    case(f"svd_singular_values_{_name}", lambda m, x: m.linalg.svd(x)[1], _shape)
    case(
        f"svd_rebuild_{_name}",
        lambda m, x: rebuild(*m.linalg.svd(x, full_matrices=False)),
        _shape,
    )
    case(
        f"svd_vectors_squared_{_name}",
        lambda m, x: (lambda r: m.cat([(r.U**2).flatten(), (r.Vh**2).flatten()]))(
            m.linalg.svd(x, full_matrices=False)
        ),
        _shape,
    )
case(
    "svd_full_matrices_leading_columns",
    lambda m, x: (lambda r: r.U[..., :3] ** 2 + r.S)(m.linalg.svd(x)),
    (5, 3),
)
case(
    "svd_full_matrices_leading_rows",
    lambda m, x: (lambda r: r.Vh[..., :3, :] ** 2 * r.S[..., None])(m.linalg.svd(x)),
    (2, 3, 5),
)
case(
    "svd_polar_factor",
    lambda m, x: (lambda r: r.U @ r.Vh)(m.linalg.svd(x, full_matrices=False)),
    S3,
)

# ---- qr -----------------------------------------------------------------------------------------

for _shape, _name in [((3, 3), "square"), ((5, 3), "tall"), ((3, 4), "wide"), (X3, "batched")]:
    case(f"qr_rebuild_{_name}", lambda m, x: (lambda r: r.Q @ r.R)(m.linalg.qr(x)), _shape)
    case(
        f"qr_factors_squared_{_name}",
        lambda m, x: (lambda r: m.cat([(r.Q**2).flatten(), (r.R**2).flatten()]))(m.linalg.qr(x)),
        _shape,
    )
case("qr_complete_wide", lambda m, x: m.linalg.qr(x, mode="complete")[1] ** 2, (3, 5))
case("qr_r_squared_sum", lambda m, x: (m.linalg.qr(x)[1] ** 2).sum(-1), (2, 5, 3))

# ---- pinv, lstsq, matrix_rank, cond -------------------------------------------------------------

case("pinv_square", lambda m, x: m.linalg.pinv(x), S3)
case("pinv_tall_batched", lambda m, x: m.linalg.pinv(x), (2, 5, 3))
case("pinv_wide", lambda m, x: m.linalg.pinv(x), (3, 4))
case("pinv_hermitian", lambda m, x: m.linalg.pinv(sym(m, x), hermitian=True), S4)
case("pinv_atol", lambda m, x: m.linalg.pinv(x, atol=1e-3), (4, 2))
case("lstsq_solution", lambda m, a, b: m.linalg.lstsq(a, b).solution, (5, 3), (5, 2))
case("lstsq_vector", lambda m, a, b: m.linalg.lstsq(a, b)[0], (4, 2), (4,))
case("lstsq_batched_square", lambda m, a, b: m.linalg.lstsq(shifted(m, a), b)[0], B3, (2, 3, 1))
case(
    "lstsq_gelsd_residuals",
    lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd").residuals,
    (2, 6, 3),
    (2, 6, 2),
)
case("cond_2", lambda m, x: m.linalg.cond(x), B3)
case("cond_2_tall", lambda m, x: m.linalg.cond(x, 2), (4, 3))
case("cond_minus_2", lambda m, x: m.linalg.cond(x, -2), S3)
# PyTorch 2.13's backward of cond for these norms fails (an in-place write of inv_ex's
# output): it is compared with the same composition of norms and the inverse.
for _p in ["fro", "nuc", 1, -INF]:
    case(
        f"cond_{_p}",
        lambda m, x, p=_p: m.linalg.cond(shifted(m, x), p),
        B3,
        th_fn=lambda m, x, p=_p: (
            m.linalg.matrix_norm(shifted(m, x), p)
            * m.linalg.matrix_norm(m.linalg.inv(shifted(m, x)), p)
        ),
    )

# ---- inv_ex, matrix_power, matrix_exp -----------------------------------------------------------

case("inv_ex", lambda m, x: m.linalg.inv_ex(shifted(m, x)).inverse, B3)
case("matrix_power_3", lambda m, x: m.linalg.matrix_power(x, 3), S3)
case("matrix_power_5_batched", lambda m, x: m.linalg.matrix_power(x, 5), B3)
case("matrix_power_1", lambda m, x: m.linalg.matrix_power(x, 1), S3)
case("matrix_power_minus_2", lambda m, x: m.linalg.matrix_power(shifted(m, x), -2), S3)
case("matrix_exp", lambda m, x: m.linalg.matrix_exp(x), S3)
case("matrix_exp_batched_large", lambda m, x: m.linalg.matrix_exp(2 * x), (2, 4, 4))
case("matrix_exp_1x1", lambda m, x: m.linalg.matrix_exp(x), (1, 1))

# ---- multi_dot and vecdot -----------------------------------------------------------------------

case("multi_dot_two", lambda m, a, b: m.linalg.multi_dot([a, b]), (3, 4), (4, 2))
case(
    "multi_dot_four",
    lambda m, a, b, c, d: m.linalg.multi_dot([a, b, c, d]),
    (5, 2),
    (2, 6),
    (6, 3),
    (3, 4),
)
case(
    "multi_dot_vector_ends",
    lambda m, a, b, c: m.linalg.multi_dot((a, b, c)),
    (3,),
    (3, 4),
    (4,),
)
case("vecdot", lambda m, x, y: m.linalg.vecdot(x, y), (3, 4), (3, 4))
case("vecdot_bcast_dim", lambda m, x, y: m.linalg.vecdot(x, y, dim=0), X3, (2, 1, 4))
