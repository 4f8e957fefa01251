"""ASGD: stochastic gradient descent that also keeps a running average of its iterates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainrule.optim.optimizer import Optimizer, scalar_dtype


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992; the step sizes of Bottou, 2012), at step t:

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation)
        θ ← θ·(1 − λ·η) − η·g                   (η: ``eta``, lr before the first step)
        θ̄ ← θ̄ + μ·(θ − θ̄)                       (``ax``; θ̄ = θ while μ = 1)
        η ← lr / (1 + λ·lr·t)^α
        μ ← 1 / max(1, t − t0)                  (``mu``: averaging starts after t0 steps)

    The parameters follow the SGD iterates; the average θ̄, which converges faster on noisy
    convex problems, is kept in ``optimizer.state[p]["ax"]`` for you to copy in at the end.
    As in PyTorch, η and μ are kept in float32 (float64 under a float64 default dtype).

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, ≥ 0.
        lambd: λ, the decay term of both θ and the step size.
        alpha: α, the power of the step-size decay.
        t0: the step after which averaging starts.
        weight_decay: L2 penalty, ≥ 0.
        maximize: ascend the objective instead of descending it.
        foreach, differentiable, capturable: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = ASGD([w], lr=0.1, lambd=0.0)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # an SGD step: w ← w − 0.1·g
        >>> [round(v, 4) for v in w.tolist()]
        [0.8, -1.6]

        ```
    """

    # PyTorch checks only lr and weight_decay; lambd, alpha and t0 may take any value.
    _nonnegative_options = ("weight_decay",)

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        rounded = scalar_dtype().type
        first = {"eta": rounded(lr), "mu": rounded(1.0)}
        for p, grad, state in self._prepared_gradients(group, ("ax",), first):
            step = state["step"]
            eta = float(state["eta"])
            p.array *= 1 - lambd * eta
            p.array -= eta * grad
            ax = state["ax"]
            if state["mu"] != 1:
                ax += (p.array - ax) * state["mu"]
            else:
                ax[...] = p.array
            state["eta"] = rounded(lr / (1 + lambd * lr * step) ** alpha)
            state["mu"] = rounded(1 / max(1, step - t0))
