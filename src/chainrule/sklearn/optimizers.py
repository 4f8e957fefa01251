"""scikit-learn's 'sgd' and 'adam' solvers, as thin layers over chainrule's SGD and Adam.

Both take the same steps as scikit-learn's solvers, to floating-point rounding:

SGD. scikit-learn keeps a velocity v ← μ·v − η·g and moves θ ← θ + v (Nesterov:
θ ← θ + μ·v − η·g, with the new v). chainrule's SGD (PyTorch's rule) keeps a buffer
b ← μ·b + g and moves θ ← θ − η·b (Nesterov: θ ← θ − η·(g + μ·b)). With a constant η the two
are the same, v = −η·b. When the schedule changes η from η_old to η_new, scikit-learn's
velocity keeps the old η inside it; rescaling b by η_old / η_new keeps v, and so the
trajectory, identical.

Adam. scikit-learn uses the paper's "efficient" form: θ ← θ − η_t·m / (√v + ε) with
η_t = η·√(1 − β2^t) / (1 − β1^t). chainrule's Adam (PyTorch's rule) adds ε to the
bias-corrected √v̂ instead: θ ← θ − η/(1 − β1^t)·m / (√v / √(1 − β2^t) + ε'). The two agree
exactly when ε' = ε / √(1 − β2^t), which :meth:`SklearnAdam.step` sets before each step.

Both expose scikit-learn's hooks: ``iteration_ends(t)`` after each epoch (t = samples seen)
and ``trigger_stopping(message, verbose)`` when the loss has stopped improving (True: stop).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from chainrule.optim.adam import Adam
from chainrule.optim.sgd import SGD
from chainrule.tensor import Tensor

# scikit-learn's 'adaptive' schedule stops once η has been divided below this.
SMALLEST_ADAPTIVE_LR = 1e-6


class SklearnSGD:
    """SGD with momentum and scikit-learn's learning-rate schedules.

    'constant': η = learning_rate_init; 'invscaling': η = learning_rate_init / (t + 1)^power_t
    after each epoch, t the number of samples seen; 'adaptive': η ÷ 5 each time the loss stops
    improving, until η ≤ 1e-6.
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        learning_rate_init: float,
        schedule: str,
        momentum: float,
        nesterov: bool,
        power_t: float,
    ) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.schedule, self.power_t = schedule, power_t
        self.optimizer = SGD(
            params,
            lr=self.learning_rate_init,
            momentum=momentum,
            nesterov=nesterov and momentum > 0,
        )

    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        self.optimizer.step()

    def iteration_ends(self, samples_seen: int) -> None:
        if self.schedule == "invscaling":
            self._set_learning_rate(self.learning_rate_init / (samples_seen + 1) ** self.power_t)

    def trigger_stopping(self, message: str, verbose: bool) -> bool:
        if self.schedule != "adaptive":
            if verbose:
                print(f"{message} Stopping.")
            return True
        if self.learning_rate <= SMALLEST_ADAPTIVE_LR:
            if verbose:
                print(f"{message} Learning rate too small. Stopping.")
            return True
        self._set_learning_rate(self.learning_rate / 5.0)
        if verbose:
            print(f"{message} Setting learning rate to {self.learning_rate:f}")
        return False

    def _set_learning_rate(self, learning_rate: float) -> None:
        # Keep scikit-learn's velocity v = −η·b unchanged across the change of η (module doc).
        scale = self.learning_rate / learning_rate
        for state in self.optimizer.state.values():
            buffer = state.get("momentum_buffer")
            if buffer is not None:
                buffer *= scale
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate


class SklearnAdam:
    """Adam (Kingma & Ba, 2015) with ε added to √v, as scikit-learn places it (module doc)."""

    def __init__(
        self,
        params: Iterable[Tensor],
        learning_rate_init: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
    ) -> None:
        self.learning_rate_init = float(learning_rate_init)
        self.beta_2, self.epsilon = beta_2, epsilon
        self.steps = 0
        self.optimizer = Adam(params, lr=self.learning_rate_init, betas=(beta_1, beta_2))

    @property
    def learning_rate(self) -> float:
        return self.learning_rate_init

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        self.steps += 1
        epsilon = self.epsilon / math.sqrt(1.0 - self.beta_2**self.steps)
        for group in self.optimizer.param_groups:
            group["eps"] = epsilon
        self.optimizer.step()

    def iteration_ends(self, samples_seen: int) -> None:
        """Adam keeps its learning rate: nothing to update between epochs."""

    def trigger_stopping(self, message: str, verbose: bool) -> bool:
        if verbose:
            print(f"{message} Stopping.")
        return True
