"""A recorded step as one generated Python function: the replay.

Each entry of the tape becomes a line or two of straight Python on local variables, one per
array slot (``s7``): ``s7 = f7(s3, t1.array, t2.array)`` calls the ``forward`` of a node of the
operation's class, ``g4, g5, _ = n7.backward(p7)`` its ``backward``, and the instructions of
compiled/backward.py sum, conform and deliver the gradients as the engine would. Tensors from
outside the step (``t1``: a parameter) are read live, ``t1.array``, at each use. No tensor and
no graph node is made (except by islands, which run eagerly), no graph is searched or sorted.

The replay's nodes are fresh objects of the recorded classes, given what ``Function.apply``
gives a node before ``forward`` (``needs_input_grad``): ``forward`` sets the rest, as it must,
since an operation's two methods are pure functions of arrays (autograd/function.py).

Operations whose output nothing uses (and whose backward never runs) are left out, unless they
drew random numbers; large arrays are released after their last use, as the engine releases
the graph while it walks it.

Before it runs, the replay checks that nothing it took as fixed has changed (guards): each
module on the tape in the same training mode, without hooks, with the same submodules and
parameters; each outside tensor with the same ``requires_grad`` and dtype, and without hooks.
A failed guard returns :data:`STALE`, and the step is recorded again.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy

from chainrule import backend, fp_errors
from chainrule.autograd import engine
from chainrule.autograd.function import FREED
from chainrule.autograd.grad_mode import current_mode
from chainrule.compiled import fusion, kernels
from chainrule.compiled.backward import island_cuts
from chainrule.compiled.island import IslandRunner
from chainrule.compiled.tape import (
    ARRAY,
    INPUT,
    TENSOR,
    Backward,
    Call,
    Island,
    Op,
    Ref,
    has_refs,
)
from chainrule.optim.adam import Adam, AdamW
from chainrule.optim.optimizer import Optimizer
from chainrule.optim.sgd import SGD
from chainrule.tensor import Tensor

STALE = object()
"""What a replay returns when a guard fails: the step must be recorded again."""

# Arrays from this size on are released right after their last use.
RELEASE_BYTES = 1 << 16
# A replay checks the kind of up to this many inputs itself (each pair for being one tensor).
MAX_CHECKED_INPUTS = 4

_VARIABLE = re.compile(r"\b[spgnv]\d+\b")  # arrays, gradients, nodes and kernels' saved values


class Line:
    """A statement of the replay; ``removable`` when it only sets ``defines`` (names).

    ``kind`` and ``info`` describe the statements that compiled/fusion.py may merge or move:
    a kernel's forward or backward ("forward", "backward"), a gradient passed on ("pend"), the
    first gradient of a backward pass ("root"), a gradient delivered to a leaf ("leaf")."""

    __slots__ = ("defines", "info", "kind", "removable", "text")

    def __init__(
        self,
        text: str,
        defines: tuple = (),
        removable: bool = False,
        kind: str | None = None,
        info: Any = None,
    ) -> None:
        self.text, self.defines, self.removable = text, defines, removable
        self.kind, self.info = kind, info


class Program:
    """The replay of one recording; ``run(*inputs)`` is the generated function, ``source`` its
    text (for reading, and for tracebacks)."""

    def __init__(
        self, recorder: Any, template: Any, inputs: list, mode: Any, kernels: bool = False
    ) -> None:
        self._recorder = recorder
        self._slots = recorder.slots
        self._names: dict[str, Any] = {
            "STALE": STALE,
            "FREED": FREED,
            "ndarray": backend.ndarray,
            "_as_array": backend.as_array,
            "_array": backend.xp.array,
            "_ones_like": backend.xp.ones_like,
            "_make": Tensor._make,
            "_acc": engine._accumulate_leaf,
            "_sum": engine._sum,
            "_conform": engine._conform,
            "_owner": engine._owner,
            "_fp_enter": fp_errors.enter,
            "_mode": current_mode,
            "_fp_leave": fp_errors.leave,
            "_use": backend.use,
            "_restore": backend.restore,
        }
        # The array module active at each line, switched where the eager step switches it:
        # each operation's forward and backward run in the module of the node that ran it (a
        # GPU's for tensors there; None: NumPy), and whole calls (optimizer.step, islands) in
        # NumPy's, as outside Function.apply. A step on the CPU never switches.
        self._active: Any = None
        self._switched = False
        self._constants: dict[int, str] = {}
        self._nodes: dict[int, str] = {}  # slot of an operation's output -> its node's name
        self._runners: dict[int, str] = {}  # id(island) -> its runner's name
        # Operations run by a kernel (compiled/kernels/): slot of the output -> the kernel.
        self._kernels: dict[int, Any] = {}
        self._kernels_on = kernels
        self._conformed = _conformed_ops(recorder.entries) if kernels else set()
        self._inputs, self._mode = inputs, mode
        self._sizes: dict[str, int] = {}  # variable -> bytes of its array when recorded
        # Whether the replay checks the kind of its inputs itself (see _input_guards).
        self.checks_inputs = len(inputs) <= MAX_CHECKED_INPUTS
        body = [Line(f"s{slot} = {self._input(slot)}") for slot in self._inputs_()]
        for entry in recorder.entries:
            body.extend(self._entry(entry))
        body.extend(self._switch(None))
        body.append(Line(f"return {self._render(template, tensors=True)}"))
        parameters = ", ".join(f"i{position}" for position in range(len(inputs)))
        lines = [f"def replay({parameters}):", *self._input_guards(), *self._guards()]
        if self._switched:
            self._names["_current"] = lambda: (backend.xp, backend.ndarray)
            lines.append("    home = _current()")
        lines += ["    token = _fp_enter()", "    try:"]
        body = _live(body)
        if kernels:  # runs of kernels as one numba call each
            shape_of = lambda slot: self._slots[slot].array.shape  # noqa: E731
            body = fusion.fuse(body, _VARIABLE.findall, shape_of, self._names)
        lines += [f"        {text}" for text in _released(body, self._sizes)]
        lines += ["    finally:", "        _fp_leave(token)"]
        if self._switched:
            lines.append("        _restore(home)")
        self.source = "\n".join(lines) + "\n"
        code = compile(self.source, "<chainrule.compile replay>", "exec")
        exec(code, self._names)  # the text is generated above, from the recording
        self.run = self._names["replay"]
        self._recorder = self._slots = None  # the recording's arrays are not needed any more

    # ---- the parts of the function -------------------------------------------------------------

    def _inputs_(self) -> list[int]:
        return [slot for slot, info in enumerate(self._slots) if info.kind == INPUT]

    def _input(self, slot: int) -> str:
        position = self._slots[slot].source
        self._sizes[f"s{slot}"] = self._slots[slot].array.nbytes
        return (
            f"i{position}.array" if isinstance(self._inputs[position], Tensor) else f"i{position}"
        )

    def _input_guards(self) -> list[str]:
        """The kind of input, checked by the replay itself: the shape, dtype and
        ``requires_grad`` of each tensor, which are the same tensor, and the gradient mode."""
        if not self.checks_inputs:
            return []
        checks = [f"_mode() is not {self._constant(self._mode)}"]
        for position, value in enumerate(self._inputs):
            name = f"i{position}"
            checks.append(f"type({name}) is not {self._constant(type(value))}")
            data, array = name, value
            if isinstance(value, Tensor):
                checks.append(f"{name}._requires_grad is not {value._requires_grad}")
                data, array = f"{name}.array", value.array
                # The device: a replay computes in the module its operations were recorded in.
                checks.append(f"type({data}) is not {self._constant(type(array))}")
            checks.append(f"{data}.shape != {array.shape!r}")
            checks.append(f"{data}.dtype is not {self._constant(array.dtype)}")
            for other in range(position):
                same = value is self._inputs[other]
                checks.append(f"{name} is {'not ' if same else ''}i{other}")
        return [f"    if ({' or '.join(checks)}):", "        return STALE"]

    def _guards(self) -> list[str]:
        checks = []
        for module in dict.fromkeys(self._recorder.modules):
            name = self._constant(module)
            checks.append(f"{name}.training is not {module.training}")
            checks.append(f"{name}._call_hooks is not None")
            # The same submodules and parameters (a layer appended, a parameter replaced).
            children = module._modules
            if children:
                checks.append(f"len({name}._modules) != {len(children)}")
                checks.extend(
                    f"{name}._modules.get({key!r}) is not {self._constant(child)}"
                    for key, child in children.items()
                )
            for key, parameter in module._parameters.items():
                # What forward reads: registered tensors are instance attributes too.
                read = f"{name}.{key}" if key.isidentifier() else f"{name}._parameters.get({key!r})"
                checks.append(f"{read} is not {self._constant(parameter)}")
        for slot, info in enumerate(self._slots):
            if info.kind == TENSOR:
                tensor = self._names[f"t{slot}"] = info.source
                checks.append(f"t{slot}._requires_grad is not {tensor._requires_grad}")
                checks.append(f"t{slot}._hooks is not None")
                # model.double() converts parameters in place: the conversions of gradients
                # that the replay skips would be due.
                checks.append(f"t{slot}.array.dtype is not {self._constant(tensor.array.dtype)}")
                # model.to(device) moves them in place: the replay's module would be wrong.
                checks.append(f"type(t{slot}.array) is not {self._constant(type(tensor.array))}")
        if not checks:
            return []
        return [f"    if ({' or '.join(checks)}):", "        return STALE"]

    def _entry(self, entry: Any) -> list[Line]:
        if isinstance(entry, Op):
            return [*self._switch(entry.node.module), *self._operation(entry)]
        if isinstance(entry, Island):
            return [*self._switch(None), self._island(entry)]
        if isinstance(entry, Call):
            return [*self._switch(None), Line(self._call(entry))]
        if isinstance(entry, Backward):
            lines = []
            for step in entry.instructions:
                if step[0] == "backward":  # in the module of its node, as the engine runs it
                    lines.extend(self._switch(step[1].node.module))
                elif step[0] == "island":
                    lines.extend(self._switch(None))
                lines.extend(self._instruction(step))
            return lines
        raise TypeError(f"chainrule.compile: unknown entry {entry!r}")

    def _switch(self, module: Any) -> list[Line]:
        """The line that makes ``module`` (None: NumPy) the active array module, if it is not."""
        if module is self._active:
            return []
        self._active, self._switched = module, True
        if module is None:
            return [Line("_restore(home)")]
        return [Line(f"_use({self._constant(module)})")]

    def _operation(self, op: Op) -> list[Line]:
        node = op.node
        kernel = self._kernel(op)
        if kernel is not None:
            return [self._kernel_forward(op, kernel)]
        clone = object.__new__(type(node))
        if "needs_input_grad" in node.__dict__:
            clone.needs_input_grad = list(node.needs_input_grad)
        name = f"n{op.out}"
        self._names[name] = clone
        self._names[f"f{op.out}"] = clone.forward
        self._nodes[op.out] = name
        self._sizes[f"s{op.out}"] = self._slots[op.out].array.nbytes
        arguments = [self._render(value) for value in op.args]
        arguments += [f"{key}={self._render(value)}" for key, value in op.options.items()]
        out = f"s{op.out}"
        text = f"{out} = f{op.out}({', '.join(arguments)})"
        if not op.returned_array:  # NumPy gives scalars for some 0-d results; apply wraps them
            text += f"\nif type({out}) is not ndarray: {out} = _as_array({out})"
        # Its node too: a backward of the node needs what this forward saves.
        return [Line(text, (out, name), removable=not op.drew)]

    def _kernel(self, op: Op) -> Any:
        """The kernel of ``op`` (compiled/kernels/), or None: kernels off, an operation on a
        GPU or one that draws random numbers, a gradient the engine had to conform."""
        if not self._kernels_on or op.drew or op.node.module is not None:
            return None
        if op.out in self._conformed:
            return None
        arrays = [
            self._slots[value.slot].array if type(value) is Ref else value for value in op.args
        ]
        return kernels.for_operation(op.node, arrays, op.options)

    def _kernel_forward(self, op: Op, kernel: Any) -> Line:
        """``s7, v7 = K7(...)``: the output and what the kernel's backward needs."""
        self._kernels[op.out] = kernel
        self._names[f"K{op.out}"] = kernel.forward
        self._names[f"B{op.out}"] = kernel.backward
        size = self._slots[op.out].array.nbytes
        self._sizes[f"s{op.out}"] = self._sizes[f"v{op.out}"] = size
        arguments = [self._render(value) for value in op.args]
        arguments += [f"{key}={self._render(value)}" for key, value in op.options.items()]
        out = f"s{op.out}"
        text = f"{out}, v{op.out} = K{op.out}({', '.join(arguments)})"
        info = None
        if kernel.fused is not None and all(
            type(op.args[position]) is Ref for position in kernel.fused[2]
        ):
            reads = [(self._slot(op.args[p].slot), op.args[p].slot) for p in kernel.fused[2]]
            info = (op.out, kernel, reads)
        kind = "forward" if info is not None else None
        return Line(text, (out, f"v{op.out}"), removable=True, kind=kind, info=info)

    def _island(self, island: Island) -> Line:
        recorder = self._recorder
        runner = IslandRunner(island, recorder.slots, island_cuts(recorder, island))
        name = f"I{len(self._runners)}"
        self._names[name] = runner
        self._runners[id(island)] = name
        made = [slot for slot, produced in zip(island.outputs, island.produced) if produced]
        for slot in made:
            self._sizes[f"s{slot}"] = self._slots[slot].array.nbytes
        cut = "".join(f", {self._slot(slot)}" for slot in runner.cuts)
        inputs = "".join(f"i{position}, " for position in range(len(self._inputs)))
        call = f"{name}.forward(({inputs}){cut})"
        if not made:
            return Line(call)
        return Line(f"{', '.join(f's{slot}' for slot in made)}, = {call}")

    def _call(self, call: Call) -> str:
        if (
            self._kernels_on
            and call.function is Optimizer.step
            and type(call.owner) in (SGD, Adam, AdamW)
            and not call.args
            and not call.kwargs
        ):
            from chainrule.compiled.kernels import updates

            update = updates.sgd_step if type(call.owner) is SGD else updates.adam_step
            return f"{self._constant(update)}({self._constant(call.owner)})"
        name = self._constant(call.function)
        arguments = [self._render(call.owner, tensors=True)]
        arguments += [self._render(value, tensors=True) for value in call.args]
        arguments += [f"{key}={self._render(v, tensors=True)}" for key, v in call.kwargs.items()]
        return f"{name}({', '.join(arguments)})"

    # ---- backward instructions -----------------------------------------------------------------

    def _instruction(self, instruction: tuple) -> list[Line]:
        kind = instruction[0]
        if kind == "root":
            _, slot, given, dtype = instruction
            self._sizes[f"p{slot}"] = self._slots[slot].array.nbytes
            if given is not None:
                return [
                    Line(
                        f"p{slot} = {self._slot(given)}.astype({self._constant(dtype)}, copy=False)"
                    ),
                    Line(f"lent = {{id(_owner(p{slot}))}}"),
                ]
            data = self._slots[slot].array
            module = backend.module_of(data)
            # The engine's initial gradient, in the module of the root (a GPU's, or NumPy's).
            make = "_" if module is numpy else f"{self._constant(module)}."
            if data.ndim == 0:
                first = f"p{slot} = {make}array(1, dtype={self._constant(dtype)})"
            else:
                first = f"p{slot} = {make}ones_like(s{slot})"
            return [Line(first, (f"p{slot}",), kind="root"), Line("lent = set()", kind="root")]
        if kind == "backward":
            _, op, slot, names = instruction
            kernel = self._kernels.get(op.out)
            if kernel is None:
                call = f"{self._nodes[op.out]}.backward(p{slot})"
                if not any(names):
                    return [Line(call)]
                return [Line(f"{', '.join(name or '_' for name in names)}, = {call}")]
            every = list(names)
            names = [names[position] for position in kernel.grads]
            call = f"B{op.out}(p{slot}, v{op.out})"
            text = f"{', '.join(name or '_' for name in names)}, = {call}" if any(names) else call
            defines = tuple(name for name in names if name)
            info = (op.out, kernel, f"p{slot}", every) if kernel.fused is not None else None
            return [Line(text, defines, kind="backward" if info else None, info=info)]
        if kind == "conform":
            _, name, op, slot = instruction
            return [Line(f"{name} = _conform({self._nodes[op.out]}, {name}, {self._slot(slot)})")]
        if kind == "leaf":
            _, slot, name, first = instruction
            leaf = self._leaf(slot)
            if not first:
                return [Line(f"_acc({leaf}, {name}, lent)", kind="leaf")]
            return [
                Line(
                    f"if {leaf}._grad is None:\n"
                    f"    lent.add(id({name}))\n"
                    f"    {leaf}._grad = _make({name}, False, None)\n"
                    f"else:\n"
                    f"    _acc({leaf}, {name}, lent)",
                    kind="leaf",
                )
            ]
        if kind == "pend":
            _, slot, name = instruction
            # The gradient's own name too: left alive after its last use, it would keep the
            # array after the pending sum lets go of it, to the end of the replay.
            self._sizes[f"p{slot}"] = self._sizes[name] = self._slots[slot].array.nbytes
            return [Line(f"p{slot} = {name}", (f"p{slot}",), kind="pend", info=(f"p{slot}", name))]
        if kind == "sum":
            _, slot, name = instruction
            self._sizes[name] = self._slots[slot].array.nbytes
            return [Line(f"p{slot} = _sum(p{slot}, {name})")]
        if kind == "free":
            if instruction[1].out in self._kernels:  # its saved values are variables
                return []
            return [Line(f"{self._nodes[instruction[1].out]}.saved = FREED")]
        if kind == "island":
            _, island, roots, names, retain_graph = instruction
            runner_name = self._runners[id(island)]
            self._names[runner_name].roots = [index for index, _ in roots]
            gradients = "".join(f"p{slot}, " for _, slot in roots)
            call = f"{runner_name}.backward({retain_graph}, {gradients})"
            if not any(names):
                return [Line(call)]
            return [Line(f"{', '.join(name or '_' for name in names)}, = {call}")]
        raise ValueError(f"chainrule.compile: unknown instruction {kind!r}")

    # ---- values --------------------------------------------------------------------------------

    def _slot(self, slot: int) -> str:
        """The expression that reads slot ``slot`` where the replay needs it."""
        info = self._slots[slot]
        if info.kind == TENSOR:
            self._names[f"t{slot}"] = info.source
            return f"t{slot}.array"
        if info.kind == ARRAY:
            self._names[f"x{slot}"] = info.source
            return f"x{slot}"
        return f"s{slot}"

    def _leaf(self, slot: int) -> str:
        """The tensor itself: the step's input, or a tensor from outside the step."""
        info = self._slots[slot]
        if info.kind == INPUT:
            return f"i{info.source}"
        self._names[f"t{slot}"] = info.source
        return f"t{slot}"

    def _render(self, value: Any, tensors: bool = False) -> str:
        """Python text for a structure: Refs read their slots; with ``tensors``, they stand for
        tensors (outside ones and inputs as themselves, the others wrapped without a graph)."""
        if type(value) is Ref:
            if not tensors:
                return self._slot(value.slot)
            if self._slots[value.slot].kind in (INPUT, TENSOR):
                return self._leaf(value.slot)
            return f"_make({self._slot(value.slot)}, False, None)"
        if not has_refs(value):
            return self._constant(value)
        if isinstance(value, (tuple, list)):
            items = ", ".join(self._render(item, tensors) for item in value)
            if type(value) is list:
                return f"[{items}]"
            if type(value) is tuple:
                return f"({items}{',' if len(value) == 1 else ''})"
            return f"{self._constant(type(value))}([{items}])"
        if isinstance(value, dict):
            items = ", ".join(f"{k!r}: {self._render(v, tensors)}" for k, v in value.items())
            return f"{{{items}}}"
        raise TypeError(f"chainrule.compile: cannot render {type(value).__name__}")

    def _constant(self, value: Any) -> str:
        if _literal(value):
            return repr(value)
        name = self._constants.get(id(value))
        if name is None:
            name = self._constants[id(value)] = f"k{len(self._constants)}"
            self._names[name] = value
        return name


def _conformed_ops(entries: list) -> set[int]:
    """The output slots of the operations whose gradients the engine conformed (reshaped or
    cast) while recording: their replay keeps the operation's own backward."""
    slots = set()
    for entry in entries:
        if isinstance(entry, Backward):
            slots.update(step[2].out for step in entry.instructions if step[0] == "conform")
    return slots


# ---- liveness ----------------------------------------------------------------------------------


def _live(lines: list[Line]) -> list[Line]:
    """``lines`` without the removable ones whose variable nothing reads afterwards."""
    needed: set[str] = set()
    kept: list[Line] = []
    for line in reversed(lines):
        if line.removable and needed.isdisjoint(line.defines):
            continue
        kept.append(line)
        needed.update(_VARIABLE.findall(line.text))
    kept.reverse()
    return kept


def _released(lines: list[Line], sizes: dict[str, int]) -> list[str]:
    """The lines' text, with ``del`` after the last use of each large array's variable."""
    last: dict[str, int] = {}
    for index, line in enumerate(lines):
        for name in _VARIABLE.findall(line.text):
            last[name] = index
    after: dict[int, list[str]] = {}
    for name, index in last.items():
        if sizes.get(name, 0) >= RELEASE_BYTES and not lines[index].text.startswith("return"):
            after.setdefault(index, []).append(name)
    texts = []
    for index, line in enumerate(lines):
        texts.extend(line.text.split("\n"))
        if index in after:
            texts.append(f"del {', '.join(sorted(after[index]))}")
    return texts


def _literal(value: Any) -> bool:
    """Whether ``repr(value)`` evaluates back to an equal value of the same type."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is tuple:
        return all(_literal(item) for item in value)
    return False
