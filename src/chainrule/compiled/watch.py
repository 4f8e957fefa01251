"""What the second recording checks about values: nothing changed outside operations.

A replay recomputes only what operations computed. Writes straight into ``tensor.array`` (a
running count kept with ``+= 1``, gradients scaled by ``clip_grad_norm_``) are invisible to the
autograd version counters and would be lost. So the second recording keeps copies and compares:

- each array an operation made, or the step was given, when an operation reads it;
- each tensor or array from outside the step when the step first uses it, against its values
  at the start of the call (and after each call replayed as a whole, such as the optimiser's
  step, which may change it);
- the gradients of the step's inputs and of the tensors from outside it, from the start of the
  call and after each backward pass or call replayed as a whole, against what they are at the
  next such point, or at the end (``p.grad = None`` and ``model.zero_grad()`` are replayed as
  calls; a change of ``p._grad``, or ``clip_grad_norm_`` scaling gradients, is not);
- the settings of the optimisers the step calls (their groups' ``lr`` and other options), over
  the same stretches: a step that sets the learning rate itself, outside a scheduler's
  ``step()``, would keep the recorded rate.

A difference is a change made outside operations, which the replay would not repeat.
"""

from __future__ import annotations

from typing import Any

from chainrule.tensor import Tensor


class Watch:
    """Copies of values, and comparisons with them; see the module's docstring."""

    def __init__(self) -> None:
        self._made: dict[int, Any] = {}  # slot -> its values when made
        self._outside: dict[int, tuple] = {}  # id(outside object) -> (object, values)
        self._gradients: list[tuple] | None = None  # (leaf, .grad, values) after a backward
        self._settings: list[tuple] = []  # (optimiser, its settings)

    def made(self, slot: int, array: Any) -> None:
        """Slot ``slot`` holds ``array`` from now on (made, given, or changed by a module)."""
        self._made[slot] = array.copy()

    def unchanged(self, slot: int, array: Any) -> bool:
        """Whether ``array`` still holds what slot ``slot`` held when it was made."""
        copy = self._made.get(slot)
        return copy is None or same_values(copy, array)

    def outside(self, objects: list) -> None:
        """The values of ``objects`` (tensors and arrays from outside the step) now."""
        for thing in objects:
            self._outside[id(thing)] = (thing, values_of(thing))

    def outside_unchanged(self, thing: Any) -> bool:
        """Whether ``thing`` holds what :meth:`outside` last saw (true for something new)."""
        kept = self._outside.get(id(thing))
        return kept is None or kept[0] is not thing or same_values(kept[1], values_of(thing))

    def gradients(self, tensors: list[Tensor]) -> None:
        """The gradients of ``tensors`` now."""
        self._gradients = [(tensor, tensor._grad, values_of(tensor._grad)) for tensor in tensors]

    def gradients_unchanged(self) -> bool:
        """Whether the gradients are still as :meth:`gradients` saw them (forgetting them)."""
        kept, self._gradients = self._gradients, None
        return all(
            leaf._grad is grad and same_values(values, values_of(grad))
            for leaf, grad, values in kept or ()
        )

    def settings(self, owners: list) -> None:
        """The settings of the optimisers among ``owners`` now."""
        self._settings = [(owner, settings_of(owner)) for owner in owners]

    def settings_unchanged(self) -> bool:
        """Whether the optimisers' settings are still as :meth:`settings` saw them."""
        return all(settings_of(owner) == kept for owner, kept in self._settings)


def settings_of(owner: Any) -> Any:
    """An optimiser's groups without their parameters (None for anything else)."""
    groups = getattr(owner, "param_groups", None)
    if not isinstance(groups, list):
        return None
    return [{k: v for k, v in group.items() if k != "params"} for group in groups]


def values_of(thing: Any) -> Any:
    """A copy of the values of a tensor or array, with the identity of the array."""
    if thing is None:
        return None
    array = thing.array if isinstance(thing, Tensor) else thing
    return (id(array), array.copy())


def same_values(a: Any, b: Any) -> bool:
    """Equal bit for bit (and, for :func:`values_of` pairs, the same array object)."""
    if a is None or b is None:
        return a is b
    if type(a) is tuple:
        if a[0] != b[0]:
            return False
        a, b = a[1], b[1]
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
