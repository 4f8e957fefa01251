"""NAdam: Adam with Nesterov momentum, the momentum factor warmed up over the first steps."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainrule import backend
from chainrule.optim.optimizer import Optimizer, scalar_dtype


class NAdam(Optimizer):
    """Adam whose step looks ahead along the momentum (Dozat, 2016), at step t, for gradient g:

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation, the default)
        θ ← θ·(1 − lr·weight_decay)             (instead, when ``decoupled_weight_decay``)
        μ_t = β1·(1 − ½·0.96^(t·ψ))             (ψ = ``momentum_decay``)
        Π_t = Π_{t−1}·μ_t                       (``mu_product``, Π_0 = 1)
        m ← β1·m + (1 − β1)·g                   (``exp_avg``)
        v ← β2·v + (1 − β2)·g²                  (``exp_avg_sq``)
        D = √(v / (1 − β2^t)) + eps
        θ ← θ − lr·(1 − μ_t)/(1 − Π_t)·g/D − lr·μ_{t+1}/(1 − Π_t·μ_{t+1})·m/D

    The momentum factor μ_t grows from β1/2 toward β1, which damps the first, noisy steps.
    As in PyTorch, Π is kept in float32 (float64 under a float64 default dtype).

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, ≥ 0.
        betas: (β1, β2), the decay rates of the two moment averages, each in [0, 1).
        eps: added to the denominator for numerical stability, ≥ 0.
        weight_decay: L2 penalty (or decoupled decay rate), ≥ 0.
        momentum_decay: ψ, how fast μ_t approaches β1, ≥ 0.
        decoupled_weight_decay: decay θ directly, as AdamW does (NAdamW).
        maximize: ascend the objective instead of descending it.
        foreach, capturable, differentiable: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = NAdam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # 0.1 along −sign(g), 0.0056 more for momentum
        >>> [round(v, 4) for v in w.tolist()]
        [0.8944, -1.8944]

        ```
    """

    _nonnegative_options = ("eps", "weight_decay", "momentum_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
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
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        momentum_decay = group["momentum_decay"]
        moments, product = ("exp_avg", "exp_avg_sq"), {"mu_product": scalar_dtype().type(1.0)}
        for p, grad, state in self._prepared_gradients(group, moments, product):
            step = state["step"]
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
            rounded = type(state["mu_product"])
            state["mu_product"] = mu_product = rounded(state["mu_product"] * rounded(mu))

            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg += (1 - beta1) * (grad - exp_avg)  # PyTorch's lerp, as in Adamax
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            denom = xp.sqrt(exp_avg_sq / (1 - beta2**step))
            denom += eps
            # The gradient's share, then the momentum's (looking one step ahead).
            p.array -= (lr * (1 - mu) / (1 - float(mu_product))) * grad / denom
            p.array -= (lr * mu_next / (1 - float(mu_product) * mu_next)) * exp_avg / denom
