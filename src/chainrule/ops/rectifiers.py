"""Rectifiers: activations that pass positive inputs through (up to a scale) and bend, clip or
saturate the rest: ReLU, leaky ReLU and PReLU, hardtanh (and ReLU6), the ELU family (ELU, SELU,
CELU), the hard sigmoid and the hard swish.

Their derivatives are piecewise; at a kink each takes the one-sided value PyTorch takes, which
the docstring names ("at 0: ..."). A nan input gets the gradient PyTorch gives it, too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, native
from chainrule.autograd.function import Function, OpError, not_a_tensor
from chainrule.ops.elementwise import as_float, constant_of
from chainrule.ops.fast_where import kept_where, where
from chainrule.tensor import Tensor

# Klambauer et al. (2017), "Self-Normalizing Neural Networks": the α and λ for which a layer's
# activations keep mean 0 and variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---- piecewise linear ------------------------------------------------------------------------


class ReLU(Function):
    """d/dz max(z, 0) = 1 where z > 0 (and where z is nan, as in PyTorch), else 0"""

    ties_gradients = True

    def forward(self, z: Any) -> Any:
        # NumPy 2's maximum against a scalar is vectorised: faster than against a row of zeros,
        # which an earlier NumPy needed (13 against 17-18 µs on 128×512 float32, NumPy 2.4)
        out = backend.xp.maximum(z, 0)
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        # numba's one pass: on a feature map, and on any array once numba is loaded anyway (an
        # optimiser's loop loaded it): under half the time of NumPy's three passes at every
        # size measured (1.4 against 3.0 µs on 8 elements, 9.4 against 24.6 on 65,536)
        if _takes_loops(out):
            kept = _native_loops().relu_backward(grad, out)
            if kept is not None:
                return (kept,)
        # out ≠ 0 rather than out > 0: the same test, except at nan, which PyTorch's gradient
        # lets through. A where, not a product with the mask: where the output is 0 the gradient
        # is 0 even when the incoming one is nan or infinite, as in PyTorch.
        return (kept_where(out != 0, grad),)

    def saved_in_graph(self, output: Tensor) -> tuple:
        return self.saved  # the output only makes the mask: a constant


def _takes_loops(array: Any) -> bool:
    """Whether an operation on ``array`` takes numba's loop: on a feature map
    (``native.MAP_SIZE`` elements), or on any array once numba is loaded anyway, where the
    loops are enabled."""
    return (array.size >= native.MAP_SIZE or native.loaded()) and native.enabled()


def _native_loops() -> Any:
    """chainrule.native.rectifiers, imported on the first use: it compiles numba's loop."""
    from chainrule.native import rectifiers

    return rectifiers


class LeakyReLU(Function):
    """d/dz leaky_relu(z) = 1 where z > 0, else negative_slope (at 0 too)"""

    ties_gradients = True

    @classmethod
    def op_name(cls) -> str:
        return "leaky_relu"

    def forward(self, z: Any, negative_slope: float) -> Any:
        z = as_float(z)
        positive = z > 0
        self.saved = (positive,)
        self.negative_slope, self.dtype = negative_slope, z.dtype
        scaled = backend.xp.multiply(z, negative_slope)
        if _shrinks(negative_slope) and type(scaled) is backend.ndarray:
            # z·s lies between z and 0, so the larger of the two is the one the selection
            # takes, bit for bit (−0 and nan included): two passes instead of five.
            return backend.xp.maximum(z, scaled, out=scaled)
        return where(positive, z, scaled)

    def backward(self, grad: Any) -> tuple:
        (positive,) = self.saved
        slope = self.negative_slope
        if _shrinks(slope):
            # max(positive, s) is 1 where positive, else s: grad·1 is grad, and grad·s the
            # selection's other value, bit for bit, in two passes instead of five.
            return (grad * backend.xp.maximum(positive, slope, dtype=self.dtype),)
        return (where(positive, grad, grad * slope),)


def _shrinks(slope: Any) -> bool:
    """Whether 0 < slope ≤ 1, where z·slope lies between 0 and z. Not at 0: +∞·0 is nan."""
    return 0 < slope <= 1


class PReLU(Function):
    """d/dz prelu(z, w) = 1 where z > 0, else w (at 0 too); ∂/∂w = Σ z where z ≤ 0, summed over
    every axis but the channel axis 1

    ``weight`` holds one slope, or one per channel (axis 1 of z), as an array of shape (1,),
    () or (C,).
    """

    ties_gradients = True

    def forward(self, z: Any, weight: Any) -> Any:
        slope = _per_channel(weight, z.ndim)
        positive = z > 0
        self.saved = (z, positive, slope)
        self.weight_shape = weight.shape
        return where(positive, z, z * slope)

    def backward(self, grad: Any) -> tuple:
        xp = backend.xp
        z, positive, slope = self.saved
        need_z, need_weight = self.needs_input_grad
        kept = positive  # where the weight's gradient takes no share of z
        if isinstance(grad, Tensor):
            # Recording a graph: at z = 0 exactly PyTorch's second derivatives take z as
            # positive, though its first derivative uses w there. So at 0 the gradient keeps
            # the value grad·w but varies as grad alone (slope 1, nothing through w), and the
            # weight's gradient (0 there either way) takes z < 0 only.
            kept = z.array >= 0
            grad_z = None
            if need_z:
                at_zero = z.array == 0
                correction = constant_of(grad) * (constant_of(slope) - 1)
                grad_z = grad * xp.where(kept, 1, slope) + xp.where(at_zero, correction, 0)
        else:
            grad_z = where(positive, grad, grad * slope) if need_z else None
        grad_weight = None
        if need_weight:
            negative_part = xp.where(kept, 0, z) * grad
            # Sum over everything but the channel axis: the weight's one entry per channel.
            axes = None
            if len(self.weight_shape) and self.weight_shape[0] != 1:  # 0 channels too
                axes = tuple(a for a in range(grad.ndim) if a != 1)
            # reshape also makes an array of the scalar that NumPy's whole sum gives.
            grad_weight = xp.reshape(xp.sum(negative_part, axis=axes), self.weight_shape)
        return grad_z, grad_weight

    def saved_in_graph(self, output: Tensor) -> tuple:
        z, weight = self.inputs
        _, positive, _ = self.saved
        return (z, positive, _per_channel(weight, z.ndim))


def _per_channel(weight: Any, ndim: int) -> Any:
    """The slopes shaped to broadcast along axis 1 of an input with ``ndim`` axes."""
    if math.prod(weight.shape) == 1:  # .size is a method of a tensor
        return weight.reshape(())
    return weight.reshape((-1,) + (1,) * (ndim - 2))


class Hardtanh(Function):
    """d/dz clip(z, low, high) = 1 where low < z < high (and at nan), else 0 (at the bounds too)

    ReLU6 is hardtanh with bounds 0 and 6.
    """

    ties_gradients = True

    def forward(self, z: Any, min_val: float, max_val: float) -> Any:
        z = as_float(z)
        # Written as "not outside" so that nan, which compares false, lets the gradient through
        # as in PyTorch.
        self.saved = ((z <= min_val) | (z >= max_val),)
        return backend.xp.clip(z, min_val, max_val)

    def backward(self, grad: Any) -> tuple:
        (outside,) = self.saved
        return (kept_where(~outside, grad),)  # 0 outside even for a nan gradient


# PyTorch's slope of the hard sigmoid, 1/6 rounded to float32 whatever the dtype: it shows at
# 3e-8 relative in float64 gradients.
_ONE_SIXTH = float(numpy.float32(1 / 6))


class Hardsigmoid(Function):
    """d/dz min(max(z + 3, 0), 6)/6 = 1/6 where −3 < z < 3, else 0 (at ±3 and at nan too)"""

    def forward(self, z: Any) -> Any:
        z = as_float(z)
        self.saved = ((z > -3) & (z < 3),)
        # (z + 3)/6 rather than z/6 + 1/2: PyTorch's rounding.
        return backend.xp.clip(z + 3, 0, 6) / 6

    def backward(self, grad: Any) -> tuple:
        (inside,) = self.saved
        return (kept_where(inside, grad * _ONE_SIXTH),)


class Hardswish(Function):
    """d/dz z · min(max(z + 3, 0), 6)/6 = 0 where z ≤ −3, z/3 + 1/2 where −3 < z < 3, and 1
    where z ≥ 3 (and at nan)"""

    def forward(self, z: Any) -> Any:
        z = as_float(z)
        self.saved = (z,)
        if z.size >= native.FEWEST and _takes_loops(z):  # numba's one pass, the same numbers
            out = _native_loops().hardswish(z)
            if out is not None:
                return out
        out = z + 3  # z · clip(z + 3, 0, 6) / 6 on one new array
        if type(out) is not backend.ndarray:  # NumPy gives a scalar for a 0-d input
            return z * backend.xp.clip(out, 0, 6) / 6
        backend.xp.clip(out, 0, 6, out=out)
        out *= z
        out /= 6
        return out

    def backward(self, grad: Any) -> tuple:
        (z,) = self.saved
        # Recording a graph, z and grad are tensors (whose size is a method): the test first.
        if not isinstance(grad, Tensor) and z.size >= native.FEWEST and _takes_loops(z):
            slope = _native_loops().hardswish_backward(z, grad)
            if slope is not None:
                return (slope,)
        # In z's dtype, which is grad's: NumPy keeps an array's dtype against Python numbers.
        low = z <= -3
        # +0 where z ≤ −3 even for a nan or infinite gradient, as PyTorch selects it there.
        if isinstance(grad, Tensor):
            # Recording a graph: the selection before the product keeps the slope's own
            # derivative 0 there too, as PyTorch's where around its second derivative does.
            slope = where(z < 3, z / 3 + 0.5, 1)
            return (kept_where(~low, grad) * where(low, 0, slope),)
        slope = z / 3
        slope += 0.5
        slope = where(z < 3, slope, 1)  # where z > −3 (and at nan)
        slope *= grad
        return (kept_where(~low, slope),)


# ---- exponential linear ------------------------------------------------------------------------


class ELU(Function):
    """d/dz elu(z) = λ where z > 0 (and at nan, as in PyTorch), else λαβ e^{βz}
    = β(elu(z) + λα) (at 0 too)

    elu(z) = λz where z > 0, else λα(e^{βz} − 1): ELU has λ = β = 1, SELU λ and α fixed
    (``SELU_SCALE``, ``SELU_ALPHA``), CELU β = 1/α.
    """

    def forward(self, z: Any, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> Any:
        xp = backend.xp
        z = as_float(z)
        # λ max(z, 0) + λα(e^{β min(z, 0)} − 1): one branch is always exactly 0, so no
        # ``where``. fmin, not minimum: it reads nan as missing, so the branch is 0 there too,
        # and the slope below finite.
        negative_branch = xp.fmin(z, 0)
        if input_scale != 1:
            negative_branch = negative_branch * input_scale
        negative = (scale * alpha) * xp.expm1(negative_branch)
        self.saved = (z <= 0, negative)
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        positive = xp.maximum(z, 0)
        return (positive if scale == 1 else scale * positive) + negative

    def backward(self, grad: Any) -> tuple:
        nonpositive, negative = self.saved
        if isinstance(grad, Tensor):  # recording a graph: the same slope, out of place
            xp = backend.xp
            slope = (negative + self.scale * self.alpha) * self.input_scale  # where z ≤ 0
            # At z = 0 exactly the slope is the constant λαβ: its own derivative there is 0,
            # as in PyTorch (the output, the saved tensor here, is < 0 exactly where z < 0).
            at_zero = self.scale * self.alpha * self.input_scale
            rest = xp.where(nonpositive, at_zero, self.scale).astype(negative.dtype)
            return (grad * xp.where(negative.array < 0, slope, rest),)
        # β(elu(z) + λα) where z ≤ 0 and λ elsewhere: the ``where`` as arithmetic on the mask.
        slope = negative + self.scale * self.alpha
        if self.input_scale != 1:
            slope *= self.input_scale
        slope -= self.scale
        slope *= nonpositive
        slope += self.scale
        return (grad * slope,)

    def saved_in_graph(self, output: Tensor) -> tuple:
        # Where z ≤ 0 the output is λα(e^{βz} − 1), the saved array, and elsewhere the slope
        # does not read it: the output tensor stands for it. Not the input, which an in-place
        # elu_ has overwritten with the output by now (the forward keeps no copy of it).
        nonpositive, _ = self.saved
        return (nonpositive, output)


# ---- the public functions (out of place) -------------------------------------------------------


def relu(input: Any) -> Tensor:  # noqa: A002
    """max(x, 0), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.relu(cr.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("relu", "input", input)
    return ReLU.apply(input)


def selu(input: Any) -> Tensor:  # noqa: A002
    """λx where x > 0, else λα(eˣ − 1), with the self-normalising λ and α, element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.selu(cr.tensor([-1.0, 0.0, 2.0])).tolist()]
    [-1.1113, 0.0, 2.1014]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("selu", "input", input)
    return ELU.apply(input, alpha=SELU_ALPHA, scale=SELU_SCALE)


def celu(input: Any, alpha: float = 1.0) -> Tensor:  # noqa: A002
    """x where x > 0, else α(e^{x/α} − 1), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> [round(v, 4) for v in cr.celu(cr.tensor([-1.0, 0.0, 2.0]), alpha=1.0).tolist()]
    [-0.6321, 0.0, 2.0]

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("celu", "input", input)
    if alpha == 0:
        raise RuntimeError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return ELU.apply(input, alpha=alpha, input_scale=1 / alpha)


def prelu(input: Tensor, weight: Tensor) -> Tensor:  # noqa: A002
    """x where x > 0, else w·x, with one slope w or one per channel (axis 1 of x).

    ```pycon
    >>> import chainrule as cr
    >>> cr.prelu(cr.tensor([-2.0, 3.0]), cr.tensor([0.25])).tolist()
    [-0.5, 3.0]

    ```
    """
    where = "prelu"
    if weight.ndim > 1:
        raise OpError(
            f"{where}: Expected `weight` to be a scalar or 1D tensor, but got: ndim = "
            f"{weight.ndim} (shape {weight.shape})"
        )
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() not in (1, channels):
        raise OpError(
            f"{where}: Mismatch of parameter numbers and input channel size. Found parameter "
            f"numbers = {weight.numel()} and channel size = {channels} (input of shape "
            f"{input.shape}: channels on axis 1)"
        )
    if weight.dtype != input.dtype:
        raise TypeError(
            f"{where}: Type promoting not supported. Got input of dtype {input.dtype} and "
            f"weight of dtype {weight.dtype}"
        )
    return PReLU.apply(input, weight)
