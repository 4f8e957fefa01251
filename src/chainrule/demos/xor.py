"""The XOR network of the seed articles: 2 inputs, one sigmoid hidden layer, 1 sigmoid output.

XOR is the smallest task a network without a hidden layer cannot learn. Training runs full
batch on the four points with mean squared error and plain gradient descent, the update
W ← W − η ∂C/∂W written out by hand under ``no_grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy

import chainrule as cr

INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
TARGETS = [[0.0], [1.0], [1.0], [0.0]]


@dataclass
class XorResult:
    """What a run learned: the loss at each reported step and the final predictions."""

    losses: list[tuple[int, float]] = field(default_factory=list)
    predictions: numpy.ndarray | None = None

    @property
    def solved(self) -> bool:
        """True when every prediction is on the right side of 0.5."""
        targets = numpy.asarray(TARGETS)
        return bool(numpy.all((self.predictions > 0.5) == (targets > 0.5)))


def train_xor(
    hidden: int = 4,
    lr: float = 2.0,
    steps: int = 5000,
    seed: int = 0,
    report_every: int = 1000,
    log: Callable[[str], None] = print,
) -> XorResult:
    """Train a 2-``hidden``-1 sigmoid network on XOR and return the losses and predictions."""
    if hidden < 1:
        raise ValueError(f"train_xor: hidden must be at least 1, got {hidden}")
    if steps < 1:
        raise ValueError(f"train_xor: steps must be at least 1, got {steps}")
    if not numpy.isfinite(lr) or lr <= 0:
        raise ValueError(f"train_xor: lr must be a positive number, got {lr}")
    cr.manual_seed(seed)
    x, y = cr.tensor(INPUTS), cr.tensor(TARGETS)
    # Uniform in ±1/√fan_in, PyTorch's default for linear layers.
    W1 = ((cr.rand(2, hidden) * 2 - 1) / 2**0.5).requires_grad_()
    b1 = ((cr.rand(hidden) * 2 - 1) / 2**0.5).requires_grad_()
    W2 = ((cr.rand(hidden, 1) * 2 - 1) / hidden**0.5).requires_grad_()
    b2 = ((cr.rand(1) * 2 - 1) / hidden**0.5).requires_grad_()
    params = [W1, b1, W2, b2]

    result = XorResult()
    log(f"training a 2-{hidden}-1 sigmoid network on XOR: lr={lr}, {steps} steps, seed {seed}")
    for step in range(1, steps + 1):
        a1 = (x @ W1 + b1).sigmoid()  # a¹ = σ(W¹x + b¹)
        a2 = (a1 @ W2 + b2).sigmoid()  # a² = σ(W²a¹ + b²)
        loss = ((a2 - y) ** 2).mean()  # C = mean (a² − y)²
        loss.backward()  # δ², δ¹ and every ∂C/∂W, ∂C/∂b
        with cr.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        if step == 1 or step % report_every == 0 or step == steps:
            result.losses.append((step, loss.item()))
            log(f"  step {step:>6}  loss {loss.item():.6f}")

    with cr.no_grad():
        predictions = ((x @ W1 + b1).sigmoid() @ W2 + b2).sigmoid()
    result.predictions = predictions.numpy()
    log("predictions:")
    for inputs, target, output in zip(INPUTS, TARGETS, result.predictions):
        question = f"{inputs[0]:.0f} XOR {inputs[1]:.0f} = {target[0]:.0f}"
        log(f"  {question}   network says {output[0]:.4f}")
    log(
        "solved: every prediction is on the right side of 0.5"
        if result.solved
        else "not solved: some prediction is on the wrong side of 0.5 "
        "(try more steps or another seed)"
    )
    return result
