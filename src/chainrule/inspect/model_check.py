"""A finite-difference check of every parameter gradient of a whole model, in float64.

:func:`chainrule.gradcheck` checks one function of a few tensors; :func:`gradcheck_model` checks
what training actually uses: ∂loss/∂θ for every parameter θ of a model, as ``loss.backward()``
computes it through every layer, against central differences of the loss itself::

    ∂L/∂θ_k ≈ (L(θ + ε e_k) − L(θ − ε e_k)) / 2ε

The check runs on a float64 deep copy of the model (without the model's hooks), so the model
passed in (its weights, dtype, gradients and mode) is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy

from chainrule import backend
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.autograd.gradcheck import GradcheckError
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


@dataclass(frozen=True)
class ParameterCheck:
    """The verdict on one parameter.

    ``max_abs_error`` is max |a − n| over the checked elements (a = autodiff, n = finite
    differences); ``max_rel_error`` is max |a − n| / max(|a|, |n|, atol), so that elements whose
    gradient is zero on both sides do not show as large relative errors. An element passes when
    |a − n| ≤ atol + rtol·|n|, the rule of :func:`chainrule.gradcheck`.
    """

    name: str
    shape: tuple[int, ...]
    checked: int  # elements compared (all of them, or a sample of ``max_elements``)
    max_abs_error: float
    max_rel_error: float
    failed: int  # how many of the checked elements broke the tolerance
    worst_index: tuple[int, ...]  # the element with the largest absolute error

    @property
    def passed(self) -> bool:
        return self.failed == 0


class GradcheckReport:
    """The result of :func:`gradcheck_model`: one :class:`ParameterCheck` per parameter.

    ``ok`` is true when every parameter passed; ``failures`` lists those that did not;
    ``str(report)`` is an aligned table.
    """

    def __init__(self, rows: list[ParameterCheck], atol: float, rtol: float, eps: float) -> None:
        self.rows = rows
        self.atol, self.rtol, self.eps = atol, rtol, eps

    @property
    def ok(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def failures(self) -> list[ParameterCheck]:
        return [row for row in self.rows if not row.passed]

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        header = ("parameter", "shape", "checked", "max abs err", "max rel err", "verdict")
        lines = [header]
        for row in self.rows:
            verdict = (
                "pass" if row.passed else f"FAIL ({row.failed} bad, worst at {row.worst_index})"
            )
            lines.append(
                (
                    row.name,
                    str(row.shape),
                    str(row.checked),
                    f"{row.max_abs_error:.3e}",
                    f"{row.max_rel_error:.3e}",
                    verdict,
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        # Names and verdicts read left-aligned, numbers right-aligned.
        right = {1, 2, 3, 4}
        text = [
            "  ".join(
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(line)
            ).rstrip()
            for line in lines
        ]
        text.insert(1, "-" * len(text[0]))
        summary = "all parameters pass" if self.ok else f"{len(self.failures)} parameter(s) FAIL"
        text.append(
            f"{summary} (eps={self.eps:g}, pass when |autodiff - numeric| <= "
            f"{self.atol:g} + {self.rtol:g}*|numeric|)"
        )
        return "\n".join(text)

    def __repr__(self) -> str:
        return f"GradcheckReport(ok={self.ok}, parameters={len(self.rows)})"


def gradcheck_model(
    model: Module,
    x: Any,
    y: Any,
    loss_fn: Callable[[Any, Any], Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int | None = None,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> GradcheckReport:
    """Check ∂loss/∂θ from backward against central differences for every parameter θ.

    The loss is ``loss_fn(model(x), y)`` (``model(*x)`` when ``x`` is a tuple or list), a
    single-element tensor. The check runs on ``copy.deepcopy(model).double().eval()``: float64
    keeps round-off far below the tolerances, and evaluation mode makes the loss a
    deterministic function of θ (dropout off, batch norm on its running statistics; a
    training-mode forward would draw new dropout masks and move the running statistics between
    the two sides of a difference). Floating tensors in ``x`` and ``y`` are cast to float64;
    integer targets (class indices) stay as they are. The model passed in is not modified.

    For each parameter, every element (or, when ``max_elements`` is given and the parameter is
    larger, a sample of that many elements drawn with ``numpy.random.default_rng(seed)``) is
    perturbed by ±``eps``: two forward passes per element, so the cost is 2·(elements checked)
    forwards.

    Returns a :class:`GradcheckReport` (one row per parameter, by dotted name). With
    ``raise_on_failure`` (the default) a failing check raises
    :class:`~chainrule.GradcheckError` whose message is the report's table.

    >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))  # doctest: +SKIP
    >>> print(gradcheck_model(model, x, y, nn.MSELoss()))                   # doctest: +SKIP
    """
    if not isinstance(model, Module):
        raise TypeError(f"gradcheck_model: model must be a Module, got {type(model).__name__}")
    if eps <= 0:
        raise ValueError(f"gradcheck_model: eps must be positive, got {eps}")
    if max_elements is not None and (not isinstance(max_elements, int) or max_elements < 1):
        raise ValueError(
            f"gradcheck_model: max_elements must be a positive int or None, got {max_elements!r}"
        )
    checked = copy_without_hooks(model).double().eval()
    params = [(name, p) for name, p in checked.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("gradcheck_model: the model has no parameter that requires grad")
    x64, y64 = _to_float64(x), _to_float64(y)

    def loss_of_model() -> Tensor:
        out = checked(*x64) if isinstance(x64, tuple) else checked(x64)
        loss = loss_fn(out, y64)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            what = loss.shape if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(
                f"gradcheck_model: loss_fn must return a single-element Tensor, got {what}"
            )
        return loss

    checked.zero_grad()
    with enable_grad():
        loss_of_model().backward()
    rng = numpy.random.default_rng(seed)
    rows = []
    for name, param in params:
        grad = param.grad
        analytic = (
            numpy.zeros(param.numel())
            if grad is None
            else backend.to_numpy(grad.data).astype(numpy.float64).reshape(-1)
        )
        indices = numpy.arange(param.numel())
        if max_elements is not None and param.numel() > max_elements:
            indices = numpy.sort(rng.choice(param.numel(), size=max_elements, replace=False))
        numeric = _central_differences(loss_of_model, param, indices, eps)
        rows.append(_compare(name, param.shape, indices, analytic[indices], numeric, atol, rtol))
    report = GradcheckReport(rows, atol, rtol, eps)
    if raise_on_failure and not report.ok:
        names = ", ".join(row.name for row in report.failures)
        raise GradcheckError(f"gradcheck_model: gradients of {names} are wrong\n{report}")
    return report


def copy_without_hooks(model: Module) -> Module:
    """A deep copy of ``model`` with no forward or backward hooks.

    ``copy.deepcopy`` would copy the hooks too (as in PyTorch), and hooks that close over an
    outside object (a :class:`~chainrule.inspect.monitor.GradientMonitor`, a logger) would
    then see the many private forward passes of a check or a profile.
    """
    memo: dict[int, Any] = {}
    for module in model.modules():
        hooks = module.__dict__.get("_call_hooks")
        if hooks is not None:
            memo[id(hooks)] = None  # deepcopy takes memo entries as already-made copies
    return copy.deepcopy(model, memo)


def _to_float64(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return tuple(_to_float64(v) for v in value)
    if isinstance(value, Tensor) and value.is_floating_point():
        return Tensor._make(value.data.astype(numpy.float64), False, None)
    return value


def _central_differences(
    loss_of_model: Callable[[], Tensor], param: Tensor, indices: numpy.ndarray, eps: float
) -> numpy.ndarray:
    """(L(θ + ε e_k) − L(θ − ε e_k)) / 2ε for each flat index k of ``param``."""
    if not param.data.flags.c_contiguous:
        param.data = backend.xp.ascontiguousarray(param.data)
    flat = param.data.reshape(-1)  # a view: writing an element perturbs the parameter
    numeric = numpy.empty(len(indices))
    with no_grad():
        for i, k in enumerate(indices):
            original = flat[k].item()
            flat[k] = original + eps
            plus = float(loss_of_model().item())
            flat[k] = original - eps
            minus = float(loss_of_model().item())
            flat[k] = original
            numeric[i] = (plus - minus) / (2 * eps)
    return numeric


def _compare(
    name: str,
    shape: tuple[int, ...],
    indices: numpy.ndarray,
    analytic: numpy.ndarray,
    numeric: numpy.ndarray,
    atol: float,
    rtol: float,
) -> ParameterCheck:
    error = numpy.abs(analytic - numeric)
    scale = numpy.maximum(numpy.maximum(numpy.abs(analytic), numpy.abs(numeric)), atol)
    bad = ~(error <= atol + rtol * numpy.abs(numeric))  # a NaN on either side is a failure
    worst = int(numpy.nanargmax(error)) if numpy.isfinite(error).any() else 0
    if bad.any() and not numpy.isfinite(error).all():
        worst = int(numpy.flatnonzero(~numpy.isfinite(error))[0])
    return ParameterCheck(
        name=name,
        shape=tuple(shape),
        checked=len(indices),
        max_abs_error=float(numpy.max(error)),
        max_rel_error=float(numpy.max(error / scale)),
        failed=int(bad.sum()),
        worst_index=tuple(int(i) for i in numpy.unravel_index(int(indices[worst]), shape)),
    )
