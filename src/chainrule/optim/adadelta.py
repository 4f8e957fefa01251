"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer, check_nonnegative, check_range


class Adadelta(Optimizer):
    """θ ← θ − lr·Δ, for gradient g (Zeiler, 2012, in PyTorch's formulation):

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation)
        v ← ρ·v + (1 − ρ)·g²                    (``square_avg``)
        Δ = √(u + eps) / √(v + eps) · g         (u before this step's update)
        u ← ρ·u + (1 − ρ)·Δ²                    (``acc_delta``)

    The ratio carries units of θ over units of g, so the step needs no hand-tuned scale:
    ``lr`` (1.0 by default) only rescales it.

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: factor on the step, ≥ 0.
        rho: decay rate of both running averages, in [0, 1].
        eps: added inside both square roots, ≥ 0; it also sets the size of the first steps
            (√eps / √((1 − ρ)·g²) · g).
        weight_decay: L2 penalty, ≥ 0.
        maximize: ascend the objective instead of descending it.
        foreach, capturable, differentiable: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = Adadelta([w])
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # first step ≈ √(1e-6 / 0.1)·sign(g)
        >>> [round(v, 4) for v in w.tolist()]
        [0.9968, -1.9968]

        ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_range("Adadelta", "rho", group["rho"], 0.0, 1.0)
        check_nonnegative("Adadelta", group, "eps", "weight_decay")

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p, grad, state in self._prepared_gradients(group, ("square_avg", "acc_delta")):
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg *= rho
            square_avg += (1 - rho) * grad * grad
            delta = xp.sqrt(acc_delta + eps)
            delta /= xp.sqrt(square_avg + eps)
            delta *= grad
            acc_delta *= rho
            acc_delta += (1 - rho) * delta * delta
            p.array -= lr * delta
