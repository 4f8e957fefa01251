"""The gradient fuzzer: random expression graphs, checked against PyTorch and finite differences.

Each example is a random program (tests/fuzz_graphs.py builds it from the operation tables
of tests/fuzz_ops.py, fuzz_functional.py, fuzz_movement.py and fuzz_inplace.py): leaves of
broadcast-compatible shapes (size-1 and size-0 axes included), some requiring grad and some
constant, up to 12 operations to a depth of 8 that reuse earlier values (diamonds, a leaf used
several times, the same tensor on both sides), intermediates that ``retain_grad()``, and one or
two backward calls (``out.sum().backward()`` or a random ``gradient=``; twice with
``retain_graph=True``, so gradients accumulate). The same program runs with ``m = torch`` and
``m = chainrule`` in float64:

- values, ``requires_grad`` and every watched ``.grad`` after each backward call must agree
  with PyTorch to a relative 1e-8 (``.grad`` None exactly where PyTorch's is None);
- where no operation met a kink, each leaf's gradient must match central finite differences
  of C = Σ out ⊙ gradient along a random direction (ε = 1e-6);
- in the in-place test, where PyTorch raises (an in-place update of a tensor saved for
  backward, or of a leaf that requires grad), chainrule must raise a RuntimeError at the same
  line that says so.

A failure prints the minimal program found (hypothesis shrinks it; a Program's repr is its
source) as code to paste.

Runs:
    pytest tests/test_gradient_fuzz.py                  # CI: fixed seed and example count
    pytest tests/test_gradient_fuzz.py -k inplace       # only the in-place programs
    CHAINRULE_FUZZ_EXAMPLES=20000 pytest tests/test_gradient_fuzz.py   # a long local run
    CHAINRULE_FUZZ_SEED=7 CHAINRULE_FUZZ_EXAMPLES=5000 pytest tests/test_gradient_fuzz.py

``CHAINRULE_FUZZ_EXAMPLES`` sets the examples of each test (default 2500 and 1200);
``CHAINRULE_FUZZ_SEED`` replaces the fixed derandomised seed by a random search from that seed.
"""

from __future__ import annotations

import os
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.ops.elementwise import Exp
from fuzz_functional import FUNCTIONAL, KINKED_FUNCTIONAL
from fuzz_graphs import MAX_STEPS, GraphBuilder, TooLargeError, base_shapes, partner_shapes
from fuzz_inplace import INPLACE
from fuzz_movement import KINKED_MOVEMENT, MOVEMENT
from fuzz_ops import KINKED_MATH, SMOOTH_MATH
from fuzz_program import (
    BACKWARD_INPLACE,
    Leaf,
    Outcome,
    Program,
    Step,
    assert_same_outcome,
    assert_same_values,
    check_finite_differences,
    run,
)

# float64 against float64: only the order of the arithmetic differs, but an ill-conditioned
# step (batch_norm of values whose variance is far below eps, then squared) amplifies that
# rounding to a few 1e-9: a long run met 5.4e-9. A wrong derivative is off by far more.
RTOL = 1e-8
SMOOTH_OPS = SMOOTH_MATH + FUNCTIONAL + MOVEMENT
KINKED_OPS = KINKED_MATH + KINKED_FUNCTIONAL + KINKED_MOVEMENT

_examples = os.environ.get("CHAINRULE_FUZZ_EXAMPLES")
_seed = os.environ.get("CHAINRULE_FUZZ_SEED")


def fuzz_settings(default_examples: int) -> Any:
    """A fixed example count and seed in CI; more examples or another seed from the env."""
    examples = int(_examples) if _examples else default_examples
    configured = settings(
        max_examples=examples,
        deadline=None,
        derandomize=_seed is None,
        database=None,
        # One failure shrunk per test keeps a failing CI run within minutes; a local run
        # reports each distinct bug it finds.
        report_multiple_bugs=_examples is not None or _seed is not None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    def decorate(test: Any) -> Any:
        test = configured(test)
        return seed(int(_seed))(test) if _seed is not None else test

    return decorate


@st.composite
def graphs(draw: Any, inplace: bool = False) -> Program:
    """A random program: leaves, up to MAX_STEPS operations, ``out`` and backward calls."""
    builder = GraphBuilder(draw)
    base = draw(base_shapes())
    builder.leaf(base, requires_grad=True)
    for _ in range(draw(st.integers(0, 3))):
        builder.leaf(draw(partner_shapes(base, grow=False)))
    # A third of the programs use smooth operations only, so that many reach finite differences.
    table = SMOOTH_OPS if draw(st.integers(0, 2)) == 0 else SMOOTH_OPS + KINKED_OPS
    if inplace:
        table = INPLACE * 3 + table  # often, and first: hypothesis shrinks towards them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's warnings about the values drawn
        for _ in range(draw(st.integers(1, MAX_STEPS))):
            apply_one(draw, builder, table)
            if builder.stopped:
                break
        if inplace and not builder.updated:  # every in-place program updates something
            apply_one(draw, builder, INPLACE)
        return builder.finish()


def apply_one(draw: Any, builder: GraphBuilder, table: list) -> None:
    """Apply an operation drawn from ``table``; up to three draws, as some do not fit."""
    for _attempt in range(3):
        try:
            if draw(st.sampled_from(table))(builder):
                return
        except TooLargeError:
            continue
        except RuntimeError as error:
            # The builder measures operands in PyTorch; a piece of split/chunk whose base has
            # changed in place can no longer be read there, so the operation does not fit.
            if MULTIPLE_VIEWS not in str(error):
                raise
            continue


# PyTorch refuses to use a piece of split/chunk after its base changed in place (it does not
# take such views again); chainrule does, and is held to finite differences there.
MULTIPLE_VIEWS = "output of a function that returns multiple views"


def _refused_for_a_change(message: str) -> bool:
    return BACKWARD_INPLACE in message or (
        MULTIPLE_VIEWS in message and "its base or another view of its base" in message
    )


def check(program: Program) -> None:
    """The program against PyTorch, and against finite differences where it is smooth.

    Where PyTorch refuses the backward because a value it saved was changed in place, chainrule
    may run it instead, when its backward kept its own copy of what it needs (an operation
    keeps its output when the output is changed in place; ``x.mul_(x)`` multiplies a copy of
    the old x). Its gradients must then be those of the program as written: PyTorch's for the
    same program with each in-place target cloned first, or, where an update went through a
    view (a clone would cut it from its base), the program's own finite differences.
    """
    expected = run(program, torch)
    actual = run(program, cr)
    rng = np.random.default_rng(zlib.crc32(program.source().encode()))
    if (
        expected.error is not None
        and _refused_for_a_change(str(expected.error[1]))
        and actual.error is None
    ):
        if program.views or MULTIPLE_VIEWS in str(expected.error[1]):
            # Cloning a view would cut it from its base: the forward values are PyTorch's, and
            # the gradients are held to the program's own finite differences.
            assert_same_values(actual, expected, program, RTOL)
            if program.smooth:
                check_finite_differences(program, cr, actual.grads[0], rng)
            return
        expected = run(program.cloned_before_updates(), torch)
        assert expected.error is None, (
            f"{program!r}\nwith its in-place targets cloned, PyTorch still raises "
            f"{expected.error[1]!r}"
        )
    assert_same_outcome(actual, expected, program, RTOL)
    if program.smooth and expected.error is None and actual.error is None:
        check_finite_differences(program, cr, actual.grads[0], rng)


@fuzz_settings(2500)
@given(graphs())
def test_random_graphs_match_torch_and_finite_differences(program: Program) -> None:
    check(program)


@fuzz_settings(1200)
@given(graphs(inplace=True))
def test_random_inplace_graphs_match_torch(program: Program) -> None:
    check(program)


# ---- the checks can fail -------------------------------------------------------------------------


def exp_program() -> Program:
    """v0 = [0.5, -1.0] (requires grad); out = v0.exp(); out.sum().backward()"""
    return Program(
        statements=(Leaf("v0", np.array([0.5, -1.0]), True), Step(("out",), "v0.exp()")),
        backward=("out.sum().backward()",),
        watched=("v0",),
        values=("v0", "out"),
    )


def test_the_check_catches_a_wrong_derivative(monkeypatch: pytest.MonkeyPatch) -> None:
    check(exp_program())
    monkeypatch.setattr(Exp, "backward", lambda self, grad: (grad,))  # d/dx eˣ taken as 1
    with pytest.raises(AssertionError, match=r"v0\.grad after backward call 1"):
        check(exp_program())


def test_finite_differences_catch_a_wrong_gradient() -> None:
    program = exp_program()
    right = {"v0": np.exp(np.array([0.5, -1.0]))}
    check_finite_differences(program, cr, right, np.random.default_rng(0))
    with pytest.raises(AssertionError, match="finite differences"):
        check_finite_differences(program, cr, {"v0": right["v0"] * 1.01}, np.random.default_rng(0))


def test_the_check_requires_pytorchs_inplace_errors() -> None:
    """Where PyTorch raises the in-place error at backward, running without one fails."""
    program = exp_program()
    error = RuntimeError(
        "one of the variables needed for gradient computation has been "
        "modified by an inplace operation: [torch.DoubleTensor [2]]"
    )
    pytorch = Outcome({}, [], error=(2, error))
    with pytest.raises(AssertionError, match="chainrule raises nothing"):
        assert_same_outcome(Outcome({}, []), pytorch, program, RTOL)
    elsewhere = Outcome({}, [], error=(1, RuntimeError("modified by an inplace operation")))
    with pytest.raises(AssertionError, match="chainrule raises at line 1"):
        assert_same_outcome(elsewhere, pytorch, program, RTOL)
    same = Outcome({}, [], error=(2, RuntimeError("x was modified by an inplace operation")))
    assert_same_outcome(same, pytorch, program, RTOL)


def test_a_program_only_pytorch_refuses_is_held_to_its_cloned_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """v1 = v0.exp(); v1.add_(1): PyTorch refuses (exp saved its output); chainrule runs it,
    and its gradient must be that of the program with v1 cloned before the change."""
    program = Program(
        statements=(
            Leaf("v0", np.array([0.5, -1.0]), True),
            Step(("v1",), "v0.exp()"),
            Step((), "v1.add_(1.0)"),
            Step(("out",), "v1 * v0"),
        ),
        backward=("out.sum().backward()",),
        watched=("v0",),
        values=("v0", "out"),
    )
    assert "v1_before.clone()" in program.cloned_before_updates().source()
    check(program)
    monkeypatch.setattr(Exp, "backward", lambda self, grad: (grad,))  # d/dx eˣ taken as 1
    with pytest.raises(AssertionError, match=r"v0\.grad after backward call 1"):
        check(program)
