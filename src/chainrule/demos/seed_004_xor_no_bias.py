"""Seed article 004: a bias-free 2-2-1 sigmoid network on XOR, trained for 10,000 steps.

The article's program
    X = [[0,0],[0,1],[1,0],[1,1]], y = [[0],[1],[1],[0]]; ``np.random.seed(1)``;
    w0 = 2·random((2, 2)) − 1 and w1 = 2·random((2, 1)) − 1; no biases. Each of 10,000 steps
    computes l1 = σ(X w0), l2 = σ(l1 w1), l2_delta = (y − l2) σ'(l2),
    l1_delta = l2_delta w1ᵀ ⊙ σ'(l1), and ADDS l1ᵀ l2_delta to w1 and Xᵀ l1_delta to w0: that is
    gradient descent with learning rate 1 on C = ½ Σ(y − ŷ)².

Bugs and oddities in the article
    * The text's equations and prose have biases b⁽ˡ⁾ ("adjust the weights and biases"), the
      code has none, and that is why it fails (below). The code resembles the widely copied
      "11-line" network, whose inputs carry a third column of ones that serves as the bias;
      here that column is gone.
    * ``sigmoid_derivative(x)`` returns x (1 − x): right only because it is given the
      activation σ(z), not z.
    * The text writes ∂C/∂w⁽ˡ⁾ = a⁽ˡ⁻¹⁾ δ⁽ˡ⁾ and δ⁽ˡ⁾ = (w⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ σ'(z⁽ˡ⁾) for column
      vectors; with samples as rows, as in the code, they read a⁽ˡ⁻¹⁾ᵀ δ⁽ˡ⁾ and δ⁽ˡ⁺¹⁾ w⁽ˡ⁺¹⁾ᵀ.
    * The printed l2 is from the last forward pass, before the last update.

What the bias-free network can and cannot do
    For the input [0, 0] every hidden pre-activation is 0, so both hidden units output exactly
    σ(0) = 0.5 and the output is σ(0.5 (w1[0] + w1[1])) whatever w0 is: the first layer has no
    say in that answer. That does not make XOR impossible (large weights such as
    w0 = [[20, 1], [20, 1]], w1 = [[80], [−100]] give 0.00005, 0.999, 0.999, 0.0003), but it is
    a strong constraint, and from the article's initial weights gradient descent goes elsewhere:
    both hidden units get negative weights, so each is largest (0.5) for [0, 0]; the output
    weights make [0, 0] low (about 0.04) and [0, 1], [1, 0] high (about 0.86), and [1, 1] is
    left on the wrong side of 0.5 (about 0.55, creeping down only slowly), exactly as the
    article's own program ends.

What this script does
    Creates the initial weights exactly as the article does (legacy ``np.random.seed(1)`` and
    ``np.random.random``, so the numbers can be compared with the article's), trains with
    chainrule's autodiff and W −= 1 · ∂C/∂W for 10,000 steps, and then repeats the run with the
    smallest change that makes it learn: biases b1 (2,) and b2 (1,), starting at zero, so the
    initial network is the same function. That network learns XOR (about 0.01, 0.99, 0.99, 0.01).
    Float64 is used so that the run follows the article's float64 NumPy program step for step.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

X = [[0, 0], [0, 1], [1, 0], [1, 1]]
Y = [[0], [1], [1], [0]]


def article_initial_weights() -> tuple[np.ndarray, np.ndarray]:
    """w0 (2, 2) and w1 (2, 1) exactly as the article draws them."""
    np.random.seed(1)
    w0 = 2 * np.random.random((2, 2)) - 1
    w1 = 2 * np.random.random((2, 1)) - 1
    return w0, w1


def forward(x: cr.Tensor, params: dict[str, cr.Tensor]) -> cr.Tensor:
    z1 = x @ params["W1"]
    if "b1" in params:
        z1 = z1 + params["b1"]
    a1 = z1.sigmoid()
    z2 = a1 @ params["W2"]
    if "b2" in params:
        z2 = z2 + params["b2"]
    return z2.sigmoid()


def half_sum_squared_error(y_hat: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
    return 0.5 * ((y - y_hat) ** 2).sum()


def train(bias: bool, steps: int = 10_000, lr: float = 1.0, report_every: int = 0) -> dict:
    x = cr.tensor(X, dtype=cr.float64)
    y = cr.tensor(Y, dtype=cr.float64)
    w0, w1 = article_initial_weights()
    params = {"W1": cr.tensor(w0, requires_grad=True), "W2": cr.tensor(w1, requires_grad=True)}
    if bias:
        params["b1"] = cr.zeros(2, dtype=cr.float64, requires_grad=True)
        params["b2"] = cr.zeros(1, dtype=cr.float64, requires_grad=True)

    for step in range(steps):
        loss = half_sum_squared_error(forward(x, params), y)
        loss.backward()
        with cr.no_grad():
            for p in params.values():
                p -= lr * p.grad
                p.grad = None
        if report_every and step % report_every == 0:
            print(f"  step {step:5d}  loss {loss.item():.6f}")

    with cr.no_grad():
        y_hat = forward(x, params)
        loss = half_sum_squared_error(y_hat, y)
    result = {"loss": loss.item(), "predictions": y_hat.numpy().copy()}
    result.update({name: p.detach().numpy().copy() for name, p in params.items()})
    return result


def correct(predictions: np.ndarray) -> np.ndarray:
    """Per input: is the prediction on the target's side of 0.5?"""
    return (predictions.ravel() > 0.5) == (np.array(Y).ravel() > 0.5)


def main(verbose: bool = True) -> dict:
    runs = {}
    for name, bias in [("no_bias", False), ("with_bias", True)]:
        if verbose:
            print(f"{name}: lr = 1, 10000 steps, np.random.seed(1) initial weights")
        result = train(bias, report_every=2000 if verbose else 0)
        if verbose:
            print(f"  final loss {result['loss']:.6f}")
            print("  predictions (target 0, 1, 1, 0):", np.round(result["predictions"].ravel(), 4))
            print("  right side of 0.5:", correct(result["predictions"]))
        runs[name] = result
    return runs


if __name__ == "__main__":
    main()
