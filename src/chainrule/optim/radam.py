"""RAdam: Adam whose adaptive step is switched on gradually, as its variance estimate firms up."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer


class RAdam(Optimizer):
    """Rectified Adam (Liu et al., 2020), at step t, for gradient g:

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation, the default)
        θ ← θ·(1 − lr·weight_decay)             (instead, when ``decoupled_weight_decay``)
        m ← β1·m + (1 − β1)·g                   (``exp_avg``)
        v ← β2·v + (1 − β2)·g²                  (``exp_avg_sq``)
        m̂ = m / (1 − β1^t)
        ρ∞ = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2t·β2^t / (1 − β2^t)
        r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t))
        θ ← θ − lr·m̂·r_t·√(1 − β2^t) / (√v + eps)     (when ρ_t > 5)
        θ ← θ − lr·m̂                                   (otherwise: SGD with momentum)

    ρ_t is the length of the moving average that v approximates; while it is short, the
    variance of the adaptive rate is too large to trust, and r_t scales it back.

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, ≥ 0.
        betas: (β1, β2), the decay rates of the two moment averages, each in [0, 1).
        eps: added to √v for numerical stability, ≥ 0.
        weight_decay: L2 penalty (or decoupled decay rate), ≥ 0.
        decoupled_weight_decay: decay θ directly, as AdamW does.
        maximize: ascend the objective instead of descending it.
        foreach, capturable, differentiable: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = RAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # ρ_1 = 1 ≤ 5: a momentum step, w ← w − 0.1·g
        >>> [round(v, 4) for v in w.tolist()]
        [0.8, -1.6]

        ```
    """

    _nonnegative_options = ("eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p, grad, state in self._prepared_gradients(group, ("exp_avg", "exp_avg_sq")):
            step = state["step"]
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg += (1 - beta1) * (grad - exp_avg)  # PyTorch's lerp, as in Adamax
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad

            corrected = exp_avg / (1 - beta1**step)
            bias_correction2 = 1 - beta2**step
            rho_inf = 2 / (1 - beta2) - 1
            rho = rho_inf - 2 * step * beta2**step / bias_correction2
            if rho > 5.0:
                rectifier = math.sqrt(
                    (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
                )
                denom = xp.sqrt(exp_avg_sq)
                denom += eps
                p.array -= corrected * lr * (math.sqrt(bias_correction2) / denom) * rectifier
            else:
                p.array -= corrected * lr
