"""Cases of the operation table (tests/op_cases.py): the gamma family, the inverse error
function, the normal distribution's functions and the modified Bessel functions of
``chainrule.special`` (src/chainrule/special.py), against ``torch.special``.

Domains stay away from the poles of the gamma family (0 and the negative integers). Digamma's
derivative and polygamma(1, x) are drawn where x ≥ 10: below, PyTorch's float64 trigamma is
only accurate to about 5·10⁻¹⁰, beyond the table's float64 tolerance (ours is checked against
mpmath in tests/test_special_functions.py). The top-level names (torch.lgamma, x.lgamma(), ...)
are called through chainrule's modules until they are bound in chainrule/__init__.py.
"""

from __future__ import annotations

import numpy as np

from op_cases import X3, A, Domain, case


def between(low: float, high: float) -> Domain:
    """Uniform values in [low, high]."""

    def domain(rng: np.random.Generator, shape: tuple, index: int) -> np.ndarray:
        return np.asarray(rng.uniform(low, high, shape))

    domain.__name__ = f"between({low}, {high})"
    return domain


POSITIVE = between(0.2, 6.0)
NEGATIVE = between(-2.9, -2.1)  # between two poles, across lgamma's two zeros there
LARGE = between(10.0, 40.0)
UNIT = between(-0.95, 0.95)
PROBABILITY = between(0.02, 0.98)

# ---- the gamma family ------------------------------------------------------------------------
case("special_gammaln", lambda m, x: m.special.gammaln(x), A, domain=POSITIVE)
case("special_gammaln_negative", lambda m, x: m.special.gammaln(x), A, domain=NEGATIVE)
case("lgamma", lambda m, x: m.lgamma(x * 3), X3, domain=between(0.1, 3.0))
case("special_digamma", lambda m, x: m.special.digamma(x), A, domain=LARGE)
case("special_psi", lambda m, x: m.special.psi(x), (), domain=LARGE)
case("digamma_method", lambda m, x: x.digamma(), A, domain=LARGE)
case("special_polygamma_1", lambda m, x: m.special.polygamma(1, x), A, domain=LARGE)
case("special_polygamma_2", lambda m, x: m.special.polygamma(2, x), A, domain=POSITIVE)
case("special_polygamma_3", lambda m, x: m.special.polygamma(3, x), A, domain=POSITIVE)
case("polygamma_method_2", lambda m, x: x.polygamma(2), X3, domain=between(0.5, 4.0))
case("special_multigammaln", lambda m, x: m.special.multigammaln(x, 3), A, domain=between(1.2, 5))
case("mvlgamma", lambda m, x: m.mvlgamma(x, p=2), A, domain=between(0.7, 4.0))

# ---- erfinv and the normal distribution --------------------------------------------------------
case("special_erfinv", lambda m, x: m.special.erfinv(x), A, domain=UNIT)
case("special_erfinv_tails", lambda m, x: m.special.erfinv(x), (6,), domain=between(0.9, 0.999))
case("special_erfcx", lambda m, x: m.special.erfcx(x), A, domain=between(-2.0, 8.0))
case("special_ndtr", lambda m, x: m.special.ndtr(x), A)
case("special_ndtri", lambda m, x: m.special.ndtri(x), A, domain=PROBABILITY)
case("special_log_ndtr", lambda m, x: m.special.log_ndtr(x * 4), A)
case("special_erf_erfc", lambda m, x: m.special.erf(x) * m.special.erfc(x), A)

# ---- modified Bessel functions ---------------------------------------------------------------
case("special_i0", lambda m, x: m.special.i0(x * 3), A)
case("special_i0e", lambda m, x: m.special.i0e(x * 3), A)
case("special_i1", lambda m, x: m.special.i1(x * 3), A)
case("special_i1e", lambda m, x: m.special.i1e(x * 3), A)
case("special_i0_large", lambda m, x: m.special.i0(x), (5,), domain=between(18.0, 30.0))
case("special_i1e_large", lambda m, x: m.special.i1e(x), (5,), domain=between(-30.0, -18.0))

# ---- the names torch.special shares with the rest of the library -------------------------------
case("special_expit", lambda m, x: m.special.expit(x), A)
case("special_logit", lambda m, x: m.special.logit(x), A, domain=PROBABILITY)
case("special_exp2", lambda m, x: m.special.exp2(x), A)
case("special_expm1", lambda m, x: m.special.expm1(x), A)
case("special_log1p", lambda m, x: m.special.log1p(x), A, domain=POSITIVE)
case("special_xlogy", lambda m, x, y: m.special.xlogy(x, y), A, A, domain=POSITIVE)
case("special_xlog1py", lambda m, x, y: m.special.xlog1py(x, y), A, A, domain=POSITIVE)
case("special_xlog1py_bcast", lambda m, x, y: m.special.xlog1py(x, y), (3, 1), (4,), domain=UNIT)
case("special_entr", lambda m, x: m.special.entr(x), A, domain=POSITIVE)
case("special_sinc", lambda m, x: m.special.sinc(x), A)
case("special_logsumexp", lambda m, x: m.special.logsumexp(x, 1), X3)
case("special_softmax", lambda m, x: m.special.softmax(x, 1), X3)
case("special_log_softmax", lambda m, x: m.special.log_softmax(x, -1), X3)
