"""Activation functions and the softmax family, with derivatives taken from saved outputs.

σ'(z) = σ(z)(1 − σ(z)) and tanh'(z) = 1 − tanh²(z) are cheaper from the output a = σ(z) than
from z, so these operations save their output rather than their input.
"""

from __future__ import annotations

from typing import Any

import numpy

from chainrule import backend, fp_errors
from chainrule.autograd.function import Function
from chainrule.ops.elementwise import as_float
from chainrule.ops.movement import normalise_axis
from chainrule.tensor import Tensor

# exp(z) overflows above log(max float); capping z there leaves σ(z) = 1 unchanged and spares
# a floating-point warning.
_EXP_LIMIT = {
    numpy.dtype("float16"): 11.0,
    numpy.dtype("float32"): 88.0,
    numpy.dtype("float64"): 709.0,
}


class Sigmoid(Function):
    """d/dz σ(z) = σ(z)(1 − σ(z)) = σ(z) / (1 + eᶻ), from the saved output and denominator"""

    def forward(self, z: Any) -> Any:
        z = as_float(z)
        xp = backend.xp
        # σ(z) = eᶻ / (1 + eᶻ): accurate in both tails, four array passes. z is capped where
        # eᶻ would overflow; σ is 1 to working precision long before that.
        exp_z = xp.minimum(z, _EXP_LIMIT.get(z.dtype, 88.0))
        if type(exp_z) is not backend.ndarray:  # NumPy gives a scalar for a 0-d input
            exp_z = backend.as_array(exp_z)
        xp.exp(exp_z, out=exp_z)
        denominator = exp_z + 1
        out = xp.divide(exp_z, denominator, out=exp_z)
        # Keeping 1 + eᶻ makes σ' one division, σ/(1 + eᶻ), instead of σ·(1 − σ): one array
        # pass fewer, and no cancellation in 1 − σ where σ rounds to 1.
        self.saved = (out, denominator)
        return out

    def backward(self, grad: Any) -> tuple:
        out, denominator = self.saved
        return (grad * out / denominator,)


class Tanh(Function):
    """d/dz tanh(z) = 1 − tanh²(z), from the saved output"""

    def forward(self, z: Any) -> Any:
        out = backend.xp.tanh(as_float(z))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad * (1 - out * out),)


class ReLU(Function):
    """d/dz max(z, 0) = 1 where z > 0 (and where z is nan, as in PyTorch), else 0"""

    def forward(self, z: Any) -> Any:
        out = backend.xp.maximum(z, 0)
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        # out ≠ 0 rather than out > 0: the same test, in the same single pass, except at nan,
        # which PyTorch's gradient lets through.
        return (grad * (out != 0),)


class Softmax(Function):
    """∂C/∂z = s ⊙ (g − Σ g⊙s), s = softmax(z) along dim (from the saved output)"""

    def forward(self, z: Any, dim: int) -> Any:
        z = as_float(z)
        xp = backend.xp
        # Silenced: an all −∞ (fully masked) row is nan, as in PyTorch, without a warning.
        token = fp_errors.enter()
        try:
            shifted = z - z.max(axis=dim, keepdims=True, initial=-xp.inf)  # empty dim: empty
            out = xp.exp(shifted)
            out /= out.sum(axis=dim, keepdims=True)
        finally:
            fp_errors.leave(token)
        self.saved = (out,)
        self.dim = dim
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        weighted = grad * out
        return (weighted - out * weighted.sum(axis=self.dim, keepdims=True),)


class LogSoftmax(Function):
    """∂C/∂z = g − softmax(z) · Σ g along dim (softmax recovered as exp of the saved output)"""

    @classmethod
    def op_name(cls) -> str:
        return "log_softmax"

    def forward(self, z: Any, dim: int) -> Any:
        z = as_float(z)
        xp = backend.xp
        token = fp_errors.enter()  # as in Softmax
        try:
            shifted = z - z.max(axis=dim, keepdims=True, initial=-xp.inf)  # empty dim: empty
            out = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        finally:
            fp_errors.leave(token)
        self.saved = (out,)
        self.dim = dim
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        return (grad - backend.xp.exp(out) * grad.sum(axis=self.dim, keepdims=True),)


def sigmoid(input: Any) -> Tensor:  # noqa: A002
    """σ(x) = 1 / (1 + e⁻ˣ), element-wise."""
    return Sigmoid.apply(input)


def tanh(input: Any) -> Tensor:  # noqa: A002
    """tanh(x), element-wise."""
    return Tanh.apply(input)


def relu(input: Any) -> Tensor:  # noqa: A002
    """max(x, 0), element-wise."""
    return ReLU.apply(input)


def softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """exp(x) / Σ exp(x) along ``dim``, computed from x − max(x) so it never overflows."""
    x = input if dtype is None else input.to(dtype)
    return Softmax.apply(x, dim=normalise_axis(dim, max(x.ndim, 1), "softmax"))


def log_softmax(input: Any, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """x − logsumexp(x) along ``dim``: the logarithm of softmax without forming softmax."""
    x = input if dtype is None else input.to(dtype)
    return LogSoftmax.apply(x, dim=normalise_axis(dim, max(x.ndim, 1), "log_softmax"))
