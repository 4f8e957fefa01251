"""The multilayer-perceptron training steps of the benchmarks, written once for any library.

Nothing here imports chainrule or PyTorch: each builder takes the library as ``lib``, so a
process that times one implementation imports that library alone (see solo_step.py). The
configurations (XOR 2-2-1, digits 64-128-10, 784-512-512-10) are drawn from fixed seeds, so
every process starts from the same float32 weights and batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

# name -> (layer sizes, batch, hidden activation, loss, learning rate, steps per timed block)
MLP_CONFIGS = {
    "xor": ([2, 2, 1], 4, "sigmoid", "mse", 0.5, 400),
    "digits": ([64, 128, 10], 64, "relu", "ce", 0.01, 200),
    "mlp": ([784, 512, 512, 10], 128, "relu", "ce", 0.01, 20),
}
_DATA_SEEDS = {"digits": 2, "mlp": 1}


def xor_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)
    return x, y


def mlp_shapes(sizes: list[int], seed: int) -> list[np.ndarray]:
    """Weights (in, out) and biases (out,) with PyTorch's default uniform initialisation."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def mlp_setup(name: str) -> tuple[tuple, int]:
    """``(params, x, y, hidden, loss, lr)`` of a configuration, and the steps in one block."""
    if name not in MLP_CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; choose from {list(MLP_CONFIGS)}")
    sizes, batch, hidden, loss, lr, steps = MLP_CONFIGS[name]
    if name == "xor":
        x, y = xor_data()
    else:
        rng = np.random.default_rng(_DATA_SEEDS[name])
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], batch)
    return (mlp_shapes(sizes, seed=0), x, y, hidden, loss, lr), steps


def kept_bytes(name: str) -> int:
    """Bytes a step must keep at its peak: every activation the backward pass reads (the
    hidden layers' outputs, which also give the activation's derivative, and the output
    probabilities) and one gradient per parameter. Inputs and weights are not counted."""
    sizes, batch, *_ = MLP_CONFIGS[name]
    activations = batch * sum(sizes[1:])
    parameters = sum(fan_in * fan_out + fan_out for fan_in, fan_out in itertools.pairwise(sizes))
    return 4 * (activations + parameters)


def tensor_step(
    lib: Any,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    hidden: str,
    loss: str,
    lr: float,
) -> Callable[[], Any]:
    """A step written with tensors only, as a PyTorch user would without nn.Module.

    ``lib`` is ``chainrule`` or ``torch``: the same code runs on both, which is the point.
    """
    weights = [lib.tensor(p, requires_grad=True) for p in params]
    tx, ty = lib.tensor(x), lib.tensor(y)
    rows = lib.arange(x.shape[0])

    def step() -> Any:
        a = tx
        for i in range(0, len(weights), 2):
            z = a @ weights[i] + weights[i + 1]
            if i < len(weights) - 2:
                a = z.sigmoid() if hidden == "sigmoid" else z.relu()
            else:  # the output layer: sigmoid for MSE, raw logits for cross-entropy
                a = z.sigmoid() if loss == "mse" else z
        if loss == "mse":
            cost = ((a - ty) ** 2).mean()
        else:
            cost = -a.log_softmax(1)[rows, ty].mean()
        cost.backward()
        with lib.no_grad():
            for p in weights:
                p -= lr * p.grad
                p.grad = None
        return cost

    return step


def build_model(lib: Any, params: list[np.ndarray], hidden: str, loss: str) -> tuple[Any, Any]:
    """nn.Linear layers (weights copied from ``params``) in nn.Sequential, and the loss module."""
    layers = []
    for i in range(0, len(params), 2):
        linear = lib.nn.Linear(*params[i].shape)
        with lib.no_grad():
            linear.weight.copy_(lib.from_numpy(params[i].T.copy()))
            linear.bias.copy_(lib.from_numpy(params[i + 1]))
        layers.append(linear)
        last = i == len(params) - 2
        if not last:
            layers.append(lib.nn.Sigmoid() if hidden == "sigmoid" else lib.nn.ReLU())
        elif loss == "mse":
            layers.append(lib.nn.Sigmoid())
    loss_fn = lib.nn.MSELoss() if loss == "mse" else lib.nn.CrossEntropyLoss()
    return lib.nn.Sequential(*layers), loss_fn


# The optimisers a step may take: the class's name in lib.optim and its options (PyTorch's
# default learning rate for Adam; for RMSprop a tenth of its default, with which the 784
# network settles, where at 1e-2 its loss stalls at 0.18 and both libraries' steps run twice as
# long; SGD takes the configuration's).
OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "adam": ("Adam", {"lr": 1e-3}),
    "rmsprop": ("RMSprop", {"lr": 1e-3}),
}


def module_step(
    lib: Any,
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    hidden: str,
    loss: str,
    lr: float,
    device: str = "cpu",
    optimizer_name: str = "sgd",
) -> Callable[[], Any]:
    """Idiomatic code: nn.Linear layers in nn.Sequential, a loss module, an optimiser
    (:data:`OPTIMIZERS`: plain SGD unless ``optimizer_name`` says otherwise). The step returns
    the loss (of the weights before its update).

    ``lib`` is ``chainrule`` or ``torch``; the code is PyTorch's and runs on both. The model
    and the batch are moved to ``device`` once (gpu_step.py asks for "cuda").
    """
    model, loss_fn = build_model(lib, params, hidden, loss)
    model.to(device)
    name, options = OPTIMIZERS[optimizer_name]
    optimizer = getattr(lib.optim, name)(model.parameters(), **{"lr": lr, **options})
    tx, ty = lib.from_numpy(x).to(device), lib.from_numpy(y).to(device)

    def step() -> Any:
        optimizer.zero_grad(set_to_none=True)
        cost = loss_fn(model(tx), ty)
        cost.backward()
        optimizer.step()
        return cost

    return step


def numpy_step(
    params: list[np.ndarray], x: np.ndarray, y: np.ndarray, hidden: str, loss: str, lr: float
) -> Callable[[], None]:
    """The floor: the backprop equations written out by hand in NumPy, no autodiff at all."""
    weights = [p.copy() for p in params]
    n = x.shape[0]
    onehot = None
    if loss == "ce":
        onehot = np.zeros((n, params[-1].shape[0]), dtype=np.float32)
        onehot[np.arange(n), y] = 1.0
    ones = np.ones(n, dtype=np.float32)

    def step() -> None:
        activations = [x]
        for i in range(0, len(weights), 2):
            z = activations[-1] @ weights[i] + weights[i + 1]
            last = i == len(weights) - 2
            if hidden == "sigmoid" or (last and loss == "mse"):
                a = 1 / (1 + np.exp(-z))
            elif last:
                a = z
            else:
                a = np.maximum(z, 0)
            activations.append(a)
        out = activations[-1]
        if loss == "mse":
            delta = 2 * (out - y) / out.size * out * (1 - out)  # δᴸ = ∇ₐC ⊙ σ'(zᴸ)
        else:
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            delta = (shifted / shifted.sum(axis=1, keepdims=True) - onehot) / n
        for i in range(len(weights) - 2, -1, -2):
            a_prev = activations[i // 2]
            grad_w, grad_b = a_prev.T @ delta, ones @ delta
            if i > 0:  # δˡ = δˡ⁺¹ Wᵀ ⊙ σ'(zˡ)
                back = delta @ weights[i].T
                delta = back * (a_prev * (1 - a_prev) if hidden == "sigmoid" else a_prev > 0)
            weights[i] -= lr * grad_w
            weights[i + 1] -= lr * grad_b

    return step


def matmul_floor(params: list[np.ndarray], x: np.ndarray) -> tuple[Callable[[], None], float]:
    """The matrix products of one step alone, on preallocated outputs, and their FLOPs.

    A step of an L-layer perceptron needs L forward products (a @ W), L weight gradients
    (aᵀ @ δ) and L - 1 input gradients (δ @ Wᵀ; the data needs none): 8 products for
    784-512-512-10. Operands have the step's shapes and layouts, transposes included.
    """
    rng = np.random.default_rng(3)
    weights = params[0::2]
    activations = [x]
    for w in weights:
        activations.append(np.empty((x.shape[0], w.shape[1]), dtype=np.float32))
    deltas = [rng.standard_normal(a.shape).astype(np.float32) for a in activations[1:]]
    grads = [np.empty_like(w) for w in weights]
    backs = [np.empty_like(a) for a in activations[1:-1]]
    flops = 0.0
    for w in weights:
        flops += 2 * x.shape[0] * w.shape[0] * w.shape[1] * 2  # forward and weight gradient
    for w in weights[1:]:
        flops += 2 * x.shape[0] * w.shape[0] * w.shape[1]

    def step() -> None:
        for i, w in enumerate(weights):
            np.matmul(activations[i], w, out=activations[i + 1])
        for i in range(len(weights) - 1, -1, -1):
            np.matmul(activations[i].T, deltas[i], out=grads[i])
            if i > 0:
                np.matmul(deltas[i], weights[i].T, out=backs[i - 1])

    return step, flops
