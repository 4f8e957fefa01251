"""Kernels of the elementwise activations: sigmoid, tanh and ReLU (ops/smooth_activations.py,
ops/rectifiers.py), with their arithmetic in the same order as there."""

from __future__ import annotations

from typing import Any

from numpy import empty, exp, ndarray, tanh

from chainrule.compiled.kernels import Kernel, builds, float_arrays, fresh_node, jit
from chainrule.ops.fast_where import kept_where
from chainrule.ops.rectifiers import ReLU
from chainrule.ops.smooth_activations import _EXP_LIMIT, Sigmoid, Tanh
from chainrule.ops.work_arrays import axis_order


def _sigmoid_forward(z: Any, limit: Any, out: Any, denominator: Any) -> None:
    """σ(z) = eᶻ / (1 + eᶻ) with z capped at ``limit`` (NaN passes), and 1 + eᶻ for backward."""
    flat, result, kept = z.ravel(), out.reshape(-1), denominator.reshape(-1)
    one = z.dtype.type(1)
    for i in range(flat.size):
        value = flat[i]
        exp_z = exp(limit if value > limit else value)
        kept[i] = exp_z + one
        result[i] = exp_z / kept[i]


def _sigmoid_backward(grad: Any, out: Any, denominator: Any, result: Any) -> None:
    """∂C/∂z = (∂C/∂σ · σ) / (1 + eᶻ)"""
    flat, g, o, d = result.reshape(-1), grad.ravel(), out.reshape(-1), denominator.reshape(-1)
    for i in range(flat.size):
        flat[i] = g[i] * o[i] / d[i]


def _tanh_forward(z: Any, out: Any) -> None:
    flat, result = z.ravel(), out.reshape(-1)
    for i in range(flat.size):
        result[i] = tanh(flat[i])


def _tanh_backward(grad: Any, out: Any, result: Any) -> None:
    """∂C/∂z = ∂C/∂y · (1 − y²)"""
    flat, g, o = result.reshape(-1), grad.ravel(), out.reshape(-1)
    one = out.dtype.type(1)
    for i in range(flat.size):
        flat[i] = g[i] * (one - o[i] * o[i])


def _relu_forward(z: Any, out: Any) -> None:
    """max(z, 0) as NumPy's maximum gives it: NaN passes, −0 becomes +0."""
    flat, result = z.ravel(), out.reshape(-1)
    zero = z.dtype.type(0)
    for i in range(flat.size):
        value = flat[i]
        result[i] = value if value > zero or value != value else zero


def _relu_backward(grad: Any, out: Any, result: Any) -> None:
    """∂C/∂y where y ≠ 0 (NaN included), +0 elsewhere, whatever ∂C/∂y is there."""
    flat, g, o = result.reshape(-1), grad.ravel(), out.reshape(-1)
    zero = out.dtype.type(0)
    for i in range(flat.size):
        flat[i] = g[i] if o[i] != zero else zero


# Named one by one: numba calls a global function directly, one taken from a tuple through a
# pointer.
_sigmoid_forward_loop, _sigmoid_backward_loop = jit(_sigmoid_forward), jit(_sigmoid_backward)
_tanh_forward_loop, _tanh_backward_loop = jit(_tanh_forward), jit(_tanh_backward)
_relu_forward_loop, _relu_backward_loop = jit(_relu_forward), jit(_relu_backward)
_sigmoid = (_sigmoid_forward_loop, _sigmoid_backward_loop)
_tanh = (_tanh_forward_loop, _tanh_backward_loop)
_relu = (_relu_forward_loop, _relu_backward_loop)


# The same loops for a fused run of kernels: arrays made inside, the saved values a tuple.
# Written out for each activation rather than made by one factory: a loop captured in a
# closure is a first-class function to numba, called through a pointer (and experimental).


def _sigmoid_fused_forward(z: Any, limit: Any) -> tuple:
    out, denominator = empty(z.shape, z.dtype), empty(z.shape, z.dtype)
    _sigmoid_forward_loop(z, limit, out, denominator)
    return out, (out, denominator)


def _sigmoid_fused_backward(grad: Any, saved: tuple) -> tuple:
    result = empty(saved[0].shape, saved[0].dtype)
    _sigmoid_backward_loop(grad, saved[0], saved[1], result)
    return (result,)


def _tanh_fused_forward(z: Any) -> tuple:
    out = empty(z.shape, z.dtype)
    _tanh_forward_loop(z, out)
    return out, (out,)


def _tanh_fused_backward(grad: Any, saved: tuple) -> tuple:
    result = empty(saved[0].shape, saved[0].dtype)
    _tanh_backward_loop(grad, saved[0], result)
    return (result,)


def _relu_fused_forward(z: Any) -> tuple:
    out = empty(z.shape, z.dtype)
    _relu_forward_loop(z, out)
    return out, (out,)


def _relu_fused_backward(grad: Any, saved: tuple) -> tuple:
    result = empty(saved[0].shape, saved[0].dtype)
    _relu_backward_loop(grad, saved[0], result)
    return (result,)


_sigmoid_fused = (jit(_sigmoid_fused_forward), jit(_sigmoid_fused_backward))
_tanh_fused = (jit(_tanh_fused_forward), jit(_tanh_fused_backward))
_relu_fused = (jit(_relu_fused_forward), jit(_relu_fused_backward))


# Above this many elements NumPy's vectorised exp and tanh beat a loop calling the C
# library's (ReLU's loop wins at every size).
MAX_TRANSCENDENTAL = 16384


def _suits(node: Any, arrays: list, options: dict, largest: int | None = None) -> bool:
    """One C-contiguous float input that needs a gradient, of at most ``largest`` elements. A
    strided input (a convolution's batch-last layout) keeps the operation: its output takes the
    input's layout, which the layers after it expect."""
    if options or len(arrays) != 1 or not float_arrays(arrays, 1) or not node.needs_input_grad[0]:
        return False
    z = arrays[0]
    return z.flags.c_contiguous and (largest is None or z.size <= largest)


@builds(Sigmoid)
def sigmoid(node: Any, arrays: list, options: dict) -> Kernel | None:
    if not _suits(node, arrays, options, MAX_TRANSCENDENTAL):
        return None
    limit = arrays[0].dtype.type(_EXP_LIMIT[arrays[0].dtype])
    forward, backward = _sigmoid

    def run_forward(z: Any) -> tuple:
        out, denominator = empty(z.shape, z.dtype), empty(z.shape, z.dtype)
        forward(z, limit, out, denominator)
        return out, (out, denominator)

    def run_backward(grad: Any, saved: tuple) -> tuple:
        out, denominator = saved
        if grad.shape != out.shape or grad.dtype != out.dtype:
            return (grad * out / denominator,)
        result = empty(out.shape, out.dtype)
        backward(grad, out, denominator, result)
        return (result,)

    return Kernel(run_forward, run_backward, (0,), (*_sigmoid_fused, (0,), (limit,), ()))


def _output_only(pair: tuple, fused: tuple, numpy_backward: Any) -> Kernel:
    """A kernel whose backward needs the output alone (tanh, ReLU)."""
    forward, backward = pair

    def run_forward(z: Any) -> tuple:
        out = empty(z.shape, z.dtype)
        forward(z, out)
        return out, (out,)

    def run_backward(grad: Any, saved: tuple) -> tuple:
        (out,) = saved
        if grad.shape != out.shape or grad.dtype != out.dtype:
            return (numpy_backward(grad, out),)
        result = empty(out.shape, out.dtype)
        backward(grad, out, result)
        return (result,)

    return Kernel(run_forward, run_backward, (0,), (*fused, (0,), (), ()))


@builds(Tanh)
def tanh_kernel(node: Any, arrays: list, options: dict) -> Kernel | None:
    if not _suits(node, arrays, options, MAX_TRANSCENDENTAL):
        return None
    return _output_only(_tanh, _tanh_fused, lambda grad, out: grad * (1 - out * out))


@builds(ReLU)
def relu(node: Any, arrays: list, options: dict) -> Kernel | None:
    numpy_backward = lambda grad, out: kept_where(out != 0, grad)  # noqa: E731
    if _suits(node, arrays, options):
        return _output_only(_relu, _relu_fused, numpy_backward)
    if (
        options
        or len(arrays) != 1
        or not float_arrays(arrays, 1)
        or not node.needs_input_grad[0]
        or _memory_order(arrays[0]) is None
    ):
        return None
    return _relu_in_layout(node, numpy_backward)


def _memory_order(z: Any) -> tuple[int, ...] | None:
    """The axes of z from the slowest-varying in memory to the fastest, when z fills its
    memory densely in that order (a convolution's batch-last output); None otherwise."""
    order = tuple(axis_order(z))
    return order if z.transpose(order).flags.c_contiguous else None


def _relu_in_layout(template: Any, numpy_backward: Any) -> Kernel:
    """ReLU on an array laid out densely in another order than C's: the loops run over its
    memory in order, and the output keeps its layout, which the layers after it expect."""
    forward, backward = _relu

    def run_forward(z: Any) -> tuple:
        order = _memory_order(z) if type(z) is ndarray else None
        if order is None:  # another layout on this call: the operation itself
            fallback = fresh_node(template)
            return fallback.forward(z), fallback
        dense = z.transpose(order)
        base = empty(dense.shape, z.dtype)
        forward(dense, base)
        return base.transpose(_inverse(order)), (base.transpose(_inverse(order)), order)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:
            return saved.backward(grad)
        out, order = saved
        if grad.shape != out.shape or grad.dtype != out.dtype:
            return (numpy_backward(grad, out),)
        grad_dense = grad.transpose(order)
        if not grad_dense.flags.c_contiguous:
            grad_dense = grad_dense.copy()  # into the output's layout, as eager mode copies
        result = empty(grad_dense.shape, out.dtype)
        backward(grad_dense, out.transpose(order), result)
        return (result.transpose(_inverse(order)),)

    return Kernel(run_forward, run_backward, (0,))


def _inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(range(len(order)), key=order.__getitem__))
