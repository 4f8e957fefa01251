"""The graph builder of the gradient fuzzer: random programs for tests/test_gradient_fuzz.py.

A :class:`GraphBuilder` grows one :class:`~fuzz_program.Program` from hypothesis draws: a few
leaves of broadcast-compatible shapes (some requiring grad, some constants), then random
operations (the tables of tests/fuzz_ops.py and tests/fuzz_inplace.py) on random earlier
values: the newest value most often, which builds depth, and any older one too, which builds
diamonds (an intermediate consumed several times, a leaf used several times, the same tensor on
both sides of an operation). The strategy that drives it is ``graphs`` in
tests/test_gradient_fuzz.py.

Each statement is run in PyTorch as soon as it is drawn. That tells the builder the shape of
every value, rejects statements that PyTorch rejects or whose values leave [-LIMIT, LIMIT],
and measures how close each non-smooth operation comes to its kink: a program whose kinks are
all at least KINK_MARGIN away is marked smooth, and only smooth programs are checked against
finite differences (all programs are checked against PyTorch).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from fuzz_program import Leaf, Program, Step, upstream_source

MAX_DEPTH = 8  # the longest chain of operations from a leaf to a value
MAX_STEPS = 12  # operations drawn per program (failed draws included)
MAX_NUMEL = 48  # elements per value: programs stay readable and finite differences cheap
LIMIT = 1e3  # values beyond this are rejected: they make float64 comparisons meaningless
KINK_MARGIN = 1e-3  # closer than this to a kink, finite differences are not trusted


class TooLargeError(Exception):
    """A drawn operation would need a leaf of more than MAX_NUMEL elements: draw another."""


@dataclass
class Value:
    """A named tensor of the program, as the builder knows it."""

    name: str
    shape: tuple[int, ...]
    depth: int
    leaf: bool
    requires_grad: bool

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def rarely(draw: Any, one_in: int) -> bool:
    """True about once in ``one_in`` draws. Hypothesis favours small integers, so the rare
    case is a middle value, never 0: examples shrink towards the common case."""
    return draw(st.integers(0, one_in - 1)) == one_in // 2


def scaled(integers: list[int]) -> list[float]:
    """Leaf values are hundredths: short to print, exact in float64 after parsing."""
    return [i / 100 for i in integers]


class GraphBuilder:
    """Draws statements one at a time, keeping every value's PyTorch tensor alongside."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw
        self.statements: list[Leaf | Step] = []
        self.values: dict[str, Value] = {}
        self.namespace: dict[str, Any] = {"m": torch, "F": torch.nn.functional}
        self.count = 0
        self.smooth = True
        self.consumed: set[str] = set()
        self.retained: list[str] = []
        self.updated = False  # an in-place statement was emitted
        self.views = False  # one of them updated a view of another value
        self.stopped = False  # an in-place call raised in PyTorch: the program ends there

    # ---- values ----------------------------------------------------------------------------------

    def tensor(self, value: Value) -> torch.Tensor:
        """The value's PyTorch tensor, as computed so far."""
        return self.namespace[value.name]

    def fresh_name(self) -> str:
        return f"v{self.count}"

    def leaf(self, shape: tuple[int, ...], requires_grad: bool | None = None) -> Value:
        """A new leaf of ``shape``: requires grad or is a constant, as drawn unless given."""
        if requires_grad is None:
            requires_grad = self.draw(st.integers(0, 2)) > 0
        size = math.prod(shape)
        if size > MAX_NUMEL:
            raise TooLargeError(shape)
        integers = self.draw(st.lists(st.integers(-250, 250), min_size=size, max_size=size))
        values = np.array(scaled(integers), dtype=np.float64).reshape(shape)
        name = self.fresh_name()
        self.count += 1
        statement = Leaf(name, values, requires_grad)
        self.statements.append(statement)
        exec(statement.source(), self.namespace)
        value = Value(name, tuple(shape), 0, True, requires_grad)
        self.values[name] = value
        return value

    def pick(self, accept: Any = None) -> Value | None:
        """An existing value (shallow enough to extend) that ``accept`` allows, or None.

        Candidates are ordered newest first, and hypothesis shrinks towards index 0."""
        candidates = [
            v
            for v in reversed(self.values.values())
            if v.depth < MAX_DEPTH and (accept is None or accept(v))
        ]
        if not candidates:
            return None
        return candidates[self.draw(st.integers(0, len(candidates) - 1))]

    def operand_like(self, x: Value, shape: tuple[int, ...]) -> Value:
        """A second operand of exactly ``shape``: ``x`` itself when it fits (the same tensor on
        both sides), another value of that shape, or a new leaf."""
        choice = self.draw(st.integers(0, 2))
        if choice == 0 and x.shape == shape:
            return x
        if choice <= 1:
            found = self.pick(lambda v: v.shape == shape)
            if found is not None:
                return found
        return self.leaf(shape)

    def partner(self, x: Value, *, to_shape: bool = False) -> Value:
        """A second operand that broadcasts with ``x`` (into ``x``'s shape if ``to_shape``)."""
        choice = self.draw(st.integers(0, 2))
        if choice == 0:
            return x
        if choice == 1:
            found = self.pick(lambda v: broadcasts(v.shape, x.shape, into=to_shape))
            if found is not None:
                return found
        return self.leaf(self.draw(partner_shapes(x.shape, grow=not to_shape)))

    # ---- statements ------------------------------------------------------------------------------

    def emit(
        self,
        template: str,
        operands: list[Value],
        *,
        outputs: int = 1,
        unpack: bool = False,
        gap: float = math.inf,
    ) -> list[Value] | None:
        """Append ``targets = template.format(*operand names)`` if PyTorch runs it to finite
        values of at most MAX_NUMEL elements within [-LIMIT, LIMIT]; None if not.

        ``gap`` is how far the operation's inputs are from its kinks (inf for smooth ones)."""
        names = [f"v{self.count + i}" for i in range(outputs)]
        step = Step(tuple(names), template.format(*[v.name for v in operands]), unpack)
        if not self._try(step) or not all(_acceptable(self.namespace[n]) for n in names):
            for name in names:
                self.namespace.pop(name, None)
            return None
        self.statements.append(step)
        self.count += outputs
        self.smooth &= gap >= KINK_MARGIN
        self.consumed.update(v.name for v in operands)
        depth = 1 + max((v.depth for v in operands), default=0)
        made = []
        for name in names:
            tensor = self.namespace[name]
            value = Value(name, tuple(tensor.shape), depth, False, tensor.requires_grad)
            self.values[name] = value
            made.append(value)
            # Not on views: when its base changes through another view, PyTorch moves a view's
            # retain_grad to its new history only if the view is used again (lazily), which
            # chainrule (eagerly) does not copy; the leaves' gradients are the same either way.
            if tensor.requires_grad and not tensor._is_view() and rarely(self.draw, 4):
                self.statements.append(Step((), f"{name}.retain_grad()"))
                self.namespace[name].retain_grad()
                self.retained.append(name)
        return made

    def _try(self, step: Step) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(step.source(), self.namespace)
            except (RuntimeError, IndexError, ValueError, TypeError):
                return False
        return True

    # ---- the end of the program ------------------------------------------------------------------

    def finish(self) -> Program:
        """``out = ...`` from the newest value (plus, sometimes, every value left unused), then
        the backward calls, and the program."""
        if self.stopped:
            return self._program(backward=(), upstream=None)
        made = [v for v in self.values.values() if not v.leaf and self._usable(v)]
        last = made[-1] if made else next(v for v in self.values.values() if v.requires_grad)
        terms = [last.name]
        if self.draw(st.booleans()):
            unused = [v.name for v in made if v.name not in self.consumed and v is not last]
            terms += [f"{name}.sum()" for name in unused]
        step = Step(("out",), " + ".join(terms))
        exec(step.source(), self.namespace)
        if not self.namespace["out"].requires_grad:  # all constant: tie the output to a leaf
            anchor = next(v for v in self.values.values() if v.requires_grad)
            step = Step(("out",), f"{step.expr} + {anchor.name}.sum()")
            exec(step.source(), self.namespace)
        self.statements.append(step)
        out = self.namespace["out"]

        upstream = None
        args = []
        target = "out.sum()"
        if out.ndim == 0 and self.draw(st.booleans()):
            target = "out"
        elif self.draw(st.booleans()):
            size = out.numel()
            integers = self.draw(st.lists(st.integers(-200, 200), min_size=size, max_size=size))
            upstream = np.array(scaled(integers), dtype=np.float64).reshape(tuple(out.shape))
            target, args = "out", [upstream_source(upstream)]
        backward = (f"{target}.backward({', '.join(args)})",)
        if self.draw(st.booleans()):  # twice: the second call adds the same gradients again
            first = ", ".join([*args, "retain_graph=True"])
            backward = (f"{target}.backward({first})", *backward)
        return self._program(backward=backward, upstream=upstream)

    def _usable(self, value: Value) -> bool:
        """False for a view that PyTorch refuses to use: one of several views (split, chunk)
        of a tensor changed in place since."""
        try:
            self.tensor(value) * 1
        except RuntimeError:
            return False
        return True

    def _program(self, backward: tuple[str, ...], upstream: np.ndarray | None) -> Program:
        leaves = [s.name for s in self.statements if isinstance(s, Leaf)]
        names = [*self.values, *(["out"] if "out" in self.namespace else [])]
        return Program(
            statements=tuple(self.statements),
            backward=backward,
            watched=tuple(leaves + self.retained),
            upstream=upstream,
            smooth=self.smooth,
            values=tuple(names),
            views=self.views,
        )


def _acceptable(result: Any) -> bool:
    if not isinstance(result, torch.Tensor) or result.dtype != torch.float64:
        return False
    if result.numel() > MAX_NUMEL:
        return False
    data = result.detach()
    return bool(torch.isfinite(data).all()) and (
        data.numel() == 0 or float(data.abs().max()) <= LIMIT
    )


# ---- shapes --------------------------------------------------------------------------------------


def broadcasts(shape: tuple[int, ...], other: tuple[int, ...], *, into: bool = False) -> bool:
    """Whether ``shape`` broadcasts with ``other`` (into exactly ``other`` if ``into``)."""
    try:
        result = np.broadcast_shapes(shape, other)
    except ValueError:
        return False
    return not into or result == other


@st.composite
def partner_shapes(draw: Any, shape: tuple[int, ...], grow: bool = True) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: a suffix of it, some axes set to 1, and (if
    ``grow``) size-1 axes of ``shape`` stretched and new leading axes."""
    keep = draw(st.integers(0, len(shape)))
    out = []
    for n in shape[len(shape) - keep :]:
        if n == 1 and grow:
            out.append(draw(st.sampled_from([1, 2, 3])))
        else:
            out.append(draw(st.sampled_from([n, 1])))
    if grow and keep == len(shape) and len(out) < 4 and rarely(draw, 4):
        out.insert(0, draw(st.integers(1, 2)))
    return tuple(out)


@st.composite
def base_shapes(draw: Any) -> tuple[int, ...]:
    """The shape the first leaves broadcast to: up to 3 axes of size 1 to 4, rarely one of 0."""
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    while math.prod(shape) > MAX_NUMEL:
        shape[-1] //= 2
    if shape and rarely(draw, 6):
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    return tuple(shape)
