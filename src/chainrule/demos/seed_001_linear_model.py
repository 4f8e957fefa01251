"""Seed article 001: a linear model y = Wx + b fitted to one sample by gradient descent.

The article's program
    One input x = [1, 2] with target y_real = [3]; W = [[0.1, 0.2]] and b = [0.3]; ``forward``
    returns ``np.dot(W, x) + b``; ``backward`` returns dW, db for L = ½(y − y_real)²; ``train``
    runs 1000 epochs of W −= lr · dW, b −= lr · db with lr = 0.01, then W and b are printed.

Bugs in the article (its program does not run)
    * ``backward`` uses ``y``, which is defined neither in its scope nor globally: NameError.
      (It is computed in ``train`` but not passed in, while the unused ``lr`` is.)
    * ``dW = np.dot(dy, x)`` with dy of shape (1,) and x of shape (2,) raises ValueError. The
      gradient of ½(Wx + b − y_real)² with respect to the (1, 2) matrix W is the outer product
      dy xᵀ, of W's shape (1, 2).
    * ``from scipy.optimize import minimize`` is imported and never used.
    * ``loss`` returns (y − y_real)² without the ½ the text and the gradients assume, and it is
      never called, so the program never shows that the error goes down.

What this script does
    The same model, data, initial values, learning rate and epochs, with L = ½(y − y_real)² and
    chainrule's autodiff in place of ``backward``. Each step moves (W, b) along (x, 1), so the
    error shrinks by the factor 1 − lr (‖x‖² + 1) = 0.94 per epoch and the model reaches y = 3
    with W = [0.1, 0.2] + c·[1, 2], b = 0.3 + c, c = 2.2 / 6.
"""

from __future__ import annotations

import chainrule as cr


def forward(x: cr.Tensor, W: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
    return W @ x + b


def half_squared_error(y: cr.Tensor, y_real: cr.Tensor) -> cr.Tensor:
    return 0.5 * ((y - y_real) ** 2).sum()


def main(epochs: int = 1000, lr: float = 0.01, verbose: bool = True) -> dict:
    x = cr.tensor([1.0, 2.0])
    y_real = cr.tensor([3.0])
    W = cr.tensor([[0.1, 0.2]], requires_grad=True)
    b = cr.tensor([0.3], requires_grad=True)
    report_at = {0, 10, 50, 100, epochs - 1}

    for epoch in range(epochs):
        y = forward(x, W, b)
        loss = half_squared_error(y, y_real)
        loss.backward()
        with cr.no_grad():
            W -= lr * W.grad
            b -= lr * b.grad
            W.grad = None
            b.grad = None
        if verbose and epoch in report_at:
            print(f"epoch {epoch:4d}  loss {loss.item():.3e}")

    with cr.no_grad():
        y = forward(x, W, b)
        loss = half_squared_error(y, y_real)
    if verbose:
        print("trained W:", W.detach().numpy())
        print("trained b:", b.detach().numpy())
        print(f"prediction for x = [1, 2]: {y.item():.6f} (target 3)")
    return {
        "loss": loss.item(),
        "prediction": y.item(),
        "W": W.detach().numpy().copy(),
        "b": b.detach().numpy().copy(),
    }


if __name__ == "__main__":
    main()
