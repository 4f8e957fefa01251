"""Recording one call of a step: the operations it runs, in order, on numbered array slots.

A :class:`Recorder` watches one eager call of the step. Every ``Function.apply`` reports its
node, inputs, options and result (:meth:`Recorder.operation`); every ``backward()`` is handed to
compiled/backward.py, which runs the engine and derives the replay of its walk; optimiser and
scheduler steps are kept as calls to make again (:meth:`Recorder.whole_call`); module calls
open *frames* (:meth:`Recorder.module_call`).

A step is recorded twice, on its first two calls with the same input shapes, and the second
recording is compared with the first as it goes (``previous``). The same operations must run
in the same order with the same constants, or the step is not replayed at all: its Python code
decides by values or by state that changes between calls. An array from outside the step
(anything that no recorded operation made and that is not an input) must be the same object on
both calls, and unchanged by anything but recorded operations and whole calls: a parameter or
a buffer, read live by the replay. Where that fails inside a module call, or where the module
draws random numbers, changes a tensor in place, reads tensor values in Python, or returns a
tensor no operation made, the module call is replayed as a whole (an :class:`Island`): run
eagerly, as is, on the replay's arrays. Where it fails outside every module call, the step runs
eagerly, and ``reasons`` says why.
"""

from __future__ import annotations

import threading
from typing import Any

from chainrule.autograd import engine
from chainrule.autograd.versions import Writes, clock
from chainrule.compiled import tape
from chainrule.compiled.backward import record_backward
from chainrule.compiled.slots import SlotTable
from chainrule.compiled.tape import (
    ARRAY,
    INPUT,
    PRODUCED,
    TENSOR,
    Call,
    Island,
    Op,
    Ref,
    refs_in,
)
from chainrule.compiled.watch import Watch
from chainrule.tensor import Tensor


class First:
    """What the second recording needs of the first: its events, the objects from outside
    the step that each introduced, all those objects, and the owners of its whole calls."""

    __slots__ = ("events", "objects", "outsiders", "owners")

    def __init__(self, events: list, outsiders: list, objects: list, owners: list) -> None:
        self.events, self.outsiders, self.objects = events, outsiders, objects
        self.owners = owners


class Frame:
    """One module call being recorded: where its entries start, its island-to-be, and why it
    cannot be on the tape (empty while it can)."""

    __slots__ = ("island", "module", "parent", "reasons", "start")

    def __init__(self, module: Any, parent: Frame | None, start: int, island: Island) -> None:
        self.module, self.parent, self.start, self.island = module, parent, start, island
        self.reasons: list[str] = []


class Recorder:
    """Watches one call of a step; see the module's docstring.

    ``inputs`` are the step's input tensors (and arrays), flattened. ``previous`` is the first
    recording when this is the second; only the second builds a program (``build``).
    """

    def __init__(self, inputs: list, previous: First | None = None) -> None:
        self.previous = previous
        self.build = previous is not None
        self.table = SlotTable(self._check_outside, self._impure)  # compiled/slots.py
        self.slots = self.table.slots
        self.entries: list = []
        # The event stream that the second recording compares with the first, and the objects
        # from outside the step that each event introduced.
        self.events: list = []
        self.outsiders: list[list] = []
        self.reasons: list[str] = []  # why the step cannot be replayed (empty: it can)
        self.mismatch = False  # whether the reason is a difference from the first recording
        self.modules: list = []  # modules on the tape: their state guards a replay
        self.frame: Frame | None = None
        # For compiled/backward.py: the tensor each operation made, by slot; the node that made
        # each slot; the entry of each node.
        self.tensor_of: dict[int, Tensor] = {}
        self.producer: dict[int, Any] = {}
        self.entry_of_node: dict[int, Op] = {}
        self._drew = False
        self._thread = threading.get_ident()
        self._paused = 0
        self._latest_write = Writes.latest
        self._watch = Watch() if self.build else None  # compiled/watch.py
        self._inputs = inputs
        self._owners: list = []  # of the whole calls
        for position, value in enumerate(inputs):
            array = value.array if isinstance(value, Tensor) else value
            self._new_slot(INPUT, position, array, copy=True)
        if self._watch is not None:
            self._watch.outside(previous.objects)
            self._watch.gradients(self._tensors(previous.objects))
            self._watch.settings(previous.owners)

    # ---- the thread that records -----------------------------------------------------------------

    def watching(self) -> bool:
        """Whether a call happening now belongs to the recording."""
        return not self._paused and threading.get_ident() == self._thread

    def pause(self) -> None:
        self._paused += 1

    def resume(self) -> None:
        self._paused -= 1
        self._latest_write = Writes.latest  # what a whole call wrote is replayed by calling it

    # ---- operations ----------------------------------------------------------------------------

    def operation(self, node: Any, inputs: tuple, options: dict, result: Tensor) -> None:
        """``Function.apply`` ran ``node`` on ``inputs`` with ``options``, giving ``result``."""
        if not self.watching():
            return
        self._see_writes()
        for value in inputs:
            if isinstance(value, Tensor) and value._ctx is not None and not self._known(value):
                self._impure(
                    f"uses a result of {type(value._ctx).__name__}, which only eager mode runs"
                )
        introduced: list = []
        structure = self.table.structure
        args = tuple(structure(value, introduced, top=True) for value in inputs)
        kept = {name: structure(value, introduced, top=True) for name, value in options.items()}
        out = result.array
        slot = self._new_slot(PRODUCED, None, out, copy=True)
        op = Op(node, args, kept, slot, out.ndim > 0, self.frame)
        op.drew, self._drew = self._drew, False
        self.slots[slot].source = op
        self.entries.append(op)
        self.tensor_of[slot] = result
        self.producer[slot] = node
        self.entry_of_node[id(node)] = op
        needs = tuple(node.needs_input_grad) if "needs_input_grad" in node.__dict__ else None
        self._event(("op", type(node), needs, args, kept), introduced)
        self._check_unchanged(args, kept, type(node).__name__)

    def _new_slot(self, kind: str, source: Any, array: Any, copy: bool = False) -> int:
        slot = self.table.new(kind, source, array)
        if copy and self._watch is not None:
            self._watch.made(slot, array)
        return slot

    def slot_of(self, tensor: Tensor) -> int | None:
        """The slot of a tensor the step has seen, or None."""
        return self.table.of(tensor)

    # ---- module calls ----------------------------------------------------------------------------

    def module_call(self, module: Any, call: Any, args: tuple, kwargs: dict) -> Any:
        """``call(module, *args, **kwargs)`` in a frame of its own."""
        self._see_writes()
        introduced: list = []
        requires: dict[int, bool] = {}
        island = Island(
            module,
            tuple(self._island_argument(value, introduced, requires) for value in args),
            {k: self._island_argument(v, introduced, requires) for k, v in kwargs.items()},
            None,
        )
        island.requires = requires
        frame = Frame(module, self.frame, len(self.entries), island)
        island.frame = frame
        if module._call_hooks is not None:  # the replay calls it, and so runs its hooks
            frame.reasons.append("has hooks")
        self._event(("module", module, island.args, island.kwargs), introduced)
        self._check_unchanged(island.args, island.kwargs, type(module).__name__)
        self.frame = frame
        first = next(clock)
        try:
            out = call(module, *args, **kwargs)
            self._see_writes()
        finally:
            self.frame = frame.parent
        island.bounds = (first, next(clock))
        self._close(frame, out)
        return out

    def _island_argument(self, value: Any, introduced: list, requires: dict | None = None) -> Any:
        """An argument of a module or a whole call, with tensors and arrays as Refs (and each
        tensor's ``requires_grad`` in ``requires``)."""
        if isinstance(value, Tensor):
            slot = self.table.of_tensor(value, introduced)
            if requires is not None:
                requires[slot] = value._requires_grad
            self.tensor_of.setdefault(slot, value)
            return Ref(slot)
        if isinstance(value, (tuple, list)):  # an LSTM's (h0, c0)
            items = [self._island_argument(item, introduced, requires) for item in value]
            return items if type(value) is list else type(value)(items)
        if isinstance(value, dict):
            return {k: self._island_argument(v, introduced, requires) for k, v in value.items()}
        return self.table.structure(value, introduced)

    def _close(self, frame: Frame, out: Any) -> None:
        """Keep the frame's operations on the tape, or make them one island."""
        outputs = tape.tensors_in(out)
        for tensor in outputs:
            slot = self.slot_of(tensor)
            if slot is None or self.slots[slot].kind == TENSOR:
                frame.reasons.append("returns a tensor that no operation made")
                break
        for tensor in outputs:
            if tensor._ctx is not None and not self._known(tensor):
                frame.reasons.append(f"returns a result of {type(tensor._ctx).__name__}")
        self._event(("return", len(outputs)), [])
        if not frame.reasons:
            self.modules.append(frame.module)
            return
        island = frame.island
        island.reasons = frame.reasons
        inside = self.entries[frame.start :]
        made_inside = {entry.out for entry in inside if isinstance(entry, Op)}
        for entry in inside:
            if isinstance(entry, Island):
                made_inside.update(s for s, made in zip(entry.outputs, entry.produced) if made)
        for tensor in outputs:
            slot = self.slot_of(tensor)
            if slot is None or self.slots[slot].kind == TENSOR:
                slot = self._new_slot(PRODUCED, island, tensor.array, copy=True)
            elif slot in made_inside:
                self.slots[slot].source = island
            else:  # an input handed back: it keeps its slot
                island.outputs.append(slot)
                island.produced.append(False)
                continue
            island.outputs.append(slot)
            island.produced.append(True)
            self.tensor_of[slot] = tensor
            if tensor._ctx is not None:  # the node the walk reaches (a custom Function's)
                self.producer[slot] = tensor._ctx
        island.template = _template(out, self.slot_of)
        del self.entries[frame.start :]
        self.entries.append(island)
        if self._watch is not None:  # the module may have changed its inputs in place
            for ref in refs_in((island.args, island.kwargs)):
                if self.slots[ref.slot].kind in (INPUT, PRODUCED):
                    self._watch.made(ref.slot, self.slots[ref.slot].array)

    # ---- whole calls ----------------------------------------------------------------------------

    def whole_call(self, function: Any, owner: Any, args: tuple, kwargs: dict) -> Any:
        """``function(owner, *args, **kwargs)``, a method kept to be called again by the replay
        (an optimiser's step, a tensor's ``grad`` setter)."""
        self._see_writes()
        name = f"{function.__qualname__}()"
        self._check_gradients(name)
        if self._watch is not None and not self._watch.settings_unchanged():
            self.reasons.append(f"the step changes an optimiser's settings before {name}")
        if not isinstance(owner, Tensor) and owner not in self._owners:
            self._owners.append(owner)
        if self.frame is not None:
            self._impure(f"calls {name}")
        else:
            introduced: list = []
            call = Call(
                function,
                self._island_argument(owner, introduced),
                tuple(self._island_argument(value, introduced) for value in args),
                {k: self._island_argument(v, introduced) for k, v in kwargs.items()},
            )
            self.entries.append(call)
            self._event(("call", function, call.owner, call.args, call.kwargs), introduced)
        self.pause()
        try:
            return function(owner, *args, **kwargs)
        finally:
            self.resume()
            if self._watch is not None:
                objects = self.table.outside_objects()
                self._watch.outside(objects)
                self._watch.gradients(self._tensors(objects))
                self._watch.settings(self._owners)

    # ---- backward --------------------------------------------------------------------------------

    def backward(self, root: Tensor, gradient: Any, retain_graph: bool) -> None:
        """``root.backward(gradient, retain_graph)``: the engine's walk, recorded."""
        if not self.watching():
            engine.walk(root, gradient, retain_graph)
            return
        self._see_writes()
        self._check_gradients("backward()")
        if self.frame is not None:
            self._impure("calls backward()")
        self._event(("backward", self.slot_of(root), gradient is None, retain_graph), [])
        self.pause()
        try:
            if not self.build or self.frame is not None:
                engine.walk(root, gradient, retain_graph)
                return
            entry, leaves, reason = record_backward(self, root, gradient, retain_graph)
        finally:
            self.resume()
        if reason:
            self.reasons.append(reason)
        else:
            self.entries.append(entry)
            self._watch.gradients(self._tensors(self.table.outside_objects()) + leaves)

    # ---- what makes a module call an island, or the step eager ---------------------------------

    def value_read(self, what: str) -> None:
        self._impure(f"reads a tensor's values in Python ({what})")

    def random_draw(self, what: str) -> None:
        self._drew = True  # in an operation's forward (a replay must keep it) or around it
        self._impure(f"draws random numbers ({what})")

    def reseeded(self) -> None:
        self.reasons.append("the step seeds the random generator")

    def _known(self, tensor: Tensor) -> bool:
        """Whether a tensor with a history comes from a recorded operation or an island (not,
        say, from a ``chainrule.autograd.Function`` of one's own, whose backward runs Python
        code of the user's)."""
        if id(tensor._ctx) in self.entry_of_node:
            return True
        slot = self.slot_of(tensor)
        return slot is not None and isinstance(self.slots[slot].source, Island)

    def _impure(self, reason: str) -> None:
        if self.frame is None:
            self.reasons.append(f"the step {reason} outside any module")
        elif reason not in self.frame.reasons:
            self.frame.reasons.append(reason)

    def _see_writes(self) -> None:
        if Writes.latest != self._latest_write:
            self._latest_write = Writes.latest
            self._impure("changes a tensor in place")

    def _event(self, event: tuple, introduced: list) -> None:
        index = len(self.events)
        self.events.append(event)
        self.outsiders.append(introduced)
        previous = self.previous
        if previous is None or self.reasons:
            return
        if index >= len(previous.events) or not tape.same_constant(previous.events[index], event):
            self.mismatch = True
            self.reasons.append(
                f"the step ran other operations on its second call than on its first (at "
                f"{_describe(event)}): Python code that decides by values or by changing state "
                "is not replayed"
            )
        elif any(a is not b for a, b in zip(previous.outsiders[index], introduced)):
            self._impure("uses a tensor or array made anew on each call outside operations")

    def finish(self, result: Any) -> Any:
        """The step returned ``result``: its template, with tensors as :class:`Ref`."""
        self._see_writes()
        self._check_gradients("the end of the step")
        if self._watch is not None and not self._watch.settings_unchanged():
            self.reasons.append("the step changes an optimiser's settings outside its methods")
        for tensor in tape.tensors_in(result):
            slot = self.slot_of(tensor)
            if slot is None or self.slots[slot].kind == ARRAY:
                self.reasons.append("the step returns a tensor that no operation made")
                return None
        template = _template(result, self.slot_of)
        self._event(("result", template), [])
        if self.previous is not None and len(self.events) != len(self.previous.events):
            self.mismatch = True
            self.reasons.append("the step ran fewer operations on its second call")
        return template

    def summary(self) -> First:
        """This first recording, keeping only what the second compares with: no arrays."""
        return First(self.events, self.outsiders, self.table.outside_objects(), self._owners)

    # ---- checks of the second recording ----------------------------------------------------------

    def _check_outside(self, thing: Any) -> None:
        if self._watch is not None and not self._watch.outside_unchanged(thing):
            self._impure("changes a tensor outside operations (its array, in place)")

    def _check_unchanged(self, args: Any, options: Any, where: str) -> None:
        watch = self._watch
        if watch is None:
            return
        for ref in refs_in((args, options)):
            if not watch.unchanged(ref.slot, self.slots[ref.slot].array):
                self._impure(f"changes an array outside operations before {where} reads it")

    def _check_gradients(self, where: str) -> None:
        if self._watch is not None and not self._watch.gradients_unchanged():
            self.reasons.append(
                f"the step changes gradients outside operations before {where} "
                "(clip_grad_norm_ and the like run only eagerly)"
            )

    def _tensors(self, objects: list) -> list[Tensor]:
        """The tensors among ``objects``, and the step's input tensors."""
        inputs = [slot.source for slot in self.slots if slot.kind == INPUT]
        return [t for t in objects if isinstance(t, Tensor)] + [
            self._inputs[position]
            for position in inputs
            if isinstance(self._inputs[position], Tensor)
        ]


# ---- helpers -----------------------------------------------------------------------------------


def _template(value: Any, slot_of: Any) -> Any:
    """``value`` with each tensor replaced by ``Ref(slot_of(tensor))``."""
    if isinstance(value, Tensor):
        return Ref(slot_of(value))
    if isinstance(value, (tuple, list)):
        items = [_template(item, slot_of) for item in value]
        return items if type(value) is list else type(value)(items)
    if isinstance(value, dict):
        return {key: _template(item, slot_of) for key, item in value.items()}
    return value


def _describe(event: tuple) -> str:
    kind = event[0]
    if kind == "op":
        return f"operation {event[1].__name__}"
    if kind == "module":
        return f"a call of {type(event[1]).__name__}"
    return kind
