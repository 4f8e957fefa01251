"""get_rng_state / set_rng_state / fork_rng: PyTorch's names for saving and restoring the
generator, used by fit's checks and gradcheck_model so that they draw nothing visible."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_set_rng_state_replays_the_numbers_drawn_after_get_rng_state() -> None:
    cr.manual_seed(7)
    state = cr.get_rng_state()
    first = cr.randn(4).numpy()
    cr.manual_seed(99)  # even a new generator takes the old state back
    cr.set_rng_state(state)
    np.testing.assert_array_equal(cr.randn(4).numpy(), first)


def test_the_state_is_a_copy_that_later_draws_do_not_change() -> None:
    cr.manual_seed(3)
    state = cr.get_rng_state()
    before = str(state)
    cr.rand(10)
    assert str(state) == before


def test_fork_rng_leaves_no_trace_of_draws_or_seeds_inside_it() -> None:
    cr.manual_seed(11)
    expected = cr.rand(3).numpy()
    cr.manual_seed(11)
    with cr.fork_rng():
        cr.rand(100)
        cr.manual_seed(0)
        cr.randn(5)
    np.testing.assert_array_equal(cr.rand(3).numpy(), expected)


def test_fork_rng_restores_the_state_when_the_block_raises() -> None:
    cr.manual_seed(2)
    expected = cr.rand(2).numpy()
    cr.manual_seed(2)
    with pytest.raises(KeyError), cr.fork_rng():
        cr.rand(5)
        raise KeyError("inside")
    np.testing.assert_array_equal(cr.rand(2).numpy(), expected)


def test_set_rng_state_refuses_what_get_rng_state_did_not_give() -> None:
    with pytest.raises(TypeError, match=r"expected a state from chainrule\.get_rng_state"):
        cr.set_rng_state([1, 2, 3])
