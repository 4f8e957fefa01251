"""The seed-article programs (chainrule.demos.seed_*): each runs, reaches what its docstring
claims, and its gradients agree with the backpropagation formulas the articles write by hand."""

from __future__ import annotations

import functools
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import chainrule as cr

SCRIPTS = [
    "seed_000_three_four_one",
    "seed_001_linear_model",
    "seed_002_two_two_one",
    "seed_003_linear_regression",
    "seed_004_xor_no_bias",
]
XOR_TARGETS = np.array([0.0, 1.0, 1.0, 0.0])
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "seeds"


@functools.cache
def load(name: str) -> ModuleType:
    return importlib.import_module(f"chainrule.demos.{name}")


@functools.cache
def results(name: str) -> dict:
    return load(name).main(verbose=False)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def backprop(x, y, w1, w2, b1=None, b2=None, loss_grad=None):
    """The articles' backpropagation for a two-layer sigmoid network, in NumPy (float64):
    δ² = ∂C/∂ŷ ⊙ σ'(z²), δ¹ = δ² W2ᵀ ⊙ σ'(z¹), ∂C/∂W2 = a¹ᵀ δ², ∂C/∂W1 = xᵀ δ¹, ∂C/∂b = Σ δ.
    ``loss_grad`` maps (ŷ, y) to ∂C/∂ŷ; the default is that of C = ½ Σ(ŷ − y)²."""
    x, y, w1, w2 = (np.asarray(a, dtype=np.float64) for a in (x, y, w1, w2))
    z1 = x @ w1 + (0 if b1 is None else b1)
    a1 = sigmoid(z1)
    z2 = a1 @ w2 + (0 if b2 is None else b2)
    y_hat = sigmoid(z2)
    dC_dy_hat = (y_hat - y) if loss_grad is None else loss_grad(y_hat, y)
    delta2 = dC_dy_hat * sigmoid(z2) * (1 - sigmoid(z2))
    delta1 = delta2 @ w2.T * sigmoid(z1) * (1 - sigmoid(z1))
    return {
        "W1": x.T @ delta1,
        "W2": a1.T @ delta2,
        "b1": delta1.sum(axis=0),
        "b2": delta2.sum(axis=0),
    }


# ---- every script runs as a program -------------------------------------------------------------


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_and_prints(name: str) -> None:
    # Through the launcher in examples/seeds/, which runs the module as a user would.
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "loss" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("name", SCRIPTS)
def test_main_is_deterministic(name: str) -> None:
    first, again = results(name), load(name).main(verbose=False)
    np.testing.assert_equal(first, again)


# ---- 000: the 3-4-1 network ---------------------------------------------------------------------


def test_000_learns_the_four_samples() -> None:
    r = results("seed_000_three_four_one")
    # It reaches 0.010, 0.971, 0.970, 0.036 (loss 0.0031) after 1500 steps.
    assert np.abs(r["predictions"].ravel() - XOR_TARGETS).max() < 0.1
    assert r["loss"] < 0.01


def test_000_one_step_matches_the_articles_backprop() -> None:
    m = load("seed_000_three_four_one")
    W1, W2 = (w.detach().numpy().astype(np.float64) for w in m.init_weights(seed=0))
    # The article's loss is Σ(y − ŷ)², so ∂C/∂ŷ = 2 (ŷ − y); its update adds −∂C/∂W with lr 1.
    grads = backprop(m.X, m.Y, W1, W2, loss_grad=lambda y_hat, y: 2 * (y_hat - y))
    r = m.main(steps=1, verbose=False)
    np.testing.assert_allclose(r["W1"], W1 - grads["W1"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(r["W2"], W2 - grads["W2"], rtol=0, atol=1e-6)


# ---- 001: the linear model ----------------------------------------------------------------------


def test_001_reaches_the_target() -> None:
    r = results("seed_001_linear_model")
    assert abs(r["prediction"] - 3.0) < 1e-4
    assert r["loss"] < 1e-8


def test_001_gradient_descent_moves_along_the_input() -> None:
    # Every step changes (W, b) by a multiple of (x, 1), so the end point is the start plus
    # c (1, 2, 1) with 0.8 + 6c = 3.
    r = results("seed_001_linear_model")
    c = 2.2 / 6
    np.testing.assert_allclose(r["W"], [[0.1 + c, 0.2 + 2 * c]], atol=1e-5)
    np.testing.assert_allclose(r["b"], [0.3 + c], atol=1e-5)


def test_001_one_step_matches_the_outer_product_gradient() -> None:
    r = load("seed_001_linear_model").main(epochs=1, verbose=False)
    x, W, b, lr = np.array([1.0, 2.0]), np.array([[0.1, 0.2]]), np.array([0.3]), 0.01
    dy = W @ x + b - 3.0
    np.testing.assert_allclose(r["W"], W - lr * np.outer(dy, x), rtol=0, atol=1e-6)
    np.testing.assert_allclose(r["b"], b - lr * dy, rtol=0, atol=1e-6)


# ---- 002: the 2-2-1 network with biases ---------------------------------------------------------


def test_002_article_settings_do_not_learn_xor() -> None:
    m = load("seed_002_two_two_one")
    article = results("seed_002_two_two_one")["article"]
    predictions = article["predictions"].ravel()
    assert not m.learned_xor(article["predictions"])
    # Stuck on the plateau of answering 0.5 everywhere, whose loss is 1/(2·4)·4·0.25 = 0.125.
    assert np.abs(predictions - 0.5).max() < 0.02
    assert article["loss"] > 0.12


def test_002_fixed_settings_learn_xor() -> None:
    m = load("seed_002_two_two_one")
    fixed = results("seed_002_two_two_one")["fixed"]
    assert m.learned_xor(fixed["predictions"])
    # It reaches 0.029, 0.975, 0.975, 0.026 (loss 0.00035).
    assert np.abs(fixed["predictions"].ravel() - XOR_TARGETS).max() < 0.1
    assert fixed["loss"] < 1e-3


def test_002_one_step_matches_the_backprop_formulas() -> None:
    m = load("seed_002_two_two_one")
    start = {k: v.detach().numpy().astype(np.float64) for k, v in m.init_params(seed=0).items()}
    n, lr = 4, 0.1
    grads = backprop(
        m.X,
        m.Y,
        start["W1"],
        start["W2"],
        start["b1"],
        start["b2"],
        loss_grad=lambda y_hat, y: (y_hat - y) / n,  # C = 1/(2n) Σ(ŷ − y)²
    )
    after = m.train(lr, steps=1, seed=0)
    for name in ("W1", "W2", "b1", "b2"):
        np.testing.assert_allclose(
            after[name], start[name] - lr * grads[name], rtol=0, atol=1e-6, err_msg=name
        )


# ---- 003: linear regression ---------------------------------------------------------------------


def test_003_without_bias_the_slope_absorbs_the_noise_mean() -> None:
    r = results("seed_003_linear_regression")
    w_origin = r["least_squares_slope_through_origin"]
    assert w_origin > 3.5  # 3.75 in expectation: 3 + 0.5 E[x] / E[x²]
    assert abs(r["no_bias_converged"]["w"] - w_origin) < 1e-3
    # The article's alpha = 0.01 and 1000 steps stop short of that optimum.
    assert w_origin - r["article"]["w"] > 0.05


def test_003_with_bias_fits_slope_three_and_intercept_half() -> None:
    r = results("seed_003_linear_regression")
    fit = r["with_bias"]
    slope, intercept = r["least_squares_line"]
    # Gradient descent converged to the least-squares line …
    assert abs(fit["w"] - slope) < 1e-3
    assert abs(fit["b"] - intercept) < 1e-3
    # … which is the true line up to the sampling error of 100 points (standard errors about
    # 0.10 for the slope and 0.06 for the intercept); this seed gives 3.008 and 0.551.
    assert abs(fit["w"] - 3.0) < 0.15
    assert abs(fit["b"] - 0.5) < 0.1


def test_003_gradient_is_the_average_not_the_per_sample_array() -> None:
    m = load("seed_003_linear_regression")
    X, y, w0 = m.make_data(seed=0)
    w = cr.tensor(w0, requires_grad=True)
    m.half_mse(X @ w, y).backward()
    x, t, w_np = X.numpy(), y.numpy(), w0.numpy()
    error = x @ w_np - t
    assert w.grad.shape == (1, 1)
    np.testing.assert_allclose(w.grad.numpy(), x.T @ error / len(x), rtol=1e-5, atol=1e-6)


# ---- 004: the bias-free XOR network -------------------------------------------------------------


def test_004_bias_free_network_leaves_one_one_wrong() -> None:
    m = load("seed_004_xor_no_bias")
    no_bias = results("seed_004_xor_no_bias")["no_bias"]
    predictions = no_bias["predictions"].ravel()
    # It is [1, 1], not [0, 0], that ends on the wrong side: 0.043, 0.860, 0.860, 0.551.
    assert list(m.correct(no_bias["predictions"])) == [True, True, True, False]
    assert predictions[0] < 0.1
    assert predictions[3] > 0.5


def test_004_biased_network_learns_xor() -> None:
    m = load("seed_004_xor_no_bias")
    with_bias = results("seed_004_xor_no_bias")["with_bias"]
    assert m.correct(with_bias["predictions"]).all()
    # It reaches 0.011, 0.988, 0.988, 0.012 (loss 0.00027).
    assert np.abs(with_bias["predictions"].ravel() - XOR_TARGETS).max() < 0.05


def test_004_zero_input_output_ignores_the_first_layer() -> None:
    m = load("seed_004_xor_no_bias")
    rng = np.random.default_rng(0)
    W2 = rng.normal(size=(2, 1)) * 3
    zero = cr.tensor([[0.0, 0.0]], dtype=cr.float64)
    for _ in range(5):
        params = {"W1": cr.tensor(rng.normal(size=(2, 2)) * 10), "W2": cr.tensor(W2)}
        np.testing.assert_allclose(
            m.forward(zero, params).numpy(), sigmoid(0.5 * W2.sum()), rtol=1e-12
        )


def test_004_bias_free_network_can_still_represent_xor() -> None:
    # The weights quoted in the docstring: the failure is gradient descent's, not the model's.
    m = load("seed_004_xor_no_bias")
    params = {
        "W1": cr.tensor([[20.0, 1.0], [20.0, 1.0]], dtype=cr.float64),
        "W2": cr.tensor([[80.0], [-100.0]], dtype=cr.float64),
    }
    y_hat = m.forward(cr.tensor(m.X, dtype=cr.float64), params).numpy()
    assert np.abs(y_hat.ravel() - XOR_TARGETS).max() < 0.01


def test_004_one_step_matches_the_backprop_formulas() -> None:
    m = load("seed_004_xor_no_bias")
    w0, w1 = m.article_initial_weights()
    grads = backprop(m.X, m.Y, w0, w1)
    after = m.train(bias=False, steps=1)
    np.testing.assert_allclose(after["W1"], w0 - grads["W1"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(after["W2"], w1 - grads["W2"], rtol=0, atol=1e-6)


def test_004_training_follows_the_articles_numpy_program() -> None:
    # The article's loop, verbatim apart from names, run for the same 10,000 steps.
    X, y = np.array(load("seed_004_xor_no_bias").X), np.array(load("seed_004_xor_no_bias").Y)
    np.random.seed(1)
    w0 = 2 * np.random.random((2, 2)) - 1
    w1 = 2 * np.random.random((2, 1)) - 1
    for _ in range(10_000):
        l1 = sigmoid(X @ w0)
        l2 = sigmoid(l1 @ w1)
        l2_delta = (y - l2) * l2 * (1 - l2)
        l1_delta = l2_delta @ w1.T * l1 * (1 - l1)
        w1 += l1.T @ l2_delta
        w0 += X.T @ l1_delta
    no_bias = results("seed_004_xor_no_bias")["no_bias"]
    np.testing.assert_allclose(no_bias["W1"], w0, rtol=1e-8)
    np.testing.assert_allclose(no_bias["W2"], w1, rtol=1e-8)
    np.testing.assert_allclose(no_bias["predictions"], sigmoid(sigmoid(X @ w0) @ w1), rtol=1e-8)
