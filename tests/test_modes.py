"""Gradient modes used every way PyTorch allows, against PyTorch: ``no_grad``, ``enable_grad``,
``set_grad_enabled`` and ``inference_mode`` as context managers, as decorators with and
without parentheses, on generator functions and methods, and nested in one another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def state(m: Any) -> tuple[bool, bool]:
    """(grad recording, inference mode) in library ``m``."""
    return m.is_grad_enabled(), m.is_inference_mode_enabled()


def in_both(program: Callable[[Any], Any]) -> None:
    """Run ``program`` with each library; its results must agree."""
    ours, theirs = program(cr), program(torch)
    assert ours == theirs
    assert state(cr) == state(torch) == (True, False), "every mode was restored"


SWITCHES = {
    "no_grad": lambda m: m.no_grad(),
    "enable_grad": lambda m: m.enable_grad(),
    "set_grad_enabled(False)": lambda m: m.set_grad_enabled(False),
    "set_grad_enabled(True)": lambda m: m.set_grad_enabled(True),
    "inference_mode()": lambda m: m.inference_mode(),
    "inference_mode(False)": lambda m: m.inference_mode(False),
}
OUTER = {
    "none": None,
    "no_grad": lambda m: m.no_grad(),
    "inference_mode()": lambda m: m.inference_mode(),
}


@pytest.mark.parametrize("outer", sorted(OUTER))
@pytest.mark.parametrize("inner", sorted(SWITCHES))
def test_nested_blocks_match_torch(outer: str, inner: str) -> None:
    def program(m: Any) -> list:
        seen = []
        w = m.ones(2, requires_grad=True)
        if OUTER[outer] is None:
            with SWITCHES[inner](m):
                seen.append((state(m), (w * 2).requires_grad))
            return seen
        with OUTER[outer](m):
            seen.append(state(m))
            with SWITCHES[inner](m):
                seen.append((state(m), (w * 2).requires_grad))
            seen.append(state(m))
        return seen

    in_both(program)


@pytest.mark.parametrize("name", ["no_grad", "enable_grad", "inference_mode"])
def test_switches_decorate_with_and_without_parentheses_as_torch(name: str) -> None:
    def program(m: Any) -> list:
        switch = getattr(m, name)

        def body(x: int) -> tuple:
            return state(m), x

        bare, called = switch(body), switch()(body)
        outside = m.no_grad() if name == "enable_grad" else m.enable_grad()
        with outside:
            results = [bare(1), called(2)]
        return [*results, bare.__name__, called.__name__]

    in_both(program)


def test_set_grad_enabled_as_function_block_and_decorator_matches_torch() -> None:
    def program(m: Any) -> list:
        seen = []
        m.set_grad_enabled(False)
        seen.append(state(m))
        m.set_grad_enabled(True)
        switch = m.set_grad_enabled(False)  # switches at once...
        seen.append(state(m))
        with switch:
            seen.append(state(m))
        seen.append(state(m))  # ...and the block restores what was before it

        @m.set_grad_enabled(False)
        def evaluate() -> tuple:
            return state(m)

        seen.append(state(m))  # decorating switched nothing
        seen.append(evaluate())
        return seen

    in_both(program)


@pytest.mark.parametrize("flag", ["yes", 1, None, 0.0])
def test_set_grad_enabled_takes_only_a_bool_as_torch(flag: Any) -> None:
    with pytest.raises(TypeError, match="must be bool") as theirs:
        torch.set_grad_enabled(flag)
    with pytest.raises(TypeError) as ours:
        cr.set_grad_enabled(flag)
    assert str(ours.value) == str(theirs.value)
    assert cr.is_grad_enabled() and cr.set_grad_enabled(np.bool_(True)) is not None


@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_a_decorated_generator_runs_its_steps_in_the_mode_as_torch(switch: str) -> None:
    def program(m: Any) -> list:
        seen = []

        @SWITCHES[switch](m)
        def steps() -> Any:
            for i in range(2):
                received = yield (i, state(m))
                seen.append(("received", received, state(m)))
            return "done"

        outside = m.no_grad() if switch in ("enable_grad", "set_grad_enabled(True)") else None
        with outside or m.enable_grad():
            generator = steps()
            seen.append(next(generator))
            seen.append(("between", state(m)))
            seen.append(generator.send("a"))
            try:
                generator.send("b")
            except StopIteration as stop:
                seen.append(("returned", stop.value))
        return seen

    in_both(program)


def test_exceptions_thrown_into_a_decorated_generator_reach_it() -> None:
    def program(m: Any) -> list:
        seen = []

        @m.no_grad()
        def steps() -> Any:
            try:
                yield 1
            except KeyError:
                seen.append(("caught", state(m)))
                yield 2

        generator = steps()
        next(generator)
        seen.append(generator.throw(KeyError("x")))
        generator.close()
        return seen

    in_both(program)


def test_decorated_methods_keep_self_and_their_name() -> None:
    def program(m: Any) -> list:
        class Model:
            scale = 3

            @m.no_grad()
            def predict(self, x: Any) -> tuple:
                return (x * self.scale).requires_grad, state(m)

            @m.inference_mode
            def infer(self) -> tuple:
                return state(m)

        model, w = Model(), m.ones(1, requires_grad=True)
        return [model.predict(w), model.infer(), Model.predict.__name__]

    in_both(program)


def test_inference_mode_records_nothing_and_is_reported() -> None:
    def program(m: Any) -> list:
        w = m.ones(2, requires_grad=True)
        with m.inference_mode():
            out = w * 2
            inside = state(m)
        return [inside, out.requires_grad, out.grad_fn is None]

    in_both(program)


def test_mode_blocks_restore_after_errors() -> None:
    for switch in SWITCHES.values():
        with pytest.raises(ZeroDivisionError), switch(cr):
            raise ZeroDivisionError
        assert state(cr) == (True, False)
