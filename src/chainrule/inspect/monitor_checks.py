"""The training pathologies :class:`GradientMonitor` warns about, each read from one step.

Every check takes a :class:`StepRecord` (and what it needs besides) and returns the message
of a warning, or None when the step looks healthy. :func:`warning_text` puts the kind's
heading in front and a remedy behind.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chainrule.inspect.monitor import StepRecord


class GradientWarning(UserWarning):
    """A training pathology seen in gradients or activations: vanishing (across layers or
    through time) or exploding gradients, or dead units. The message names the layer and
    suggests a remedy.

    ```pycon
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("layer 0: vanishing gradients", GradientWarning)
    >>> issubclass(caught[0].category, UserWarning)
    True

    ```
    """


_HEADINGS = {
    "vanishing": "vanishing gradients",
    "exploding": "exploding gradients",
    "dead": "dead units",
    "vanishing_through_time": "gradients vanishing through time",
}

_SUGGESTIONS = {
    "vanishing": (
        "use ReLU-family activations with He initialisation (nn.init.kaiming_normal_), add "
        "normalisation layers (BatchNorm, LayerNorm) or residual connections, or use fewer "
        "layers; each sigmoid multiplies the gradient by σ′ ≤ 0.25"
    ),
    "exploding": (
        "lower the learning rate, clip gradients (nn.utils.clip_grad_norm_), or start from "
        "smaller weights (nn.init.kaiming_normal_ or xavier_normal_ instead of a large scale)"
    ),
    "dead": (
        "lower the learning rate, start biases at 0 or slightly positive, use He "
        "initialisation, or try nn.LeakyReLU so that negative inputs still pass a gradient"
    ),
    "vanishing_through_time": (
        "gated layers (nn.LSTM, nn.GRU) carry a gradient over more steps than nn.RNN; an "
        "orthogonal W_hh (nn.init.orthogonal_) or shorter sequences also help, and if the task "
        "needs only the recent steps this may be harmless"
    ),
}


def warning_text(kind: str, message: str) -> str:
    """The full warning: ``kind``'s heading, the message, and a remedy."""
    return f"{_HEADINGS[kind]}: {message}; {_SUGGESTIONS[kind]}"


def exploding(
    record: StepRecord, earlier: list[StepRecord], factor: float, window: int
) -> str | None:
    """A norm is inf or NaN, or the total norm exceeds ``factor`` times its median over the
    last ``window`` of the ``earlier`` steps."""
    bad = [name for name, norm in record.grad_norm.items() if norm in (math.inf, -math.inf)]
    bad += [name for name, norm in record.grad_norm.items() if norm != norm]  # NaN
    if bad:
        return f"the gradient of {bad[0]!r} is not finite at step {record.step}"
    total = _total(record.grad_norm)
    previous = [_total(r.grad_norm) for r in earlier[-window:]]
    previous = [value for value in previous if math.isfinite(value)]
    if previous and total > factor * statistics.median(previous) > 0:
        return (
            f"the total gradient norm grew to {total:.3g} at step {record.step}, "
            f"{total / statistics.median(previous):.3g}x its median over the previous "
            f"{len(previous)} steps"
        )
    return None


def vanishing(record: StepRecord, layers: list[str], ratio: float) -> str | None:
    """‖∂C/∂W‖ of the first of ``layers`` (forward order) is below ``ratio`` times the last's."""
    order = [name for name in layers if math.isfinite(record.grad_norm[name])]
    if len(order) < 2:
        return None
    first, last = order[0], order[-1]
    top = record.grad_norm[last]
    if top > 0 and record.grad_norm[first] < ratio * top:
        return (
            f"at step {record.step} the gradient norm of the first layer {first!r} "
            f"({record.grad_norm[first]:.3g}) is {record.grad_norm[first] / top:.3g} times "
            f"that of the last layer {last!r} ({top:.3g})"
        )
    return None


def through_time_ends(record: StepRecord, key: str, reverse: bool) -> tuple[float, float]:
    """(near, far): ‖δh‖ of recurrent layer ``key`` where backward through time enters it
    (t = T − 1, or t = 0 in a reverse direction) and where it leaves it (the other end)."""
    norms = record.time_norms[key]["h"]
    return (norms[0], norms[-1]) if reverse else (norms[-1], norms[0])


def vanishing_through_time(record: StepRecord, reversed_keys: set[str], ratio: float) -> str | None:
    """In a recurrent layer, ‖δh‖ where backward through time ends is below ``ratio`` times
    its norm where it starts; ``reversed_keys`` are the reverse directions."""
    for key, norms in record.time_norms.items():
        steps = len(norms["h"])
        if steps < 2:
            continue
        reverse = key in reversed_keys
        near, far = through_time_ends(record, key, reverse)
        if near > 0 and far < ratio * near:
            start, end = (0, steps - 1) if reverse else (steps - 1, 0)
            return (
                f"at step {record.step} in {key!r} ‖δh_{end}‖ = {far:.3g} is {far / near:.3g} "
                f"times ‖δh_{start}‖ = {near:.3g}: δh_t = ∂C/∂h_t fades as it flows back "
                f"through time from t = {start} to t = {end}, so the "
                f"{'late' if reverse else 'early'} steps barely learn"
            )
    return None


def dead_units(record: StepRecord, threshold: float) -> str | None:
    """More than ``threshold`` of a ReLU module's units output 0 for the whole batch."""
    for key, fraction in record.dead_fraction.items():
        if fraction > threshold:
            return (
                f"{fraction:.0%} of the units after {key!r} output 0 for every sample of "
                f"the batch at step {record.step} (dead ReLUs pass no gradient)"
            )
    return None


def _total(norms: dict[str, float]) -> float:
    return math.sqrt(sum(value * value for value in norms.values() if value == value))
