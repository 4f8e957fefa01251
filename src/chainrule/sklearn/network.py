"""The multilayer perceptron behind the estimators, as a chainrule module.

A network of L fully connected layers maps x (n, n_features) to the logits z_L (n, n_outputs):

    a_0 = x,   z_l = a_{l-1} W_l + b_l,   a_l = f(z_l) for l < L

with one hidden activation f. The output activation (softmax, logistic, identity, exp) belongs
to the loss, see :mod:`chainrule.sklearn.objectives`.

scikit-learn stores W_l as ``coefs_[l - 1]`` of shape (fan_in, fan_out); ``nn.Linear`` stores
its transpose (fan_out, fan_in). The functions here convert between the two layouts, and
between the host, where the estimator's arrays live, and the device the network computes on
(the CPU, or a GPU through CuPy): every copy between the two is explicit.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy

from chainrule import backend, devices, nn
from chainrule.autograd.grad_mode import no_grad
from chainrule.creation import from_numpy
from chainrule.nn import functional as F  # noqa: N812 - PyTorch's convention
from chainrule.random import default_generator
from chainrule.tensor import Tensor

# scikit-learn's names for the hidden activations, and the chainrule modules that compute them.
HIDDEN_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
}

# Rows densified at a time when a sparse matrix goes through the network.
SPARSE_CHUNK_ROWS = 1024


def build_network(layer_units: list[int], activation: str, dtype: Any) -> nn.Sequential:
    """Linear, f, Linear, f, ..., Linear for ``layer_units`` = [n_features, *hidden, n_outputs].

    The weights are placeholders for :func:`write_weights`. ``nn.Linear`` draws its own
    initial weights from chainrule's generator; its state is restored afterwards, so that
    fitting an estimator leaves the user's ``chainrule.manual_seed`` stream untouched.
    """
    generator = default_generator().bit_generator
    state = generator.state
    try:
        modules: list[nn.Module] = []
        for fan_in, fan_out in pairwise(layer_units):
            if modules:
                modules.append(HIDDEN_ACTIVATIONS[activation]())
            modules.append(nn.Linear(fan_in, fan_out, dtype=dtype))
    finally:
        generator.state = state
    return nn.Sequential(*modules)


def uses_activation(network: nn.Sequential, activation: str) -> bool:
    """Whether the hidden activations of ``network`` are ``activation``."""
    kind = HIDDEN_ACTIVATIONS[activation]
    return all(isinstance(m, kind) for m in network if not isinstance(m, nn.Linear))


def device_of(network: nn.Sequential) -> devices.device:
    """The device that the parameters of ``network`` live on."""
    return next(iter(network.parameters())).device


def move_state(state: dict, device: devices.device) -> None:
    """Copy the arrays of an optimiser's per-parameter ``state`` to ``device``, in place."""
    module = devices.module_for(device, "move_state")
    for entries in state.values():
        for key, value in entries.items():
            if backend.is_array(value):
                entries[key] = backend.transfer(value, module)


def to_device(array: numpy.ndarray, device: devices.device) -> Tensor:
    """A host array (n, ...) as a tensor on ``device``: shared memory on the CPU, a copy on a
    GPU."""
    tensor = from_numpy(array)
    return tensor if device.type == "cpu" else tensor.to(device)


def to_host(tensor: Tensor) -> numpy.ndarray:
    """The values of ``tensor`` as a NumPy array: itself on the CPU, a host copy from a GPU."""
    return backend.to_numpy(tensor.array)


def linear_layers(network: nn.Sequential) -> list[nn.Linear]:
    """The fully connected layers of ``network``, input side first."""
    return [module for module in network if isinstance(module, nn.Linear)]


def glorot_init(
    layer_units: list[int], activation: str, rng: numpy.random.RandomState, dtype: Any
) -> tuple[list[numpy.ndarray], list[numpy.ndarray]]:
    """Weights and biases drawn uniform in ±√(k / (fan_in + fan_out)) (Glorot & Bengio, 2010).

    k = 2 for the logistic activation and 6 otherwise, as scikit-learn does. The draws come
    from ``rng`` in scikit-learn's order (W_1, b_1, W_2, b_2, ...), so that an estimator
    seeded with ``random_state`` starts from the same weights as scikit-learn's.

    Returns:
        (coefs, intercepts): lists of arrays of shape (fan_in, fan_out) and (fan_out,).
    """
    gain = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise(layer_units):
        bound = numpy.sqrt(gain / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
    return coefs, intercepts


def read_weights(network: nn.Sequential) -> tuple[list[numpy.ndarray], list[numpy.ndarray]]:
    """Copies of the network's weights in scikit-learn's layout: (coefs, intercepts)."""
    layers = linear_layers(network)
    # C order, never a view of the parameters (to_numpy is the array itself on the CPU).
    coefs = [backend.to_numpy(layer.weight.array.T).copy() for layer in layers]
    intercepts = [backend.to_numpy(layer.bias.array).copy() for layer in layers]
    return coefs, intercepts


def write_weights(
    network: nn.Sequential, coefs: list[numpy.ndarray], intercepts: list[numpy.ndarray]
) -> None:
    """Copy scikit-learn-layout weights into the network's parameters, in place (so that an
    optimiser's state, keyed by parameter, stays attached)."""
    layers = linear_layers(network)
    if len(coefs) != len(layers) or len(intercepts) != len(layers):
        raise ValueError(
            f"coefs_ and intercepts_ must hold {len(layers)} arrays each (one per layer), "
            f"got {len(coefs)} and {len(intercepts)}"
        )
    for index, (layer, coef, intercept) in enumerate(zip(layers, coefs, intercepts)):
        expected = (layer.in_features, layer.out_features)
        if numpy.shape(coef) != expected or numpy.shape(intercept) != expected[1:]:
            raise ValueError(
                f"coefs_[{index}] and intercepts_[{index}] must have shapes {expected} and "
                f"{expected[1:]}, got {numpy.shape(coef)} and {numpy.shape(intercept)}"
            )
        weight, bias = numpy.asarray(coef).T, numpy.asarray(intercept)
        module = backend.module_of(layer.weight.array)
        if module is not numpy:  # a GPU array takes only device data: copied there explicitly
            weight, bias = backend.transfer(weight, module), backend.transfer(bias, module)
        layer.weight.array[...] = weight
        layer.bias.array[...] = bias


def dense_rows(X: Any, rows: slice | numpy.ndarray) -> numpy.ndarray:
    """X[rows] as a dense array; a sparse X is densified one batch at a time, never whole."""
    batch = X[rows]
    return batch.toarray() if hasattr(batch, "toarray") else batch


def evaluate(network: nn.Sequential, X: Any) -> numpy.ndarray:
    """The logits (n, n_outputs) of the training network for X, without recording a graph,
    as a host array."""
    device = device_of(network)
    with no_grad():
        return _in_chunks(lambda rows: to_host(network(to_device(rows, device))), X)


def logits(
    coefs: list[numpy.ndarray],
    intercepts: list[numpy.ndarray],
    activation: str,
    X: Any,
    device: devices.device = devices.CPU,
) -> numpy.ndarray:
    """z_L (n, n_outputs) for X (n, n_features), computed with chainrule on ``device`` from
    host arrays in scikit-learn's layout (so predictions follow ``coefs_`` even if a user edits
    them); returned as a host array."""
    hidden = HIDDEN_ACTIVATIONS[activation]()
    # NumPy's promotion of X and the arrays, as scikit-learn's own forward pass gets it: the
    # layers, like PyTorch's, refuse to mix dtypes themselves.
    dtype = numpy.result_type(X.dtype, *coefs, *intercepts)
    weights = [to_device(numpy.asarray(coef, dtype).T, device) for coef in coefs]
    biases = [to_device(numpy.asarray(intercept, dtype), device) for intercept in intercepts]

    def forward(rows: numpy.ndarray) -> numpy.ndarray:
        a = to_device(numpy.asarray(rows, dtype), device)
        for index, (weight, bias) in enumerate(zip(weights, biases)):
            a = F.linear(hidden(a) if index else a, weight, bias)
        return to_host(a)

    with no_grad():
        return _in_chunks(forward, X)


def _in_chunks(forward: Callable[[numpy.ndarray], numpy.ndarray], X: Any) -> numpy.ndarray:
    """forward(X) for a dense X; for a sparse X, forward over dense chunks of rows, joined."""
    if not hasattr(X, "toarray"):
        return forward(numpy.asarray(X))
    starts = range(0, X.shape[0], SPARSE_CHUNK_ROWS)
    return numpy.concatenate(
        [forward(dense_rows(X, slice(start, start + SPARSE_CHUNK_ROWS))) for start in starts]
    )
