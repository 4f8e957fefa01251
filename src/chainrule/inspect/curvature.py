"""Sharpness: the largest eigenvalue λ_max of the loss Hessian, and the learning rate it allows.

Near the current weights w the loss is, to second order, C(w + d) ≈ C(w) + ∇Cᵀd + ½ dᵀHd with
H = ∇²C. Along an eigenvector of H with eigenvalue λ, plain gradient descent multiplies the
distance to the bottom of that parabola by (1 − ηλ) at every step, so it shrinks only while
|1 − ηλ| < 1, that is η < 2/λ. The sharpest direction decides: gradient descent on a quadratic
diverges once η > 2/λ_max.

:func:`sharpness` finds λ_max by power iteration on Hessian-vector products Hv, each the gradient
of ⟨∇C, v⟩ (two backward passes, the first with ``create_graph=True``): H itself, with one row
per parameter, is never formed.

Power iteration converges to the eigenvalue of largest *magnitude*. Where that one is negative
(a saddle, or a maximum along some direction), λ_max is found by a second power iteration on
H − λ_dom·I, whose eigenvalues λ − λ_dom are all ≥ 0 and largest at λ_max.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy

import chainrule as cr
from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

HessianVectorProduct = Callable[[numpy.ndarray], numpy.ndarray]


@dataclass
class SharpnessResult:
    """λ_max of the loss Hessian at the weights measured, and what it means for the step size.

    ``lambda_max``: the largest (algebraic) eigenvalue of H = ∇²C over all trainable
    parameters. ``max_stable_lr``: 2/λ_max, the largest learning rate at which plain gradient
    descent does not diverge on the quadratic model of the loss (``inf`` when λ_max ≤ 0).
    ``dominant``: the eigenvalue of largest magnitude, which power iteration finds first; it
    equals ``lambda_max`` unless the Hessian has a more negative eigenvalue than λ_max is
    positive. ``iterations``: Hessian-vector products used (both iterations together).
    ``converged``: whether successive estimates agreed to ``tol`` within the budget.
    ``parameters``: the number of scalar parameters, the Hessian's size.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Linear(1, 1, bias=False)  # C = mean((w·x)²), so H = 2·mean(x²) = 5
    >>> result = sharpness(model, (cr.tensor([[1.0], [2.0]]), cr.zeros(2, 1)), nn.MSELoss())
    >>> round(result.lambda_max, 4), round(result.max_stable_lr, 4), result.parameters
    (5.0, 0.4, 1)

    ```
    """

    lambda_max: float
    max_stable_lr: float
    iterations: int
    converged: bool
    dominant: float
    parameters: int

    def __str__(self) -> str:
        status = "converged" if self.converged else "NOT converged: raise iterations"
        lines = [
            f"λ_max = {self.lambda_max:.4g}: the largest eigenvalue of the loss Hessian over "
            f"{self.parameters} parameters ({self.iterations} Hessian-vector products, {status})"
        ]
        if self.dominant < 0:
            lines.append(
                "The Hessian also curves downwards: its eigenvalue of largest magnitude is "
                f"{self.dominant:.4g} (a saddle or a maximum along that direction), so λ_max "
                "was found by a second power iteration on H shifted by it."
            )
        if self.lambda_max > 0:
            lines.append(
                f"Plain gradient descent stays stable for η < 2/λ_max = {self.max_stable_lr:.4g}: "
                "along the sharpest direction each step multiplies the distance to the bottom of "
                "the local quadratic by (1 − η·λ_max), which exceeds 1 in size once η > 2/λ_max."
            )
        else:
            lines.append(
                "No direction curves upwards here, so no learning rate makes gradient descent "
                "overshoot a minimum (max_stable_lr = inf)."
            )
        return "\n".join(textwrap.fill(line, width=96, break_on_hyphens=False) for line in lines)


def sharpness(
    model: Module,
    data: Any,
    loss_fn: Callable[[Any, Any], Tensor],
    *,
    iterations: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> SharpnessResult:
    """λ_max of the Hessian of ``loss_fn(model(x), y)`` w.r.t. the trainable parameters.

    ``data`` is one batch ``(x, y)``, or an iterable of such batches (a DataLoader), whose
    Hessians are averaged weighted by batch size (the Hessian of the mean loss over all
    samples when ``loss_fn`` is a mean). Power iteration, started from a random direction drawn
    with ``seed``, stops when two successive Rayleigh quotients vᵀHv agree to ``tol`` (relative)
    or after ``iterations`` Hessian-vector products (twice that when the dominant eigenvalue
    is negative, see the module docstring).

    The model's weights, ``.grad``, buffers (BatchNorm's running statistics) and chainrule's
    random state are left as they were; the model's train/eval mode is used as it is.

    Example::

        result = sharpness(model, (x, y), nn.MSELoss())
        print(result.lambda_max, result.max_stable_lr)

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Linear(1, 1, bias=False)  # C = mean((w·x)²), so H = 2·mean(x²) = 5
    >>> result = sharpness(model, (cr.tensor([[1.0], [2.0]]), cr.zeros(2, 1)), nn.MSELoss())
    >>> round(result.lambda_max, 4), result.converged
    (5.0, True)

    ```
    """
    if not isinstance(model, Module):
        raise TypeError(f"sharpness: model must be a Module, got {type(model).__name__}")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"sharpness: iterations must be a positive int, got {iterations!r}")
    if not tol > 0:
        raise ValueError(f"sharpness: tol must be positive, got {tol!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"sharpness: {type(model).__name__} has no trainable parameters")
    buffers = {name: buffer.detach().clone() for name, buffer in model.named_buffers()}
    rng_state = cr.get_rng_state()
    try:
        product = _hessian_vector_product(model, _batches(data), loss_fn, params)
        start = numpy.random.default_rng(seed).standard_normal(sum(p.numel() for p in params))
        dominant, count, converged = _power_iteration(product, start, iterations, tol)
        lambda_max = dominant
        if dominant < 0:
            # The eigenvalues of H − λ_dom·I are λ − λ_dom ≥ 0; the largest belongs to λ_max.
            def shifted(v: numpy.ndarray) -> numpy.ndarray:
                return product(v) - dominant * v

            rise, more, settled = _power_iteration(shifted, start, iterations, tol, dominant)
            lambda_max, count, converged = dominant + rise, count + more, converged and settled
    finally:
        cr.set_rng_state(rng_state)
        with no_grad():
            for name, buffer in model.named_buffers():
                if name in buffers:
                    buffer.copy_(buffers[name])
    stable = 2.0 / lambda_max if lambda_max > 0 else math.inf
    return SharpnessResult(lambda_max, stable, count, converged, dominant, start.size)


def stable_lr(optimizer: Any, lambda_max: float) -> float | None:
    """The largest learning rate at which ``optimizer`` is stable on curvature ``lambda_max``.

    For SGD, from the update on a quadratic ½λw² (weight decay adds its coefficient to λ):
    plain gradient descent is stable for η < 2/λ; heavy-ball momentum β with dampening d for
    η(1 − d) < 2(1 + β)/λ; Nesterov momentum for η < 2(1 + β)/((1 + 2β)λ). ``inf`` when λ ≤ 0.
    None for other optimizers: Adam and its kin rescale each coordinate, so their bound is
    about a preconditioned Hessian, not about λ_max.
    """
    from chainrule.optim import SGD

    if not isinstance(optimizer, SGD):
        return None
    group = optimizer.param_groups[0]
    curvature = lambda_max + float(group.get("weight_decay", 0.0))
    beta, dampening = float(group.get("momentum", 0.0)), float(group.get("dampening", 0.0))
    if curvature <= 0 or (beta > 0 and dampening >= 1):
        return math.inf
    if beta == 0:
        return 2.0 / curvature
    if group.get("nesterov", False):
        return 2.0 * (1 + beta) / ((1 + 2 * beta) * curvature)
    return 2.0 * (1 + beta) / ((1 - dampening) * curvature)


def _power_iteration(
    product: HessianVectorProduct,
    start: numpy.ndarray,
    iterations: int,
    tol: float,
    scale: float = 0.0,
) -> tuple[float, int, bool]:
    """The dominant eigenvalue of the symmetric map ``product`` by power iteration.

    Returns (eigenvalue, products used, converged). The estimate is the Rayleigh quotient
    vᵀHv with ‖v‖ = 1; convergence is judged relative to max(|estimate|, |scale|), where
    ``scale`` is the size of a shift already applied.
    """
    v = start / numpy.linalg.norm(start)
    estimate = math.nan
    for count in range(1, iterations + 1):
        hv = product(v)
        previous, estimate = estimate, float(v @ hv)
        size = float(numpy.linalg.norm(hv))
        if size == 0.0:  # v lies in the null space: every Hv of it is 0
            return 0.0, count, True
        if abs(estimate - previous) <= tol * max(abs(estimate), abs(scale)):
            return estimate, count, True
        v = hv / size
    return estimate, iterations, False


def _hessian_vector_product(
    model: Module, batches: list[tuple[Any, Any]], loss_fn: Callable, params: list[Tensor]
) -> HessianVectorProduct:
    """v ↦ Hv as flat float64 arrays, H the size-weighted mean of the batches' Hessians.

    One batch keeps its graph of ∇C (built once with ``create_graph``) for every product;
    several batches rebuild theirs at each product, so that only one graph is alive at a time.
    """
    sizes = [len(y) if hasattr(y, "__len__") else 1 for _, y in batches]
    total = sum(sizes)
    kept = _gradient_graph(model, *batches[0], loss_fn, params) if len(batches) == 1 else None

    def product(v: numpy.ndarray) -> numpy.ndarray:
        result = numpy.zeros_like(v)
        for (x, y), size in zip(batches, sizes, strict=True):
            graph = kept if kept is not None else _gradient_graph(model, x, y, loss_fn, params)
            result += (size / total) * _product_on(graph, params, v)
        return result

    return product


def _gradient_graph(
    model: Module, x: Any, y: Any, loss_fn: Callable, params: list[Tensor]
) -> list[tuple[int, Tensor]]:
    """∇C w.r.t. each parameter, carrying its graph: (parameter index, gradient) for every
    gradient that depends on the parameters (the others have zero second derivatives)."""
    with enable_grad():
        loss = loss_fn(model(x), y)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = getattr(loss, "shape", None)
            raise ValueError(f"sharpness: loss_fn must return a scalar Tensor, got shape {shape}")
        grads = cr.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    return [(i, g) for i, g in enumerate(grads) if g is not None and g.requires_grad]


def _product_on(
    graph: list[tuple[int, Tensor]], params: list[Tensor], v: numpy.ndarray
) -> numpy.ndarray:
    """Hv = ∇⟨∇C, v⟩ for one batch's gradient graph, flat in the order of ``params``."""
    result = numpy.zeros_like(v)
    if not graph:
        return result
    offsets = numpy.cumsum([0] + [p.numel() for p in params])
    pieces = [v[offsets[i] : offsets[i + 1]].reshape(tuple(params[i].shape)) for i, _ in graph]
    weights = [
        cr.tensor(piece, dtype=params[i].dtype, device=params[i].device)
        for (i, _), piece in zip(graph, pieces)
    ]
    with enable_grad():
        products = cr.autograd.grad(
            [g for _, g in graph],
            params,
            grad_outputs=weights,
            retain_graph=True,
            allow_unused=True,
        )
    for i, hv in enumerate(products):
        if hv is not None:
            # A host copy: the power iteration runs in NumPy, on whichever device the model is.
            result[offsets[i] : offsets[i + 1]] = backend.to_numpy(hv.detach().array).reshape(-1)
    return result


def _batches(data: Any) -> list[tuple[Any, Any]]:
    """``data`` as a list of (x, y) pairs: one pair, or every pair of an iterable of them."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and _is_array(data[0]):
        return [(_as_tensor(data[0]), _as_tensor(data[1]))]
    if isinstance(data, Iterable) and not _is_array(data):
        batches = []
        for batch in data:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise ValueError(
                    "sharpness: each batch of data must be a pair (x, y), got "
                    f"{type(batch).__name__}"
                )
            batches.append((_as_tensor(batch[0]), _as_tensor(batch[1])))
        if batches:
            return batches
    raise ValueError(
        "sharpness: data must be a batch (x, y) of tensors or an iterable of such batches "
        f"(a DataLoader), got {type(data).__name__}"
    )


def _is_array(value: Any) -> bool:
    return isinstance(value, (Tensor, numpy.ndarray))


def _as_tensor(value: Any) -> Any:
    return cr.as_tensor(value) if isinstance(value, numpy.ndarray) else value
