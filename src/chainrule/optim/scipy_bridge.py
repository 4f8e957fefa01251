"""Fit a model's parameters with SciPy's optimisers (L-BFGS-B, BFGS, CG, Newton-CG, ...).

Full-batch quasi-Newton methods converge in far fewer steps than SGD on small, smooth problems
(regression, a small network on a small data set). SciPy is an optional dependency:
``pip install "chainrule[scipy]"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult


def scipy_minimize(
    model: Any,
    loss_fn: Callable[[], Tensor],
    method: str = "L-BFGS-B",
    **options: Any,
) -> OptimizeResult:
    """Minimise ``loss_fn()`` over the parameters of ``model`` with ``scipy.optimize.minimize``.

    The parameters that require grad are flattened, in ``model.parameters()`` order, into one
    float64 vector x of size n = their total number of elements. For each x SciPy tries, x is
    written into the parameters (cast to their dtype), ``loss_fn()`` is evaluated and
    back-propagated, and the loss and the flat float64 gradient ∂loss/∂x (shape (n,), zeros
    for parameters the loss does not use) go back to SciPy (``jac=True``). At the end the
    optimum ``result.x`` is written into the parameters, in place, and their ``.grad`` is left
    None: the last gradient evaluated need not be the optimum's.

    Args:
        model: a Module, or an iterable of parameter tensors.
        loss_fn: a closure of no arguments computing the loss from the model, as a one-element
            tensor (it reads the parameters, so it sees each x SciPy tries).
        method: any gradient-based method of ``scipy.optimize.minimize``.
        **options: passed on to ``scipy.optimize.minimize``: ``tol``, ``bounds`` (on the flat
            vector), ``callback``, ``options={"maxiter": ...}``, ...

    Returns:
        SciPy's ``OptimizeResult`` (``x``, ``fun``, ``success``, ``nit``, ``message``, ...).

    Example:
        ```pycon
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> _ = chainrule.manual_seed(0)
        >>> x = chainrule.randn(32, 3)
        >>> y = x @ chainrule.tensor([[1.0], [-2.0], [0.5]]) + 0.3
        >>> model = chainrule.nn.Linear(3, 1)
        >>> result = scipy_minimize(model, lambda: F.mse_loss(model(x), y))
        >>> result.success, result.fun < 1e-6  # the least-squares fit is now in model
        (True, True)
        >>> [round(v, 3) for v in model.weight.flatten().tolist()]
        [1.0, -2.0, 0.5]

        ```
    """
    try:
        from scipy.optimize import minimize
    except ImportError as error:
        raise ImportError(
            'chainrule.optim.scipy_minimize needs SciPy: pip install "chainrule[scipy]"'
        ) from error

    params = _trainable_parameters(model)
    sizes = [p.array.size for p in params]
    x0 = numpy.concatenate([backend.to_numpy(p.array).ravel() for p in params]).astype(float)

    def loss_and_gradient(x: numpy.ndarray) -> tuple[float, numpy.ndarray]:
        _write(params, x)
        for p in params:
            p.grad = None
        with enable_grad():  # SciPy may be called from inside no_grad; the loss needs a graph
            loss = loss_fn()
            _check_loss(loss)
            loss.backward()
        gradient = numpy.zeros(x.size)
        start = 0
        for p, size in zip(params, sizes):
            if p.grad is not None:
                gradient[start : start + size] = backend.to_numpy(p.grad.array).ravel()
            start += size
        return float(loss.item()), gradient

    result = minimize(loss_and_gradient, x0, jac=True, method=method, **options)
    _write(params, result.x)
    for p in params:
        p.grad = None
    return result


def _trainable_parameters(model: Any) -> list[Tensor]:
    """The distinct parameters of ``model`` that require grad, in order."""
    candidates: Iterable[Any] = model.parameters() if hasattr(model, "parameters") else model
    params, seen = [], set()
    for p in candidates:
        if not isinstance(p, Tensor):
            raise TypeError(
                f"scipy_minimize: expected a Module or an iterable of tensors, found a "
                f"{type(p).__name__} among the parameters"
            )
        if p.requires_grad and id(p) not in seen:  # a tied weight is one variable, not two
            seen.add(id(p))
            params.append(p)
    if not params:
        raise ValueError("scipy_minimize: the model has no parameters that require grad")
    return params


def _write(params: list[Tensor], x: numpy.ndarray) -> None:
    """Copy consecutive slices of the flat vector x into the parameters, in place."""
    start = 0
    for p in params:
        stop = start + p.array.size
        values = x[start:stop].reshape(p.array.shape).astype(p.array.dtype, copy=False)
        # Copied to where the parameter lives (a GPU array takes no host array in place).
        p.array[...] = backend.transfer(values, backend.module_of(p.array))
        start = stop


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, Tensor) or loss.array.size != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise TypeError(f"scipy_minimize: loss_fn() must return a one-element tensor, got {shape}")
    if not loss.requires_grad:
        raise ValueError(
            "scipy_minimize: loss_fn() returned a tensor that does not depend on the model's "
            "parameters (it does not require grad)"
        )
