"""The small CNN training step of the benchmarks, for any library and by hand in NumPy.

Batch 64 of 1×28×28 images, Conv2d 1→16 3×3 padding 1, ReLU, MaxPool2d 2, Conv2d 16→32 3×3
padding 1, ReLU, MaxPool2d 2, Flatten, Linear 32·7·7→10, cross-entropy, SGD. Weights and
batch come from a fixed seed, so every process starts from the same ones. Nothing here imports
chainrule or PyTorch: the builders take the library as ``lib``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

BATCH, LR, STEPS_PER_BLOCK = 64, 0.01, 10

# state_dict name -> shape, in nn.Sequential's numbering
SHAPES = {
    "0.weight": (16, 1, 3, 3),
    "0.bias": (16,),
    "3.weight": (32, 16, 3, 3),
    "3.bias": (32,),
    "7.weight": (10, 32 * 7 * 7),
    "7.bias": (10,),
}


def cnn_setup(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Weights with PyTorch's default bounds (1/√fan_in), images (N, 1, 28, 28), labels (N,)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in SHAPES.items():
        layer = name.split(".")[0]
        fan_in = int(np.prod(SHAPES[f"{layer}.weight"][1:]))
        bound = fan_in**-0.5
        weights[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    return weights, x, y


def build_model(lib: Any, weights: dict[str, np.ndarray]) -> Any:
    """The network as a PyTorch user writes it, loaded with ``weights``."""
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )
    model.load_state_dict({name: lib.from_numpy(value.copy()) for name, value in weights.items()})
    return model


def step_function(lib: Any, model: Any, lr: float = LR) -> Callable[[Any, Any], Any]:
    """``step(images, labels)``: zero the gradients, forward, loss, backward, SGD update;
    returns the loss."""
    optimizer = lib.optim.SGD(model.parameters(), lr=lr)
    loss_fn = lib.nn.CrossEntropyLoss()

    def step(images: Any, labels: Any) -> Any:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    return step


class NumpyCNN:
    """The same step by hand: channels-last activations, im2col into a reused buffer and
    one matrix product per convolution, max-pooling over strided quarters, the backward
    equations written out. Weights are kept as matrices in the layout the products want;
    state_dict() gives them back in PyTorch's."""

    def __init__(self, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        n = x.shape[0]
        # Columns are (kh, kw, c) per window, so the weights become (kh·kw·c, out) matrices.
        self.w1 = weights["0.weight"].transpose(2, 3, 1, 0).reshape(9, 16).copy()
        self.w2 = weights["3.weight"].transpose(2, 3, 1, 0).reshape(144, 32).copy()
        # Flatten reads PyTorch's (c, h, w) order; these activations are (h, w, c).
        w3 = weights["7.weight"].reshape(10, 32, 7, 7).transpose(0, 2, 3, 1)
        self.w3 = w3.reshape(10, -1).T.copy()
        self.b1, self.b2, self.b3 = (weights[f"{i}.bias"].copy() for i in (0, 3, 7))
        padded1 = np.zeros((n, 30, 30, 1), np.float32)
        padded1[:, 1:29, 1:29, 0] = x[:, 0]
        self.padded1 = padded1  # borders stay zero
        self.cols1 = np.empty((n * 28 * 28, 9), np.float32)
        self.padded2 = np.zeros((n, 16, 16, 16), np.float32)  # borders stay zero
        self.cols2 = np.empty((n * 14 * 14, 144), np.float32)
        self.labels = y
        self.onehot = np.zeros((n, 10), np.float32)
        self.onehot[np.arange(n), y] = 1.0
        self.ones = np.ones(n * 28 * 28, np.float32)

    def __call__(self) -> float:
        n, ones = self.labels.shape[0], self.ones
        cols1, cols2 = self.cols1, self.cols2  # (n·784, 9), (n·196, 144)
        _im2col(self.padded1, cols1)  # every step, as for a new batch
        a1 = np.maximum(cols1 @ self.w1 + self.b1, 0).reshape(n, 28, 28, 16)
        p1 = _pool(a1)
        self.padded2[:, 1:15, 1:15, :] = p1
        _im2col(self.padded2, cols2)
        a2 = np.maximum(cols2 @ self.w2 + self.b2, 0).reshape(n, 14, 14, 32)
        p2 = _pool(a2)
        flat = p2.reshape(n, -1)
        logits = flat @ self.w3 + self.b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), self.labels].mean()

        delta3 = (np.exp(log_probs) - self.onehot) / n
        grad_w3, grad_b3 = flat.T @ delta3, ones[:n] @ delta3
        delta2 = _unpool((delta3 @ self.w3.T).reshape(p2.shape), p2, a2).reshape(-1, 32)
        grad_w2, grad_b2 = cols2.T @ delta2, ones[: delta2.shape[0]] @ delta2
        grad_p1 = _col2im(delta2 @ self.w2.T, n, 14, 16)
        delta1 = _unpool(grad_p1, p1, a1).reshape(-1, 16)
        grad_w1, grad_b1 = cols1.T @ delta1, ones @ delta1

        for param, grad in (
            (self.w1, grad_w1),
            (self.b1, grad_b1),
            (self.w2, grad_w2),
            (self.b2, grad_b2),
            (self.w3, grad_w3),
            (self.b3, grad_b3),
        ):
            grad *= LR
            param -= grad
        return float(loss)

    def state_dict(self) -> dict[str, np.ndarray]:
        w3 = self.w3.T.reshape(10, 7, 7, 32).transpose(0, 3, 1, 2).reshape(10, -1)
        return {
            "0.weight": self.w1.reshape(3, 3, 1, 16).transpose(3, 2, 0, 1),
            "0.bias": self.b1,
            "3.weight": self.w2.reshape(3, 3, 16, 32).transpose(3, 2, 0, 1),
            "3.bias": self.b2,
            "7.weight": w3,
            "7.bias": self.b3,
        }


def _im2col(padded: np.ndarray, cols: np.ndarray) -> None:
    """(n, s+2, s+2, c) → ``cols`` (n·s², 9·c): each row one 3×3 window, (kh, kw, c) order,
    copied as nine shifted slabs (contiguous along the channels)."""
    n, size, channels = padded.shape[0], padded.shape[1] - 2, padded.shape[3]
    windows = cols.reshape(n, size, size, 3, 3, channels)
    for kh in range(3):
        for kw in range(3):
            windows[:, :, :, kh, kw, :] = padded[:, kh : kh + size, kw : kw + size, :]


def _col2im(grad_cols: np.ndarray, n: int, size: int, channels: int) -> np.ndarray:
    """The adjoint of _im2col, borders dropped: (n·s², 9·c) → (n, s, s, c)."""
    grad_cols = grad_cols.reshape(n, size, size, 3, 3, channels)
    padded = np.zeros((n, size + 2, size + 2, channels), np.float32)
    for kh in range(3):
        for kw in range(3):
            padded[:, kh : kh + size, kw : kw + size, :] += grad_cols[:, :, :, kh, kw, :]
    return padded[:, 1:-1, 1:-1, :]


def _pool(a: np.ndarray) -> np.ndarray:
    """2×2 max-pooling of (n, h, w, c): the maximum of the four strided quarters."""
    pooled = np.maximum(a[:, 0::2, 0::2], a[:, 0::2, 1::2])
    np.maximum(pooled, a[:, 1::2, 0::2], out=pooled)
    return np.maximum(pooled, a[:, 1::2, 1::2], out=pooled)


def _unpool(grad: np.ndarray, pooled: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The gradient through max-pooling and the ReLU before it (``a`` its output): each
    pooled gradient goes where its maximum came from. Ties occur only among zeros from the
    ReLU, whose derivative then cancels the gradient."""
    grad_a = np.empty_like(a)
    for i in range(2):
        for j in range(2):
            quarter = a[:, i::2, j::2]
            np.multiply(grad, (quarter == pooled) & (quarter > 0), out=grad_a[:, i::2, j::2])
    return grad_a
