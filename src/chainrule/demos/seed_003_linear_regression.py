"""Seed article 003: linear regression y ≈ 3x by gradient descent, a "network" of one weight.

The article's program
    100 samples X = rand(100, 1), y = 3 X + rand(100, 1); one weight w = rand(1, 1); learning
    rate alpha = 0.01; 1000 iterations of y_pred = X * w, error = y_pred − y,
    ``gradient = error * X``, w = w − alpha * gradient; then it predicts y for x = 1.

Bugs in the article
    * ``gradient = error * X`` is the (100, 1) array of per-sample gradients, not the gradient:
      it must be reduced over the samples, Xᵀ error / n, the gradient of ½·mean(error²).
      As written, ``w − alpha * gradient`` broadcasts w into a (100, 1) array on the first
      iteration, so every sample then trains a weight of its own and the final "prediction" for
      x = 1 is 100 different numbers.
    * The model has no bias, but the noise rand(100, 1) is uniform on [0, 1), of mean 0.5: the
      data are y = 3x + 0.5 + (zero-mean noise). A line through the origin cannot fit that; its
      best slope is Σxy / Σx² ≈ 3 + 0.5 · E[x] / E[x²] = 3.75, the slope absorbing the offset.
    * Even with the gradient averaged, alpha = 0.01 is too small for 1000 iterations: the loss's
      curvature in w is E[x²] ≈ 1/3, so each step removes only about 0.3 % of the distance
      to the optimum and 1000 steps leave about 4 % of it.

What this script does
    The same data (drawn with a seeded ``chainrule.rand``), the loss L = ½·mean((ŷ − y)²) so
    that autodiff's ∂L/∂w is exactly Xᵀ error / n, and three runs:

    1. the article's model and settings (no bias, alpha = 0.01, 1000 steps): w is still short
       of its optimum;
    2. no bias, alpha = 1.0, 1000 steps: converges, to the slope that absorbs the noise's mean
       as explained above (3.75 in expectation, 3.84 for this seed's 100 points);
    3. with a bias b (the smallest change to the model), alpha = 1.0, 1000 steps: converges to
       the least-squares line, w ≈ 3 and b ≈ 0.5, both within the sampling error of 100 points.
       With a bias the curvature's smallest eigenvalue is about 0.063, so alpha = 0.01 would need
       about 10,000 steps; alpha = 1.0 is below the stability limit 2 / 1.28 and gets there in a
       few hundred.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr


def make_data(seed: int = 0, n: int = 100) -> tuple[cr.Tensor, cr.Tensor, cr.Tensor]:
    """X, y as in the article, and the initial weight w0 = rand(1, 1) that every run starts from."""
    cr.manual_seed(seed)
    X = cr.rand(n, 1)
    y = 3 * X + cr.rand(n, 1)
    w0 = cr.rand(1, 1)
    return X, y, w0


def half_mse(y_pred: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
    return 0.5 * ((y_pred - y) ** 2).mean()


def fit(
    X: cr.Tensor,
    y: cr.Tensor,
    w0: cr.Tensor,
    alpha: float,
    steps: int,
    bias: bool,
    report_every: int = 0,
) -> dict:
    w = cr.tensor(w0, requires_grad=True)
    b = cr.zeros(1, requires_grad=True) if bias else None
    params = [w] if b is None else [w, b]

    def predict(X: cr.Tensor) -> cr.Tensor:
        return X @ w if b is None else X @ w + b

    for step in range(steps):
        loss = half_mse(predict(X), y)
        loss.backward()
        with cr.no_grad():
            for p in params:
                p -= alpha * p.grad
                p.grad = None
        if report_every and step % report_every == 0:
            print(f"  step {step:4d}  loss {loss.item():.6f}")

    with cr.no_grad():
        loss = half_mse(predict(X), y)
        y_new = predict(cr.tensor([[1.0]]))
    return {
        "loss": loss.item(),
        "w": w.item(),
        "b": 0.0 if b is None else b.item(),
        "prediction_at_1": y_new.item(),
    }


def main(seed: int = 0, verbose: bool = True) -> dict:
    X, y, w0 = make_data(seed)
    runs = {}
    for name, alpha, steps, bias in [
        ("article", 0.01, 1000, False),
        ("no_bias_converged", 1.0, 1000, False),
        ("with_bias", 1.0, 1000, True),
    ]:
        if verbose:
            print(f"{name}: alpha = {alpha}, {steps} steps, {'with' if bias else 'no'} bias")
        result = fit(X, y, w0, alpha, steps, bias, report_every=steps // 4 if verbose else 0)
        if verbose:
            print(
                f"  final loss {result['loss']:.6f}  w = {result['w']:.4f}  b = {result['b']:.4f}"
                f"  prediction at x = 1: {result['prediction_at_1']:.4f}"
            )
        runs[name] = result

    # The optima gradient descent should reach, for comparison.
    x, t = X.numpy().astype(np.float64).ravel(), y.numpy().astype(np.float64).ravel()
    w_origin = float(x @ t / (x @ x))
    slope, intercept = np.polyfit(x, t, 1)
    runs["least_squares_slope_through_origin"] = w_origin
    runs["least_squares_line"] = (float(slope), float(intercept))
    if verbose:
        print(f"least squares: through the origin w = {w_origin:.4f};")
        print(f"               with intercept w = {slope:.4f}, b = {intercept:.4f}")
    return runs


if __name__ == "__main__":
    main()
