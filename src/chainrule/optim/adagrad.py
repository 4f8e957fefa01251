"""Adagrad: per-coordinate learning rates that shrink with the sum of squared gradients."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """θ ← θ − lr_t·g / (√s + eps) at step t, for gradient g (Duchi, Hazan & Singer, 2011):

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation)
        lr_t = lr / (1 + (t − 1)·lr_decay)
        s ← s + g²                              (``sum``, from initial_accumulator_value)

    Coordinates with large past gradients take small steps and rarely-updated ones large steps.

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, > 0.
        lr_decay: learning-rate decay per step, ≥ 0.
        weight_decay: L2 penalty, ≥ 0.
        initial_accumulator_value: the starting value of every entry of ``sum``, ≥ 0.
        eps: added to the denominator for numerical stability, ≥ 0.
        maximize: ascend the objective instead of descending it.
        foreach, differentiable, fused: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (differentiable must be False).

    As in PyTorch, the state (``step`` and ``sum``) of every parameter exists from construction.

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # first step: g/√(g²) = sign(g)
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]

        ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters and create their state (``step`` 0, ``sum`` filled)."""
        super().add_param_group(group)
        added = self.param_groups[-1]
        for p in added["params"]:
            self.state[p] = self._initial_state(p, added)

    @staticmethod
    def _initial_state(p: Any, group: dict[str, Any]) -> dict[str, Any]:
        value = group["initial_accumulator_value"]
        return {"step": 0.0, "sum": backend.xp.full_like(p.array, value)}

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        for option in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            value = group[option]
            if not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"Adagrad: {option} must be finite and >= 0, got {value!r}")

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay = group["weight_decay"]
        for p in group["params"]:
            if p._grad is None:
                continue
            grad = -p._grad.array if group["maximize"] else p._grad.array
            state = self.state.get(p)
            if not state:  # a state dict loaded without this parameter
                state = self.state[p] = self._initial_state(p, group)
            state["step"] += 1
            if weight_decay:
                grad = grad + weight_decay * p.array
            step_size = lr / (1 + (state["step"] - 1) * lr_decay)

            state_sum = state["sum"]
            state_sum += grad * grad
            denom = xp.sqrt(state_sum)
            denom += eps
            p.array -= step_size * grad / denom
