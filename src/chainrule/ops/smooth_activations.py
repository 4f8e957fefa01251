"""Smooth activations: the sigmoid and tanh, and the activations built on them or on the normal
distribution (SiLU, Mish, Softplus, GELU, log σ). Each is differentiable everywhere.

σ'(z) = σ(z)(1 − σ(z)) and tanh'(z) = 1 − tanh²(z) are cheaper from the output a = σ(z) than
from z, so these two save their output rather than their input.

Each activation is one fused operation: built from primitives, GELU alone would be five nodes
(a scale, erf, an addition and two products), each keeping its own temporaries.
"""

from __future__ import annotations

import math
from typing import Any

import numpy

from chainrule import backend, native
from chainrule.autograd.function import Function, not_a_tensor
from chainrule.native import FEWEST
from chainrule.ops import fast_where
from chainrule.ops.elementwise import Exp, as_float, clamp
from chainrule.ops.erf import Erfc, erf_terms, erfc_array
from chainrule.ops.erf import native_loops as native_erf_loops
from chainrule.tensor import Tensor

# eᶻ overflows above log(max float); capping z there leaves σ(z) = 1 and 1/(1 + eᶻ) = 0 to
# working precision, and spares a floating-point warning.
_EXP_LIMIT = {
    numpy.dtype(d): math.floor(math.log(numpy.finfo(d).max))
    for d in ("float16", "float32", "float64")
}


def _loops(first: Any, *others: Any) -> Any:
    """chainrule.native.sigmoids where its loops take these arrays: C-contiguous float32 or
    float64 NumPy arrays of one shape and dtype, from ``native.MAP_SIZE`` elements or from
    ``native.FEWEST`` once numba is loaded, where the loops are enabled; None otherwise."""
    size = first.size
    if size < native.FEWEST or (size < native.MAP_SIZE and not native.loaded()):
        return None
    if (
        type(first) is not numpy.ndarray
        or first.dtype.char not in "fd"
        or not first.flags.c_contiguous
    ):
        return None
    if not native.laid_out_alike(first, *others) or not native.enabled():
        return None
    from chainrule.native import sigmoids  # compiles numba's loops on the first use

    return sigmoids


def _sigmoid(x: Any) -> Any:
    """σ(x) = eˣ/(1 + eˣ), accurate in both tails; x capped where eˣ would overflow, a cap at
    which σ is 1 to working precision. (Capping e^{−x} in 1/(1 + e^{−x}) instead would keep
    σ(−∞) above 0, and x σ(x) at x = −10⁴ far from 0.) Arithmetic only: NumPy's ``where``
    costs 35× an addition on an unpredictable mask such as x ≥ 0. On a tensor, the sigmoid
    operation, whose derivative has a graph of its own."""
    if isinstance(x, Tensor):
        return Sigmoid.apply(x)
    exp_x = backend.xp.exp(backend.xp.minimum(x, _EXP_LIMIT[x.dtype]))
    return exp_x / (exp_x + 1)


def _in_dtype(values: Any, dtype: Any) -> Any:
    """An array cast to ``dtype``; a tensor (a backward recording a graph) as it is: the
    engine gives a recorded gradient its input's dtype."""
    return values if isinstance(values, Tensor) else values.astype(dtype, copy=False)


def _times_grad(slope: Any, grad: Any) -> Any:
    """grad · slope, in place on ``slope`` (a new array of the backward's own) where it has
    the product's shape and dtype: the same numbers as ``grad * slope`` without a new array."""
    if (
        type(slope) is backend.ndarray
        and type(grad) is backend.ndarray
        and slope.shape == grad.shape
        and slope.dtype == grad.dtype
    ):
        slope *= grad
        return slope
    return grad * slope


def _softplus(x: Any) -> Any:
    """log(1 + eˣ) = max(x, 0) + log(1 + e^{−|x|}): no overflow, and no cancellation."""
    xp = backend.xp
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


# ---- sigmoidal -----------------------------------------------------------------------------------


class Sigmoid(Function):
    """d/dz σ(z) = σ(z)(1 − σ(z)) = σ(z) / (1 + eᶻ), from the saved output and denominator"""

    def forward(self, z: Any) -> Any:
        z = as_float(z)
        xp = backend.xp
        loops = _loops(z) if z.size >= FEWEST else None  # the test first: XOR's every call
        if loops is not None:  # the same numbers in two loops around NumPy's exp
            exp_z, denominator = numpy.empty_like(z), numpy.empty_like(z)
            loops.capped(z.reshape(-1), z.dtype.type(_EXP_LIMIT[z.dtype]), exp_z.reshape(-1))
            numpy.exp(exp_z, out=exp_z)
            loops.sigmoid_from_exp(exp_z.reshape(-1), denominator.reshape(-1))
            self.saved = (exp_z, denominator)
            return exp_z
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
        if denominator is None:  # recording a graph: σ(1 − σ), from the output tensor alone
            return (grad * (out * (1 - out)),)
        loops = _loops(out, grad, denominator) if out.size >= FEWEST else None
        if loops is not None:
            slope = numpy.empty_like(out)
            loops.sigmoid_backward(
                grad.reshape(-1), out.reshape(-1), denominator.reshape(-1), slope.reshape(-1)
            )
            return (slope,)
        slope = grad * out  # a new array: the quotient in place (the same numbers)
        if type(slope) is not backend.ndarray:  # NumPy's scalar for 0-d arrays
            return (slope / denominator,)
        slope /= denominator
        return (slope,)

    def saved_in_graph(self, output: Tensor) -> tuple:
        # Not 1 + eᶻ again: its derivative eᶻ overflows where σ saturates, and σ(1 − σ) is
        # the same slope from the output alone.
        return (output, None)


class Tanh(Function):
    """d/dz tanh(z) = 1 − tanh²(z), from the saved output"""

    def forward(self, z: Any) -> Any:
        out = backend.xp.tanh(as_float(z))
        self.saved = (out,)
        return out

    def backward(self, grad: Any) -> tuple:
        (out,) = self.saved
        if isinstance(grad, Tensor):  # recording a graph: no operation in place
            return (grad * (1 - out * out),)
        loops = _loops(out, grad) if out.size >= FEWEST else None
        if loops is not None:
            slope = numpy.empty_like(out)
            loops.tanh_backward(grad.reshape(-1), out.reshape(-1), slope.reshape(-1))
            return (slope,)
        return (_times_grad(1 - out * out, grad),)


# ---- self-gated: x times a sigmoid-like gate -----------------------------------------------------


class SiLU(Function):
    """d/dx x σ(x) = σ(x) (1 + x (1 − σ(x)))"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        loops = _loops(x)
        if loops is not None:  # the same numbers in two loops around NumPy's exp
            s, out = numpy.empty_like(x), numpy.empty_like(x)
            loops.capped(x.reshape(-1), x.dtype.type(_EXP_LIMIT[x.dtype]), s.reshape(-1))
            numpy.exp(s, out=s)
            loops.silu_from_exp(x.reshape(-1), s.reshape(-1), out.reshape(-1))
            self.saved = (x, s)
            return out
        s = _sigmoid(x)
        self.saved = (x, s)
        return x * s

    def backward(self, grad: Any) -> tuple:
        x, s = self.saved
        if isinstance(grad, Tensor):  # recording a graph: no operation in place
            return (grad * (s * (1 + x * (1 - s))),)
        loops = _loops(s, grad, x)
        if loops is not None:
            slope = numpy.empty_like(s)
            loops.silu_backward(grad.reshape(-1), x.reshape(-1), s.reshape(-1), slope.reshape(-1))
            return (slope,)
        slope = 1 - s  # σ(1 + x(1 − σ)) on one new array, in the same order of arithmetic
        slope *= x
        slope += 1
        slope *= s
        return (_times_grad(slope, grad),)

    def saved_in_graph(self, output: Tensor) -> tuple:
        (x,) = self.inputs  # the forward saved it: an in-place silu_ left it a copy
        return (x, Sigmoid.apply(x))


class Mish(Function):
    """d/dx x tanh(softplus(x)) = t + x σ(x)(1 − t²), t = tanh(softplus(x))  (softplus' = σ)"""

    def forward(self, x: Any) -> Any:
        x = as_float(x)
        gate = backend.xp.tanh(_softplus(x))
        self.saved = (x, gate)
        return x * gate

    def backward(self, grad: Any) -> tuple:
        x, gate = self.saved
        return (grad * (gate + x * _sigmoid(x) * (1 - gate * gate)),)

    def saved_in_graph(self, output: Tensor) -> tuple:
        (x,) = self.inputs  # the forward saved it: an in-place mish_ left it a copy
        return (x, Tanh.apply(Softplus.apply(x, beta=1.0, threshold=20.0)))


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_TANH_CUBIC = 0.044715  # the cubic term of GELU's tanh approximation (Hendrycks & Gimpel)


class GELU(Function):
    """d/dx x Φ(x) = Φ(x) + x φ(x)  (Φ, φ: the standard normal cdf and density);
    tanh form: ½x(1 + tanh u) = x σ(2u) with u = k(x + a x³), and
    d/dx x σ(2u) = σ(2u) + 2x σ(2u)(1 − σ(2u)) k(1 + 3a x²)

    The tanh form is computed through σ(2u) = ½(1 + tanh u): 1 + tanh u cancels to nothing in
    float32 for x < −4, where σ keeps its relative accuracy.
    """

    def forward(self, x: Any, approximate: str) -> Any:
        x = as_float(x)
        self.approximate = approximate
        if approximate == "tanh":
            # float16 in float32, as PyTorch computes it: x³ overflows float16 from |x| = 40,
            # and σ'·x³ is then 0·∞ in the gradient.
            wide = x if x.dtype.itemsize > 2 else x.astype(numpy.float32)
            s = _sigmoid(2 * _SQRT_2_OVER_PI * (wide + _TANH_CUBIC * wide * wide * wide))
            self.saved = (wide, s)
            return (wide * s).astype(x.dtype, copy=False)
        # Φ(x) = ½ erfc(−x/√2) rather than ½(1 + erf(x/√2)): exact in the left tail too.
        loops = _gelu_loops(x)
        if loops is not None:  # the same numbers in three passes and two exps
            flat = x.reshape(-1)
            cdf, out = erf_terms(loops, flat, numpy.float32(-_SQRT_HALF), True, True)
            self.saved = (x, cdf.reshape(x.shape))
            return out.reshape(x.shape)
        cdf = erfc_array(-_SQRT_HALF * x)  # a new array: scaled in place
        cdf *= 0.5
        self.saved = (x, cdf)
        return x * cdf

    def backward(self, grad: Any) -> tuple:
        x, value = self.saved
        if self.approximate == "tanh":
            slope = 2 * _SQRT_2_OVER_PI * (1 + 3 * _TANH_CUBIC * x * x)
            grad_x = grad * (value + x * value * (1 - value) * slope)
            return (_in_dtype(grad_x, grad.dtype),)
        if (
            type(grad) is numpy.ndarray
            and grad.dtype == x.dtype
            and grad.shape == x.shape
            and grad.flags.c_contiguous
            and _gelu_loops(x) is not None
        ):
            from chainrule.native import gelu as loops

            slope = numpy.empty_like(x)
            flat = slope.reshape(-1)
            loops.exponent(x.reshape(-1), flat)
            numpy.exp(flat, out=flat)
            loops.slope(flat, x.reshape(-1), value.reshape(-1), grad.reshape(-1))
            return (slope,)
        density = _INV_SQRT_2PI * backend.xp.exp(-0.5 * x * x)
        if isinstance(grad, Tensor):  # recording a graph: no operation in place
            return (grad * (value + x * density),)
        density *= x  # Φ + x·φ on the density's array, in the same order of arithmetic
        density += value
        return (_times_grad(density, grad),)

    def saved_in_graph(self, output: Tensor) -> tuple:
        (x,) = self.inputs
        if self.approximate == "tanh":
            wide = x if x.dtype.itemsize > 2 else x.to(numpy.float32)
            u = _SQRT_2_OVER_PI * (wide + _TANH_CUBIC * wide * wide * wide)
            return (wide, Sigmoid.apply(2 * u))
        return (x, 0.5 * Erfc.apply(-_SQRT_HALF * x))


def _gelu_loops(x: Any) -> Any:
    """chainrule.native.erf where its loops take GELU's (erf form) input x: a C-contiguous
    float32 NumPy array, under the rule of :func:`chainrule.ops.erf.native_loops`."""
    if x.size < native.FEWEST or (x.size < native.MAP_SIZE and not native.loaded()):
        return None
    if x.dtype != numpy.float32 or not x.flags.c_contiguous:
        return None
    return native_erf_loops(x)


# ---- smooth rectifier ----------------------------------------------------------------------------


class Softplus(Function):
    """d/dx (1/β) log(1 + e^{βx}) = σ(βx), and 1 where βx > threshold (the linear branch)"""

    def forward(self, x: Any, beta: float, threshold: float) -> Any:
        xp = backend.xp
        x = as_float(x)
        # float16 in float32, as PyTorch computes it: e^z overflows float16 from z = 11.1, below
        # the default threshold of 20.
        z = (x if x.dtype.itemsize > 2 else x.astype(numpy.float32)) * beta
        linear = z > threshold
        # e^z only where it is used; capping z at the threshold keeps it finite elsewhere.
        exp_z = xp.exp(xp.minimum(z, threshold))
        out = fast_where.where(linear, x, (xp.log1p(exp_z) / beta).astype(x.dtype, copy=False))
        self.saved = (linear, exp_z)
        self.beta, self.threshold = beta, threshold
        return out

    def backward(self, grad: Any) -> tuple:
        linear, exp_z = self.saved
        slope = fast_where.where(linear, 1, exp_z / (exp_z + 1))
        return (_in_dtype(grad * slope, grad.dtype),)

    def saved_in_graph(self, output: Tensor) -> tuple:
        # e^{min(βx, threshold)} again, from the input tensor (softplus has no in-place form
        # that could have overwritten it).
        linear, _ = self.saved
        (x,) = self.inputs
        z = (x if x.dtype.itemsize > 2 else x.to(numpy.float32)) * self.beta
        return (linear, Exp.apply(clamp(z, max=self.threshold)))


class LogSigmoid(Function):
    """d/dx log σ(x) = σ(−x) = 1 − σ(x)

    log σ(x) = min(x, 0) − log(1 + e^{−|x|}): the exponential never overflows, and for large
    |x| the result is x (x ≪ 0) or −e^{−x} (x ≫ 0) to working precision.
    """

    def forward(self, x: Any) -> Any:
        xp = backend.xp
        x = as_float(x)
        self.saved = (x,)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, grad: Any) -> tuple:
        (x,) = self.saved
        xp = backend.xp
        if isinstance(grad, Tensor):
            # Recording a graph: σ(−x), whose own derivative is exact at x = 0 too (e^{−|x|}
            # has a kink there that the product below would differentiate as 0).
            return (grad * Sigmoid.apply(-x),)
        # With e = e^{−|x|}: σ(−x) = 1 − e/(1 + e) for x < 0 and e/(1 + e) otherwise, the
        # rounding of PyTorch's kernel.
        e = xp.exp(-xp.abs(x))
        ratio = e / (1 + e)
        return (grad * fast_where.where(x < 0, 1 - ratio, ratio),)


# ---- the public functions ----------------------------------------------------------------------


def sigmoid(input: Any) -> Tensor:  # noqa: A002
    """σ(x) = 1 / (1 + e⁻ˣ), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.sigmoid(cr.tensor([0.0])).tolist()
    [0.5]
    >>> round(cr.sigmoid(cr.tensor(2.0)).item(), 4)
    0.8808

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("sigmoid", "input", input)
    return Sigmoid.apply(input)


def tanh(input: Any) -> Tensor:  # noqa: A002
    """tanh(x), element-wise.

    ```pycon
    >>> import chainrule as cr
    >>> cr.tanh(cr.tensor([0.0])).tolist()
    [0.0]
    >>> round(cr.tanh(cr.tensor(1.0)).item(), 4)
    0.7616

    ```
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("tanh", "input", input)
    return Tanh.apply(input)
