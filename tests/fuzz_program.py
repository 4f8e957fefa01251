"""The programs of the gradient fuzzer, and the interpreter that runs one with either library.

A :class:`Program` is a list of Python statements over the names ``m`` (the module: chainrule or
torch) and ``F`` (``m.nn.functional``), followed by one or two backward calls. The fuzzer runs
the very same statements once with ``m = chainrule`` and once with ``m = torch``, so a failing
example prints as a short program that anyone can paste and run with either library::

    v0 = m.tensor([[0.25, -1.5]], dtype=m.float64, requires_grad=True)
    v1 = m.relu(v0) * v0
    out = v1
    out.sum().backward()

Leaves carry their values as arrays (so that finite differences can perturb them) and print as
``m.tensor(...)`` literals; every other statement is kept as source text.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

HEADER = "# m = chainrule (or torch for the expected answer); F = m.nn.functional"
# The target of an in-place statement: ``v3.add_(...)``, ``v3[...] = ...``, ``v3 += ...``, or
# the first argument of a function that changes it (``F.relu(v3, inplace=True)``).
INPLACE_TARGET = re.compile(r"(?:F\.[a-z_0-9]+\()?(v\d+)(?:\.[a-z_]+_\(|\[| [-+*/]= |(?=[,)]))")


@dataclass(frozen=True, eq=False)
class Leaf:
    """A tensor made by the user: float64 values, with or without requires_grad."""

    name: str
    values: np.ndarray
    requires_grad: bool

    def source(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        if self.values.size == 0:
            return f"{self.name} = m.zeros({self.values.shape}, dtype=m.float64{grad})"
        return f"{self.name} = m.tensor({self.values.tolist()!r}, dtype=m.float64{grad})"


@dataclass(frozen=True)
class Step:
    """One statement: ``targets = expr``, or a bare statement (in-place update, retain_grad)."""

    targets: tuple[str, ...]
    expr: str
    unpack: bool = False  # the expression returns a tuple of tensors (split, chunk)

    def source(self) -> str:
        if not self.targets:
            return self.expr
        names = ", ".join(self.targets)
        if self.unpack and len(self.targets) == 1:
            names += ","
        return f"{names} = {self.expr}"


@dataclass(frozen=True, eq=False)
class Program:
    """Statements, then ``out = ...`` (part of the statements) and the backward calls.

    ``watched`` are the tensors whose ``.grad`` is compared after every backward call: all
    leaves (constants must keep ``grad is None``) and the intermediates that ``retain_grad()``.
    ``smooth`` says that no operation met its kink (relu at 0, ties of max...) within
    ``KINK_MARGIN``, so central finite differences are valid. ``upstream`` is the ``gradient=``
    of the backward calls (None: ``out.sum().backward()``).
    """

    statements: tuple[Leaf | Step, ...]
    backward: tuple[str, ...] = ()
    watched: tuple[str, ...] = ()
    upstream: np.ndarray | None = None
    smooth: bool = True
    values: tuple[str, ...] = ()  # the names compared after the forward
    views: bool = False  # an in-place update went through a view (it also changed the base)

    def __repr__(self) -> str:
        return "\n" + self.source() + "\n"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints the failing example with this (IPython's protocol): as code."""
        for line in ["", *self.lines()]:
            printer.text(line)
            printer.break_()

    def leaves(self) -> list[Leaf]:
        return [s for s in self.statements if isinstance(s, Leaf)]

    def lines(self) -> list[str]:
        return [s.source() for s in self.statements] + list(self.backward)

    def source(self) -> str:
        return "\n".join([HEADER, *self.lines()])

    def cloned_before_updates(self) -> Program:
        """The same computation with each in-place target cloned first, its old value kept
        under another name for the arguments (``v1.mul_(v1)`` reads the old v1 twice): nothing
        that an earlier operation saved is overwritten, so PyTorch runs it. It is the reference
        where PyTorch refuses a program that chainrule runs (see ``test_gradient_fuzz.check``).
        """
        statements: list[Leaf | Step] = []
        retained: set[str] = set()
        for statement in self.statements:
            match = None
            if isinstance(statement, Step) and not statement.targets:
                if statement.expr.endswith(".retain_grad()"):
                    retained.add(statement.expr.split(".")[0])
                else:
                    match = INPLACE_TARGET.match(statement.expr)
            if match is None:
                statements.append(statement)
                continue
            name, before = match.group(1), f"{match.group(1)}_before"
            rest = re.sub(rf"\b{name}\b", before, statement.expr[match.end() :])
            statements.append(Step((before,), name))
            statements.append(Step((name,), f"{before}.clone()"))
            if name in retained:  # retain_grad follows a tensor to its newest version
                statements.append(Step((), f"{name}.retain_grad()"))
            statements.append(Step((), statement.expr[: match.end()] + rest))
        return dataclasses.replace(self, statements=tuple(statements))

    def with_leaf(self, name: str, values: np.ndarray) -> Program:
        """The same program with the leaf ``name`` holding other values."""
        statements = tuple(
            dataclasses.replace(s, values=values) if isinstance(s, Leaf) and s.name == name else s
            for s in self.statements
        )
        return dataclasses.replace(self, statements=statements)


def upstream_source(values: np.ndarray) -> str:
    """The ``gradient=`` argument of a backward call, as source."""
    if values.size == 0:
        return f"m.zeros({values.shape}, dtype=m.float64)"
    return f"m.tensor({values.tolist()!r}, dtype=m.float64)"


# ---- running a program ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one run of a program left behind.

    ``namespace`` holds the tensors by name; ``grads`` holds, after each backward call that
    returned, the watched tensors' ``.grad`` as arrays (or None); ``error`` is the index of the
    line that raised and the exception, or None.
    """

    namespace: dict[str, Any]
    grads: list[dict[str, np.ndarray | None]]
    error: tuple[int, BaseException] | None = None


def to_numpy(tensor: Any) -> np.ndarray:
    """A tensor of either library as a NumPy array of its own (a snapshot, never a view)."""
    return tensor.detach().numpy().copy()


def run(program: Program, module: Any, *, forward_only: bool = False) -> Outcome:
    """Execute ``program`` with ``m = module``; errors are caught and reported, not raised."""
    namespace: dict[str, Any] = {"m": module, "F": module.nn.functional}
    outcome = Outcome(namespace, [])
    forward = [s.source() for s in program.statements]
    backward = [] if forward_only else list(program.backward)
    with warnings.catch_warnings():
        # Neither library's warnings (deprecations, .grad of a non-leaf) concern the fuzzer.
        warnings.simplefilter("ignore")
        for index, line in enumerate(forward + backward):
            try:
                exec(compile(line, f"<fuzz line {index}>", "exec"), namespace)
            except Exception as error:
                outcome.error = (index, error)
                return outcome
            if index >= len(forward):
                outcome.grads.append(_snapshot(namespace, program.watched))
    return outcome


def _snapshot(namespace: dict[str, Any], names: tuple[str, ...]) -> dict:
    grads = {}
    for name in names:
        grad = namespace[name].grad
        grads[name] = None if grad is None else to_numpy(grad)
    return grads


# ---- comparing two runs --------------------------------------------------------------------------

# PyTorch's in-place errors, and what chainrule's message must then contain.
BACKWARD_INPLACE = "modified by an inplace operation"
CALL_INPLACE = re.compile(r"in[- ]?place", re.IGNORECASE)
OVERLAP = "more than one element of the written-to tensor refers to a single memory location"


def expected_error(error: BaseException) -> re.Pattern:
    """The pattern chainrule's error must match where PyTorch raised ``error``."""
    message = str(error)
    if BACKWARD_INPLACE in message:
        return re.compile(re.escape(BACKWARD_INPLACE))
    if "in-place operation" in message:
        return CALL_INPLACE
    if "output of a function that returns multiple views" in message:
        # A base of unbind's (split's...) pieces changed in place: PyTorch refuses to carry a
        # gradient through a piece; chainrule must refuse there too, with an in-place error.
        return CALL_INPLACE
    if OVERLAP in message:  # a write into an expand()ed tensor
        return re.compile(re.escape(OVERLAP))
    raise AssertionError(f"the fuzzer built a program that PyTorch rejects: {error!r}")


def assert_close(
    actual: np.ndarray, expected: np.ndarray, what: str, rtol: float, scale: float = 1.0
) -> None:
    """Same shape, values within ``rtol`` (and ``rtol`` times the largest value, or ``scale``
    where that is larger, absolutely).

    Where PyTorch's value is not finite, chainrule's must not be finite either, but nan and ±inf
    count alike: a gradient of ∞·0 is nan or ±inf depending on how exactly the 0 was rounded
    (σ'(40) is 0 in PyTorch's σ(1 − σ), 4e-18 in chainrule's σ/(1 + eᶻ)).
    """
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, PyTorch gives {expected.shape}"
    )
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(
        np.isfinite(actual), finite, err_msg=f"{what}: finite where PyTorch's is"
    )
    magnitudes = np.abs(expected[finite])
    scale = max(scale, float(magnitudes.max())) if magnitudes.size else scale
    np.testing.assert_allclose(
        actual[finite], expected[finite], rtol=rtol, atol=rtol * scale, err_msg=what
    )


def refused_repeated_memory(actual: Outcome, expected: Outcome) -> bool:
    """Whether chainrule refused, at the write, an in-place change in a graph of memory that an
    expand() repeats, where PyTorch ran on (it refuses only a backward through that write, and
    only when one runs): a deliberate difference, see
    test_gradient_regressions.py::test_a_write_into_an_expanded_view_in_a_graph_is_refused."""
    if actual.error is None or OVERLAP not in str(actual.error[1]):
        return False
    return expected.error is None or expected.error[0] > actual.error[0]


def assert_same_outcome(actual: Outcome, expected: Outcome, program: Program, rtol: float) -> None:
    """chainrule's run (``actual``) against PyTorch's (``expected``): the same errors, values
    and gradients."""
    lines = program.lines()
    if refused_repeated_memory(actual, expected):
        return
    if expected.error is not None:
        index, error = expected.error
        pattern = expected_error(error)
        assert actual.error is not None, (
            f"PyTorch raises at line {index} `{lines[index]}`: {error}\nchainrule raises nothing"
        )
        got_index, got = actual.error
        if pattern.pattern == re.escape(OVERLAP) and got_index < index:
            # chainrule refuses every write into memory an expand() repeats at the write;
            # PyTorch refuses some there and others (masked_fill_) only in backward.
            index = got_index
        assert got_index == index and isinstance(got, RuntimeError) and pattern.search(str(got)), (
            f"PyTorch raises at line {index} `{lines[index]}`: {error}\n"
            f"chainrule raises at line {got_index} `{lines[got_index]}`: {got!r}"
        )
        return
    if actual.error is not None:
        index, error = actual.error
        raise AssertionError(
            f"chainrule raises at line {index} `{lines[index]}`: {error!r}; PyTorch runs it"
        ) from error
    assert_same_values(actual, expected, program, rtol)
    # The backward calls are identical, so after call k every gradient is k times the first.
    # PyTorch's own accumulated gradients are not the reference: it can hand two leaves one
    # buffer and then add into it in place (torch 2.13, a stack of 0-d leaves: after two calls
    # both gradients read 3 instead of 2).
    first = expected.grads[0] if expected.grads else {}
    lazy = _bases_of_views(expected.namespace)
    for call, got_grads in enumerate(actual.grads):
        for name, want in first.items():
            if name in lazy and name not in {leaf.name for leaf in program.leaves()}:
                # A retained intermediate that has views: PyTorch gives a view a new history
                # after its base changed only when the view is used again (lazily), so whether
                # the base's .grad is set depends on that; chainrule does it at the change.
                # Every leaf's gradient is still compared.
                continue
            got = got_grads[name]
            want = None if want is None else want * (call + 1)
            where = f"{name}.grad after backward call {call + 1}"
            if want is None or got is None:
                assert got is None and want is None, (
                    f"{where} is {'None' if got is None else 'set'}, PyTorch's is "
                    f"{'None' if want is None else 'set'}"
                )
                continue
            assert_close(got, want, where, rtol)


def _bases_of_views(namespace: dict[str, Any]) -> set[str]:
    """The names of PyTorch tensors in ``namespace`` that another tensor there is a view of."""
    bases = {id(t._base) for t in namespace.values() if _is_torch_view(t)}
    return {name for name, t in namespace.items() if id(t) in bases}


def _is_torch_view(value: Any) -> bool:
    """A PyTorch tensor that is a view (the namespace also holds the modules m and F)."""
    return type(value).__name__ == "Tensor" and value._is_view() and value._base is not None


def assert_same_values(actual: Outcome, expected: Outcome, program: Program, rtol: float) -> None:
    """Every value after the forward, and whether it requires grad, as PyTorch has them."""
    for name in program.values:
        got, want = actual.namespace[name], expected.namespace[name]
        assert got.requires_grad == want.requires_grad, (
            f"{name}.requires_grad is {got.requires_grad}, PyTorch gives {want.requires_grad}"
        )
        assert_close(to_numpy(got), to_numpy(want), f"value of {name}", rtol)


# ---- finite differences --------------------------------------------------------------------------


def loss_value(outcome: Outcome, upstream: np.ndarray | None) -> float:
    """C = Σ out ⊙ upstream (Σ out without one): what the first backward call differentiates."""
    out = to_numpy(outcome.namespace["out"])
    return float(out.sum() if upstream is None else (out * upstream).sum())


def check_finite_differences(
    program: Program, module: Any, first_grads: dict, rng: np.random.Generator, eps: float = 1e-6
) -> None:
    """For each leaf x that requires grad, compare the directional derivative of C along a
    random direction d, (C(x + εd) − C(x − εd)) / 2ε, with Σ x.grad ⊙ d from backward."""
    for leaf in program.leaves():
        if not leaf.requires_grad or leaf.values.size == 0:
            continue
        direction = rng.standard_normal(leaf.values.shape)
        sides = []
        for sign in (1.0, -1.0):
            moved = program.with_leaf(leaf.name, leaf.values + sign * eps * direction)
            outcome = run(moved, module, forward_only=True)
            assert outcome.error is None, f"the forward fails with {leaf.name} moved by ±ε"
            sides.append(loss_value(outcome, program.upstream))
        numeric = (sides[0] - sides[1]) / (2 * eps)
        grad = first_grads[leaf.name]
        terms = np.zeros(1) if grad is None else grad * direction
        analytic = float(terms.sum())
        # Truncation error is O(ε²); rounding error is O(|C|·1e-16/ε); a wrong derivative is O(1).
        tolerance = 1e-5 * (1.0 + float(np.abs(terms).sum())) + 1e-8 * abs(sides[0])
        assert abs(numeric - analytic) <= tolerance, (
            f"finite differences: d C / d {leaf.name} along a random direction is {numeric:.10g}, "
            f"backward gives {analytic:.10g}"
        )
