"""Recording a backward pass: the engine's walk, turned into straight-line instructions.

The engine (autograd/engine.py) walks the graph in reverse creation order; for each node it
calls ``backward`` on the gradient summed so far for the node's output, checks the shapes of
what comes back, and hands each input's part on: into the pending sum of the node that made
the input, or into a leaf's ``.grad`` (copying where the array is lent elsewhere). On the same
graph, with the same shapes, the walk takes the same path every time, so a replay can make the
same calls in the same order without a graph: that is what :func:`record_backward` writes down.

It runs the engine first, which gives the step its eager result. Then it walks the same graph
again itself, with the engine's own helpers (``_conform``, ``_sum``, ``_accumulate_leaf``) and
from the gradients as they were before, writing an instruction for every action; at the end,
its gradients must equal the engine's bit for bit, or the step is not replayed. So a change of
the engine that the instructions do not follow shows up as a refusal to compile, never as a
wrong gradient.

A module replayed as a whole (an island, compiled/tape.py) is one instruction: its nodes form a
block of the walk (they were made together), and the replay hands the island's output gradients
to the engine, which walks the island's own fresh graph down to its inputs.
"""

from __future__ import annotations

from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd import engine
from chainrule.autograd.function import FREED
from chainrule.compiled.tape import INPUT, PRODUCED, TENSOR, Backward, Island
from chainrule.tensor import Tensor


class Walk:
    """The state of one recorded walk: pending gradients by node, the instructions so far,
    the leaves that received gradients (and from where), and the first reason to refuse."""

    def __init__(self, recorder: Any, retain_graph: bool) -> None:
        self.recorder, self.retain_graph = recorder, retain_graph
        self.pending: dict[int, tuple[Any, int, int]] = {}  # id(node) -> (sum, slot, count)
        self.instructions: list[tuple] = []
        self.lent: set[int] = set()
        self.leaves: dict[int, tuple[Tensor, Any]] = {}  # id(leaf) -> (leaf, region)
        self.processed: list[Any] = []
        self.reason: str | None = None
        self._names = 0
        # The array module of the node being run, as the engine switches it: a node that ran
        # on a GPU computes its backward with that GPU's module (None: NumPy, the home one).
        self.home = backend.xp, backend.ndarray
        self.active: Any = None

    def use(self, module: Any) -> None:
        """Make ``module`` (a node's ``module``; None for NumPy) the active array module."""
        if module is not self.active:
            self.active = module
            backend.use(module) if module is not None else backend.restore(self.home)

    def refuse(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def name(self) -> str:
        self._names += 1
        return f"g{self._names}"


def record_backward(
    recorder: Any, root: Tensor, gradient: Any, retain_graph: bool
) -> tuple[Backward | None, list[Tensor], str | None]:
    """Run ``root.backward(gradient, retain_graph)`` and record its instructions; returns
    the entry, the leaves that received gradients, and the reason to refuse (or None)."""
    leaves = _leaves_below(root)
    before = {id(leaf): _copy(leaf._grad) for leaf in leaves}
    engine.walk(root, gradient, retain_graph=True)  # the eager result; errors are eager's
    after = {id(leaf): leaf._grad for leaf in leaves}
    for leaf in leaves:  # the recorded walk starts from the gradients as they were
        kept = before[id(leaf)]
        leaf._grad = None if kept is None else Tensor._make(kept, False, None)
    walk = Walk(recorder, retain_graph)
    quiet = fp_errors.enter()
    try:
        _walk(walk, root, gradient)
        walk.use(None)
        reason = walk.reason or _compare(leaves, after)
    except Exception as error:  # the eager result stands; only the replay is given up
        reason = f"the recorded backward pass failed ({type(error).__name__}: {error})"
    finally:
        walk.use(None)
        fp_errors.leave(quiet)
        for leaf in leaves:
            leaf._grad = after[id(leaf)]
    if not retain_graph:  # what the engine frees as it goes
        for node in walk.processed:
            node.saved = FREED
            node.inputs = ()
    if reason is not None:
        return None, leaves, reason
    touched = [leaf for leaf, _ in walk.leaves.values()]
    return Backward(walk.instructions), touched, None


def _walk(walk: Walk, root: Tensor, gradient: Any) -> None:
    recorder = walk.recorder
    if root._ctx is None:
        walk.refuse("backward() of a leaf tensor")
        return
    root_slot = recorder.slot_of(root)
    grad = engine._initial_gradient(root, gradient)
    if gradient is None:
        walk.instructions.append(("root", root_slot, None, grad.dtype))
    else:
        given = recorder.slot_of(gradient) if isinstance(gradient, Tensor) else None
        if given is None:
            walk.refuse("backward(gradient=...) with a gradient made outside the step")
            return
        walk.lent.add(id(engine._owner(grad)))
        walk.instructions.append(("root", root_slot, given, grad.dtype))
    walk.pending[id(root._ctx)] = (grad, root_slot, 1)
    order = engine._reverse_topological_order(root)
    islands = [e for e in recorder.entries if isinstance(e, Island)]
    position = 0
    while position < len(order) and walk.reason is None:
        tensor = order[position]
        island = _island_of(tensor._ctx, islands)
        if island is None:
            _node(walk, tensor)
            position += 1
        else:
            position = _island(walk, island, order, position, islands)


def _node(walk: Walk, tensor: Tensor) -> None:
    """One node of the walk outside islands: the engine's loop body, recorded."""
    node = tensor._ctx
    waiting = walk.pending.pop(id(node), None)
    if waiting is None:
        return
    op = walk.recorder.entry_of_node.get(id(node))
    if op is None:
        walk.refuse(f"{node!r} was not made by a recorded operation")
        return
    if tensor._hooks is not None:
        walk.refuse("a tensor in the graph has hooks (register_hook, retain_grad)")
        return
    grad, slot, _ = waiting
    walk.use(node.module)
    results = node.backward(grad)
    # The engine zips the results with the inputs: a backward may return fewer than there are
    # inputs (none for trailing options).
    names = [None] * len(results)
    walk.instructions.append(("backward", op, slot, names))
    walk.processed.append(node)
    born = node.sequence_number
    for index, (value, part, needed) in enumerate(zip(node.inputs, results, node.needs_input_grad)):
        if not needed or part is None:
            continue
        names[index] = name = walk.name()
        part = _conformed(walk, node, op, part, value, name)
        producer = value._ctx
        if producer is not None and producer.sequence_number > born:
            walk.refuse("a tensor was changed in place after an operation used it")
            return
        _deliver(walk, value, part, name, None)
    if not walk.retain_graph:
        walk.instructions.append(("free", op))


def _conformed(walk: Walk, node: Any, op: Any, part: Any, value: Tensor, name: str) -> Any:
    data = value.array
    if type(part) is backend.ndarray and part.shape == data.shape and part.dtype is data.dtype:
        return part
    slot = walk.recorder.slot_of(value)
    walk.instructions.append(("conform", name, op, slot))
    return engine._conform(node, part, data)


def _deliver(walk: Walk, value: Tensor, part: Any, name: str, region: Any) -> None:
    """Hand ``part`` (instruction variable ``name``) to ``value``'s producer or ``.grad``;
    ``region`` is the island this happens in (None: the walk itself)."""
    producer = value._ctx
    if producer is None:
        if value._hooks is not None:
            walk.refuse("a leaf tensor has hooks (register_hook)")
            return
        seen = walk.leaves.get(id(value))
        if seen is not None and seen[1] is not region:
            # Two walks (the replay's and an island's engine) would each lend arrays to the
            # same .grad without knowing of the other's.
            walk.refuse("a parameter gets gradients both inside and outside a replayed module")
            return
        walk.leaves[id(value)] = (value, region)
        slot = walk.recorder.slot_of(value)
        kind = None if slot is None else walk.recorder.slots[slot].kind
        if kind not in (INPUT, TENSOR):
            walk.refuse("a leaf tensor made inside the step receives a gradient")
            return
        if region is None:
            # The engine's common case, which the replay writes out: a leaf's first gradient,
            # an array of its own that nothing else holds, kept without a copy.
            first = (
                value._grad is None
                and part.base is None
                and id(part) not in walk.lent
                and part is not value.array
                and backend.writeable(part)
            )
            walk.instructions.append(("leaf", slot, name, first))
            engine._accumulate_leaf(value, part, walk.lent)
        return
    slot = walk.recorder.slot_of(value)
    waiting = walk.pending.get(id(producer))
    if waiting is None:
        walk.pending[id(producer)] = (part, slot, 1)
        walk.instructions.append(("pend", slot, name))
    else:
        walk.pending[id(producer)] = (engine._sum(waiting[0], part), slot, waiting[2] + 1)
        walk.instructions.append(("sum", slot, name))


# ---- islands -----------------------------------------------------------------------------------


def _island_of(node: Any, islands: list[Island]) -> Island | None:
    born = node.sequence_number
    for island in islands:
        first, last = island.bounds
        if first < born < last:
            return island
    return None


def _island(walk: Walk, island: Island, order: list, position: int, islands: list) -> int:
    """The island's block of the walk, from ``order[position]``: simulated as the replay's
    engine call will walk it, and recorded as one instruction. Returns the next position."""
    recorder = walk.recorder
    end = position
    while end < len(order) and _island_of(order[end]._ctx, islands) is island:
        end += 1
    if any(_island_of(t._ctx, islands) is island for t in order[end:]):
        walk.refuse(f"{type(island.module).__name__}'s operations are not made together")
        return end
    roots, local = [], {}
    for index, slot in enumerate(island.outputs):
        node = recorder.producer.get(slot) if island.produced[index] else None
        waiting = None if node is None else walk.pending.pop(id(node), None)
        if waiting is not None:
            roots.append((index, waiting[1]))
            local[id(node)] = waiting[0]
    lent: set[int] = set()
    if len(roots) == 1:  # engine.walk(output, gradient): the gradient counts as lent
        lent.add(id(engine._owner(next(iter(local.values())))))
    else:  # several outputs start a walk through a seed node, from copies
        local = {key: value.copy() for key, value in local.items()}
    cuts = island_cuts(recorder, island)
    stand_ins = {slot: Tensor._make(recorder.slots[slot].array, True, None) for slot in cuts}
    counts = dict.fromkeys(cuts, 0)
    for tensor in order[position:end]:
        node = tensor._ctx
        grad = local.pop(id(node), None)
        if grad is None:
            continue
        walk.processed.append(node)
        walk.use(node.module)
        for value, part, needed in zip(node.inputs, node.backward(grad), node.needs_input_grad):
            if not needed or part is None:
                continue
            part = engine.conform_gradient(node, part, value.array)
            producer = value._ctx
            if producer is not None and _island_of(producer, islands) is island:
                held = local.get(id(producer))
                local[id(producer)] = part if held is None else engine._sum(held, part)
                continue
            slot = recorder.slot_of(value)
            if producer is None:
                _deliver(walk, value, part, "", island)
                engine._accumulate_leaf(value, part, lent)
            elif slot in stand_ins:
                counts[slot] += 1
                engine._accumulate_leaf(stand_ins[slot], part, lent)
            else:
                walk.refuse(
                    f"{type(island.module).__name__} uses a tensor made outside it that is not "
                    "one of its arguments"
                )
                return end
    walk.use(None)  # the replay hands the island to the engine from NumPy, the home module
    names = [
        walk.name() if stand_ins[slot]._grad is not None and island.requires[slot] else None
        for slot in cuts
    ]
    walk.instructions.append(("island", island, roots, names, walk.retain_graph))
    for slot, name in zip(cuts, names):
        if name is None:
            continue
        tensor = recorder.tensor_of[slot]
        if counts[slot] > 1 and walk.pending.get(id(tensor._ctx)) is not None:
            # The replay would add the island's parts up first: another rounding.
            walk.refuse(
                f"{type(island.module).__name__} sends several gradients to a tensor that also "
                "gets gradients from outside it"
            )
            return end
        _deliver(walk, tensor, stand_ins[slot]._grad.array, name, None)
    return end


def island_cuts(recorder: Any, island: Island) -> list[int]:
    """The slots of the island's arguments that operations made: the replay cuts them off as
    leaves of the island's own graph (one each, in order of appearance)."""
    cuts: list[int] = []
    for slot in island.argument_slots():
        if recorder.slots[slot].kind == PRODUCED and slot not in cuts:
            cuts.append(slot)
    return cuts


# ---- the comparison with the engine ------------------------------------------------------------


def _leaves_below(root: Tensor) -> list[Tensor]:
    """Every leaf that requires grad below ``root`` (the ones a walk may write)."""
    leaves: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack = [root]
    while stack:
        tensor = stack.pop()
        node = tensor._ctx
        if node is None:
            if tensor._requires_grad:
                leaves[id(tensor)] = tensor
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        for value in node.inputs:
            if isinstance(value, Tensor):
                stack.append(value)
        previous = node.previous
        if previous is not None:
            stack.append(previous)
    return list(leaves.values())


def _copy(grad: Tensor | None) -> Any:
    return None if grad is None else grad.array.copy()


def _compare(leaves: list[Tensor], after: dict) -> str | None:
    for leaf in leaves:
        mine, theirs = leaf._grad, after[id(leaf)]
        if (mine is None) != (theirs is None):
            return "the recorded backward pass reaches other leaves than the engine's"
        if mine is not None and not _bitwise_equal(mine.array, theirs.array):
            return "the recorded backward pass gives other gradients than the engine's"
    return None


def _bitwise_equal(a: Any, b: Any) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
