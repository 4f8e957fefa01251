"""Replaying a module call as a whole: eagerly, on the replay's arrays, with its own graph.

A module whose work cannot be put on the tape (it draws random numbers, updates running
statistics, computes arrays outside operations: Dropout, BatchNorm, CrossEntropyLoss) is
called as itself by the replay. Its tensor arguments that earlier entries made are cut off as
leaves of a graph of its own; ``backward`` hands the gradients of its outputs to the engine,
which walks that graph down to those leaves (and into the parameters inside), and returns the
leaves' gradients for the rest of the replay to carry on.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend
from chainrule.autograd import engine
from chainrule.autograd.function import Function
from chainrule.compiled.tape import ARRAY, INPUT, TENSOR, Island, Ref, rebuild, refs_in, tensors_in
from chainrule.tensor import Tensor


class IslandRunner:
    """Replays ``island``: ``forward(inputs, *cut_arrays)`` returns the arrays of the outputs
    the call made, ``backward(retain_graph, *output_gradients)`` the gradients of the cut
    arguments."""

    def __init__(self, island: Island, slots: list, cuts: list[int]) -> None:
        self.module = island.module
        self.args, self.kwargs = island.args, island.kwargs
        self.cuts = cuts
        self.requires = [island.requires[slot] for slot in cuts]
        self.produced = [index for index, made in enumerate(island.produced) if made]
        self.count = len(island.outputs)
        self.roots: list[int] = []  # the outputs whose gradients backward receives
        # How to fill each argument that is not cut: the step's input, or the outside tensor
        # or array itself.
        self._fixed: dict[int, tuple[str, Any]] = {}
        for ref in refs_in((self.args, self.kwargs)):
            slot = slots[ref.slot]
            if slot.kind in (INPUT, TENSOR, ARRAY):
                self._fixed[ref.slot] = (slot.kind, slot.source)
        self._outputs: list[Tensor] | None = None
        self._leaves: list[Tensor] | None = None

    def forward(self, inputs: tuple, *arrays: Any) -> tuple:
        leaves = [
            Tensor._make(array, requires, None) for array, requires in zip(arrays, self.requires)
        ]
        by_slot = dict(zip(self.cuts, leaves))
        fixed = self._fixed

        def fill(ref: Ref) -> Any:
            leaf = by_slot.get(ref.slot)
            if leaf is not None:
                return leaf
            kind, source = fixed[ref.slot]
            return inputs[source] if kind == INPUT else source

        out = self.module(*rebuild(self.args, fill), **rebuild(self.kwargs, fill))
        outputs = tensors_in(out)
        if len(outputs) != self.count:
            raise RuntimeError(
                f"chainrule.compile: {type(self.module).__name__} returned {len(outputs)} "
                f"tensors on replay, {self.count} when recorded"
            )
        self._outputs, self._leaves = outputs, leaves
        return tuple(outputs[index].array for index in self.produced)

    def backward(self, retain_graph: bool, *gradients: Any) -> tuple:
        outputs, leaves = self._outputs, self._leaves
        if not retain_graph:
            self._outputs = self._leaves = None
        roots = [outputs[index] for index in self.roots]
        if len(roots) == 1:
            engine.walk(roots[0], gradients[0], retain_graph)
        else:  # one walk from a seed whose backward hands each output its gradient
            copies = tuple(gradient.copy() for gradient in gradients)
            engine.walk(Seed.apply(*roots, gradients=copies), None, retain_graph)
        return tuple(None if leaf._grad is None else leaf._grad.array for leaf in leaves)


class Seed(Function):
    """A scalar standing for several outputs at once: its backward returns ``gradients``, so
    that one walk of the engine starts from all of them."""

    def forward(self, *arrays: Any, gradients: tuple) -> Any:
        self.saved = gradients
        return backend.xp.zeros((), dtype=arrays[0].dtype)

    def backward(self, grad: Any) -> tuple:
        return self.saved
