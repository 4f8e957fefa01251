"""Initialising parameters in place, with PyTorch's names, formulas and gains.

Each function draws from the library-wide generator (:func:`chainrule.manual_seed`) and
returns the tensor it filled. The values are drawn (and an orthogonal matrix decomposed) on the
CPU, then copied into the tensor's memory, so that a seed fills a GPU parameter as it fills
a CPU one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.versions import note_write as _note_write
from chainrule.random import default_generator
from chainrule.tensor import Tensor

# Layers that are linear maps: gain 1.
_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d")
_LINEAR += ("conv_transpose3d",)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended scale of weights before ``nonlinearity`` (PyTorch's table).

    ```pycon
    >>> import chainrule as cr
    >>> round(cr.nn.init.calculate_gain('relu'), 4), cr.nn.init.calculate_gain('tanh') == 5 / 3
    (1.4142, True)
    >>> round(cr.nn.init.calculate_gain('leaky_relu', 0.2), 4)
    1.3868

    ```
    """
    if nonlinearity in _LINEAR or nonlinearity in ("sigmoid", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fill(tensor: Tensor, values: Any) -> Tensor:
    target = tensor.array
    values = numpy.asarray(values).astype(tensor.dtype, copy=False)
    if type(target) is not numpy.ndarray:  # a GPU tensor: the host values copied there
        values = backend.transfer(values, backend.module_of(target))
    target[...] = values
    _note_write(tensor.array, "init")  # as PyTorch's init functions bump the version
    return tensor


def _fans(tensor: Tensor, where: str) -> tuple[int, int]:
    """fan_in and fan_out: (out, in, *kernel) weights have fan_in = in·k, fan_out = out·k."""
    if tensor.ndim < 2:
        raise ValueError(
            f"{where}: fan in and fan out need a tensor of at least 2 dimensions, got shape "
            f"{tensor.shape}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> w = cr.nn.init.uniform_(cr.empty(3, 4), a=-2.0, b=2.0)
    >>> w.shape, bool(((w >= -2) & (w < 2)).all())
    (chainrule.Size([3, 4]), True)

    ```
    """
    return _fill(tensor, default_generator().uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std²).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> w = cr.nn.init.normal_(cr.empty(1000), mean=5.0, std=0.1)
    >>> round(w.mean().item())
    5

    ```
    """
    return _fill(tensor, default_generator().normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill ``tensor`` in place with ``val`` everywhere and return it.

    ``tensor`` may have any shape; ``val`` is cast to its dtype. As the other functions here,
    the write counts as an in-place change of ``tensor`` (its version goes up, as in PyTorch).

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.init.constant_(cr.empty(2, 3), 0.5).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]

    ```
    """
    return _fill(tensor, numpy.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` in place with 0 and return it: :func:`constant_` with ``val = 0``.

    ``tensor`` may have any shape; a common start for biases.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.init.zeros_(cr.empty(2, 2)).tolist()
    [[0.0, 0.0], [0.0, 0.0]]

    ```
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill ``tensor`` in place with 1 and return it: :func:`constant_` with ``val = 1``.

    ``tensor`` may have any shape; a common start for the scale γ of a normalisation layer.

    ```pycon
    >>> import chainrule as cr
    >>> cr.nn.init.ones_(cr.empty(2, 2)).tolist()
    [[1.0, 1.0], [1.0, 1.0]]

    ```
    """
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(−a, a) with a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> w = cr.nn.init.xavier_uniform_(cr.empty(3, 5))  # bound √(6 / 8) ≈ 0.866
    >>> bool((w.abs() <= 0.866).all())
    True

    ```
    """
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> w = cr.nn.init.xavier_normal_(cr.empty(200, 300))  # σ = √(2 / 500) ≈ 0.063
    >>> round(w.std().item(), 2)
    0.06

    ```
    """
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, where: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, where)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """U(−b, b) with b = gain·√(3 / fan) (He et al., 2015).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> w = cr.nn.init.kaiming_uniform_(cr.empty(4, 6), nonlinearity='relu')  # bound √(6 / 6)
    >>> bool((w.abs() <= 1.0).all())
    True

    ```
    """
    if tensor.numel() == 0:  # nothing to fill, and a fan of 0 (e.g. Linear(0, n)) has no std
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """N(0, σ²) with σ = gain / √fan (He et al., 2015).

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> w = cr.nn.init.kaiming_normal_(cr.empty(300, 200), nonlinearity='relu')  # σ = 0.1
    >>> round(w.std().item(), 2)
    0.1

    ```
    """
    if tensor.numel() == 0:
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"))


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix, from the QR decomposition of a Gaussian matrix, times gain.

    ```pycon
    >>> import chainrule as cr
    >>> _ = cr.manual_seed(0)
    >>> q = cr.nn.init.orthogonal_(cr.empty(3, 5))
    >>> bool(cr.allclose(q @ q.T, cr.eye(3)))
    True

    ```
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = default_generator().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = numpy.linalg.qr(flat)
    q = q * numpy.sign(numpy.diag(r))  # makes the decomposition unique
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
