"""Adamax: Adam with the second moment replaced by a running infinity norm of the gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer


class Adamax(Optimizer):
    """θ ← θ − lr/(1 − β1^t) · m/u at step t, for gradient g (Kingma & Ba, 2015, section 7.1):

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation)
        m ← β1·m + (1 − β1)·g                   (``exp_avg``)
        u ← max(β2·u, |g| + eps)                (``exp_inf``, entrywise)

    u is the limit p → ∞ of Adam's p-norm average of past gradients, which needs no bias
    correction; it only decays, so one large gradient damps the steps for a while.

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, ≥ 0.
        betas: (β1, β2), the decay rates of m and u, each in [0, 1).
        eps: added to |g|, ≥ 0; keeps u, the denominator, away from zero.
        weight_decay: L2 penalty, ≥ 0.
        maximize: ascend the objective instead of descending it.
        foreach, capturable, differentiable: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = Adamax([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # first step: m/(1 − β1) = g and u = |g|
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]

        ```
    """

    _nonnegative_options = ("eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p, grad, state in self._prepared_gradients(group, ("exp_avg", "exp_inf")):
            # m + (1 − β1)(g − m): PyTorch's lerp, which rounds a little differently from
            # β1·m + (1 − β1)·g in float32.
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            exp_avg += (1 - beta1) * (grad - exp_avg)
            exp_inf *= beta2
            xp.maximum(exp_inf, xp.abs(grad) + eps, out=exp_inf)
            p.array -= (lr / (1 - beta1 ** state["step"])) * exp_avg / exp_inf
