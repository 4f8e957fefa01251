"""RMSprop: gradient steps divided by a running root mean square of the gradient."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chainrule import backend, native
from chainrule.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """θ ← θ − lr·d, for gradient g (Hinton's lecture 6e; Graves, 2013, for ``centered``):

        g ← −g                                  (when ``maximize``)
        g ← g + weight_decay·θ                  (L2 regularisation)
        v ← α·v + (1 − α)·g²                    (``square_avg``)
        ḡ ← α·ḡ + (1 − α)·g                     (``grad_avg``, when ``centered``)
        s = √(v − ḡ²) + eps if centered else √v + eps
        b ← momentum·b + g/s,  d = b            (``momentum_buffer``, when momentum > 0)
        d = g/s                                 (without momentum)

    ``centered`` divides by an estimate of the gradient's standard deviation instead of its
    root mean square.

    Where numba is enabled (:mod:`chainrule.native`), a parameter of 65,536 elements or more
    (any, once numba is loaded) takes one pass of a loop instead of the NumPy form's eight or
    more, with the same numbers bit for bit.

    Args:
        params: tensors, or dicts of tensors (``"params"``) and per-group options.
        lr: learning rate, > 0.
        alpha: smoothing constant of the averages, in [0, 1].
        eps: added to the denominator for numerical stability, ≥ 0.
        weight_decay: L2 penalty, ≥ 0.
        momentum: momentum factor, ≥ 0.
        centered: normalise by the centred second moment v − ḡ².
        maximize: ascend the objective instead of descending it.
        capturable, foreach, differentiable: PyTorch's choices of implementation; see
            :class:`~chainrule.optim.Optimizer` (capturable and differentiable must be False).

    Example:
        ```pycon
        >>> import chainrule
        >>> w = chainrule.nn.Parameter(chainrule.tensor([1.0, -2.0]))
        >>> optimizer = RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> optimizer.step()  # first step: g/√(0.01·g²) = 10·sign(g)
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]

        ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        alpha = group["alpha"]
        if not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {alpha!r}")
        for option in ("eps", "weight_decay", "momentum"):
            value = group[option]
            if not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"RMSprop: {option} must be finite and >= 0, got {value!r}")

    def _update(self, group: dict[str, Any]) -> None:
        xp = backend.xp
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        for p in group["params"]:
            if p._grad is None:
                continue
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"step": 0.0, "square_avg": xp.zeros_like(p.array)}
            state["step"] += 1
            if _through_loop(p.array, p._grad.array, state, group):
                continue
            grad = -p._grad.array if group["maximize"] else p._grad.array
            if weight_decay:
                grad = grad + weight_decay * p.array

            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            if group["centered"]:
                grad_avg = state.get("grad_avg")
                if grad_avg is None:
                    grad_avg = state["grad_avg"] = xp.zeros_like(p.array)
                grad_avg *= alpha
                grad_avg += (1 - alpha) * grad
                denom = xp.sqrt(square_avg - grad_avg * grad_avg)
            else:
                denom = xp.sqrt(square_avg)
            denom += eps

            if momentum > 0:
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    buffer = state["momentum_buffer"] = xp.zeros_like(p.array)
                buffer *= momentum
                buffer += grad / denom
                p.array -= lr * buffer
            else:
                p.array -= lr * grad / denom


def _through_loop(param: Any, grad: Any, state: dict, group: dict) -> bool:
    """The update of one parameter by chainrule.native's RMSprop loop (one pass instead of
    about eight), where numba is enabled and the arrays suit it; False, with nothing done,
    otherwise. The same numbers as the NumPy form, bit for bit."""
    if not native.suits_update(param.size):
        return False
    from chainrule.native.updates import rmsprop_update  # imports numba: only when wanted

    return rmsprop_update(param, grad, state, group)
