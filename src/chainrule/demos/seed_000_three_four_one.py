"""Seed article 000: a 3-4-1 sigmoid network trained by hand-written backpropagation.

The article's program
    A ``NeuralNetwork`` class with two weight matrices drawn by ``np.random.rand`` (uniform in
    [0, 1), no biases), ``weights1`` of shape (3, 4) and ``weights2`` of shape (4, 1), trained on
    four samples of three features, x = [[0,0,1],[0,1,1],[1,0,1],[1,1,1]], y = [[0],[1],[1],[0]]
    (XOR of the first two features; the constant third feature plays the part of a bias). Its
    ``backprop`` ADDS ``layer1.T · (2 (y − ŷ) σ'(ŷ))`` and the matching input-layer term to the
    weights: that is −∂L/∂W for L = Σ(y − ŷ)², i.e. gradient descent with learning rate 1 on
    the sum of squared errors.

Bugs and oddities in the article
    * ``for epoch in range(1500): NN.train(epoch)`` calls train(0), train(1), …, train(1499),
      and each call runs that many steps: 0 + 1 + … + 1499 = 1,124,250 steps in all, surely not
      what was meant. This script takes 1500 steps.
    * ``sigmoid_derivative(x)`` returns ``x (1 − x)``: correct only because it is always called
      with the activation σ(z), not with z. Autodiff needs neither.
    * The printed ``NN.output`` comes from the last forward pass, before the last update; here
      the predictions are recomputed after training.
    * The text speaks of ½‖y − ŷ‖² and biases; the code uses Σ(y − ŷ)² and no biases.

What this script does
    The same network, data, initialisation (``chainrule.rand``, seeded) and loss; chainrule's
    autodiff gives ∂L/∂W and the update is W −= 1 · ∂L/∂W under ``no_grad``, which is exactly the
    article's ``W += d_W``.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
Y = [[0], [1], [1], [0]]


def init_weights(seed: int = 0) -> tuple[cr.Tensor, cr.Tensor]:
    """W1 (3, 4) and W2 (4, 1), uniform in [0, 1) as the article's np.random.rand."""
    cr.manual_seed(seed)
    W1 = cr.rand(3, 4, requires_grad=True)
    W2 = cr.rand(4, 1, requires_grad=True)
    return W1, W2


def forward(x: cr.Tensor, W1: cr.Tensor, W2: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
    a1 = (x @ W1).sigmoid()
    y_hat = (a1 @ W2).sigmoid()
    return a1, y_hat


def sum_squared_error(y_hat: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
    return ((y - y_hat) ** 2).sum()


def main(steps: int = 1500, lr: float = 1.0, seed: int = 0, verbose: bool = True) -> dict:
    x = cr.tensor(X, dtype=cr.float32)
    y = cr.tensor(Y, dtype=cr.float32)
    W1, W2 = init_weights(seed)
    report_at = {0, 100, 500, 1000, steps - 1}

    for step in range(steps):
        _, y_hat = forward(x, W1, W2)
        loss = sum_squared_error(y_hat, y)
        loss.backward()
        with cr.no_grad():
            for W in (W1, W2):
                W -= lr * W.grad
                W.grad = None
        if verbose and step in report_at:
            print(f"step {step:5d}  loss {loss.item():.6f}")

    with cr.no_grad():
        _, y_hat = forward(x, W1, W2)
        loss = sum_squared_error(y_hat, y)
    predictions = y_hat.numpy().copy()
    if verbose:
        print(f"after {steps} steps: loss {loss.item():.6f}")
        print("predictions (target 0, 1, 1, 0):", np.round(predictions.ravel(), 4))
    return {
        "loss": loss.item(),
        "predictions": predictions,
        "W1": W1.detach().numpy().copy(),
        "W2": W2.detach().numpy().copy(),
    }


if __name__ == "__main__":
    main()
