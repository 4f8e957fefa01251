"""The gamma family, erfinv and the normal and Bessel functions of chainrule.special against
mpmath (worst error in ulps over dense grids, float64 and float32), their special values
against PyTorch, their errors, the stored series against their description, and the
namespace's names against torch.special's."""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import special
from chainrule.ops import bessel, erfinv, gamma_functions

mpmath.mp.dps = 40
INF, NAN = math.inf, math.nan


def worst_ulps(ours: np.ndarray, exact: np.ndarray, dtype: str) -> float:
    exact = np.asarray(exact, dtype=np.float64)
    magnitude = np.abs(exact)
    ok = (magnitude > np.finfo(dtype).tiny) & (magnitude < float(np.finfo(dtype).max))
    spacing = np.spacing(np.abs(exact[ok]).astype(dtype)).astype(np.float64)
    return float((np.abs(ours.astype(np.float64)[ok] - exact[ok]) / spacing).max())


def exact_values(fn: Callable, x: np.ndarray) -> np.ndarray:
    return np.array([float(fn(mpmath.mpf(float(v)))) for v in x])


def positive_grid(rng: np.random.Generator) -> np.ndarray:
    """(0, 12) densely, the piece boundaries and zeros (0.5, 1, 1.46, 1.5, 2, 2.5, 10), and
    log-spaced values up to 10³⁰⁰."""
    near = [p + rng.uniform(-0.05, 0.05, 150) for p in (0.5, 1, 1.4616, 1.5, 2, 2.5, 10)]
    return np.concatenate([rng.uniform(0, 12, 1200), *near, 10 ** rng.uniform(-300, 300, 400)])


def log_gamma(v: mpmath.mpf) -> mpmath.mpf:
    return mpmath.loggamma(v).real


# (name, our array function, mpmath's, float64 bound, float32 bound) on x > 0.
POSITIVE_CASES = [
    ("lgamma", gamma_functions.lgamma_array, log_gamma, 8, 1),
    ("digamma", gamma_functions.digamma_array, mpmath.digamma, 4, 1),
    ("trigamma", lambda x: gamma_functions.polygamma_array(1, x), lambda v: mpmath.psi(1, v), 5, 1),
    (
        "polygamma2",
        lambda x: gamma_functions.polygamma_array(2, x),
        lambda v: mpmath.psi(2, v),
        6,
        1,
    ),
    (
        "polygamma5",
        lambda x: gamma_functions.polygamma_array(5, x),
        lambda v: mpmath.psi(5, v),
        10,
        1,
    ),
]


@pytest.mark.parametrize(("name", "ours", "exact", "bound64", "bound32"), POSITIVE_CASES)
def test_gamma_family_on_positive_arguments(name, ours, exact, bound64, bound32) -> None:
    # Measured (float64 / float32): lgamma 5 / 0.5, digamma 3 / 0.5, trigamma 5 / 0.5,
    # polygamma(2) 5 / 0.5, polygamma(5) 9 / 0.5 (x + k rounded, raised to the 6th power).
    x = positive_grid(np.random.default_rng(0))
    with np.errstate(all="ignore"):
        assert worst_ulps(ours(x), exact_values(exact, x), "float64") <= bound64
        x32 = x.astype(np.float32)
        x32 = x32[(x32 > 0) & np.isfinite(x32)]
        assert worst_ulps(ours(x32), exact_values(exact, x32), "float32") <= bound32


def test_reflection_on_negative_arguments() -> None:
    """Below 0 the reflection formulas cancel near the functions' zeros: the error is bounded by
    a few ulps of the terms that cancel, not of the result (PyTorch's digamma: the same)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-10, 0, 1500)
    x = x[x != np.round(x)]
    eps = np.finfo(np.float64).eps
    with np.errstate(all="ignore"):
        exact = exact_values(log_gamma, x)
        terms = np.abs(np.log(np.pi / np.abs(np.sin(np.pi * x)))) + np.abs(
            gamma_functions.lgamma_array(1 - x)
        )
        error = np.abs(gamma_functions.lgamma_array(x) - exact)
        assert (error / (eps * terms)).max() <= 3  # measured 1.6
        exact = exact_values(mpmath.digamma, x)
        terms = np.abs(gamma_functions.digamma_array(1 - x)) + np.abs(np.pi / np.tan(np.pi * x))
        error = np.abs(gamma_functions.digamma_array(x) - exact)
        assert (error / (eps * terms)).max() <= 30  # measured 19
        exact = exact_values(lambda v: mpmath.psi(1, v), x)  # no cancellation: all positive
        assert worst_ulps(gamma_functions.polygamma_array(1, x), exact, "float64") <= 6
        # Away from the zeros, the median error is 1 ulp.
        assert (
            np.median(
                np.abs(gamma_functions.lgamma_array(x) - exact_values(log_gamma, x))
                / np.spacing(np.abs(exact_values(log_gamma, x)))
            )
            <= 2
        )


def test_erfinv_and_ndtri_against_mpmath() -> None:
    rng = np.random.default_rng(2)
    tails = 1 - 10 ** rng.uniform(-16, -0.3, 600)
    x = np.concatenate([rng.uniform(-1, 1, 1500), tails, -tails, 10 ** rng.uniform(-300, -1, 200)])
    x = x[np.abs(x) < 1]
    exact = exact_values(mpmath.erfinv, x)
    assert worst_ulps(erfinv.erfinv_array(x), exact, "float64") <= 6  # measured 5
    x32 = x.astype(np.float32)
    x32 = x32[np.abs(x32) < 1]
    assert worst_ulps(erfinv.erfinv_array(x32), exact_values(mpmath.erfinv, x32), "float32") <= 1

    def quantile(v: mpmath.mpf) -> mpmath.mpf:
        with mpmath.workdps(40 + int(-mpmath.log10(min(v, 1 - v)))):
            return -mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * v)

    p = np.concatenate([rng.uniform(0, 1, 800), 10 ** rng.uniform(-300, -1, 400)])
    p = np.concatenate([p, 1 - 10 ** rng.uniform(-16, -1, 200)])
    assert worst_ulps(erfinv.ndtri_array(p), exact_values(quantile, p), "float64") <= 6  # 4


def test_erfcx_and_log_ndtr_against_mpmath() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(-26, 30, 1500), 10 ** rng.uniform(-5, 5, 300)])
    exact = exact_values(lambda v: mpmath.exp(v * v) * mpmath.erfc(v), x)
    assert worst_ulps(erfinv.erfcx_array(x), exact, "float64") <= 5  # measured 4 (PyTorch 472)

    def log_cdf(v: mpmath.mpf) -> mpmath.mpf:
        if v > 0:
            return mpmath.log1p(-mpmath.erfc(v / mpmath.sqrt(2)) / 2)
        return mpmath.log(mpmath.ncdf(v))

    x = np.concatenate([rng.uniform(-40, 25, 1500), -(10 ** rng.uniform(0, 5, 300))])
    assert worst_ulps(erfinv.log_ndtr_array(x), exact_values(log_cdf, x), "float64") <= 6  # 4


@pytest.mark.parametrize(("nu", "scaled"), [(0, False), (0, True), (1, False), (1, True)])
def test_bessel_functions_against_mpmath(nu: int, scaled: bool) -> None:
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.uniform(-30, 30, 1500), 10 ** rng.uniform(-10, 2.85, 300)])

    def exact(v: mpmath.mpf) -> mpmath.mpf:
        return mpmath.besseli(nu, v) * (mpmath.exp(-abs(v)) if scaled else 1)

    # Measured 8 ulp (the series' 46 rounded terms near |x| = 16), PyTorch 3 to 9.
    assert worst_ulps(bessel.bessel_array(nu, scaled, x), exact_values(exact, x), "float64") <= 10
    x32 = x.astype(np.float32)
    assert (
        worst_ulps(bessel.bessel_array(nu, scaled, x32), exact_values(exact, x32), "float32") <= 1
    )


# ---- special values against PyTorch ------------------------------------------------------------

EDGES = [0.0, -0.0, -1.0, -2.0, 1.0, 2.0, INF, -INF, NAN, -0.5, 1e-30, -1e-30, 1e30, 3e38]
UNIT_EDGES = [1.0, -1.0, 0.0, -0.0, 1.5, -2.0, NAN, INF, -INF, 0.5, -0.999999]
SAME_AS_TORCH = [
    ("gammaln", EDGES),
    ("digamma", EDGES),
    ("erfinv", UNIT_EDGES),
    ("ndtri", [0.0, 1.0, 0.5, 1e-300, -1.0, 2.0, NAN]),
    ("erfcx", [0.0, -1.0, -30.0, 700.0, 1e300, INF, -INF, NAN]),
    ("log_ndtr", [0.0, -1.0, -40.0, -1e10, 40.0, INF, -INF, NAN]),
    ("i0e", [0.0, -1.0, 700.0, 800.0, INF, -INF, NAN]),
    ("i1e", [0.0, -1.0, 700.0, -800.0, INF, -INF, NAN]),
    ("entr", [0.0, -1.0, 0.5, INF, NAN]),
    ("ndtr", [0.0, -40.0, 40.0, INF, -INF, NAN]),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "values"), SAME_AS_TORCH)
def test_special_values_match_torch(name: str, values: list, dtype: str) -> None:
    values = [v for v in values if dtype == "float64" or abs(v) < 3.4e38 or not math.isfinite(v)]
    ours = getattr(special, name)(cr.tensor(values, dtype=getattr(cr, dtype))).numpy()
    theirs = getattr(torch.special, name)(torch.tensor(values, dtype=getattr(torch, dtype)))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=2e-6 if dtype == "float32" else 1e-13)


def test_polygamma_special_values() -> None:
    x = cr.tensor([0.0, -0.0, -1.0, -3.0, INF, -INF, NAN], dtype=cr.float64)
    t = torch.tensor(x.tolist(), dtype=torch.float64)
    # Poles as PyTorch's, where it gives inf: (−1)ⁿ⁺¹·inf; n = 1 at the negative integers
    # and the limits at ±inf differ on purpose (module docstring).
    for n in (2, 3):
        np.testing.assert_array_equal(
            special.polygamma(n, x).numpy()[:4], torch.polygamma(n, t)[:4]
        )
    assert special.polygamma(1, x).tolist()[:4] == [INF] * 4
    assert special.polygamma(1, x).tolist()[4] == 0.0 and math.isnan(
        special.polygamma(2, x).tolist()[5]
    )
    # i0 and i1 at ±inf: the limits (PyTorch: nan).
    assert special.i0(cr.tensor([INF, -INF])).tolist() == [INF, INF]
    assert special.i1(cr.tensor([INF, -INF])).tolist() == [INF, -INF]


def test_integer_inputs_become_float_and_errors_name_the_function() -> None:
    ints = cr.tensor([1, 2, 3])
    for name in ("gammaln", "digamma", "erfinv", "i0", "i1e", "ndtr", "log_ndtr", "erfcx"):
        out = getattr(special, name)(ints)
        expected = getattr(torch.special, name)(torch.tensor([1, 2, 3]))
        assert out.dtype == cr.float32
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match=r"polygamma.*negative n"):
        special.polygamma(-1, cr.tensor([1.0]))
    with pytest.raises(TypeError, match="polygamma"):
        special.polygamma(1.5, cr.tensor([1.0]))
    with pytest.raises(RuntimeError, match="mvlgamma: p has to be"):
        special.multigammaln(cr.tensor([1.0]), 0)
    with pytest.raises(RuntimeError, match=r"mvlgamma.*boolean"):
        special.multigammaln(cr.tensor([True]), 1)
    with pytest.raises(TypeError, match="lgamma"):
        special.gammaln([1.0])
    # PyTorch 2.13 no longer refuses x ≤ (p − 1)/2: lnΓ of the negative arguments.
    t = torch.tensor([0.4, -1.0, 0.6])
    np.testing.assert_allclose(
        special.multigammaln(cr.tensor(t.tolist()), 2).numpy(),
        torch.mvlgamma(t, 2).numpy(),
        rtol=1e-6,
    )


def test_second_derivatives_run_through_the_family() -> None:
    x = cr.tensor([0.7, 3.0], dtype=cr.float64, requires_grad=True)
    (first,) = cr.autograd.grad(special.gammaln(x).sum(), x, create_graph=True)
    (second,) = cr.autograd.grad(first.sum(), x, create_graph=True)
    (third,) = cr.autograd.grad(second.sum(), x)
    expected = [float(mpmath.psi(2, v)) for v in (0.7, 3.0)]
    np.testing.assert_allclose(third.numpy(), expected, rtol=1e-14)


def test_stored_series_match_mpmath() -> None:
    s = [float((-1) ** k * (mpmath.zeta(k) - 1) / k) for k in range(2, 32)]
    np.testing.assert_allclose(gamma_functions.SERIES["s"], s, rtol=1e-15)
    root = mpmath.findroot(mpmath.digamma, 1.46)
    high, low = gamma_functions.SERIES["root"]
    assert high == float(root) and abs(float(root - mpmath.mpf(high)) - low) < 1e-30
    for v in np.linspace(1, 2, 7):  # g's Chebyshev series, at a few points
        u = 2 * v - 3
        g = float(mpmath.digamma(v) / (v - root))
        assert (
            abs(float(np.polynomial.chebyshev.chebval(u, gamma_functions.SERIES["g"])) - g) < 3e-16
        )
    for start, end, coefficients in erfinv._TAIL_FITS:  # within 3·10⁻⁶: Newton does the rest
        for t in np.linspace(start, end, 9):
            u = (2 * t - (start + end)) / (end - start)
            y = float(np.polynomial.polynomial.polyval(u, coefficients))
            exact = mpmath.findroot(
                lambda v, t=t: mpmath.log(mpmath.erfc(v)) + mpmath.mpf(t) ** 2, y
            )
            assert abs(y - float(exact)) <= 3e-6 * float(exact)


def test_namespace_names_are_torch_special_names() -> None:
    ours = set(special.__all__)
    assert ours <= set(dir(torch.special))
    for name in ours:
        assert callable(getattr(special, name)), name
    expected = {"gammaln", "digamma", "psi", "polygamma", "multigammaln", "erf", "erfc", "erfcx",
                "erfinv", "expit", "logit", "exp2", "expm1", "log1p", "xlogy", "xlog1py", "sinc",
                "round", "logsumexp", "softmax", "log_softmax", "entr", "ndtr", "ndtri",
                "log_ndtr", "i0", "i0e", "i1", "i1e"}  # fmt: skip
    assert expected <= ours
