"""The LSTM training step of the benchmarks, for any library and by hand in NumPy.

An LSTM with input 32 and hidden 128 over 50 time steps, batch 32, and a Linear head on the
last hidden state h_T, trained by SGD. Two variants: batch-first input with a 10-class head
and cross-entropy (the harness's ``lstm``), and time-major input with a regression head and
MSE. Weights and batches come from a fixed seed, so every process starts from the same ones.
Nothing here imports chainrule or PyTorch: the builders take the library as ``lib``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

INPUT, HIDDEN, STEPS, BATCH, LR = 32, 128, 50, 32, 0.05
STEPS_PER_BLOCK = 10

VARIANTS = {
    "tm-mse": "time-major (L, N, 32), regression head 128->1, MSE",
    "bf-ce": "batch_first (N, L, 32), classifier head 128->10, cross-entropy",
    "gru-bf-ce": "a GRU instead of the LSTM, batch_first, classifier head, cross-entropy",
}


def _layer(variant: str) -> tuple[str, int]:
    """The recurrent layer of a variant and its gate count: ("lstm", 4) or ("gru", 3)."""
    return ("gru", 3) if variant.startswith("gru-") else ("lstm", 4)


def lstm_setup(variant: str, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, Any]:
    """PyTorch's default initialisation (±1/√hidden) drawn once, the inputs and targets."""
    loss = variant.split("-")[-1]
    layer, gates = _layer(variant)
    rng = np.random.default_rng(seed)
    outputs = 1 if loss == "mse" else 10
    bound = HIDDEN**-0.5
    weights = {
        name: rng.uniform(-bound, bound, shape).astype(np.float32)
        for name, shape in (
            (f"{layer}.weight_ih_l0", (gates * HIDDEN, INPUT)),
            (f"{layer}.weight_hh_l0", (gates * HIDDEN, HIDDEN)),
            (f"{layer}.bias_ih_l0", (gates * HIDDEN,)),
            (f"{layer}.bias_hh_l0", (gates * HIDDEN,)),
            ("head.weight", (outputs, HIDDEN)),
            ("head.bias", (outputs,)),
        )
    }
    batch_first = variant.removeprefix("gru-").startswith("bf")
    shape = (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT)
    x = rng.standard_normal(shape).astype(np.float32)
    if loss == "mse":
        y = rng.standard_normal((BATCH, 1)).astype(np.float32)
    else:
        y = rng.integers(0, 10, BATCH)
    return weights, x, y


def build_model(lib: Any, weights: dict[str, np.ndarray], batch_first: bool) -> Any:
    """The LSTM (or the GRU, for weights named gru.*) and its head on h_T as one Module,
    loaded with ``weights``."""
    gru = "gru.weight_ih_l0" in weights

    class Model(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if gru:
                self.gru = lib.nn.GRU(INPUT, HIDDEN, batch_first=batch_first)
            else:
                self.lstm = lib.nn.LSTM(INPUT, HIDDEN, batch_first=batch_first)
            self.head = lib.nn.Linear(HIDDEN, weights["head.weight"].shape[0])

        def forward(self, x: Any) -> Any:
            if gru:
                _, h_n = self.gru(x)
            else:
                _, (h_n, _) = self.lstm(x)
            return self.head(h_n[-1])

    model = Model()
    model.load_state_dict({name: lib.from_numpy(value.copy()) for name, value in weights.items()})
    return model


def step_function(lib: Any, model: Any, loss: str, lr: float = LR) -> Callable[[Any, Any], Any]:
    """``step(x, y)``: zero the gradients, forward, loss, backward, SGD update; returns the
    loss."""
    optimizer = lib.optim.SGD(model.parameters(), lr=lr)
    loss_fn = lib.nn.MSELoss() if loss == "mse" else lib.nn.CrossEntropyLoss()

    def step(x: Any, y: Any) -> Any:
        optimizer.zero_grad(set_to_none=True)
        cost = loss_fn(model(x), y)
        cost.backward()
        optimizer.step()
        return cost

    return step


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


class NumpyLSTM:
    """The batch-first, cross-entropy step by hand: the input projection of all time steps
    in one product, one product per step for the four gates (PyTorch's order i, f, g, o),
    and backpropagation through time written out. Weights keep PyTorch's layout."""

    def __init__(self, weights: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
        self.w = {name: value.copy() for name, value in weights.items()}
        self.xs = np.ascontiguousarray(x.transpose(1, 0, 2))  # time-major (L, N, I)
        self.labels = y
        self.onehot = np.zeros((x.shape[0], 10), np.float32)
        self.onehot[np.arange(x.shape[0]), y] = 1.0

    def __call__(self) -> float:
        w, xs = self.w, self.xs
        steps, n, _ = xs.shape
        h = HIDDEN
        bias = w["lstm.bias_ih_l0"] + w["lstm.bias_hh_l0"]
        projected = (xs.reshape(steps * n, -1) @ w["lstm.weight_ih_l0"].T + bias).reshape(
            steps, n, 4 * h
        )
        gates = np.empty((steps, n, 4 * h), np.float32)  # after their nonlinearities
        cells = np.zeros((steps + 1, n, h), np.float32)
        hiddens = np.zeros((steps + 1, n, h), np.float32)
        tanh_cells = np.empty((steps, n, h), np.float32)
        w_hh = w["lstm.weight_hh_l0"]
        for t in range(steps):
            z = projected[t] + hiddens[t] @ w_hh.T
            g = gates[t]
            g[:, : 2 * h] = _sigmoid(z[:, : 2 * h])  # i, f
            g[:, 2 * h : 3 * h] = np.tanh(z[:, 2 * h : 3 * h])
            g[:, 3 * h :] = _sigmoid(z[:, 3 * h :])
            i, f, c_hat, o = g[:, :h], g[:, h : 2 * h], g[:, 2 * h : 3 * h], g[:, 3 * h :]
            cells[t + 1] = f * cells[t] + i * c_hat
            tanh_cells[t] = np.tanh(cells[t + 1])
            hiddens[t + 1] = o * tanh_cells[t]

        logits = hiddens[-1] @ w["head.weight"].T + w["head.bias"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), self.labels].mean()

        delta = (np.exp(log_probs) - self.onehot) / n
        grads = {"head.weight": delta.T @ hiddens[-1], "head.bias": delta.sum(axis=0)}
        grad_h = delta @ w["head.weight"]
        grad_c = np.zeros((n, h), np.float32)
        grad_z = np.empty_like(gates)  # ∂C/∂(pre-activation gates), per time step
        for t in range(steps - 1, -1, -1):
            g = gates[t]
            i, f, c_hat, o = g[:, :h], g[:, h : 2 * h], g[:, 2 * h : 3 * h], g[:, 3 * h :]
            tc = tanh_cells[t]
            grad_c += grad_h * o * (1 - tc * tc)  # h = o ⊙ tanh(c)
            dz = grad_z[t]
            dz[:, :h] = grad_c * c_hat * i * (1 - i)
            dz[:, h : 2 * h] = grad_c * cells[t] * f * (1 - f)
            dz[:, 2 * h : 3 * h] = grad_c * i * (1 - c_hat * c_hat)
            dz[:, 3 * h :] = grad_h * tc * o * (1 - o)
            grad_c *= f  # c_t = f ⊙ c_{t-1} + i ⊙ ĉ
            grad_h = dz @ w_hh
        flat = grad_z.reshape(steps * n, 4 * h)
        grads["lstm.weight_ih_l0"] = flat.T @ xs.reshape(steps * n, -1)
        grads["lstm.weight_hh_l0"] = flat.T @ hiddens[:-1].reshape(steps * n, h)
        grads["lstm.bias_ih_l0"] = grads["lstm.bias_hh_l0"] = flat.sum(axis=0)

        for name, grad in grads.items():
            w[name] -= LR * grad
        return float(loss)

    def state_dict(self) -> dict[str, np.ndarray]:
        return self.w


def products_floor(
    weights: dict[str, np.ndarray], x: np.ndarray, variant: str
) -> tuple[Callable[[], None], float]:
    """The matrix products of one step alone, on preallocated outputs, and their FLOPs.

    The products that chainrule's LSTM step runs (``chainrule.compile(kernels=True)``'s and
    eager mode's alike), in its shapes and layouts: the input product of all T steps at once
    (each gate's block, the bias as a column of ones), T − 1 recurrent products forward (h0 is
    zero) and T − 1 back (∂C/∂h0 is not wanted), the two weight gradients over all T·B rows,
    and the head's forward, weight-gradient and input-gradient products. The data needs no
    gradient. Everything else in the step (the gates' nonlinearities, the cell, the update)
    is left out, so a step can approach this time but not go below it on the same BLAS.
    """
    rng = np.random.default_rng(3)
    steps, batch = (x.shape[1], x.shape[0]) if variant.startswith("bf") else x.shape[:2]
    size, hidden = INPUT, HIDDEN
    outputs = weights["head.weight"].shape[0]
    x_rows = np.ones((steps * batch, size + 1), np.float32)  # the ones column carries the bias
    x_rows[:, :size] = rng.standard_normal((steps * batch, size))
    w_in = rng.standard_normal((4, size + 1, hidden)).astype(np.float32)
    gates = np.empty((4, steps * batch, hidden), np.float32)
    w_rec = rng.standard_normal((hidden, 4 * hidden)).astype(np.float32)
    w_hh = np.ascontiguousarray(weights["lstm.weight_hh_l0"])
    w_head = np.ascontiguousarray(weights["head.weight"])
    out = rng.standard_normal((steps, batch, hidden)).astype(np.float32)
    rows = rng.standard_normal((steps, batch, 4 * hidden)).astype(np.float32)
    recurrent = np.empty((batch, 4 * hidden), np.float32)
    grad_h = np.empty((batch, hidden), np.float32)
    grad_w_ih = np.empty((4 * hidden, size + 1), np.float32)
    grad_w_hh = np.empty((4 * hidden, hidden), np.float32)
    delta = rng.standard_normal((batch, outputs)).astype(np.float32)
    logits = np.empty((batch, outputs), np.float32)
    grad_head = np.empty((outputs, hidden), np.float32)
    count = (steps - 1) * batch
    flat, later, earlier = rows.reshape(-1, 4 * hidden), rows[1:].reshape(count, -1), out[:-1]
    earlier = earlier.reshape(count, hidden)

    def step() -> None:
        np.matmul(x_rows, w_in, out=gates)
        for t in range(1, steps):
            np.matmul(out[t - 1], w_rec, out=recurrent)
        np.matmul(out[-1], w_head.T, out=logits)
        np.matmul(delta.T, out[-1], out=grad_head)
        np.matmul(delta, w_head, out=grad_h)
        for t in range(steps - 1, 0, -1):
            np.matmul(rows[t], w_hh, out=grad_h)
        np.matmul(flat.T, x_rows, out=grad_w_ih)
        np.matmul(later.T, earlier, out=grad_w_hh)

    multiply_adds = (
        steps * batch * (size + 1) * 4 * hidden * 2  # input product and ∂C/∂W_ih (with b)
        + (steps - 1) * batch * hidden * 4 * hidden * 3  # recurrent forward, back, ∂C/∂W_hh
        + batch * hidden * outputs * 3  # the head: forward, its weight gradient, ∂C/∂h_T
    )
    return step, 2.0 * multiply_adds
