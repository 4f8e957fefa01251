"""The library-wide random number generator, seeded by :func:`manual_seed`."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import numpy


class _Generator:
    # One generator for the whole library, as torch.manual_seed seeds one default generator.
    rng = numpy.random.default_rng()


def manual_seed(seed: int) -> numpy.random.Generator:
    """Seed the generator behind rand, randn, randint and the initialisers; returns it."""
    if not isinstance(seed, (int, numpy.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be non-negative, got {seed}")
    _Generator.rng = numpy.random.default_rng(int(seed))
    return _Generator.rng


seed = manual_seed


def default_generator() -> numpy.random.Generator:
    """The generator in use (a NumPy ``Generator``)."""
    return _Generator.rng


def get_rng_state() -> dict[str, Any]:
    """The generator's state, to give back to :func:`set_rng_state` (as ``torch.get_rng_state``;
    here an opaque dict, NumPy's bit-generator state, rather than a byte tensor)."""
    return copy.deepcopy(_Generator.rng.bit_generator.state)


def set_rng_state(new_state: dict[str, Any]) -> None:
    """Put the generator back in a state :func:`get_rng_state` returned: the numbers drawn
    afterwards are those drawn after it was taken."""
    if not isinstance(new_state, dict) or "bit_generator" not in new_state:
        raise TypeError(
            "set_rng_state: expected a state from chainrule.get_rng_state(), got "
            f"{type(new_state).__name__}"
        )
    _Generator.rng.bit_generator.state = copy.deepcopy(new_state)


@contextlib.contextmanager
def fork_rng() -> Iterator[None]:
    """Run the block, then restore the generator's state (as ``torch.random.fork_rng``): what
    the block draws, or a ``manual_seed`` inside it, leaves no trace outside."""
    generator, state = _Generator.rng, get_rng_state()
    try:
        yield
    finally:
        _Generator.rng = generator
        set_rng_state(state)
