"""Numbering the arrays of a recorded step: which slot holds which array.

An array made by an operation, or given to the step, is found by its identity (the table keeps
every array it numbers alive, so identities stay unique while it records). A tensor from
outside the step is found by the tensor's own identity, so that the replay can read its
``.array`` live: after an optimiser's update, or after ``load_state_dict`` put a new array in
it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import backend
from chainrule.compiled.tape import ARRAY, TENSOR, Ref, Slot
from chainrule.tensor import Tensor


class SlotTable:
    """The slots of one recording. ``seen_outside(thing)`` is called for each tensor or array
    from outside the step when it first takes a slot; ``nested(reason)`` when an operation is
    given a tensor of the step inside a container (which a replay cannot rebuild)."""

    def __init__(self, seen_outside: Callable[[Any], None], nested: Callable[[str], None]):
        self.slots: list[Slot] = []
        self._by_array: dict[int, int] = {}
        self._by_tensor: dict[int, int] = {}
        self._seen_outside, self._nested = seen_outside, nested

    def new(self, kind: str, source: Any, array: Any) -> int:
        slot = len(self.slots)
        self.slots.append(Slot(kind, source, array))
        self._by_array[id(array)] = slot
        return slot

    def of(self, tensor: Tensor) -> int | None:
        """The slot of a tensor the step has seen, or None."""
        slot = self._by_array.get(id(tensor.array))
        if slot is not None and self.slots[slot].kind != ARRAY:
            return slot
        return self._by_tensor.get(id(tensor))

    def of_tensor(self, tensor: Tensor, introduced: list) -> int:
        """The slot of ``tensor``, numbering it if it is new (then in ``introduced``)."""
        slot = self.of(tensor)
        if slot is None:
            slot = self._by_tensor[id(tensor)] = self.new(TENSOR, tensor, tensor.array)
            introduced.append(tensor)
            self._seen_outside(tensor)
        return slot

    def of_array(self, array: Any, introduced: list) -> int:
        slot = self._by_array.get(id(array))
        if slot is None:
            slot = self.new(ARRAY, array, array)
            introduced.append(array)
            self._seen_outside(array)
        return slot

    def structure(self, value: Any, introduced: list, top: bool = False) -> Any:
        """``value`` with its arrays (and tensors, at the ``top``) replaced by :class:`Ref`."""
        if isinstance(value, Tensor):
            if top:
                return Ref(self.of_tensor(value, introduced))
            if self._by_tensor.get(id(value)) is None and id(value.array) in self._by_array:
                self._nested("gives an operation a tensor inside a container")
            return value  # a tensor from outside the step, passed as itself
        if isinstance(value, backend.ndarray):
            return Ref(self.of_array(value, introduced))
        if isinstance(value, (tuple, list)):
            items = [self.structure(item, introduced) for item in value]
            return items if type(value) is list else type(value)(items)
        if isinstance(value, dict):
            return {key: self.structure(item, introduced) for key, item in value.items()}
        return value

    def outside_objects(self) -> list:
        """The tensors and arrays from outside the step, in order of slots."""
        return [slot.source for slot in self.slots if slot.kind in (TENSOR, ARRAY)]
