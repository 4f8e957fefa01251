"""The kernel of a small fully connected layer, y = x Wᵀ + b (ops/linalg.py's Linear).

Only products of at most :data:`MAX_PRODUCT` multiply-adds get one: below that, a loop costs
less than the call of a BLAS routine; above, BLAS's blocked, vectorised kernels win, and the
replay calls the operation itself. The sums run in the loop's order (BLAS's differs), so the
results agree with eager mode to a few units in the last place, not bit for bit.
"""

from __future__ import annotations

from typing import Any

from numpy import empty

from chainrule.compiled.kernels import Kernel, builds, float_arrays, fresh_node, jit
from chainrule.ops.linalg import Linear

# Multiply-adds of x Wᵀ (batch × inputs × outputs) up to which a loop beats a BLAS call.
MAX_PRODUCT = 4096


def _linear_forward(x: Any, weight: Any, bias: Any, with_bias: bool, out: Any) -> None:
    """out = x Wᵀ (+ b): x (N, I), W (O, I), b (O,); the product rounded before the bias is
    added, as eager mode adds it to the product in place."""
    rows, inner = x.shape
    outputs = weight.shape[0]
    for r in range(rows):
        for c in range(outputs):
            total = x[r, 0] * weight[c, 0]
            for k in range(1, inner):
                total += x[r, k] * weight[c, k]
            out[r, c] = total + bias[c] if with_bias else total


def _linear_backward(grad: Any, x: Any, weight: Any, grad_x: Any, grad_w: Any, grad_b: Any) -> None:
    """∂C/∂x = G W (N, I), ∂C/∂W = Gᵀ x (O, I), ∂C/∂b = Σ_rows G (O,), each into its array
    where that array is not empty."""
    rows, outputs = grad.shape
    inner = weight.shape[1]
    if grad_x.size:
        for r in range(rows):
            for k in range(inner):
                total = grad[r, 0] * weight[0, k]
                for c in range(1, outputs):
                    total += grad[r, c] * weight[c, k]
                grad_x[r, k] = total
    if grad_w.size:
        for c in range(outputs):
            for k in range(inner):
                total = grad[0, c] * x[0, k]
                for r in range(1, rows):
                    total += grad[r, c] * x[r, k]
                grad_w[c, k] = total
    if grad_b.size:
        for c in range(outputs):
            total = grad[0, c]
            for r in range(1, rows):
                total += grad[r, c]
            grad_b[c] = total


_forward, _backward = jit(_linear_forward), jit(_linear_backward)


# The same loops for a fused run of kernels (see Kernel.fused): arrays made inside.


def _fused_forward_bias(x: Any, weight: Any, bias: Any) -> tuple:
    out = empty((x.shape[0], weight.shape[0]), x.dtype)
    _forward(x, weight, bias, True, out)
    return out, (x, weight)


def _fused_forward_no_bias(x: Any, weight: Any) -> tuple:
    out = empty((x.shape[0], weight.shape[0]), x.dtype)
    _forward(x, weight, weight[0], False, out)
    return out, (x, weight)


def _fused_gradients(grad: Any, saved: tuple, need_x: bool, need_w: bool, need_b: bool) -> tuple:
    x, weight = saved
    rows, inner = x.shape
    outputs = weight.shape[0]
    grad_x = empty((rows if need_x else 0, inner), x.dtype)
    grad_w = empty((outputs if need_w else 0, inner), x.dtype)
    grad_b = empty(outputs if need_b else 0, x.dtype)
    _backward(grad, x, weight, grad_x, grad_w, grad_b)
    return grad_x, grad_w, grad_b


def _fused_backward_bias(grad: Any, saved: tuple, need_x: bool, need_w: bool, need_b: bool):
    return _fused_gradients_jit(grad, saved, need_x, need_w, need_b)


def _fused_backward_no_bias(grad: Any, saved: tuple, need_x: bool, need_w: bool) -> tuple:
    grad_x, grad_w, _ = _fused_gradients_jit(grad, saved, need_x, need_w, False)
    return grad_x, grad_w


_fused_gradients_jit = jit(_fused_gradients)
_fused_bias = (jit(_fused_forward_bias), jit(_fused_backward_bias))
_fused_no_bias = (jit(_fused_forward_no_bias), jit(_fused_backward_no_bias))


def _fits(x: Any, weight: Any, bias: Any) -> bool:
    """Whether the kernel covers these arrays: a batch of vectors of W's width, a bias of W's
    height (or none), one float dtype, and a product small enough."""
    if x.ndim != 2 or weight.ndim != 2 or not x.size:
        return False
    rows, inner = x.shape
    outputs, width = weight.shape
    if width != inner or not outputs or rows * inner * outputs > MAX_PRODUCT:
        return False
    arrays = [x, weight] if bias is None else [x, weight, bias]
    return float_arrays(arrays, len(arrays)) and (bias is None or bias.shape == (outputs,))


@builds(Linear)
def linear(node: Any, arrays: list, options: dict) -> Kernel | None:
    if options or len(arrays) not in (2, 3):
        return None
    bias = arrays[2] if len(arrays) == 3 else None
    if not _fits(arrays[0], arrays[1], bias):
        return None
    need = [bool(flag) for flag in node.needs_input_grad] + [False] * (3 - len(arrays))
    grads = tuple(position for position, flag in enumerate(need) if flag)
    need_x, need_w, need_b = need
    forward, backward = _forward, _backward
    template = node

    # The shapes recorded: the replay's guards fix the dtypes, not a parameter's shape.
    shapes = (arrays[0].shape, arrays[1].shape, None if bias is None else bias.shape)

    def run_forward(x: Any, weight: Any, bias: Any = None) -> tuple:
        if (x.shape, weight.shape, None if bias is None else bias.shape) != shapes:
            fallback = fresh_node(template)
            return fallback.forward(x, weight, bias), fallback
        out = empty((x.shape[0], weight.shape[0]), x.dtype)
        forward(x, weight, weight[0] if bias is None else bias, bias is not None, out)
        return out, (x, weight)

    def run_backward(grad: Any, saved: Any) -> tuple:
        if type(saved) is not tuple:
            results = saved.backward(grad)
            return tuple(results[position] for position in grads)
        x, weight = saved
        rows, inner = x.shape
        outputs = weight.shape[0]
        if grad.shape != (rows, outputs) or grad.dtype != x.dtype:
            node = fresh_node(template)
            node.saved = (x if need_w else None, weight if need_x else None)
            results = node.backward(grad)
            return tuple(results[position] for position in grads)
        dtype = x.dtype
        grad_x = empty((rows if need_x else 0, inner), dtype)
        grad_w = empty((outputs if need_w else 0, inner), dtype)
        grad_b = empty(outputs if need_b else 0, dtype)
        backward(grad, x, weight, grad_x, grad_w, grad_b)
        results = (grad_x, grad_w, grad_b)
        return tuple(results[position] for position in grads)

    if bias is None:
        fused = (*_fused_no_bias, (0, 1), (), (need_x, need_w))
    else:
        fused = (*_fused_bias, (0, 1, 2), (), (need_x, need_w, need_b))
    return Kernel(run_forward, run_backward, grads, fused)
