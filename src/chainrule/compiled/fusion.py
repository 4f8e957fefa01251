"""Runs of kernels in a replay merged into one numba function: one call instead of one per
operation and direction.

With ``kernels=True`` a replay calls a kernel per operation (compiled/kernels/): about a
microsecond each of Python and of numba's dispatch, most of a tiny network's step. Where
several kernel statements follow one another (a network's whole forward and backward pass, when
every layer has a kernel), this module writes them as one function for numba to compile: the
kernels' numba halves (``Kernel.fused``) called in order, arrays passed between them inside
machine code, and only what the rest of the replay reads returned.

Two kinds of statement may sit between the kernels without ending a run, because they only
read gradients and the run does not read what they do: the first gradient of a backward pass
(moved before the run) and a gradient delivered to a parameter's ``.grad`` (moved after it, in
the same order). Anything else ends the run.

The merged call checks the shapes of the arrays it is given against the recording (a replaced
parameter of another shape must not be read past its end, since numba checks no bounds), and a
kernel may decline the arrays of a call (:class:`~chainrule.compiled.kernels.Declined`: a
target out of range). Either way the replay runs the statements one by one, as without fusion,
where each kernel's own fallback handles them.
"""

from __future__ import annotations

import warnings
from typing import Any

from chainrule.compiled import kernels

# The movable statements (see the module's docstring) and the kernel statements.
MOVABLE = ("root", "leaf", "pend")


class FusedRun:
    """A merged run of kernels, called with the run's input arrays; None where it declines
    (the replay then runs the kernels one by one)."""

    def __init__(self, function: Any, source: str) -> None:
        self.function, self.source = function, source

    def __call__(self, *arrays: Any) -> Any:
        function = self.function
        if function is None:
            return None
        try:
            return function(*arrays)
        except kernels.Declined:
            return None
        except kernels.numba_errors() as error:  # a kernel numba cannot compile for these
            self.function = None
            warnings.warn(
                f"chainrule.compile: a fused run of kernels did not compile ({error}); its "
                "kernels run one by one",
                RuntimeWarning,
                stacklevel=2,
            )
            return None


def fuse(lines: list, variables: Any, shape_of: Any, names: dict) -> list:
    """``lines`` (the replay's statements, see compiled/program.py's Line) with each run of two
    or more kernel statements replaced by one merged call. ``variables(text)`` lists the
    variables a text names; ``shape_of(slot)`` is the recorded shape of a slot's array;
    ``names`` takes the merged functions."""
    result: list = []
    index = 0
    while index < len(lines):
        run = _collect(lines, index, variables) if lines[index].kind == "forward" else None
        if run is None:
            result.append(lines[index])
            index += 1
            continue
        fused, hoisted, deferred, end = run
        later = [line.text for line in deferred + lines[end:]]
        result.extend(hoisted)
        result.append(_merged(fused, later, variables, shape_of, names))
        result.extend(deferred)
        index = end
    return result


def _collect(lines: list, start: int, variables: Any) -> tuple | None:
    """The run of kernel statements from ``start``: (kernel statements, statements moved before,
    statements moved after, the index after the run's last kernel statement), or None for a
    run of fewer than two kernels."""
    fused: list = []
    hoisted: list = []
    deferred: list = []
    waiting_before: list = []
    waiting_after: list = []
    defined: set[str] = set()
    defined_after: set[str] = set()  # by statements moved after the run
    end = start
    for index in range(start, len(lines)):
        line = lines[index]
        reads = set(variables(line.text)) - set(line.defines)
        kernel_statement = (
            line.kind == "forward"
            or (line.kind == "backward" and f"v{line.info[0]}" in defined)
            or (line.kind == "pend" and line.info[1] in defined)
        )
        if kernel_statement:
            if reads & defined_after:
                break
            hoisted += waiting_before
            deferred += waiting_after
            waiting_before, waiting_after = [], []
            fused.append(line)
            defined.update(line.defines)
            end = index + 1
        elif line.kind in MOVABLE:
            if reads & (defined | defined_after):
                waiting_after.append(line)
                defined_after.update(line.defines)
            else:
                waiting_before.append(line)
        else:
            break
    if sum(line.kind != "pend" for line in fused) < 2:
        return None
    return fused, hoisted, deferred, end


def _merged(fused: list, later: list, variables: Any, shape_of: Any, names: dict) -> Any:
    """The statement that calls the merged function, or runs ``fused`` one by one."""
    from chainrule.compiled.program import Line

    number = sum(1 for name in names if name.startswith("R"))
    inputs: dict[str, tuple[str, tuple]] = {}  # expression -> (parameter, recorded shape)
    constants: dict[str, Any] = {}
    defined: set[str] = set()
    body = []

    def argument(expression: str, slot: int) -> str:
        if expression in defined:
            return expression
        if expression not in inputs:
            inputs[expression] = (f"a{len(inputs)}", shape_of(slot))
        return inputs[expression][0]

    for line in fused:
        if line.kind == "forward":
            out, kernel, reads = line.info
            forward, _, _, forward_constants, _ = kernel.fused
            names_ = [argument(expression, slot) for expression, slot in reads]
            for position, value in enumerate(forward_constants):
                constants[f"c{out}_{position}"] = value
                names_.append(f"c{out}_{position}")
            constants[f"F{out}"] = forward
            body.append(f"s{out}, v{out} = F{out}({', '.join(names_)})")
        elif line.kind == "backward":
            out, kernel, grad, every = line.info
            _, backward, _, _, backward_constants = kernel.fused
            slot = int(grad[1:])
            arguments = [argument(grad, slot), f"v{out}"]
            for position, value in enumerate(backward_constants):
                constants[f"d{out}_{position}"] = value
                arguments.append(f"d{out}_{position}")
            constants[f"B{out}"] = backward
            targets = [name or f"_unused{out}_{position}" for position, name in enumerate(every)]
            body.append(f"{', '.join(targets)}, = B{out}({', '.join(arguments)})")
        else:  # a gradient passed on
            target, source = line.info
            body.append(f"{target} = {source}")
        defined.update(line.defines)
    read_later = {name for text in later for name in variables(text)}
    outputs = sorted(defined & read_later)
    parameters = [parameter for parameter, _ in inputs.values()]
    source = "\n".join(
        [
            f"def run({', '.join(parameters)}):",
            *(f"    {statement}" for statement in body),
            f"    return ({''.join(f'{name}, ' for name in outputs)})",
        ]
    )
    namespace = dict(constants)
    exec(compile(source, f"<chainrule.compile fused run {number}>", "exec"), namespace)
    name = f"R{number}"
    names[name] = FusedRun(kernels.jit(namespace["run"]), source)
    checks = " and ".join(
        f"{expression}.shape == {shape!r}" for expression, (_, shape) in inputs.items()
    )
    call = f"{name}({', '.join(inputs)})"
    one_by_one = "\n".join(f"    {text}" for line in fused for text in line.text.split("\n"))
    text = (
        f"_fused = {call} if {checks or 'True'} else None\n"
        f"if _fused is not None:\n"
        f"    {''.join(f'{name}, ' for name in outputs) or '_'} = _fused\n"
        f"else:\n{one_by_one}"
    )
    defines = tuple(name for line in fused for name in line.defines)
    return Line(text, defines)
