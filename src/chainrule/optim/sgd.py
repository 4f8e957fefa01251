"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chainrule import backend, native
from chainrule.optim.optimizer import Optimizer, add_scaled_


class SGD(Optimizer):
    """θ ← θ − lr·d, with, for gradient g (PyTorch's formulation):

        g ← g + weight_decay·θ                        (L2 regularisation)
        b ← momentum·b + (1 − dampening)·g            (b = g on the first step)
        d = g + momentum·b if nesterov else b         (d = g without momentum)

    and −d in place of d when ``maximize``. Updates are in place, one vectorised expression
    per parameter. ``foreach``, ``differentiable`` and ``fused`` are PyTorch's choices of
    implementation: see :class:`~chainrule.optim.Optimizer`.

    Where numba is enabled (:mod:`chainrule.native`), a parameter of 65,536 elements or more
    (with momentum, weight decay or ``maximize``: any, once numba is loaded) takes one pass of
    a loop instead of the NumPy form's two to four, with the same numbers bit for bit.

    ```pycon
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.25)
    >>> (w**2).sum().backward()
    >>> opt.step()
    >>> w.tolist()
    [0.5, -1.0]

    ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        for name in ("momentum", "weight_decay", "dampening"):
            if group[name] < 0:
                raise ValueError(f"SGD: {name} must be non-negative, got {group[name]}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")

    def _update(self, group: dict[str, Any]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        dampening, weight_decay = group["dampening"], group["weight_decay"]
        nesterov, maximize = group["nesterov"], group["maximize"]
        # Plain SGD (θ + (−lr)·g, one blocked pass in NumPy already) gains a sixth from the loop
        # on large parameters only, and only where numba is loaded anyway; the test is made
        # once per group, as a small network's step pays for every line per parameter.
        plain = not (momentum or weight_decay or maximize)
        loops = not plain or native.loaded()
        for p in group["params"]:
            grad_tensor = p._grad
            if grad_tensor is None:
                continue
            grad = grad_tensor.array
            if loops and _through_loop(p.array, grad, self.state, p, group, plain):
                continue
            if maximize:
                grad = -grad
            if weight_decay:
                grad = grad + weight_decay * p.array
            if momentum:
                state = self.state.setdefault(p, {})
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    # An array even for a 0-d parameter, whose -g or g + λθ is a NumPy
                    # scalar: the buffer is updated in place below. In the module of the
                    # gradient: the step runs outside Function.apply, where xp is NumPy.
                    buffer = state["momentum_buffer"] = backend.module_of(grad).array(grad)
                else:
                    buffer *= momentum
                    add_scaled_(buffer, 1 - dampening, grad)
                grad = grad + momentum * buffer if nesterov else buffer
            add_scaled_(p.array, -lr, grad)  # θ − lr·d: the same numbers as θ + (−lr)·d


def _through_loop(param: Any, grad: Any, states: dict, key: Any, group: dict, plain: bool) -> bool:
    """The update of one parameter by chainrule.native's SGD loop (one pass instead of up to
    four), where numba is enabled and the arrays suit it; False, with nothing done, otherwise.
    The same numbers as the NumPy form, bit for bit. Plain SGD takes it from
    native.UPDATE_SIZE elements on only (on a small array NumPy's one expression is quicker
    than a call into numba), and only once numba is loaded (the caller checks that)."""
    if plain and param.size < native.UPDATE_SIZE:
        return False
    if not native.suits_update(param.size):
        return False
    from chainrule.native.updates import sgd_update  # imports numba: only once it is wanted

    state = states.get(key)
    if state is None:
        state = {}
    if not sgd_update(param, grad, state, group):
        return False
    if state:
        states[key] = state
    return True
