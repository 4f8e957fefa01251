"""Operations added under PyTorch's names (nan-skipping extremes and sums, quantiles, log-space
running sums, signs, splits at indices, constructions, products with vectors): the special
values, argument sweeps and errors that the op table (tests/op_cases_*.py) does not reach,
each against PyTorch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

NAN = math.nan


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(value.detach().tolist(), dtype=np.float64)


def test_every_added_name_exists_where_pytorch_has_it() -> None:
    functions = [
        "fmax", "fmin", "nansum", "nanmean", "logaddexp", "logaddexp2", "copysign", "signbit",
        "heaviside", "positive", "sinc", "deg2rad", "rad2deg", "absolute", "greater",
        "greater_equal", "less", "less_equal", "not_equal", "tensor_split", "hsplit", "vsplit",
        "dsplit", "mv", "inner", "vdot", "ger", "addmv", "addr", "chain_matmul", "block_diag",
        "diag_embed", "cartesian_prod", "vander", "aminmax", "msort", "ravel", "rot90", "isin",
        "take_along_dim", "cov", "corrcoef", "dist", "trapezoid", "trapz",
        "cumulative_trapezoid", "logcumsumexp", "quantile", "nanquantile",
    ]  # fmt: skip
    assert [n for n in functions if not hasattr(torch, n)] == []  # the list is PyTorch's
    assert [n for n in functions if not hasattr(cr, n)] == []
    methods = [n for n in functions if hasattr(torch.Tensor, n)]
    assert len(methods) > 35
    assert [n for n in methods if not hasattr(cr.Tensor, n)] == []
    assert cr.subtract is cr.sub and cr.absolute is cr.abs and cr.trapz is cr.trapezoid


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_take_the_number_over_nan_and_route_the_gradient_as_pytorch(name: str) -> None:
    a_values = [1.0, NAN, NAN, 2.0, -0.0, 3.0, -math.inf]
    b_values = [NAN, 2.0, NAN, 2.0, 0.0, -1.0, 5.0]
    upstream = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    found = []
    for m in (cr, torch):
        a = m.tensor(a_values, requires_grad=True)
        b = m.tensor(b_values, requires_grad=True)
        out = getattr(m, name)(a, b)
        out.backward(m.tensor(upstream))
        found.append([_numpy(out), _numpy(a.grad), _numpy(b.grad)])
    for mine, theirs in zip(*found):
        np.testing.assert_array_equal(mine, theirs)


def test_nansum_and_nanmean_gradients_match_pytorch_with_an_all_nan_row() -> None:
    values = [[1.0, NAN, 3.0], [NAN, NAN, NAN]]
    found = []
    for m in (cr, torch):
        x = m.tensor(values, requires_grad=True)
        total, mean = m.nansum(x, 1), m.nanmean(x, 1)
        (total * 2 + mean).sum().backward()
        found.append([_numpy(total), _numpy(mean), _numpy(x.grad)])
    for mine, theirs in zip(*found):
        np.testing.assert_array_equal(mine, theirs)  # nan where PyTorch has nan


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("skip_nan", [False, True])
def test_quantile_sweep_matches_pytorch(interpolation: str, skip_nan: bool) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 5, 4))
    values[0, 1, 2] = NAN  # one nan in a slice of every dim
    upstream_rng = np.random.default_rng(1)
    for q in (0.3, [0.0, 0.25, 0.5, 1.0]):
        for dim in [0, 1, -1] if not skip_nan else [None, 0, 1, -1]:
            for keepdim in (False, True):
                results = []
                for m in (cr, torch):
                    x = m.tensor(values, requires_grad=True)
                    qs = q if isinstance(q, float) else m.tensor(q, dtype=m.float64)
                    f = m.nanquantile if skip_nan else m.quantile
                    out = f(x, qs, dim, keepdim, interpolation=interpolation)
                    results.append((m, x, out))
                upstream = upstream_rng.normal(size=tuple(results[1][2].shape))
                for m, _, out in results:
                    out.backward(m.tensor(upstream))
                (_, x, out), (_, x_t, out_t) = results
                assert tuple(out.shape) == tuple(out_t.shape)
                np.testing.assert_allclose(_numpy(out), _numpy(out_t), rtol=1e-13)
                np.testing.assert_allclose(_numpy(x.grad), _numpy(x_t.grad), rtol=1e-13)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.quantile(m.tensor([1, 2]), 0.5), "float or double"),
        (lambda m: m.quantile(m.tensor([1.0, 2.0]), 1.5), "in the range \\[0, 1\\]"),
        (lambda m: m.quantile(m.tensor([1.0]), m.tensor([0.5], dtype=m.float64)), "same dtype"),
        (lambda m: m.tensor_split(m.ones(3), 0), "larger than 0"),
        (lambda m: m.hsplit(m.ones(4, 6), 4), "not divisible by the split_size 4"),
        (lambda m: m.vsplit(m.ones(4), 2), "at least 2 dimension"),
        (lambda m: m.rot90(m.ones(2, 3), 1, [0, 0]), "rotation dims to be different"),
        (lambda m: m.rot90(m.ones(3)), "total dims >= 2"),
        (lambda m: m.mv(m.ones(2, 3), m.ones(2)), "size mismatch"),
        (lambda m: m.vdot(m.ones(2, 1), m.ones(2)), "1D tensors expected"),
        (lambda m: m.block_diag(m.ones(1, 1, 1)), "2 or fewer dimensions"),
        (lambda m: m.cartesian_prod(m.ones(2, 2)), "1D vector"),
        (lambda m: m.diag_embed(m.ones(2), 0, 1, 1), "cannot be identical"),
        (lambda m: m.cov(m.ones(2, 2, 2)), "two or fewer dimensions"),
        (lambda m: m.trapezoid(m.ones(3), m.ones(4)), "one `x` value for each sample"),
    ],
)
def test_bad_arguments_raise_where_pytorch_raises(call: Any, message: str) -> None:
    with pytest.raises((RuntimeError, ValueError, IndexError), match=message):
        call(torch)
    with pytest.raises((RuntimeError, ValueError, IndexError), match=message):
        call(cr)


def test_logcumsumexp_at_infinities_and_its_second_derivative_match_pytorch() -> None:
    for values in ([0.0, -1000.0, 5.0], [-math.inf, 0.0, 1.0], [3.0, 3.0, -2.0]):
        found = []
        for m in (cr, torch):
            x = m.tensor(values, dtype=m.float64, requires_grad=True)
            out = m.logcumsumexp(x, 0)
            upstream = m.tensor([1.0, -2.0, 0.5], dtype=m.float64)
            (g,) = m.autograd.grad(out, x, upstream, create_graph=True)
            (h,) = m.autograd.grad((g * g).sum(), x)
            found.append([_numpy(out), _numpy(g), _numpy(h)])
        for mine, theirs in zip(*found):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-300)


def test_vander_gradient_is_the_powers_derivative_where_pytorch_fails() -> None:
    # PyTorch 2.13's backward of vander raises (its own in-place write): the exact derivative.
    x = cr.tensor([0.0, 2.0, -1.5], dtype=cr.float64, requires_grad=True)
    cr.vander(x, 4).sum().backward()
    values = np.array([0.0, 2.0, -1.5])
    np.testing.assert_allclose(x.grad.numpy(), 3 * values**2 + 2 * values + 1, rtol=1e-15)
    assert cr.vander(cr.tensor([0, 2]), increasing=True).tolist() == [[1, 0], [1, 2]]
    assert str(cr.vander(cr.tensor([True, False])).dtype) == "int64"


def test_signbit_heaviside_and_isin_give_pytorchs_values() -> None:
    values = [-1.0, -0.0, 0.0, 2.0, -math.inf]
    assert cr.signbit(cr.tensor(values)).tolist() == torch.signbit(torch.tensor(values)).tolist()
    steps = cr.heaviside(cr.tensor(values), cr.tensor([0.5]))
    assert steps.tolist() == torch.heaviside(torch.tensor(values), torch.tensor([0.5])).tolist()
    assert not steps.requires_grad
    elements, tests = [1, 2, 3, 2], [2, 5]
    for invert in (False, True):
        mine = cr.isin(cr.tensor(elements), cr.tensor(tests), invert=invert)
        theirs = torch.isin(torch.tensor(elements), torch.tensor(tests), invert=invert)
        assert mine.tolist() == theirs.tolist()
    assert cr.isin(cr.tensor([1.0, 2.0]), 2.0).tolist() == [False, True]
    for m in (cr, torch):
        with pytest.raises((RuntimeError, ValueError), match="bool"):
            m.positive(m.tensor([True]))


def test_cov_weights_and_corrcoef_of_a_constant_row_match_pytorch() -> None:
    values = np.random.default_rng(4).normal(size=(3, 6))
    values[2] = 1.5  # a constant variable: its correlations are nan in both libraries
    fweights, aweights = [1, 2, 1, 3, 1, 2], [0.5, 1.0, 2.0, 1.0, 0.25, 1.0]
    for correction in (0, 1, 2):
        mine = cr.cov(
            cr.tensor(values),
            correction=correction,
            fweights=cr.tensor(fweights),
            aweights=cr.tensor(aweights, dtype=cr.float64),
        )
        theirs = torch.cov(
            torch.tensor(values),
            correction=correction,
            fweights=torch.tensor(fweights),
            aweights=torch.tensor(aweights, dtype=torch.float64),
        )
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-13, atol=1e-15)
    with np.errstate(invalid="ignore", divide="ignore"):
        mine = cr.corrcoef(cr.tensor(values)).numpy()
    theirs = torch.corrcoef(torch.tensor(values)).numpy()
    np.testing.assert_allclose(mine, theirs, rtol=1e-13)  # nan in the same places


def test_addmv_with_beta_zero_ignores_nan_in_input_and_gives_it_a_zero_gradient() -> None:
    found = []
    for m in (cr, torch):
        bias = m.tensor([NAN, 1.0], requires_grad=True)
        matrix = m.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        out = m.addmv(bias, matrix, m.tensor([1.0, -1.0]), beta=0, alpha=2)
        out.sum().backward()
        found.append([_numpy(out), _numpy(bias.grad), _numpy(matrix.grad)])
    for mine, theirs in zip(*found):
        np.testing.assert_array_equal(mine, theirs)


def test_older_top_level_factorisation_names_match_pytorch() -> None:
    a = np.random.default_rng(5).normal(size=(4, 3))
    spd = a.T @ a + 3 * np.eye(3)
    found = []
    for m in (cr, torch):
        x = m.tensor(a, requires_grad=True)
        s = m.tensor(spd, requires_grad=True)
        u, singular, v = m.svd(x)
        q, r = m.qr(x)  # complete with more rows than columns has no derivative in either
        outputs = [
            u @ m.diag(singular) @ v.mT,  # the factors rebuild x: signs do not matter
            q @ r,
            m.cholesky(s),
            x.pinverse(),
            s.logdet().reshape(1),
            s.slogdet()[1].reshape(1),
            s.matrix_power(-2),
            (s / 10).matrix_exp(),
        ]
        loss = sum((out * out).sum() for out in outputs) + singular.sum()
        loss.backward()
        found.append([_numpy(out) for out in outputs] + [_numpy(x.grad), _numpy(s.grad)])
    for mine, theirs in zip(*found):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
