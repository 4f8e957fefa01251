"""L1 and L2 regularisation on a sparse linear regression.

Ten input features, of which only three matter (y = 3·x₀ − 2·x₃ + 1.5·x₇ + noise), and only
60 samples, so plain least squares also gives the seven useless features small, noisy weights.

- L2 (weight decay): optim.SGD(weight_decay=λ) adds λ·w to every gradient, which shrinks all
  weights towards zero in proportion to their size; none becomes exactly zero.
- L1: a penalty λ·Σ|w| added to the loss. Its gradient λ·sign(w) pushes every weight towards
  zero by the same amount, so the small, useless weights end up at (nearly) zero: L1 selects
  features. Written as a loss term, as PyTorch users do, since SGD has no L1 option.

Run: python examples/regularisation.py
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim

TRUE_WEIGHTS = np.array([3.0, 0, 0, -2.0, 0, 0, 0, 1.5, 0, 0], dtype=np.float32)


def make_data(samples: int = 60, seed: int = 0) -> tuple[cr.Tensor, cr.Tensor]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, TRUE_WEIGHTS.size)).astype(np.float32)
    y = x @ TRUE_WEIGHTS + 0.5 * rng.standard_normal(samples).astype(np.float32)
    return cr.tensor(x), cr.tensor(y[:, None])


def fit(penalty: str, strength: float, steps: int = 3000, lr: float = 0.02) -> np.ndarray:
    """Train y ≈ x·w + b with the given penalty ("none", "l1" or "l2"); return w."""
    cr.manual_seed(0)
    x, y = make_data()
    model = nn.Linear(TRUE_WEIGHTS.size, 1)
    weight_decay = strength if penalty == "l2" else 0.0
    optimizer = optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.MSELoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        if penalty == "l1":
            loss = loss + strength * model.weight.abs().sum()  # λ·Σ|w|, on the weights only
        loss.backward()
        optimizer.step()
    return model.weight.detach().numpy()[0]


def main() -> dict[str, np.ndarray]:
    results = {
        "none": fit("none", 0.0),
        "l2": fit("l2", 0.2),
        "l1": fit("l1", 0.2),
    }
    np.set_printoptions(precision=3, suppress=True)
    print(f"true weights        {TRUE_WEIGHTS}")
    for name, label in (("none", "no penalty"), ("l2", "L2, λ = 0.2"), ("l1", "L1, λ = 0.2")):
        useless = np.abs(results[name][TRUE_WEIGHTS == 0])
        print(f"{label:19} {results[name]}   largest useless |w|: {useless.max():.3f}")
    return results


if __name__ == "__main__":
    main()
