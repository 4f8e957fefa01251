"""What a recorded step is made of: array slots, references to them, and the tape's entries.

A recording numbers every array the step touches with a *slot*. A slot is filled by the step's
inputs, by an operation's output, by the outputs of a module replayed as a whole (an
:class:`Island`), or it names an array from outside the step: a tensor read live (a parameter,
a buffer: its ``.array`` is read when the replay needs it, so updates made in place or by
assignment are seen) or a plain array kept by reference.

Inputs and options of operations are kept as *structures*: the values the operation was given,
with every array replaced by a :class:`Ref` to its slot, so that a replay can rebuild the same
call on new arrays. Everything else in them (numbers, shapes, slices, dtypes) is a constant of
the recording.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.tensor import Tensor


class Ref:
    """A reference to slot ``slot`` inside an operation's inputs or options."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot

    def __eq__(self, other: object) -> bool:
        return type(other) is Ref and other.slot == self.slot

    def __hash__(self) -> int:
        return hash(("Ref", self.slot))

    def __repr__(self) -> str:
        return f"Ref({self.slot})"


# Where a slot's array comes from (Slot.kind).
INPUT = "input"  # the step's k-th input tensor (or array)
TENSOR = "tensor"  # a tensor from outside the step, read live: ``source.array``
ARRAY = "array"  # an array from outside the step, kept by reference
PRODUCED = "produced"  # made by an entry of the tape (an operation or an island)


class Slot:
    """One array of the step: ``kind`` (see above), ``source`` (the input's position, the
    outside tensor or array, or the entry that makes it) and the array seen when recording."""

    __slots__ = ("array", "kind", "source")

    def __init__(self, kind: str, source: Any, array: Any) -> None:
        self.kind, self.source, self.array = kind, source, array


class Op:
    """One ``Function.apply``: the graph node (whose ``forward`` and ``backward`` the replay
    calls again), the positional inputs and the options as structures, the output's slot, and
    whether the output has dimensions (NumPy returns scalars for some 0-d results, which
    ``apply`` makes arrays)."""

    __slots__ = ("args", "drew", "frame", "node", "options", "out", "returned_array")

    def __init__(
        self, node: Any, args: tuple, options: dict, out: int, returned_array: bool, frame: Any
    ) -> None:
        self.node, self.args, self.options, self.out = node, args, options, out
        self.returned_array, self.frame = returned_array, frame
        self.drew = False  # random numbers were drawn while it ran: a replay must run it


class Call:
    """A method call replayed as itself: ``function(owner, *args, **kwargs)`` with tensors
    rebuilt from their slots (an optimiser's ``step`` or ``zero_grad``, a scheduler's ``step``,
    the setter of a tensor's ``grad``, whose owner is then a :class:`Ref`)."""

    __slots__ = ("args", "function", "kwargs", "owner")

    def __init__(self, function: Any, owner: Any, args: tuple, kwargs: dict) -> None:
        self.function, self.owner, self.args, self.kwargs = function, owner, args, kwargs


class Island:
    """A module call replayed as a whole, eagerly: its operations are not on the tape.

    ``args`` and ``kwargs`` are structures of the call's arguments; ``outputs`` the slots of
    the output tensors in the order :func:`tensors_in` finds them, ``produced`` whether the
    call made each (or handed back an input), ``template`` the output with its tensors as
    :class:`Ref`. ``reasons`` say why the module cannot be on the tape."""

    __slots__ = (
        "args",
        "bounds",
        "frame",
        "kwargs",
        "module",
        "outputs",
        "produced",
        "reasons",
        "requires",
        "template",
    )

    def __init__(self, module: Any, args: tuple, kwargs: dict, frame: Any) -> None:
        self.module, self.args, self.kwargs, self.frame = module, args, kwargs, frame
        self.outputs: list[int] = []
        self.produced: list[bool] = []
        self.template: Any = None
        self.reasons: list[str] = []
        # The clock's readings before and after the call: every node numbered in between was
        # made by it (autograd/versions.py numbers nodes in creation order).
        self.bounds = (0, 0)
        self.requires: dict[int, bool] = {}  # slot of a tensor argument -> its requires_grad

    def argument_slots(self) -> list[int]:
        """The slots of the call's array and tensor arguments, in order."""
        return [ref.slot for ref in refs_in((self.args, self.kwargs))]


class Backward:
    """One ``backward()`` of the step, as the instructions that compiled/backward.py derived
    from the engine's walk."""

    __slots__ = ("instructions",)

    def __init__(self, instructions: list) -> None:
        self.instructions = instructions


# ---- structures --------------------------------------------------------------------------------

_CONTAINERS = (tuple, list)


def tensors_in(value: Any) -> list[Tensor]:
    """The tensors inside ``value`` (a tensor, or tuples, lists and dict values of them), in
    order."""
    found: list[Tensor] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list) -> None:
    if isinstance(value, Tensor):
        found.append(value)
    elif isinstance(value, _CONTAINERS):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


def refs_in(template: Any) -> list[Ref]:
    """The :class:`Ref` objects inside ``template``, in order."""
    if type(template) is Ref:
        return [template]
    if isinstance(template, _CONTAINERS):
        return [ref for item in template for ref in refs_in(item)]
    if isinstance(template, dict):
        return [ref for item in template.values() for ref in refs_in(item)]
    return []


def rebuild(template: Any, fill: Any) -> Any:
    """``template`` with each :class:`Ref` replaced by ``fill(ref)``."""
    if type(template) is Ref:
        return fill(template)
    if isinstance(template, _CONTAINERS):
        items = [rebuild(item, fill) for item in template]
        return items if type(template) is list else type(template)(items)
    if isinstance(template, dict):
        return {key: rebuild(item, fill) for key, item in template.items()}
    return template


def has_refs(template: Any) -> bool:
    """Whether ``template`` holds a :class:`Ref` anywhere."""
    if type(template) is Ref:
        return True
    if isinstance(template, _CONTAINERS):
        return any(has_refs(item) for item in template)
    if isinstance(template, dict):
        return any(has_refs(item) for item in template.values())
    return False


def same_constant(a: Any, b: Any) -> bool:
    """Whether two constants of two recordings are the same: equal values of the same type
    (the same object, for things that are not plain values)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is Ref:
        return a.slot == b.slot
    if isinstance(a, _CONTAINERS):
        return len(a) == len(b) and all(same_constant(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_constant(a[k], b[k]) for k in a)
    if isinstance(a, (backend.ndarray, Tensor)):
        return False  # arrays are slots; one here was not seen as one
    try:
        equal = a == b
        return equal if type(equal) is bool else bool(equal)
    except Exception:  # an object without a usable == is compared by identity
        return False
