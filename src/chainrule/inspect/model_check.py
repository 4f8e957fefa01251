"""A finite-difference check of every parameter gradient of a whole model, in float64.

:func:`chainrule.gradcheck` checks one function of a few tensors; :func:`gradcheck_model` checks
what training actually uses: ∂loss/∂θ for every parameter θ of a model, as ``loss.backward()``
computes it through every layer, against central differences of the loss itself::

    ∂L/∂θ_k ≈ (L(θ + ε e_k) − L(θ − ε e_k)) / 2ε

The check runs on float64 deep copies of the model (without the model's hooks), one per mode
checked (evaluation and training by default), so the model passed in (its weights, dtype,
gradients, mode and running statistics) is never touched, and it draws no number from
chainrule's random generator that the caller could notice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from chainrule import backend, random
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.autograd.gradient_checks import GradcheckError
from chainrule.nn.module import Module
from chainrule.tensor import Tensor

MODES = ("eval", "train")  # the modes gradcheck_model can check, in its default order


@dataclass(frozen=True)
class ParameterCheck:
    """The verdict on one parameter.

    ``max_abs_error`` is max |a − n| over the checked elements (a = autodiff, n = finite
    differences); ``max_rel_error`` is max |a − n| / max(|a|, |n|, atol), so that elements whose
    gradient is zero on both sides do not show as large relative errors. An element passes when
    |a − n| ≤ atol + rtol·|n|, the rule of :func:`chainrule.gradcheck`. ``mode`` is the mode
    the model was in: ``"eval"`` or ``"train"``.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> _ = cr.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> report = cr.inspect.gradcheck_model(model, cr.randn(8, 2), cr.randn(8, 1), nn.MSELoss())
    >>> row = report.rows[0]
    >>> row.name, row.shape, row.mode, row.passed
    ('0.weight', (3, 2), 'eval', True)

    ```
    """

    name: str
    shape: tuple[int, ...]
    checked: int  # elements compared (all of them, or a sample of ``max_elements``)
    max_abs_error: float
    max_rel_error: float
    failed: int  # how many of the checked elements broke the tolerance
    worst_index: tuple[int, ...]  # the element with the largest absolute error
    mode: str = "eval"

    @property
    def passed(self) -> bool:
        return self.failed == 0


class GradcheckReport:
    """The result of :func:`gradcheck_model`: one :class:`ParameterCheck` per parameter and
    mode checked, the rows of each mode together, in the order of ``modes``.

    ``ok`` is true when every row passed; ``failures`` lists those that did not;
    ``rows_for(mode)`` the rows of one mode; ``str(report)`` is an aligned table that names
    the modes checked.

    ```pycon
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> _ = cr.manual_seed(0)
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> report = cr.inspect.gradcheck_model(model, cr.randn(8, 2), cr.randn(8, 1), nn.MSELoss())
    >>> report.ok, len(report.rows), len(report.rows_for("train")), report.failures
    (True, 8, 4, [])

    ```
    """

    def __init__(
        self,
        rows: list[ParameterCheck],
        atol: float,
        rtol: float,
        eps: float,
        modes: tuple[str, ...] = ("eval",),
    ) -> None:
        self.rows = rows
        self.atol, self.rtol, self.eps = atol, rtol, eps
        self.modes = tuple(modes)

    @property
    def ok(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def failures(self) -> list[ParameterCheck]:
        return [row for row in self.rows if not row.passed]

    def rows_for(self, mode: str) -> list[ParameterCheck]:
        """The rows of ``mode`` (``"eval"`` or ``"train"``); empty if it was not checked."""
        return [row for row in self.rows if row.mode == mode]

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        header = ("parameter", "mode", "shape", "checked", "max abs err", "max rel err", "verdict")
        lines = [header]
        for row in self.rows:
            verdict = (
                "pass" if row.passed else f"FAIL ({row.failed} bad, worst at {row.worst_index})"
            )
            lines.append(
                (
                    row.name,
                    row.mode,
                    str(row.shape),
                    str(row.checked),
                    f"{row.max_abs_error:.3e}",
                    f"{row.max_rel_error:.3e}",
                    verdict,
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        # Names and verdicts read left-aligned, numbers right-aligned.
        right = {2, 3, 4, 5}
        text = [
            "  ".join(
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(line)
            ).rstrip()
            for line in lines
        ]
        text.insert(1, "-" * len(text[0]))
        checked = _modes_text(self.modes)
        if self.ok:
            summary = f"all parameters pass in {checked} ("
        else:
            failed = _modes_text(dict.fromkeys(row.mode for row in self.failures))
            summary = (
                f"{len(self.failures)} of {len(self.rows)} checks FAIL in {failed} "
                f"(checked: {checked}; "
            )
        text.append(
            f"{summary}eps={self.eps:g}, pass when "
            f"|autodiff - numeric| <= {self.atol:g} + {self.rtol:g}*|numeric|)"
        )
        return "\n".join(text)

    def __repr__(self) -> str:
        return f"GradcheckReport(ok={self.ok}, rows={len(self.rows)}, modes={self.modes})"


def _modes_text(modes: Sequence[str]) -> str:
    """The modes as words: ("eval", "train") gives 'eval and train mode'."""
    names = list(modes)
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{joined} mode"


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
    modes: Sequence[str] | str = ("eval", "train"),
) -> GradcheckReport:
    """Check ∂loss/∂θ from backward against central differences for every parameter θ, in
    each of ``modes``.

    The loss is ``loss_fn(model(x), y)`` (``model(*x)`` when ``x`` is a tuple or list), a
    single-element tensor. For each mode (``"eval"``, ``"train"``, or both, the default) the
    check runs on its own ``copy.deepcopy(model).double()`` put in that mode: float64 keeps
    round-off far below the tolerances. Evaluation mode checks the backward passes used at
    inference (dropout off, batch norm on its running statistics); training mode checks those
    that training uses (dropout on, batch norm on the batch's statistics). In training mode
    the loss is made a deterministic function of θ by putting chainrule's random generator
    back to one saved state before every loss evaluation, so that every forward pass of the
    finite differences and of the analytic gradient draws the same dropout masks; batch norm's
    running statistics move on the private copy but do not enter the training-mode loss. The
    caller's generator state is restored at the end, so the check draws nothing from it.
    Floating tensors in ``x`` and ``y`` are cast to float64; integer targets (class indices)
    stay as they are. The model passed in is not modified.

    For each parameter, every element (or, when ``max_elements`` is given and the parameter is
    larger, a sample of that many elements drawn with ``numpy.random.default_rng(seed)``, the
    same elements in every mode) is perturbed by ±``eps``: two forward passes per element, so
    the cost is 2·(elements checked) forwards per mode.

    Returns a :class:`GradcheckReport` (one row per parameter, by dotted name, and mode; its
    ``modes`` are those checked). With ``raise_on_failure`` (the default) a failing check
    raises :class:`~chainrule.GradcheckError` whose message names the parameters and modes
    that failed and holds the report's table.

    ```pycon
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))  # doctest: +SKIP
    >>> print(gradcheck_model(model, x, y, nn.MSELoss()))                   # doctest: +SKIP

    ```
    """
    if not isinstance(model, Module):
        raise TypeError(f"gradcheck_model: model must be a Module, got {type(model).__name__}")
    if eps <= 0:
        raise ValueError(f"gradcheck_model: eps must be positive, got {eps}")
    if max_elements is not None and (not isinstance(max_elements, int) or max_elements < 1):
        raise ValueError(
            f"gradcheck_model: max_elements must be a positive int or None, got {max_elements!r}"
        )
    chosen = _check_modes(modes)
    x64, y64 = _to_float64(x), _to_float64(y)
    # Every loss evaluation starts from this generator and state, and the caller gets them
    # back at the end: the same dropout masks everywhere, and no number used up.
    state = random.get_rng_state()

    def same_random_numbers() -> None:
        random.set_rng_state(state)

    rows: list[ParameterCheck] = []
    with random.fork_rng():
        for mode in chosen:
            checked = copy_without_hooks(model).double().train(mode == "train")
            rows += _check_one_mode(
                checked,
                x64,
                y64,
                loss_fn,
                mode,
                (eps, atol, rtol),
                max_elements,
                seed,
                same_random_numbers,
            )
    report = GradcheckReport(rows, atol, rtol, eps, chosen)
    if raise_on_failure and not report.ok:
        names = ", ".join(dict.fromkeys(row.name for row in report.failures))
        failed_modes = tuple(dict.fromkeys(row.mode for row in report.failures))
        raise GradcheckError(
            f"gradcheck_model: gradients of {names} are wrong in {_modes_text(failed_modes)}"
            f"\n{report}"
        )
    return report


def _check_modes(modes: Sequence[str] | str) -> tuple[str, ...]:
    """``modes`` as a tuple of distinct names from MODES; one name alone is one mode."""
    if isinstance(modes, str):
        chosen: tuple = (modes,)
    else:
        chosen = tuple(modes) if isinstance(modes, (tuple, list)) else ()
    if not chosen or any(mode not in MODES for mode in chosen) or len(set(chosen)) < len(chosen):
        raise ValueError(
            "gradcheck_model: modes must be one or both of 'eval' and 'train', each once, "
            f"got {modes!r}"
        )
    return chosen


def _check_one_mode(
    checked: Module,
    x64: Any,
    y64: Any,
    loss_fn: Callable[[Any, Any], Tensor],
    mode: str,
    tolerances: tuple[float, float, float],
    max_elements: int | None,
    seed: int,
    same_random_numbers: Callable[[], None],
) -> list[ParameterCheck]:
    """One row per parameter of ``checked`` (a float64 copy already in ``mode``);
    ``tolerances`` are (eps, atol, rtol)."""
    eps, atol, rtol = tolerances
    params = [(name, p) for name, p in checked.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("gradcheck_model: the model has no parameter that requires grad")

    def loss_of_model() -> Tensor:
        same_random_numbers()
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
    rng = numpy.random.default_rng(seed)  # afresh per mode: the same elements in each
    rows = []
    for name, param in params:
        grad = param.grad
        analytic = (
            numpy.zeros(param.numel())
            if grad is None
            else backend.to_numpy(grad.array).astype(numpy.float64).reshape(-1)
        )
        indices = numpy.arange(param.numel())
        if max_elements is not None and param.numel() > max_elements:
            indices = numpy.sort(rng.choice(param.numel(), size=max_elements, replace=False))
        numeric = _central_differences(loss_of_model, param, indices, eps)
        rows.append(
            _compare(name, param.shape, indices, analytic[indices], numeric, atol, rtol, mode)
        )
    return rows


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
        return Tensor._make(value.array.astype(numpy.float64), False, None)
    return value


def _central_differences(
    loss_of_model: Callable[[], Tensor], param: Tensor, indices: numpy.ndarray, eps: float
) -> numpy.ndarray:
    """(L(θ + ε e_k) − L(θ − ε e_k)) / 2ε for each flat index k of ``param``."""
    if not param.array.flags.c_contiguous:
        param.array = backend.xp.ascontiguousarray(param.array)
    flat = param.array.reshape(-1)  # a view: writing an element perturbs the parameter
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
    mode: str = "eval",
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
        mode=mode,
    )
