"""chainrule.optim.scipy_minimize: least squares against numpy.linalg.lstsq, a tiny MLP, the
optimum written back into the model, options passed through, and the errors (SciPy missing
included)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import chainrule as cr

F = cr.nn.functional


def regression_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 5))
    y = x @ rng.standard_normal(5) + 0.3 + 0.1 * rng.standard_normal(50)
    return x, y


def least_squares() -> np.ndarray:
    """The weights and the intercept of the least-squares fit, from numpy.linalg.lstsq."""
    x, y = regression_data()
    design = np.hstack([x, np.ones((len(x), 1))])
    return np.linalg.lstsq(design, y, rcond=None)[0]


def linear_problem(dtype: Any = cr.float64) -> tuple[Any, Any]:
    x, y = regression_data()
    model = cr.nn.Linear(5, 1).to(dtype)
    inputs, targets = cr.tensor(x, dtype=dtype), cr.tensor(y[:, None], dtype=dtype)
    return model, lambda: F.mse_loss(model(inputs), targets)


@pytest.mark.parametrize(
    ("method", "options", "atol"),
    [
        # Measured: 2.7e-7 from lstsq with L-BFGS-B's default tolerances, 3e-10 with tight
        # ones, 6e-15 with CG.
        ("L-BFGS-B", {}, 1e-5),
        ("L-BFGS-B", {"options": {"gtol": 1e-12, "ftol": 1e-15}}, 1e-8),
        ("CG", {}, 1e-8),
    ],
)
def test_linear_least_squares_matches_lstsq(method: str, options: dict, atol: float) -> None:
    model, loss_fn = linear_problem()
    weight, bias = model.weight.array, model.bias.array
    result = cr.optim.scipy_minimize(model, loss_fn, method=method, **options)
    assert result.success, result.message
    expected = least_squares()
    np.testing.assert_allclose(model.weight.array[0], expected[:5], atol=atol)
    np.testing.assert_allclose(model.bias.array, expected[5:], atol=atol)
    # The optimum is written back, in place, in parameters() order; no stale gradients.
    assert model.weight.array is weight and model.bias.array is bias
    np.testing.assert_array_equal(np.concatenate([weight.ravel(), bias]), result.x)
    assert result.x.dtype == np.float64 and result.jac.shape == (6,)
    assert loss_fn().item() == pytest.approx(result.fun, rel=1e-12)
    assert model.weight.grad is None and model.bias.grad is None


def tiny_mlp(dtype: Any) -> tuple[Any, Any]:
    cr.manual_seed(0)
    x = np.linspace(-3, 3, 40)[:, None]
    inputs, targets = cr.tensor(x, dtype=dtype), cr.tensor(np.sin(x), dtype=dtype)
    model = cr.nn.Sequential(cr.nn.Linear(1, 16), cr.nn.Tanh(), cr.nn.Linear(16, 1)).to(dtype)
    return model, lambda: F.mse_loss(model(inputs), targets)


@pytest.mark.parametrize("dtype", [cr.float64, cr.float32])
def test_a_tiny_mlp_fits_a_sine(dtype: Any) -> None:
    model, loss_fn = tiny_mlp(dtype)
    before = loss_fn().item()
    result = cr.optim.scipy_minimize(model, loss_fn, options={"maxiter": 500})
    # Measured: 0.90 → 2.1e-6 in 87 (float64) and 73 (float32) iterations.
    assert before > 0.5
    assert result.fun < 1e-4
    assert loss_fn().item() == pytest.approx(result.fun, rel=1e-6)
    assert all(p.dtype == dtype for p in model.parameters())
    assert result.x.size == sum(p.numel() for p in model.parameters()) == 49


def test_options_reach_scipy() -> None:
    model, loss_fn = tiny_mlp(cr.float64)
    calls = []
    result = cr.optim.scipy_minimize(
        model, loss_fn, method="BFGS", options={"maxiter": 3}, callback=calls.append
    )
    assert result.nit == 3 and len(calls) == 3 and not result.success


def test_bounds_apply_to_the_flat_vector() -> None:
    model, loss_fn = linear_problem()
    cr.optim.scipy_minimize(model, loss_fn, bounds=[(0.0, None)] * 6)
    assert (model.weight.array >= 0).all() and (model.bias.array >= 0).all()
    assert (model.weight.array == 0).any(), "some least-squares weights are negative"


def test_frozen_and_listed_parameters() -> None:
    """Parameters that do not require grad are left alone; so are those not passed."""
    model, loss_fn = linear_problem()
    model.bias.requires_grad_(False)
    bias = model.bias.array.copy()
    result = cr.optim.scipy_minimize(model, loss_fn)
    np.testing.assert_array_equal(model.bias.array, bias)
    assert result.x.size == 5
    # The weights are then the least-squares fit of y − bias.
    x, y = regression_data()
    expected = np.linalg.lstsq(x, y - bias[0], rcond=None)[0]
    np.testing.assert_allclose(model.weight.array[0], expected, atol=1e-5)

    model, loss_fn = linear_problem()
    weight = model.weight.array.copy()
    result = cr.optim.scipy_minimize([model.bias, model.bias], loss_fn)  # a tied parameter
    assert result.x.size == 1
    np.testing.assert_array_equal(model.weight.array, weight)


def test_an_unused_parameter_gets_a_zero_gradient_and_stays() -> None:
    model, loss_fn = linear_problem()
    unused = cr.nn.Parameter(cr.ones(3, dtype=cr.float64))
    result = cr.optim.scipy_minimize([model.weight, model.bias, unused], loss_fn)
    assert result.success
    np.testing.assert_array_equal(unused.array, np.ones(3))
    np.testing.assert_array_equal(result.jac[6:], 0.0)


def test_works_under_no_grad() -> None:
    model, loss_fn = linear_problem()
    with cr.no_grad():
        result = cr.optim.scipy_minimize(model, loss_fn)
    assert result.success
    np.testing.assert_allclose(model.bias.array, least_squares()[5:], atol=1e-5)


def test_missing_scipy_is_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    model, loss_fn = linear_problem()
    monkeypatch.setitem(sys.modules, "scipy", None)  # `import scipy` now raises ImportError
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    weight = model.weight.array.copy()
    with pytest.raises(ImportError, match=r'pip install "chainrule\[scipy\]"'):
        cr.optim.scipy_minimize(model, loss_fn)
    np.testing.assert_array_equal(model.weight.array, weight)


def test_bad_losses_and_models_are_errors() -> None:
    model, _ = linear_problem()
    inputs = cr.zeros(4, 5, dtype=cr.float64)
    with pytest.raises(TypeError, match=r"one-element tensor, got \(4, 1\)"):
        cr.optim.scipy_minimize(model, lambda: model(inputs))
    with pytest.raises(TypeError, match="one-element tensor, got float"):
        cr.optim.scipy_minimize(model, lambda: 1.0)
    with pytest.raises(ValueError, match="does not depend on the model's parameters"):
        cr.optim.scipy_minimize(model, lambda: cr.tensor(1.0))
    with pytest.raises(ValueError, match="no parameters that require grad"):
        cr.optim.scipy_minimize(cr.nn.Identity(), lambda: cr.tensor(1.0))
    with pytest.raises(TypeError, match="ndarray"):
        cr.optim.scipy_minimize([np.zeros(2)], lambda: cr.tensor(1.0))
