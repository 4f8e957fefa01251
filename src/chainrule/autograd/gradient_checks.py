"""Checking gradients against central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.tensor import Tensor


class GradcheckError(AssertionError):
    """The autodiff gradient and the finite-difference estimate disagree.

    ```pycon
    >>> import chainrule as cr
    >>> issubclass(cr.autograd.GradcheckError, AssertionError)
    True

    ```
    """


def gradcheck(
    fn: Callable[..., Tensor],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare the Jacobian that backward computes with central finite differences.

    Every floating input that requires grad is copied to float64. For each element x_i of each
    such input, (f(x + ε eᵢ) − f(x − ε eᵢ)) / 2ε estimates column i of the Jacobian; one
    backward pass per output element gives the autodiff rows. Each pair must satisfy
    |autodiff − numeric| ≤ atol + rtol·|numeric|.

    Returns True, or raises :class:`GradcheckError` naming the input, the element, the output
    element and both values.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([0.5, 1.5], dtype=cr.float64, requires_grad=True)
    >>> cr.gradcheck(cr.sin, (x,))
    True

    ```
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    inputs = tuple(_as_float64(x) for x in inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    with enable_grad():
        output = fn(*inputs)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(output).__name__}")
    output_size = output.numel()
    analytic = {i: numpy.zeros((inputs[i].numel(), output_size)) for i in checked}
    if output.requires_grad:
        for j in range(output_size):
            for i in checked:
                inputs[i].grad = None
            seed = numpy.zeros(output_size)
            seed[j] = 1.0
            output.backward(seed.reshape(output.shape), retain_graph=True)
            for i in checked:
                grad = inputs[i].grad
                if grad is not None:
                    analytic[i][:, j] = backend.to_numpy(grad.array).reshape(-1)

    for i in checked:
        numeric = _numeric_jacobian(fn, inputs, i, eps, output_size)
        error = numpy.abs(analytic[i] - numeric)
        bad = error > atol + rtol * numpy.abs(numeric)
        if bad.any():
            element, out_element = numpy.argwhere(bad)[0]
            where = numpy.unravel_index(element, inputs[i].shape)
            raise GradcheckError(
                f"gradcheck: gradient of output element {out_element} with respect to input "
                f"{i}, element {tuple(int(w) for w in where)}: autodiff gives "
                f"{analytic[i][element, out_element]:.10g}, finite differences give "
                f"{numeric[element, out_element]:.10g} "
                f"({int(bad.sum())} of {bad.size} entries disagree)"
            )
    for i in checked:
        inputs[i].grad = None
    return True


def gradgradcheck(
    fn: Callable[..., Tensor],
    inputs: Any,
    grad_outputs: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: :func:`gradcheck` applied to the first derivative.

    The first derivative is the map (inputs, v) ↦ ∂⟨fn(inputs), v⟩/∂inputs, computed by
    ``autograd.grad(..., create_graph=True)``; its Jacobian, which backward through that graph
    gives, is compared with central finite differences, with respect to the inputs (the
    Hessian-vector products) and to ``v`` (the Jacobian of fn again). ``grad_outputs`` is v;
    random normal values (from ``seed``) where it is None, as in PyTorch.

    Returns True, or raises :class:`GradcheckError`.

    ```pycon
    >>> import chainrule as cr
    >>> x = cr.tensor([0.5, 1.5], dtype=cr.float64, requires_grad=True)
    >>> cr.gradgradcheck(lambda t: t**3, (x,))
    True

    ```
    """
    from chainrule.autograd.gradients import grad

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    inputs = tuple(_as_float64(x) for x in inputs)
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not differentiable:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    with enable_grad():
        outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    if grad_outputs is None:
        rng = numpy.random.default_rng(seed)
        grad_outputs = [rng.standard_normal(tuple(o.shape)) for o in outputs]
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    vs = tuple(
        Tensor._make(
            numpy.asarray(backend.to_numpy(getattr(v, "array", v)), numpy.float64), False, None
        )
        for v in grad_outputs
    )
    for v in vs:
        v.requires_grad = True
    count = len(inputs)

    def first_derivative(*values: Any) -> Tensor:
        xs, weights = values[:count], values[count:]
        with enable_grad():  # gradcheck's finite differences run under no_grad
            return _first_derivative(xs, weights)

    def _first_derivative(xs: tuple, weights: tuple) -> Tensor:
        outs = fn(*xs)
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        wanted = [xs[i] for i in differentiable]
        grads = grad(list(outs), wanted, list(weights), create_graph=True, allow_unused=True)
        pieces = [
            (g if g is not None else x.detach() * 0).reshape(-1) for g, x in zip(grads, wanted)
        ]
        return pieces[0] if len(pieces) == 1 else _concatenate(pieces)

    return gradcheck(first_derivative, inputs + vs, eps=eps, atol=atol, rtol=rtol)


def _values(v: Any) -> Any:
    return v.array if isinstance(v, Tensor) else v


def _concatenate(pieces: list) -> Tensor:
    from chainrule.ops.movement import cat

    return cat(pieces)


def _as_float64(value: Any) -> Any:
    if isinstance(value, Tensor) and value.is_floating_point():
        copy = Tensor._make(value.array.astype(numpy.float64), False, None)
        copy.requires_grad = value.requires_grad
        return copy
    return value


def _numeric_jacobian(
    fn: Callable[..., Tensor], inputs: Sequence[Any], i: int, eps: float, output_size: int
) -> numpy.ndarray:
    flat = inputs[i].array.reshape(-1)  # a view: perturbations write through to the input
    jacobian = numpy.zeros((flat.size, output_size))
    with no_grad():
        for k in range(flat.size):
            original = flat[k].item()
            flat[k] = original + eps
            plus = backend.to_numpy(fn(*inputs).array).astype(numpy.float64).reshape(-1)
            flat[k] = original - eps
            minus = backend.to_numpy(fn(*inputs).array).astype(numpy.float64).reshape(-1)
            flat[k] = original
            jacobian[k] = (plus - minus) / (2 * eps)
    return jacobian
