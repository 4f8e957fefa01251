"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay and AMSGrad."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chainrule import backend, native
from chainrule.optim.optimizer import Optimizer


class Adam(Optimizer):
    """θ ← θ − lr·m̂ / (√v̂ + eps) at step t, for gradient g (Kingma & Ba, 2015, in PyTorch's
    formulation):

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation, the default)
        θ ← θ·(1 − lr·weight_decay)             (instead, when ``decoupled_weight_decay``)
        m ← β1·m + (1 − β1)·g                   (``exp_avg``)
        v ← β2·v + (1 − β2)·g²                  (``exp_avg_sq``)
        v ← max(v_max, v) =: v_max              (``max_exp_avg_sq``, when ``amsgrad``)
        m̂ = m / (1 − β1^t),   v̂ = v / (1 − β2^t)

    Where numba is enabled (:mod:`chainrule.native`), a parameter of 65,536 elements or more
    (any, once numba is loaded) takes one pass of a loop instead of the NumPy form's dozen,
    with the same numbers bit for bit.

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, > 0.
        betas: (β1, β2), the decay rates of the two moment averages, each in [0, 1).
        eps: added to √v̂ for numerical stability, ≥ 0.
        weight_decay: L2 penalty (or decoupled decay rate), ≥ 0.
        amsgrad: normalise by the largest v seen so far (Reddi et al., 2018).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decay θ directly, as AdamW does (Loshchilov & Hutter, 2019).
        foreach, capturable, differentiable, fused: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # the first step moves every entry by about lr
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]

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
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        for p in group["params"]:
            if p._grad is None:
                continue
            grad = -p._grad.array if group["maximize"] else p._grad.array
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {
                    "step": 0.0,
                    "exp_avg": xp.zeros_like(p.array),
                    "exp_avg_sq": xp.zeros_like(p.array),
                }
                if amsgrad:
                    state["max_exp_avg_sq"] = xp.zeros_like(p.array)
            state["step"] += 1
            step = state["step"]
            if _through_loop(p.array, grad, state, group, step):
                continue
            if weight_decay and group["decoupled_weight_decay"]:
                p.array *= 1 - lr * weight_decay
            elif weight_decay:
                grad = grad + weight_decay * p.array

            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg *= beta1
            exp_avg += (1 - beta1) * grad
            exp_avg_sq *= beta2
            exp_avg_sq += (1 - beta2) * grad * grad
            second_moment = exp_avg_sq
            if amsgrad:
                second_moment = state["max_exp_avg_sq"]
                xp.maximum(second_moment, exp_avg_sq, out=second_moment)

            # m̂ / (√v̂ + eps) with the bias corrections folded into two scalars, so that the
            # only full-size temporaries are the denominator and the step.
            denom = xp.sqrt(second_moment)
            denom /= math.sqrt(1 - beta2**step)
            denom += eps
            p.array -= (lr / (1 - beta1**step)) * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): at each step

        θ ← θ·(1 − lr·weight_decay),   then the Adam step θ ← θ − lr·m̂ / (√v̂ + eps)

    with m and v averaged from the gradient alone (see :class:`Adam` for the rest of the rule).
    The decay does not pass through the moment estimates, so it acts with the same strength on
    every weight, whatever its gradient history. ``weight_decay`` defaults to 1e-2.

    ```pycon
    >>> import chainrule as cr
    >>> w = cr.tensor([2.0], requires_grad=True)
    >>> opt = cr.optim.AdamW([w], lr=0.5, weight_decay=0.5)
    >>> w.grad = cr.zeros(1)
    >>> opt.step()
    >>> round(w.item(), 6)
    1.5

    ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a save; the weight decay stays decoupled even if an Adam state was loaded."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


def _through_loop(param: Any, grad: Any, state: dict, group: dict, step: float) -> bool:
    """The update of one parameter by chainrule.native's Adam loop, where numba is enabled and
    the arrays suit it; False, with nothing done, otherwise. The same numbers as the NumPy
    form, bit for bit."""
    if not native.suits_update(param.size):
        return False
    from chainrule.native.updates import adam_update  # imports numba: only once it is wanted

    return adam_update(param, grad, state, group, step)
